// Prelude of the reference recurrence kernels (lstm_reference.wgsl, gru_reference.wgsl): what
// both share, written once. src/engine/gpu/reference.rs joins it after the text of each of them.
//
//   REFERENCE_WG    invocations per workgroup, one hidden unit of one sequence each
//   RecurrenceDims  the uniform of one dispatch: the tuned kernels' own (recurrence.wgsl;
//                   uniforms.rs: RecurrenceDims). A reference dispatch runs the one processing
//                   step s = s_start (s_count is 1)
//
// Buffers (group 0 of every reference entry point, as in the tuned kernels): dims
// (RecurrenceDims, uniform); params [P] f32, all parameters flat (W_hh at w_hh_off, b_hh at
// b_hh_off), read; lengths [B] u32, each sequence's valid steps, read.
// Dispatch: (⌈H / REFERENCE_WG⌉, B, 1) workgroups of REFERENCE_WG invocations; the invocation
// of global id (j, b) computes hidden unit j of sequence b.

const REFERENCE_WG: u32 = 64u;

struct RecurrenceDims {
    batch: u32, steps: u32, hidden: u32, s_start: u32,
    s_count: u32, reverse: u32, w_hh_off: u32, b_hh_off: u32,
    out_stride: u32, out_col: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> dims: RecurrenceDims;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;

// σ, the logistic function.
fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

// The time index of processing step s: t = s forward, t = T-1-s reverse.
fn time_of(s: u32) -> u32 {
    return select(s, dims.steps - 1u - s, dims.reverse != 0u);
}

// The row of sequence b at time t in every time-major buffer.
fn row_of(t: u32, b: u32) -> u32 {
    return t * dims.batch + b;
}

// Whether sequence b computes time t: always forward; reverse, only inside its length (the
// padding steps t ≥ length[b] hold a zero state, so each sequence starts at its own end).
fn is_live(t: u32, b: u32) -> bool {
    return dims.reverse == 0u || t < lengths[b];
}

// W_hh[row, k] (W_hh is [GATES·H, H], row-major).
fn w_hh(row: u32, k: u32) -> f32 {
    return params[dims.w_hh_off + row * dims.hidden + k];
}

// b_hh[row].
fn b_hh(row: u32) -> f32 {
    return params[dims.b_hh_off + row];
}
