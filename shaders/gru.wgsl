// GRU recurrence of one layer and one direction: forward and backward through time.
//
// Forward, for each step s in processing order (t = s, or t = T-1-s for the reverse direction),
// with xw = XW[t] = x W_ihᵀ + b_ih from matmul.wgsl and hw = h_prev W_hhᵀ + b_hh:
//   r = σ(xw_r + hw_r)     z = σ(xw_z + hw_z)                  (gate order r, z, n)
//   n = tanh(xw_n + r ⊙ hw_n)     the reset gate multiplies hw_n, bias b_hn included
//   h = n + z ⊙ (h_prev - n)      = (1 - z) ⊙ n + z ⊙ h_prev
//   reverse direction: h = 0 where t ≥ length[b] (each sequence starts at its last valid step).
//
// Backward, s from T-1 down to 0, with d_h = d_out + d_h_rec (the part from step s + 1):
//   d_n = d_h ⊙ (1 - z)     d_z = d_h ⊙ (h_prev - n)     d_h_direct = d_h ⊙ z
//   d_an = d_n ⊙ (1 - n²)   d_hw_n = d_an ⊙ r             d_r = d_an ⊙ hw_n
//   d_ar = d_r σ'(r)        d_az = d_z σ'(z)              (σ' = σ (1 - σ))
//   d_xw = [d_ar, d_az, d_an]    d_hw = [d_ar, d_az, d_hw_n]
//   d_h_rec (for s - 1) = d_h_direct + W_hhᵀ d_hw
// matmul.wgsl turns d_xw into dW_ih, db_ih, dX and d_hw into dW_hh, db_hh.
//
// Buffers (f32, time-major rows t·B + b):
//   params  flat; W_hh [3H, H] at w_hh_off, b_hh [3H] at b_hh_off
//   xw      [T·B, 3H]          lengths [B] (u32)
//   out     [T·B, out_stride]; this direction's h in columns out_col .. out_col + H
//   gates   [T·B, 4H]: r, z, n, hw_n
//   d_out   like out          d_xw, d_hw [T·B, 3H]
//   carry   vec4 [⌈B/4⌉, 4H]: per workgroup d_h_rec [H] (kept between dispatches) and d_hw [3H]
//           of the current step (shared by the workgroup's invocations)
//
// Dispatch: one workgroup per four sequences (⌈B/4⌉, 1, 1), the four vec4 lanes (as in
// lstm.wgsl: each weight read serves four sequences; lanes past the batch are never stored);
// h_prev in workgroup memory; steps s_start .. s_start + s_count per dispatch, split by the
// host under the loop cap (SPEC §9). The dot products over the hidden units are unrolled by
// four (all gates in one pass).

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

fn time_of(s: u32) -> u32 {
    return select(s, r.steps - 1u - s, r.reverse != 0u);
}

fn lanes(b0: u32) -> vec4<u32> {
    return vec4<u32>(b0) + vec4<u32>(0u, 1u, 2u, 3u);
}

fn rows_at(t: u32, b0: u32) -> vec4<u32> {
    return t * r.batch + min(lanes(b0), vec4<u32>(r.batch - 1u));
}

fn valid(t: u32, b0: u32) -> vec4<bool> {
    let b = min(lanes(b0), vec4<u32>(r.batch - 1u));
    let len = vec4<u32>(lengths[b.x], lengths[b.y], lengths[b.z], lengths[b.w]);
    return vec4<bool>(r.reverse == 0u) | (vec4<u32>(t) < len);
}

// ---------------------------------------------------------------- forward

@group(0) @binding(3) var<storage, read> xw: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> gates: array<f32>;

var<workgroup> h_prev: array<vec4<f32>, MAX_HIDDEN>; // h_prev[k]: unit k of the four lanes

fn xw4(rows: vec4<u32>, col: u32) -> vec4<f32> {
    let at = rows * 3u * r.hidden + col;
    return vec4<f32>(xw[at.x], xw[at.y], xw[at.z], xw[at.w]);
}

fn out4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * r.out_stride + r.out_col + j;
    return vec4<f32>(out[at.x], out[at.y], out[at.z], out[at.w]);
}

// Stores unit j of one lane's step: h and (r, z, n, hw_n), if the lane is a sequence.
fn store_step(b: u32, row: u32, j: u32, h: f32, rzn: vec4<f32>) {
    if (b >= r.batch) {
        return;
    }
    let H = r.hidden;
    out[row * r.out_stride + r.out_col + j] = h;
    gates[row * 4u * H + j] = rzn.x;
    gates[row * 4u * H + H + j] = rzn.y;
    gates[row * 4u * H + 2u * H + j] = rzn.z;
    gates[row * 4u * H + 3u * H + j] = rzn.w;
}

@compute @workgroup_size(64, 1, 1)
fn gru_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b0 = wid.x * LANES;
    let H = r.hidden;
    let zero = vec4<f32>(0.0);
    var h_next: array<vec4<f32>, UNITS>;
    for (var u = 0u; u * WG + lid.x < H; u++) {
        let j = u * WG + lid.x;
        h_prev[j] = zero;
        if (r.s_start > 0u) {
            h_prev[j] = out4(rows_at(time_of(r.s_start - 1u), b0), j);
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
            var hw_r = vec4<f32>(params[r.b_hh_off + j]);
            var hw_z = vec4<f32>(params[r.b_hh_off + H + j]);
            var hw_n = vec4<f32>(params[r.b_hh_off + 2u * H + j]);
            // rows j, H + j, 2H + j of W_hh
            let w_r = r.w_hh_off + j * H;
            let w_z = w_r + H * H;
            let w_n = w_z + H * H;
            var k = 0u;
            for (; k + 4u <= H; k += 4u) {
                let h0 = h_prev[k];
                let h1 = h_prev[k + 1u];
                let h2 = h_prev[k + 2u];
                let h3 = h_prev[k + 3u];
                hw_r += params[w_r + k] * h0 + params[w_r + k + 1u] * h1 + params[w_r + k + 2u] * h2 + params[w_r + k + 3u] * h3;
                hw_z += params[w_z + k] * h0 + params[w_z + k + 1u] * h1 + params[w_z + k + 2u] * h2 + params[w_z + k + 3u] * h3;
                hw_n += params[w_n + k] * h0 + params[w_n + k + 1u] * h1 + params[w_n + k + 2u] * h2 + params[w_n + k + 3u] * h3;
            }
            for (; k < H; k++) {
                let h_k = h_prev[k];
                hw_r += params[w_r + k] * h_k;
                hw_z += params[w_z + k] * h_k;
                hw_n += params[w_n + k] * h_k;
            }
            let rg = sigmoid(xw4(rows, j) + hw_r);
            let z = sigmoid(xw4(rows, H + j) + hw_z);
            let n = tanh(xw4(rows, 2u * H + j) + rg * hw_n);
            let h = select(zero, n + z * (h_prev[j] - n), live);
            h_next[u] = h;
            store_step(b.x, rows.x, j, h.x, vec4<f32>(rg.x, z.x, n.x, hw_n.x));
            store_step(b.y, rows.y, j, h.y, vec4<f32>(rg.y, z.y, n.y, hw_n.y));
            store_step(b.z, rows.z, j, h.z, vec4<f32>(rg.z, z.z, n.z, hw_n.z));
            store_step(b.w, rows.w, j, h.w, vec4<f32>(rg.w, z.w, n.w, hw_n.w));
        }
        workgroupBarrier();
        for (var u = 0u; u * WG + lid.x < H; u++) {
            h_prev[u * WG + lid.x] = h_next[u];
        }
        workgroupBarrier();
    }
}

// ---------------------------------------------------------------- backward

@group(1) @binding(0) var<storage, read> out_in: array<f32>;
@group(1) @binding(1) var<storage, read> gates_in: array<f32>;
@group(1) @binding(2) var<storage, read> d_out: array<f32>;
@group(1) @binding(3) var<storage, read_write> d_xw: array<f32>;
@group(1) @binding(4) var<storage, read_write> d_hw: array<f32>;
@group(1) @binding(5) var<storage, read_write> carry: array<vec4<f32>>;

fn gates4(rows: vec4<u32>, col: u32) -> vec4<f32> {
    let at = rows * 4u * r.hidden + col;
    return vec4<f32>(gates_in[at.x], gates_in[at.y], gates_in[at.z], gates_in[at.w]);
}

fn out_in4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * r.out_stride + r.out_col + j;
    return vec4<f32>(out_in[at.x], out_in[at.y], out_in[at.z], out_in[at.w]);
}

fn d_out4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * r.out_stride + r.out_col + j;
    return vec4<f32>(d_out[at.x], d_out[at.y], d_out[at.z], d_out[at.w]);
}

// Stores unit j of one lane's d_xw (d_ar, d_az, d_an) and d_hw (d_ar, d_az, d_hw_n), if the
// lane is a sequence.
fn store_d_a(b: u32, row: u32, j: u32, d_ar: f32, d_az: f32, d_an: f32, d_hw_n: f32) {
    if (b >= r.batch) {
        return;
    }
    let H = r.hidden;
    d_xw[row * 3u * H + j] = d_ar;
    d_xw[row * 3u * H + H + j] = d_az;
    d_xw[row * 3u * H + 2u * H + j] = d_an;
    d_hw[row * 3u * H + j] = d_ar;
    d_hw[row * 3u * H + H + j] = d_az;
    d_hw[row * 3u * H + 2u * H + j] = d_hw_n;
}

// Σ_{i<4} W_hh[k + i, j] d_hw[k + i]: four terms of column j's dot product with the d_hw of
// the workgroup's lanes (at carry[d_a_at + ...]).
fn col_dot4(d_a_at: u32, k: u32, j: u32) -> vec4<f32> {
    let H = r.hidden;
    let w = r.w_hh_off + k * H + j;
    return params[w] * carry[d_a_at + k] + params[w + H] * carry[d_a_at + k + 1u]
        + params[w + 2u * H] * carry[d_a_at + k + 2u] + params[w + 3u * H] * carry[d_a_at + k + 3u];
}

@compute @workgroup_size(64, 1, 1)
fn gru_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b0 = wid.x * LANES;
    let H = r.hidden;
    let zero = vec4<f32>(0.0);
    let d_h_rec_at = wid.x * 4u * H;
    let d_a_at = d_h_rec_at + H;
    let first = r.s_start + r.s_count == r.steps;
    var d_h_rec: array<vec4<f32>, UNITS>;
    var d_h_direct: array<vec4<f32>, UNITS>;
    for (var u = 0u; u * WG + lid.x < H; u++) {
        d_h_rec[u] = zero;
        if (!first) {
            d_h_rec[u] = carry[d_h_rec_at + u * WG + lid.x];
        }
    }
    for (var n_ = 0u; n_ < r.s_count; n_++) {
        let s = r.s_start + r.s_count - 1u - n_;
        let t = time_of(s);
        let rows = rows_at(t, b0);
        let live = valid(t, b0);
        let b = lanes(b0);
        for (var u = 0u; u * WG + lid.x < H; u++) {
            let j = u * WG + lid.x;
            let d_h = select(zero, d_out4(rows, j) + d_h_rec[u], live);
            let rg = gates4(rows, j);
            let z = gates4(rows, H + j);
            let n = gates4(rows, 2u * H + j);
            let hw_n = gates4(rows, 3u * H + j);
            var h_prev = zero;
            if (s > 0u) {
                h_prev = out_in4(rows_at(time_of(s - 1u), b0), j);
            }
            let d_n = d_h * (1.0 - z);
            let d_z = d_h * (h_prev - n);
            d_h_direct[u] = d_h * z;
            let d_an = d_n * (1.0 - n * n);
            let d_hw_n = d_an * rg;
            let d_ar = d_an * hw_n * rg * (1.0 - rg);
            let d_az = d_z * z * (1.0 - z);
            store_d_a(b.x, rows.x, j, d_ar.x, d_az.x, d_an.x, d_hw_n.x);
            store_d_a(b.y, rows.y, j, d_ar.y, d_az.y, d_an.y, d_hw_n.y);
            store_d_a(b.z, rows.z, j, d_ar.z, d_az.z, d_an.z, d_hw_n.z);
            store_d_a(b.w, rows.w, j, d_ar.w, d_az.w, d_an.w, d_hw_n.w);
            carry[d_a_at + j] = d_ar;
            carry[d_a_at + H + j] = d_az;
            carry[d_a_at + 2u * H + j] = d_hw_n;
        }
        storageBarrier();
        for (var u = 0u; u * WG + lid.x < H; u++) {
            let j = u * WG + lid.x;
            var sum = d_h_direct[u];
            var k = 0u;
            for (; k + 4u <= H; k += 4u) {
                sum += col_dot4(d_a_at, k, j) + col_dot4(d_a_at, H + k, j) + col_dot4(d_a_at, 2u * H + k, j);
            }
            for (; k < H; k++) {
                for (var gate = 0u; gate < 3u; gate++) {
                    sum += params[r.w_hh_off + (gate * H + k) * H + j] * carry[d_a_at + gate * H + k];
                }
            }
            d_h_rec[u] = sum;
        }
        storageBarrier();
    }
    for (var u = 0u; u * WG + lid.x < H; u++) {
        carry[d_h_rec_at + u * WG + lid.x] = d_h_rec[u];
    }
}
