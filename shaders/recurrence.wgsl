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

// The units of one pass of an invocation that takes its units two at a time: j = u·RECURRENCE_WG
// + lid and the next one, j + RECURRENCE_WG, or j again where H ends first (the caller then
// keeps one result). A pair shares every read of the vector it multiplies W_hh with.
fn unit_pair(u: u32, lid: u32) -> vec2<u32> {
    let j = u * RECURRENCE_WG + lid;
    return vec2<u32>(j, select(j, j + RECURRENCE_WG, j + RECURRENCE_WG < dims.hidden));
}

// W_hh[row, k .. k+3] as a vec4 (four consecutive weights of one row).
fn w_hh4(row: u32, k: u32) -> vec4<f32> {
    let at = dims.w_hh_off + row * dims.hidden + k;
    return vec4<f32>(params[at], params[at + 1u], params[at + 2u], params[at + 3u]);
}

// The backward passes' recurrent product (g W_hh)[j], four of its terms, for a pair of units
// j = units.x (column 0 of the result) and units.y (column 1):
//   Σ_{m<4} g[k + m] W_hh[k + m, j]
// for the four lanes, where g is the gradient of the gates' pre-activations (lstm.wgsl: d_a,
// gru.wgsl: d_hw) that the workgroup keeps in its slice of carry from g_at, and k indexes the
// rows of W_hh (the columns of g). Each read of g serves both units; neighbouring invocations
// read neighbouring weights. Each kernel file declares its own carry (lstm.wgsl, gru.wgsl).
fn column_dot4_pair(g_at: u32, k: u32, units: vec2<u32>) -> mat2x4<f32> {
    let H = dims.hidden;
    let w = vec2<u32>(dims.w_hh_off + k * H) + units;
    let g0 = carry[g_at + k];
    let g1 = carry[g_at + k + 1u];
    let g2 = carry[g_at + k + 2u];
    let g3 = carry[g_at + k + 3u];
    return mat2x4<f32>(
        params[w.x] * g0 + params[w.x + H] * g1 + params[w.x + 2u * H] * g2 + params[w.x + 3u * H] * g3,
        params[w.y] * g0 + params[w.y + H] * g1 + params[w.y + 2u * H] * g2 + params[w.y + 3u * H] * g3,
    );
}

// One term g[row] W_hh[row, j] for the pair of units (the rows left over after the fours).
fn column_term_pair(g_at: u32, row: u32, units: vec2<u32>) -> mat2x4<f32> {
    let g = carry[g_at + row];
    let w = dims.w_hh_off + row * dims.hidden;
    return mat2x4<f32>(params[w + units.x] * g, params[w + units.y] * g);
}
