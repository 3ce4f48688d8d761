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
//   carry   [B, 2H]: d_h_rec, then d_c, kept between dispatches
//
// Dispatch: one workgroup per sequence (B, 1, 1); a workgroup carries its sequence's state in
// workgroup memory from step to step, and each invocation handles hidden units lid, lid + WG, ...
// One dispatch runs steps s_start .. s_start + s_count; the host splits the time loop so that
// no invocation loops more than the software adapters allow (SPEC §9). The dot products over
// the hidden units are unrolled by four (all four gates in one pass), so a step costs about
// H/4 loop iterations per unit.

const WG: u32 = 64u;
const MAX_HIDDEN: u32 = 512u;

struct Recurrence {
    batch: u32, steps: u32, hidden: u32, s_start: u32,
    s_count: u32, reverse: u32, w_hh_off: u32, b_hh_off: u32,
    out_stride: u32, out_col: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> r: Recurrence;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

// Σ_{i<4} W_hh[row, k + i] h_prev[k + i]: four terms of row `row`'s dot product with h_prev.
fn row_dot4(row: u32, k: u32) -> f32 {
    let at = r.w_hh_off + row * r.hidden + k;
    let w = vec4<f32>(params[at], params[at + 1u], params[at + 2u], params[at + 3u]);
    return dot(w, vec4<f32>(h_prev[k], h_prev[k + 1u], h_prev[k + 2u], h_prev[k + 3u]));
}

// Σ_{i<4} W_hh[k + i, j] d_a[k + i]: four terms of column j's dot product with d_a.
fn col_dot4(k: u32, j: u32) -> f32 {
    let H = r.hidden;
    let at = r.w_hh_off + k * H + j;
    let w = vec4<f32>(params[at], params[at + H], params[at + 2u * H], params[at + 3u * H]);
    return dot(w, vec4<f32>(d_a[k], d_a[k + 1u], d_a[k + 2u], d_a[k + 3u]));
}

// The time index of processing step s.
fn time_of(s: u32) -> u32 {
    return select(s, r.steps - 1u - s, r.reverse != 0u);
}

// Whether step t of sequence b is computed (always, for the forward direction).
fn valid(t: u32, b: u32) -> bool {
    return r.reverse == 0u || t < lengths[b];
}

// ---------------------------------------------------------------- forward

@group(0) @binding(3) var<storage, read> xw: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> cell: array<f32>;
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;

var<workgroup> h_prev: array<f32, MAX_HIDDEN>;

@compute @workgroup_size(64, 1, 1)
fn lstm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b = wid.x;
    let H = r.hidden;
    let B = r.batch;
    for (var j = lid.x; j < H; j += WG) {
        var h = 0.0;
        if (r.s_start > 0u) {
            h = out[(time_of(r.s_start - 1u) * B + b) * r.out_stride + r.out_col + j];
        }
        h_prev[j] = h;
    }
    workgroupBarrier();
    for (var s = r.s_start; s < r.s_start + r.s_count; s++) {
        let t = time_of(s);
        let row = t * B + b;
        for (var j = lid.x; j < H; j += WG) {
            var a_i = xw[row * 4u * H + j] + params[r.b_hh_off + j];
            var a_f = xw[row * 4u * H + H + j] + params[r.b_hh_off + H + j];
            var a_g = xw[row * 4u * H + 2u * H + j] + params[r.b_hh_off + 2u * H + j];
            var a_o = xw[row * 4u * H + 3u * H + j] + params[r.b_hh_off + 3u * H + j];
            var k = 0u;
            for (; k + 4u <= H; k += 4u) {
                a_i += row_dot4(j, k);
                a_f += row_dot4(H + j, k);
                a_g += row_dot4(2u * H + j, k);
                a_o += row_dot4(3u * H + j, k);
            }
            for (; k < H; k++) {
                let h_k = h_prev[k];
                a_i += params[r.w_hh_off + j * H + k] * h_k;
                a_f += params[r.w_hh_off + (H + j) * H + k] * h_k;
                a_g += params[r.w_hh_off + (2u * H + j) * H + k] * h_k;
                a_o += params[r.w_hh_off + (3u * H + j) * H + k] * h_k;
            }
            let i = sigmoid(a_i);
            let f = sigmoid(a_f);
            let g = tanh(a_g);
            let o = sigmoid(a_o);
            var c_prev = 0.0;
            if (s > 0u) {
                c_prev = cell[(time_of(s - 1u) * B + b) * H + j];
            }
            var c = f * c_prev + i * g;
            var h = o * tanh(c);
            if (!valid(t, b)) {
                c = 0.0;
                h = 0.0;
            }
            cell[row * H + j] = c;
            out[row * r.out_stride + r.out_col + j] = h;
            gates[row * 4u * H + j] = i;
            gates[row * 4u * H + H + j] = f;
            gates[row * 4u * H + 2u * H + j] = g;
            gates[row * 4u * H + 3u * H + j] = o;
        }
        workgroupBarrier();
        for (var j = lid.x; j < H; j += WG) {
            h_prev[j] = out[row * r.out_stride + r.out_col + j];
        }
        workgroupBarrier();
    }
}

// ---------------------------------------------------------------- backward

@group(1) @binding(0) var<storage, read> cell_in: array<f32>;
@group(1) @binding(1) var<storage, read> gates_in: array<f32>;
@group(1) @binding(2) var<storage, read> d_out: array<f32>;
@group(1) @binding(3) var<storage, read_write> d_xw: array<f32>;
@group(1) @binding(4) var<storage, read_write> carry: array<f32>;

var<workgroup> d_h_rec: array<f32, MAX_HIDDEN>;
var<workgroup> d_a: array<f32, 2048>; // 4 · MAX_HIDDEN

@compute @workgroup_size(64, 1, 1)
fn lstm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b = wid.x;
    let H = r.hidden;
    let B = r.batch;
    let first = r.s_start + r.s_count == r.steps;
    for (var j = lid.x; j < H; j += WG) {
        if (first) {
            carry[b * 2u * H + j] = 0.0;
            carry[b * 2u * H + H + j] = 0.0;
        }
        d_h_rec[j] = carry[b * 2u * H + j];
    }
    workgroupBarrier();
    for (var n = 0u; n < r.s_count; n++) {
        let s = r.s_start + r.s_count - 1u - n;
        let t = time_of(s);
        let row = t * B + b;
        for (var j = lid.x; j < H; j += WG) {
            var d_h = d_out[row * r.out_stride + r.out_col + j] + d_h_rec[j];
            var d_c = carry[b * 2u * H + H + j];
            if (!valid(t, b)) {
                d_h = 0.0;
                d_c = 0.0;
            }
            let i = gates_in[row * 4u * H + j];
            let f = gates_in[row * 4u * H + H + j];
            let g = gates_in[row * 4u * H + 2u * H + j];
            let o = gates_in[row * 4u * H + 3u * H + j];
            let tanh_c = tanh(cell_in[row * H + j]);
            var c_prev = 0.0;
            if (s > 0u) {
                c_prev = cell_in[(time_of(s - 1u) * B + b) * H + j];
            }
            let d_o = d_h * tanh_c;
            d_c += d_h * o * (1.0 - tanh_c * tanh_c);
            carry[b * 2u * H + H + j] = d_c * f;
            let d_a_i = d_c * g * i * (1.0 - i);
            let d_a_f = d_c * c_prev * f * (1.0 - f);
            let d_a_g = d_c * i * (1.0 - g * g);
            let d_a_o = d_o * o * (1.0 - o);
            d_xw[row * 4u * H + j] = d_a_i;
            d_xw[row * 4u * H + H + j] = d_a_f;
            d_xw[row * 4u * H + 2u * H + j] = d_a_g;
            d_xw[row * 4u * H + 3u * H + j] = d_a_o;
            d_a[j] = d_a_i;
            d_a[H + j] = d_a_f;
            d_a[2u * H + j] = d_a_g;
            d_a[3u * H + j] = d_a_o;
        }
        workgroupBarrier();
        for (var j = lid.x; j < H; j += WG) {
            var sum = 0.0;
            var k = 0u;
            for (; k + 4u <= H; k += 4u) {
                sum += col_dot4(k, j) + col_dot4(H + k, j) + col_dot4(2u * H + k, j) + col_dot4(3u * H + k, j);
            }
            for (; k < H; k++) {
                for (var gate = 0u; gate < 4u; gate++) {
                    sum += params[r.w_hh_off + (gate * H + k) * H + j] * d_a[gate * H + k];
                }
            }
            d_h_rec[j] = sum;
            carry[b * 2u * H + j] = sum;
        }
        workgroupBarrier();
    }
}
