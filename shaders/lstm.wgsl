// LSTM recurrence of one layer and one direction: forward and backward through time.
//
// Forward, for each step s in processing order (t = s, or t = T-1-s for the reverse direction),
// with a = XW[t] + h_prev W_hhᵀ + b_hh, where XW = X W_ihᵀ + b_ih comes from matmul.wgsl:
//   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)        (gate order i, f, g, o)
//   c = f ⊙ c_prev + i ⊙ g
//   h = o ⊙ tanh(c)
//   reverse direction: h = c = 0 where t ≥ length[b], so each sequence starts from a zero
//   state at its own last valid step.
//
// Backward, s from T-1 down to 0, given d_h = dL/dh from above (d_out) plus the recurrent part
// d_h_rec = W_hhᵀ d_a of the step after, and d_c carried from the step after:
//   d_o = d_h ⊙ tanh(c)
//   d_c = d_c_next + d_h ⊙ o ⊙ (1 - tanh²(c))
//   d_i = d_c ⊙ g    d_g = d_c ⊙ i    d_f = d_c ⊙ c_prev    d_c_next = d_c ⊙ f
//   d_a = [d_i σ'(a_i), d_f σ'(a_f), d_g (1 - g²), d_o σ'(a_o)]    (σ' = σ (1 - σ))
//   d_h_rec (for s - 1) = W_hhᵀ d_a
// d_a is written out; matmul.wgsl turns it into dW_ih, dW_hh, db_ih, db_hh and dX.
//
// Buffers (f32, time-major rows t·B + b):
//   params  all parameters, flat; W_hh [4H, H] at w_hh_off, b_hh [4H] at b_hh_off
//   xw      [T·B, 4H]          lengths [B] (u32)
//   out     [T·B, out_stride]; this direction's h in columns out_col .. out_col + H
//   cell    [T·B, H]  c        gates [T·B, 4H]  i, f, g, o after their activations
//   d_out   like out          d_xw [T·B, 4H] = d_a
//   carry   vec4 [⌈B/4⌉, 6H]: per workgroup d_h_rec [H], d_c [H] (kept between dispatches)
//           and d_a [4H] of the current step (shared by the workgroup's invocations)
//
// Dispatch: one workgroup per four sequences (⌈B/4⌉, 1, 1). The four sequences are the four
// lanes of every vec4 below, so each weight read from W_hh serves four sequences. Lanes past
// the batch repeat its last sequence and are never stored. A workgroup carries its state from
// step to step (h_prev in workgroup memory, c and d_c in registers); each invocation handles
// hidden units j = lid, lid + WG, ... One dispatch runs steps s_start .. s_start + s_count;
// the host splits the time loop so that no invocation loops more than the software adapters
// allow (SPEC §9). The dot products over the hidden units are unrolled by four (all four gates
// in one pass), so a step costs about H/4 loop iterations per unit.

const WG: u32 = 64u;
const LANES: u32 = 4u;
const MAX_HIDDEN: u32 = 512u;
const UNITS: u32 = 8u; // MAX_HIDDEN / WG: hidden units per invocation at most

struct Recurrence {
    batch: u32, steps: u32, hidden: u32, s_start: u32,
    s_count: u32, reverse: u32, w_hh_off: u32, b_hh_off: u32,
    out_stride: u32, out_col: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> r: Recurrence;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;

fn sigmoid(x: vec4<f32>) -> vec4<f32> {
    return 1.0 / (1.0 + exp(-x));
}

// The time index of processing step s.
fn time_of(s: u32) -> u32 {
    return select(s, r.steps - 1u - s, r.reverse != 0u);
}

// The sequences of the four lanes of the workgroup starting at sequence b0.
fn lanes(b0: u32) -> vec4<u32> {
    return vec4<u32>(b0) + vec4<u32>(0u, 1u, 2u, 3u);
}

// The rows (t·B + b) of the four lanes at time t; lanes past the batch read the last sequence.
fn rows_at(t: u32, b0: u32) -> vec4<u32> {
    return t * r.batch + min(lanes(b0), vec4<u32>(r.batch - 1u));
}

// Which lanes compute step t (the forward direction always; the reverse one inside length).
fn valid(t: u32, b0: u32) -> vec4<bool> {
    let b = min(lanes(b0), vec4<u32>(r.batch - 1u));
    let len = vec4<u32>(lengths[b.x], lengths[b.y], lengths[b.z], lengths[b.w]);
    return vec4<bool>(r.reverse == 0u) | (vec4<u32>(t) < len);
}

// ---------------------------------------------------------------- forward

@group(0) @binding(3) var<storage, read> xw: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> cell: array<f32>;
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;

var<workgroup> h_prev: array<vec4<f32>, MAX_HIDDEN>; // h_prev[k]: unit k of the four lanes

fn xw4(rows: vec4<u32>, col: u32) -> vec4<f32> {
    let at = rows * 4u * r.hidden + col;
    return vec4<f32>(xw[at.x], xw[at.y], xw[at.z], xw[at.w]);
}

fn out4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * r.out_stride + r.out_col + j;
    return vec4<f32>(out[at.x], out[at.y], out[at.z], out[at.w]);
}

fn cell4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * r.hidden + j;
    return vec4<f32>(cell[at.x], cell[at.y], cell[at.z], cell[at.w]);
}

// Stores unit j of one lane's step: c, h and the gates (i, f, g, o), if the lane is a sequence.
fn store_step(b: u32, row: u32, j: u32, c: f32, h: f32, ifgo: vec4<f32>) {
    if (b >= r.batch) {
        return;
    }
    let H = r.hidden;
    cell[row * H + j] = c;
    out[row * r.out_stride + r.out_col + j] = h;
    gates[row * 4u * H + j] = ifgo.x;
    gates[row * 4u * H + H + j] = ifgo.y;
    gates[row * 4u * H + 2u * H + j] = ifgo.z;
    gates[row * 4u * H + 3u * H + j] = ifgo.w;
}

@compute @workgroup_size(64, 1, 1)
fn lstm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b0 = wid.x * LANES;
    let H = r.hidden;
    let zero = vec4<f32>(0.0);
    // This invocation's units: h (shared through h_prev) and c (its own).
    var h_next: array<vec4<f32>, UNITS>;
    var c: array<vec4<f32>, UNITS>;
    for (var u = 0u; u * WG + lid.x < H; u++) {
        let j = u * WG + lid.x;
        h_prev[j] = zero;
        c[u] = zero;
        if (r.s_start > 0u) {
            let rows = rows_at(time_of(r.s_start - 1u), b0);
            h_prev[j] = out4(rows, j);
            c[u] = cell4(rows, j);
        }
    }
    workgroupBarrier();
    for (var s = r.s_start; s < r.s_start + r.s_count; s++) {
        let t = time_of(s);
        let rows = rows_at(t, b0);
        let live = valid(t, b0);
        let b = lanes(b0);
        for (var u = 0u; u * WG + lid.x < H; u++) {
            let j = u * WG + lid.x;
            var a_i = xw4(rows, j) + params[r.b_hh_off + j];
            var a_f = xw4(rows, H + j) + params[r.b_hh_off + H + j];
            var a_g = xw4(rows, 2u * H + j) + params[r.b_hh_off + 2u * H + j];
            var a_o = xw4(rows, 3u * H + j) + params[r.b_hh_off + 3u * H + j];
            // rows j, H + j, 2H + j, 3H + j of W_hh
            let w_i = r.w_hh_off + j * H;
            let w_f = w_i + H * H;
            let w_g = w_f + H * H;
            let w_o = w_g + H * H;
            var k = 0u;
            for (; k + 4u <= H; k += 4u) {
                let h0 = h_prev[k];
                let h1 = h_prev[k + 1u];
                let h2 = h_prev[k + 2u];
                let h3 = h_prev[k + 3u];
                a_i += params[w_i + k] * h0 + params[w_i + k + 1u] * h1 + params[w_i + k + 2u] * h2 + params[w_i + k + 3u] * h3;
                a_f += params[w_f + k] * h0 + params[w_f + k + 1u] * h1 + params[w_f + k + 2u] * h2 + params[w_f + k + 3u] * h3;
                a_g += params[w_g + k] * h0 + params[w_g + k + 1u] * h1 + params[w_g + k + 2u] * h2 + params[w_g + k + 3u] * h3;
                a_o += params[w_o + k] * h0 + params[w_o + k + 1u] * h1 + params[w_o + k + 2u] * h2 + params[w_o + k + 3u] * h3;
            }
            for (; k < H; k++) {
                let h_k = h_prev[k];
                a_i += params[w_i + k] * h_k;
                a_f += params[w_f + k] * h_k;
                a_g += params[w_g + k] * h_k;
                a_o += params[w_o + k] * h_k;
            }
            let i = sigmoid(a_i);
            let f = sigmoid(a_f);
            let g = tanh(a_g);
            let o = sigmoid(a_o);
            let c_t = select(zero, f * c[u] + i * g, live);
            let h_t = select(zero, o * tanh(c_t), live);
            c[u] = c_t;
            h_next[u] = h_t;
            store_step(b.x, rows.x, j, c_t.x, h_t.x, vec4<f32>(i.x, f.x, g.x, o.x));
            store_step(b.y, rows.y, j, c_t.y, h_t.y, vec4<f32>(i.y, f.y, g.y, o.y));
            store_step(b.z, rows.z, j, c_t.z, h_t.z, vec4<f32>(i.z, f.z, g.z, o.z));
            store_step(b.w, rows.w, j, c_t.w, h_t.w, vec4<f32>(i.w, f.w, g.w, o.w));
        }
        workgroupBarrier();
        for (var u = 0u; u * WG + lid.x < H; u++) {
            h_prev[u * WG + lid.x] = h_next[u];
        }
        workgroupBarrier();
    }
}

// ---------------------------------------------------------------- backward

@group(1) @binding(0) var<storage, read> cell_in: array<f32>;
@group(1) @binding(1) var<storage, read> gates_in: array<f32>;
@group(1) @binding(2) var<storage, read> d_out: array<f32>;
@group(1) @binding(3) var<storage, read_write> d_xw: array<f32>;
@group(1) @binding(4) var<storage, read_write> carry: array<vec4<f32>>;

fn gates4(rows: vec4<u32>, col: u32) -> vec4<f32> {
    let at = rows * 4u * r.hidden + col;
    return vec4<f32>(gates_in[at.x], gates_in[at.y], gates_in[at.z], gates_in[at.w]);
}

fn cell_in4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * r.hidden + j;
    return vec4<f32>(cell_in[at.x], cell_in[at.y], cell_in[at.z], cell_in[at.w]);
}

fn d_out4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * r.out_stride + r.out_col + j;
    return vec4<f32>(d_out[at.x], d_out[at.y], d_out[at.z], d_out[at.w]);
}

// Stores unit j of one lane's d_a = (d_a_i, d_a_f, d_a_g, d_a_o), if the lane is a sequence.
fn store_d_a(b: u32, row: u32, j: u32, d_a: vec4<f32>) {
    if (b >= r.batch) {
        return;
    }
    let H = r.hidden;
    d_xw[row * 4u * H + j] = d_a.x;
    d_xw[row * 4u * H + H + j] = d_a.y;
    d_xw[row * 4u * H + 2u * H + j] = d_a.z;
    d_xw[row * 4u * H + 3u * H + j] = d_a.w;
}

// Σ_{i<4} W_hh[k + i, j] d_a[k + i]: four terms of column j's dot product with the d_a of
// the workgroup's lanes (at carry[d_a_at + ...]).
fn col_dot4(d_a_at: u32, k: u32, j: u32) -> vec4<f32> {
    let H = r.hidden;
    let w = r.w_hh_off + k * H + j;
    return params[w] * carry[d_a_at + k] + params[w + H] * carry[d_a_at + k + 1u]
        + params[w + 2u * H] * carry[d_a_at + k + 2u] + params[w + 3u * H] * carry[d_a_at + k + 3u];
}

@compute @workgroup_size(64, 1, 1)
fn lstm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b0 = wid.x * LANES;
    let H = r.hidden;
    let zero = vec4<f32>(0.0);
    let d_h_rec_at = wid.x * 6u * H;
    let d_c_at = d_h_rec_at + H;
    let d_a_at = d_c_at + H;
    let first = r.s_start + r.s_count == r.steps;
    var d_h_rec: array<vec4<f32>, UNITS>;
    var d_c_next: array<vec4<f32>, UNITS>;
    for (var u = 0u; u * WG + lid.x < H; u++) {
        let j = u * WG + lid.x;
        d_h_rec[u] = zero;
        d_c_next[u] = zero;
        if (!first) {
            d_h_rec[u] = carry[d_h_rec_at + j];
            d_c_next[u] = carry[d_c_at + j];
        }
    }
    for (var n = 0u; n < r.s_count; n++) {
        let s = r.s_start + r.s_count - 1u - n;
        let t = time_of(s);
        let rows = rows_at(t, b0);
        let live = valid(t, b0);
        let b = lanes(b0);
        for (var u = 0u; u * WG + lid.x < H; u++) {
            let j = u * WG + lid.x;
            let d_h = select(zero, d_out4(rows, j) + d_h_rec[u], live);
            var d_c = select(zero, d_c_next[u], live);
            let i = gates4(rows, j);
            let f = gates4(rows, H + j);
            let g = gates4(rows, 2u * H + j);
            let o = gates4(rows, 3u * H + j);
            let tanh_c = tanh(cell_in4(rows, j));
            var c_prev = zero;
            if (s > 0u) {
                c_prev = cell_in4(rows_at(time_of(s - 1u), b0), j);
            }
            let d_o = d_h * tanh_c;
            d_c += d_h * o * (1.0 - tanh_c * tanh_c);
            d_c_next[u] = d_c * f;
            let d_a_i = d_c * g * i * (1.0 - i);
            let d_a_f = d_c * c_prev * f * (1.0 - f);
            let d_a_g = d_c * i * (1.0 - g * g);
            let d_a_o = d_o * o * (1.0 - o);
            store_d_a(b.x, rows.x, j, vec4<f32>(d_a_i.x, d_a_f.x, d_a_g.x, d_a_o.x));
            store_d_a(b.y, rows.y, j, vec4<f32>(d_a_i.y, d_a_f.y, d_a_g.y, d_a_o.y));
            store_d_a(b.z, rows.z, j, vec4<f32>(d_a_i.z, d_a_f.z, d_a_g.z, d_a_o.z));
            store_d_a(b.w, rows.w, j, vec4<f32>(d_a_i.w, d_a_f.w, d_a_g.w, d_a_o.w));
            carry[d_a_at + j] = d_a_i;
            carry[d_a_at + H + j] = d_a_f;
            carry[d_a_at + 2u * H + j] = d_a_g;
            carry[d_a_at + 3u * H + j] = d_a_o;
        }
        storageBarrier();
        for (var u = 0u; u * WG + lid.x < H; u++) {
            let j = u * WG + lid.x;
            var sum = zero;
            var k = 0u;
            for (; k + 4u <= H; k += 4u) {
                sum += col_dot4(d_a_at, k, j) + col_dot4(d_a_at, H + k, j)
                    + col_dot4(d_a_at, 2u * H + k, j) + col_dot4(d_a_at, 3u * H + k, j);
            }
            for (; k < H; k++) {
                for (var gate = 0u; gate < 4u; gate++) {
                    sum += params[r.w_hh_off + (gate * H + k) * H + j] * carry[d_a_at + gate * H + k];
                }
            }
            d_h_rec[u] = sum;
        }
        storageBarrier();
    }
    for (var u = 0u; u * WG + lid.x < H; u++) {
        let j = u * WG + lid.x;
        carry[d_h_rec_at + j] = d_h_rec[u];
        carry[d_c_at + j] = d_c_next[u];
    }
}
