// Prelude of the recurrence kernels: what lstm.wgsl and gru.wgsl share, written once.
// kernels.rs joins it after the text of each of them (with common.wgsl) when the binary is
// built; lstm.wgsl's header explains the scheme in full.
//
//   RECURRENCE_WG   invocations per workgroup (pipeline-overridable: 64, 128 or 256, chosen
//                   per adapter); invocation lid handles the hidden units
//                   j = lid, lid + RECURRENCE_WG, ... < H, at most UNITS of them
//   LANES           sequences per workgroup, one per lane of every vec4
//   MAX_HIDDEN      the largest H (h_prev lives in workgroup memory: MAX_HIDDEN vec4 = 8 KiB)
//   RecurrenceDims  the uniform of one dispatch: one layer and direction, steps
//                   s_start .. s_start + s_count of the time loop (processing order s; time
//                   t = s forward, T-1-s reverse), W_hh and b_hh offsets, out's columns
//
// Buffers (group 0 of every recurrence entry point): dims (RecurrenceDims, uniform);
// params [P] f32, all parameters flat (W_hh at w_hh_off, b_hh at b_hh_off), read; lengths [B]
// u32, each sequence's valid steps, read. The rest are each kernel's own.
// Dispatch: ⌈B / LANES⌉ workgroups of RECURRENCE_WG invocations, (⌈B/4⌉, 1, 1). The host
// has the same names (kernels.rs; uniforms.rs: RecurrenceDims); tests/gpu_kernels.rs checks
// them.

override RECURRENCE_WG: u32 = 64u;
// The smallest RECURRENCE_WG the host may choose: it sizes the per-invocation arrays.
const MIN_RECURRENCE_WG: u32 = 64u;
const LANES: u32 = 4u;
const MAX_HIDDEN: u32 = 512u;
// Hidden units per invocation at most.
const UNITS: u32 = MAX_HIDDEN / MIN_RECURRENCE_WG;

struct RecurrenceDims {
    batch: u32, steps: u32, hidden: u32, s_start: u32,
    s_count: u32, reverse: u32, w_hh_off: u32, b_hh_off: u32,
    out_stride: u32, out_col: u32, _pad0: u32, _pad1: u32,
}

// The sizes and offsets of this dispatch (RecurrenceDims on the host).
@group(0) @binding(0) var<uniform> dims: RecurrenceDims;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;

fn sigmoid(x: vec4<f32>) -> vec4<f32> {
    return 1.0 / (1.0 + exp(-x));
}

// The time index of processing step s.
fn time_of(s: u32) -> u32 {
    return select(s, dims.steps - 1u - s, dims.reverse != 0u);
}

// The sequences of the four lanes of the workgroup whose first sequence is b0.
fn lanes(b0: u32) -> vec4<u32> {
    return vec4<u32>(b0) + vec4<u32>(0u, 1u, 2u, 3u);
}

// The rows (t·B + b) of the four lanes at time t; lanes past the batch read the last sequence.
fn rows_at(t: u32, b0: u32) -> vec4<u32> {
    return t * dims.batch + min(lanes(b0), vec4<u32>(dims.batch - 1u));
}

// Which lanes compute step t: all in the forward direction; in the reverse one, the lanes whose
// sequence is still inside its length (t < length[b]). The others hold a zero state.
fn live_at(t: u32, b0: u32) -> vec4<bool> {
    let b = min(lanes(b0), vec4<u32>(dims.batch - 1u));
    let len = vec4<u32>(lengths[b.x], lengths[b.y], lengths[b.z], lengths[b.w]);
    return vec4<bool>(dims.reverse == 0u) | (vec4<u32>(t) < len);
}
