// LSTM recurrence of one layer and one direction, written plainly: one invocation per (sequence,
// hidden unit), one dispatch per time step. It computes what lstm.wgsl computes (the same
// equations, gate order, buffers and bindings; tests/engines/gpu_kernels.rs holds the two together and
// against the CPU engine), without lstm.wgsl's speed-ups; read it first. It is not used in
// training.
//
// Notation as in lstm.wgsl: vectors are rows; XW = X W_ihᵀ + b_ih is the layer's input
// projection, computed for all steps by matmul.wgsl before the recurrence; W_hh is [4H, H], its
// rows j, H + j, 2H + j, 3H + j belong to unit j of gates i, f, g, o (PyTorch's order); σ is
// the logistic function. Step s is the processing order, t = time_of(s) its time; h_prev and
// c_prev are h and c of step s - 1 (zero at s = 0). Unit j of sequence b, at step s:
//
// ---- Forward (lstm_reference_forward), dispatched for s = 0, 1, .., T-1:
//   a_i = XW[t, j]      + b_hh[j]      + Σ_k h_prev[k] W_hh[j, k]
//   a_f = XW[t, H + j]  + b_hh[H + j]  + Σ_k h_prev[k] W_hh[H + j, k]
//   a_g = XW[t, 2H + j] + b_hh[2H + j] + Σ_k h_prev[k] W_hh[2H + j, k]
//   a_o = XW[t, 3H + j] + b_hh[3H + j] + Σ_k h_prev[k] W_hh[3H + j, k]
//   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//   c = f c_prev + i g
//   h = o tanh(c)
//   Reverse direction: h = c = 0 at the padding steps t ≥ length[b].
//
// ---- Backward (lstm_reference_backward), dispatched for s = T-1, T-2, .., 0. d_a_next is d_a
// of step s + 1 (in d_xw, where that step's dispatch wrote it), d_c_from_next the d_c_to_prev
// of step s + 1 (in carry); both are zero at s = T-1:
//   d_h_rec       = Σ_{k < 4H} d_a_next[k] W_hh[k, j]
//   d_h           = d_out[t, j] + d_h_rec
//   d_o           = d_h tanh(c)
//   d_c           = d_c_from_next + d_h o (1 - tanh²(c))
//   d_c_to_prev   = d_c f
//   d_a_i = d_c g i (1 - i)     d_a_f = d_c c_prev f (1 - f)
//   d_a_g = d_c i (1 - g²)      d_a_o = d_o o (1 - o)
//   Reverse direction: d_h = d_c = 0 at the padding steps, so nothing flows through them.
// d_a is the gradient of XW and of h_prev W_hhᵀ + b_hh; matmul.wgsl turns it into the weight,
// bias and input gradients.
//
// ---- Buffers (f32; rows time-major, row = t·B + b), the bindings of lstm.wgsl:
//   group 0: dims, params, lengths (reference.wgsl); xw [T·B, 4H] XW, read; out [T·B,
//     out_stride], h in columns out_col .. out_col + H; cell [T·B, H] c; gates [T·B, 4H] i, f,
//     g, o (after their activations)
//   group 1: cell_in, gates_in: cell and gates of the forward pass, read; d_out, laid out as out:
//     dL/dh from above, read; d_xw [T·B, 4H] d_a; carry [B, H] d_c_to_prev, handed from one
//     step's dispatch to the next (lstm.wgsl's carry is larger: this kernel uses its start)
//
// ---- Dispatch: (⌈H / REFERENCE_WG⌉, B, 1) workgroups of REFERENCE_WG (reference.wgsl), once
// per step, s_start = s. Step s needs all of h_prev (backward: all of d_a_next), computed by
// other workgroups, and invocations of different workgroups cannot wait for each other within
// a dispatch; wgpu finishes one dispatch's writes before the next dispatch reads. So there is
// no loop over time in the shader, only over H or 4H: nothing near the 65,535 loop iterations
// after which Mesa's software drivers stop a shader (docs/adapters.md), however long T is.

// The gates per hidden unit (i, f, g, o): the rows of W_hh are 4H, and xw, gates, d_xw have 4H
// columns.
const GATES: u32 = 4u;

@group(0) @binding(3) var<storage, read> xw: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> cell: array<f32>;
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;

@compute @workgroup_size(REFERENCE_WG, 1, 1)
fn lstm_reference_forward(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    let b = id.y;
    let H = dims.hidden;
    if (j >= H) {
        return;
    }
    let s = dims.s_start;
    let row = row_of(time_of(s), b);
    // a = XW[t] + b_hh + h_prev W_hhᵀ, unit j of each gate; h_prev and c_prev are what the
    // previous step's dispatch stored (nothing to add at s = 0, where they are zero).
    var a_i = xw[row * GATES * H + j] + b_hh(j);
    var a_f = xw[row * GATES * H + H + j] + b_hh(H + j);
    var a_g = xw[row * GATES * H + 2u * H + j] + b_hh(2u * H + j);
    var a_o = xw[row * GATES * H + 3u * H + j] + b_hh(3u * H + j);
    var c_prev = 0.0;
    if (s > 0u) {
        let row_prev = row_of(time_of(s - 1u), b);
        for (var k = 0u; k < H; k++) {
            let h_prev_k = out[row_prev * dims.out_stride + dims.out_col + k];
            a_i += h_prev_k * w_hh(j, k);
            a_f += h_prev_k * w_hh(H + j, k);
            a_g += h_prev_k * w_hh(2u * H + j, k);
            a_o += h_prev_k * w_hh(3u * H + j, k);
        }
        c_prev = cell[row_prev * H + j];
    }
    let i = sigmoid(a_i);
    let f = sigmoid(a_f);
    let g = tanh(a_g);
    let o = sigmoid(a_o);
    // The reverse direction's padding steps hold a zero state.
    let live = is_live(time_of(s), b);
    let c = select(0.0, f * c_prev + i * g, live);
    let h = select(0.0, o * tanh(c), live);
    cell[row * H + j] = c;
    out[row * dims.out_stride + dims.out_col + j] = h;
    gates[row * GATES * H + j] = i;
    gates[row * GATES * H + H + j] = f;
    gates[row * GATES * H + 2u * H + j] = g;
    gates[row * GATES * H + 3u * H + j] = o;
}

@group(1) @binding(0) var<storage, read> cell_in: array<f32>;
@group(1) @binding(1) var<storage, read> gates_in: array<f32>;
@group(1) @binding(2) var<storage, read> d_out: array<f32>;
@group(1) @binding(3) var<storage, read_write> d_xw: array<f32>;
@group(1) @binding(4) var<storage, read_write> carry: array<f32>;

@compute @workgroup_size(REFERENCE_WG, 1, 1)
fn lstm_reference_backward(@builtin(global_invocation_id) id: vec3<u32>) {
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
    var d_c_from_next = 0.0;
    if (s + 1u < dims.steps) {
        let row_next = row_of(time_of(s + 1u), b);
        for (var k = 0u; k < GATES * H; k++) {
            d_h_rec += d_xw[row_next * GATES * H + k] * w_hh(k, j);
        }
        d_c_from_next = carry[b * H + j];
    }
    // The reverse direction's padding steps pass no gradient.
    let live = is_live(t, b);
    let d_h = select(0.0, d_out[row * dims.out_stride + dims.out_col + j] + d_h_rec, live);
    d_c_from_next = select(0.0, d_c_from_next, live);
    let i = gates_in[row * GATES * H + j];
    let f = gates_in[row * GATES * H + H + j];
    let g = gates_in[row * GATES * H + 2u * H + j];
    let o = gates_in[row * GATES * H + 3u * H + j];
    let tanh_c = tanh(cell_in[row * H + j]);
    var c_prev = 0.0;
    if (s > 0u) {
        c_prev = cell_in[row_of(time_of(s - 1u), b) * H + j];
    }
    let d_o = d_h * tanh_c;
    let d_c = d_c_from_next + d_h * o * (1.0 - tanh_c * tanh_c);
    let d_c_to_prev = d_c * f;
    let d_a_i = d_c * g * i * (1.0 - i);
    let d_a_f = d_c * c_prev * f * (1.0 - f);
    let d_a_g = d_c * i * (1.0 - g * g);
    let d_a_o = d_o * o * (1.0 - o);
    carry[b * H + j] = d_c_to_prev;
    d_xw[row * GATES * H + j] = d_a_i;
    d_xw[row * GATES * H + H + j] = d_a_f;
    d_xw[row * GATES * H + 2u * H + j] = d_a_g;
    d_xw[row * GATES * H + 3u * H + j] = d_a_o;
}
