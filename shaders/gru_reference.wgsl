// GRU recurrence of one layer and one direction, written plainly: one invocation per (sequence,
// hidden unit), one dispatch per time step. It computes what gru.wgsl computes (the same
// equations, gate order, buffers and bindings; tests/engines/gpu_kernels.rs holds the two together and
// against the CPU engine), without gru.wgsl's speed-ups; read it first. It is not used in
// training. The dispatch scheme is lstm_reference.wgsl's.
//
// Notation as in gru.wgsl: vectors are rows; XW = X W_ihᵀ + b_ih (matmul.wgsl, before the
// recurrence); W_hh is [3H, H], its rows j, H + j, 2H + j belong to unit j of gates r, z, n
// (PyTorch's order); σ is the logistic function. Step s is the processing order, t =
// time_of(s) its time; h_prev is h of step s - 1 (zero at s = 0). Unit j of sequence b, at
// step s:
//
// ---- Forward (gru_reference_forward), dispatched for s = 0, 1, .., T-1:
//   hw_r = b_hh[j]      + Σ_k h_prev[k] W_hh[j, k]
//   hw_z = b_hh[H + j]  + Σ_k h_prev[k] W_hh[H + j, k]
//   hw_n = b_hh[2H + j] + Σ_k h_prev[k] W_hh[2H + j, k]
//   r = σ(XW[t, j] + hw_r)    z = σ(XW[t, H + j] + hw_z)
//   n = tanh(XW[t, 2H + j] + r hw_n)
//   h = n + z (h_prev[j] - n)          = (1 - z) n + z h_prev[j]
//   Reverse direction: h = 0 at the padding steps t ≥ length[b].
//   Stored: h, and r, z, n, hw_n (hw_n for the backward's d_r).
//
// ---- Backward (gru_reference_backward), dispatched for s = T-1, T-2, .., 0. d_hw_next and
// d_h_direct_next are d_hw and d_h_direct of step s + 1 (in d_hw and carry, where that step's
// dispatch wrote them); both are zero at s = T-1:
//   d_h_rec    = d_h_direct_next[j] + Σ_{k < 3H} d_hw_next[k] W_hh[k, j]
//   d_h        = d_out[t, j] + d_h_rec
//   d_n        = d_h (1 - z)
//   d_z        = d_h (h_prev[j] - n)
//   d_h_direct = d_h z
//   d_an       = d_n (1 - n²)
//   d_hw_n     = d_an r
//   d_ar       = d_an hw_n r (1 - r)
//   d_az       = d_z z (1 - z)
//   d_xw = [d_ar | d_az | d_an]      the gradient of XW
//   d_hw = [d_ar | d_az | d_hw_n]    the gradient of h_prev W_hhᵀ + b_hh
//   Reverse direction: d_h = 0 at the padding steps, so nothing flows through them.
//
// ---- Buffers (f32; rows time-major, row = t·B + b), the bindings of gru.wgsl:
//   group 0: dims, params, lengths (reference.wgsl); xw [T·B, 3H] XW, read; out [T·B,
//     out_stride], h in columns out_col .. out_col + H; gates [T·B, 4H] r, z, n, hw_n
//   group 1: out_in, gates_in: out and gates of the forward pass, read; d_out, laid out as out:
//     dL/dh from above, read; d_xw, d_hw [T·B, 3H]; carry [B, H] d_h_direct, handed from one
//     step's dispatch to the next (gru.wgsl's carry is larger: this kernel uses its start)
//
// ---- Dispatch: (⌈H / REFERENCE_WG⌉, B, 1) workgroups of REFERENCE_WG (reference.wgsl), once
// per step, s_start = s; why one per step: lstm_reference.wgsl.

const GATES: u32 = 3u;
// Values stored per unit in gates: r, z, n and hw_n.
const STORED: u32 = 4u;

@group(0) @binding(3) var<storage, read> xw: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> gates: array<f32>;

@compute @workgroup_size(REFERENCE_WG, 1, 1)
fn gru_reference_forward(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    let b = id.y;
    let H = dims.hidden;
    if (j >= H) {
        return;
    }
    let s = dims.s_start;
    let row = row_of(time_of(s), b);
    // hw = h_prev W_hhᵀ + b_hh, unit j of each gate; h_prev is what the previous step's
    // dispatch stored (nothing to add at s = 0, where it is zero).
    var hw_r = b_hh(j);
    var hw_z = b_hh(H + j);
    var hw_n = b_hh(2u * H + j);
    var h_prev_j = 0.0;
    if (s > 0u) {
        let h_prev_at = row_of(time_of(s - 1u), b) * dims.out_stride + dims.out_col;
        for (var k = 0u; k < H; k++) {
            let h_prev_k = out[h_prev_at + k];
            hw_r += h_prev_k * w_hh(j, k);
            hw_z += h_prev_k * w_hh(H + j, k);
            hw_n += h_prev_k * w_hh(2u * H + j, k);
        }
        h_prev_j = out[h_prev_at + j];
    }
    let r = sigmoid(xw[row * GATES * H + j] + hw_r);
    let z = sigmoid(xw[row * GATES * H + H + j] + hw_z);
    let n = tanh(xw[row * GATES * H + 2u * H + j] + r * hw_n);
    // The reverse direction's padding steps hold a zero state.
    let h = select(0.0, n + z * (h_prev_j - n), is_live(time_of(s), b));
    out[row * dims.out_stride + dims.out_col + j] = h;
    gates[row * STORED * H + j] = r;
    gates[row * STORED * H + H + j] = z;
    gates[row * STORED * H + 2u * H + j] = n;
    gates[row * STORED * H + 3u * H + j] = hw_n;
}

@group(1) @binding(0) var<storage, read> out_in: array<f32>;
@group(1) @binding(1) var<storage, read> gates_in: array<f32>;
@group(1) @binding(2) var<storage, read> d_out: array<f32>;
@group(1) @binding(3) var<storage, read_write> d_xw: array<f32>;
@group(1) @binding(4) var<storage, read_write> d_hw: array<f32>;
@group(1) @binding(5) var<storage, read_write> carry: array<f32>;

@compute @workgroup_size(REFERENCE_WG, 1, 1)
fn gru_reference_backward(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    let b = id.y;
    let H = dims.hidden;
    if (j >= H) {
        return;
    }
    let s = dims.s_start;
    let t = time_of(s);
    let row = row_of(t, b);
    // What step s + 1 hands back (nothing at the last step).
    var d_h_rec = 0.0;
    if (s + 1u < dims.steps) {
        let row_next = row_of(time_of(s + 1u), b);
        d_h_rec = carry[b * H + j];
        for (var k = 0u; k < GATES * H; k++) {
            d_h_rec += d_hw[row_next * GATES * H + k] * w_hh(k, j);
        }
    }
    // The reverse direction's padding steps pass no gradient.
    let d_h = select(0.0, d_out[row * dims.out_stride + dims.out_col + j] + d_h_rec, is_live(t, b));
    let r = gates_in[row * STORED * H + j];
    let z = gates_in[row * STORED * H + H + j];
    let n = gates_in[row * STORED * H + 2u * H + j];
    let hw_n = gates_in[row * STORED * H + 3u * H + j];
    var h_prev_j = 0.0;
    if (s > 0u) {
        h_prev_j = out_in[row_of(time_of(s - 1u), b) * dims.out_stride + dims.out_col + j];
    }
    let d_n = d_h * (1.0 - z);
    let d_z = d_h * (h_prev_j - n);
    let d_h_direct = d_h * z;
    let d_an = d_n * (1.0 - n * n);
    let d_hw_n = d_an * r;
    let d_ar = d_an * hw_n * r * (1.0 - r);
    let d_az = d_z * z * (1.0 - z);
    carry[b * H + j] = d_h_direct;
    d_xw[row * GATES * H + j] = d_ar;
    d_xw[row * GATES * H + H + j] = d_az;
    d_xw[row * GATES * H + 2u * H + j] = d_an;
    d_hw[row * GATES * H + j] = d_ar;
    d_hw[row * GATES * H + H + j] = d_az;
    d_hw[row * GATES * H + 2u * H + j] = d_hw_n;
}
