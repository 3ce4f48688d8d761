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
//   carry   [B, 2H]: d_h_rec, then d_h_direct, kept between dispatches
//
// Dispatch: one workgroup per sequence (B, 1, 1), the state in workgroup memory; steps
// s_start .. s_start + s_count per dispatch, split by the host under the loop cap (SPEC §9).
// The dot products over the hidden units are unrolled by four (all gates in one pass).

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

fn time_of(s: u32) -> u32 {
    return select(s, r.steps - 1u - s, r.reverse != 0u);
}

fn valid(t: u32, b: u32) -> bool {
    return r.reverse == 0u || t < lengths[b];
}

// ---------------------------------------------------------------- forward

@group(0) @binding(3) var<storage, read> xw: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> gates: array<f32>;

var<workgroup> h_prev: array<f32, MAX_HIDDEN>;

@compute @workgroup_size(64, 1, 1)
fn gru_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
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
            var hw_r = params[r.b_hh_off + j];
            var hw_z = params[r.b_hh_off + H + j];
            var hw_n = params[r.b_hh_off + 2u * H + j];
            var k = 0u;
            for (; k + 4u <= H; k += 4u) {
                hw_r += row_dot4(j, k);
                hw_z += row_dot4(H + j, k);
                hw_n += row_dot4(2u * H + j, k);
            }
            for (; k < H; k++) {
                let h_k = h_prev[k];
                hw_r += params[r.w_hh_off + j * H + k] * h_k;
                hw_z += params[r.w_hh_off + (H + j) * H + k] * h_k;
                hw_n += params[r.w_hh_off + (2u * H + j) * H + k] * h_k;
            }
            let rg = sigmoid(xw[row * 3u * H + j] + hw_r);
            let z = sigmoid(xw[row * 3u * H + H + j] + hw_z);
            let n = tanh(xw[row * 3u * H + 2u * H + j] + rg * hw_n);
            var h = n + z * (h_prev[j] - n);
            if (!valid(t, b)) {
                h = 0.0;
            }
            out[row * r.out_stride + r.out_col + j] = h;
            gates[row * 4u * H + j] = rg;
            gates[row * 4u * H + H + j] = z;
            gates[row * 4u * H + 2u * H + j] = n;
            gates[row * 4u * H + 3u * H + j] = hw_n;
        }
        workgroupBarrier();
        for (var j = lid.x; j < H; j += WG) {
            h_prev[j] = out[row * r.out_stride + r.out_col + j];
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
@group(1) @binding(5) var<storage, read_write> carry: array<f32>;

var<workgroup> d_h_rec: array<f32, MAX_HIDDEN>;
var<workgroup> d_a: array<f32, 1536>; // 3 · MAX_HIDDEN

@compute @workgroup_size(64, 1, 1)
fn gru_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b = wid.x;
    let H = r.hidden;
    let B = r.batch;
    let first = r.s_start + r.s_count == r.steps;
    for (var j = lid.x; j < H; j += WG) {
        if (first) {
            carry[b * 2u * H + j] = 0.0;
        }
        d_h_rec[j] = carry[b * 2u * H + j];
    }
    workgroupBarrier();
    for (var n_ = 0u; n_ < r.s_count; n_++) {
        let s = r.s_start + r.s_count - 1u - n_;
        let t = time_of(s);
        let row = t * B + b;
        for (var j = lid.x; j < H; j += WG) {
            var d_h = d_out[row * r.out_stride + r.out_col + j] + d_h_rec[j];
            if (!valid(t, b)) {
                d_h = 0.0;
            }
            let rg = gates_in[row * 4u * H + j];
            let z = gates_in[row * 4u * H + H + j];
            let n = gates_in[row * 4u * H + 2u * H + j];
            let hw_n = gates_in[row * 4u * H + 3u * H + j];
            var h_prev = 0.0;
            if (s > 0u) {
                h_prev = out_in[(time_of(s - 1u) * B + b) * r.out_stride + r.out_col + j];
            }
            let d_n = d_h * (1.0 - z);
            let d_z = d_h * (h_prev - n);
            carry[b * 2u * H + H + j] = d_h * z;
            let d_an = d_n * (1.0 - n * n);
            let d_hw_n = d_an * rg;
            let d_ar = d_an * hw_n * rg * (1.0 - rg);
            let d_az = d_z * z * (1.0 - z);
            d_xw[row * 3u * H + j] = d_ar;
            d_xw[row * 3u * H + H + j] = d_az;
            d_xw[row * 3u * H + 2u * H + j] = d_an;
            d_hw[row * 3u * H + j] = d_ar;
            d_hw[row * 3u * H + H + j] = d_az;
            d_hw[row * 3u * H + 2u * H + j] = d_hw_n;
            d_a[j] = d_ar;
            d_a[H + j] = d_az;
            d_a[2u * H + j] = d_hw_n;
        }
        workgroupBarrier();
        for (var j = lid.x; j < H; j += WG) {
            var sum = carry[b * 2u * H + H + j];
            var k = 0u;
            for (; k + 4u <= H; k += 4u) {
                sum += col_dot4(k, j) + col_dot4(H + k, j) + col_dot4(2u * H + k, j);
            }
            for (; k < H; k++) {
                for (var gate = 0u; gate < 3u; gate++) {
                    sum += params[r.w_hh_off + (gate * H + k) * H + j] * d_a[gate * H + k];
                }
            }
            d_h_rec[j] = sum;
            carry[b * 2u * H + j] = sum;
        }
        workgroupBarrier();
    }
}
