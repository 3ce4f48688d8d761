// Prelude of the recurrence kernels: what lstm.wgsl and gru.wgsl share, written once.
// kernels.rs joins it after the text of each of them (with common.wgsl) when the binary is
// built; lstm.wgsl's header explains the scheme in full.
//
//   RECURRENCE_WG   invocations per workgroup (pipeline-overridable: 32, 64, 128 or 256,
//                   chosen per adapter); invocation lid handles the hidden units
//                   j = lid, lid + RECURRENCE_WG, ... < H, at most UNITS of them
//   UNITS_PER_PASS  how many of them it takes at a time (pipeline-overridable: 1, 2 or 4)
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
// has the same names (kernels.rs; uniforms.rs: RecurrenceDims); tests/engines/gpu_kernels.rs checks
// them.

override RECURRENCE_WG: u32 = 64u;
// How many of its hidden units an invocation takes per pass of its unit loop: 1, 2 or 4
// (unit_group). Each read of the vector that W_hh multiplies (h_prev forward, the gates'
// gradient backward) then serves that many dot products. Set by the host to the most that
// every invocation has (4 where H ≥ 4·RECURRENCE_WG, 2 where H ≥ 2·RECURRENCE_WG). A constant
// per pipeline, so the branches on it below are compiled out: a CPU adapter runs both sides of
// a branch its lanes may split on.
override UNITS_PER_PASS: u32 = 1u;
// The smallest RECURRENCE_WG the host may choose: it sizes the per-invocation arrays.
const MIN_RECURRENCE_WG: u32 = 32u;
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

// The units of one pass of an invocation's unit loop, the pass that starts at its u-th unit:
// j = u·RECURRENCE_WG + lid and the next UNITS_PER_PASS - 1 of its units, j + n·RECURRENCE_WG.
// Past the UNITS_PER_PASS, and where H ends first, the unit is j again: the caller computes
// it for nothing and keeps only the units for which unit_in_pass is true. A pass shares every
// read of the vector it multiplies W_hh with: on a CPU adapter, where each read is a per-lane
// gather, most of the recurrences' time.
fn unit_group(u: u32, lid: u32) -> vec4<u32> {
    let j = u * RECURRENCE_WG + lid;
    let next = vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u) * RECURRENCE_WG;
    let taken = vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(UNITS_PER_PASS);
    return select(vec4<u32>(j), next, taken & (next < vec4<u32>(dims.hidden)));
}

// Whether unit n of a pass (unit_group) is one of the invocation's units (the first always is).
fn unit_in_pass(units: vec4<u32>, n: u32) -> bool {
    return n == 0u || units[n] != units.x;
}

// W_hh[row, k .. k+3] as a vec4 (four consecutive weights of one row).
fn w_hh_row4(row: u32, k: u32) -> vec4<f32> {
    let at = dims.w_hh_off + row * dims.hidden + k;
    return vec4<f32>(params[at], params[at + 1u], params[at + 2u], params[at + 3u]);
}

// Rows g[k .. k+3] of a vector kept in carry from g_at, as the columns of a matrix (each
// column a vec4 of the four lanes).
fn carry_rows4(g_at: u32, k: u32) -> mat4x4<f32> {
    return mat4x4<f32>(carry[g_at + k], carry[g_at + k + 1u], carry[g_at + k + 2u], carry[g_at + k + 3u]);
}

// W_hh[row .. row+3, j] as a vec4 (four consecutive rows of one column).
fn w_hh_col4(row: u32, j: u32) -> vec4<f32> {
    let H = dims.hidden;
    let at = dims.w_hh_off + row * H + j;
    return vec4<f32>(params[at], params[at + H], params[at + 2u * H], params[at + 3u * H]);
}

// Σ_{m<4} g[row + m] W_hh[row + m, j], four terms of the backward passes' recurrent product
// (g W_hh)[j], for the four lanes: g holds rows g[row .. row+3] of the gradient of the gates'
// pre-activations (lstm.wgsl: d_a, gru.wgsl: d_hw; read with carry_rows4) and row indexes the
// rows of W_hh, i.e. the columns of g. The matrix-vector product sums exactly those terms.
// Neighbouring invocations read neighbouring weights.
fn column_terms4(g: mat4x4<f32>, row: u32, j: u32) -> vec4<f32> {
    return g * w_hh_col4(row, j);
}

// column_terms4 for the units of a pass (one column each, unit_group), g =
// carry_rows4(g_at, row) read once for all of them.
fn column_terms4_group(g_at: u32, row: u32, units: vec4<u32>) -> mat4x4<f32> {
    let g = carry_rows4(g_at, row);
    var terms = mat4x4<f32>();
    terms[0] = column_terms4(g, row, units.x);
    if (UNITS_PER_PASS > 1u) {
        terms[1] = column_terms4(g, row, units.y);
    }
    if (UNITS_PER_PASS > 2u) {
        terms[2] = column_terms4(g, row, units.z);
        terms[3] = column_terms4(g, row, units.w);
    }
    return terms;
}

// One term g[row] W_hh[row, j] for the units of a pass (the rows left over after the fours),
// g[row] read once. Each kernel file declares its own carry (lstm.wgsl, gru.wgsl).
fn column_term1_group(g_at: u32, row: u32, units: vec4<u32>) -> mat4x4<f32> {
    let g = carry[g_at + row];
    let w = dims.w_hh_off + row * dims.hidden;
    var terms = mat4x4<f32>();
    terms[0] = params[w + units.x] * g;
    if (UNITS_PER_PASS > 1u) {
        terms[1] = params[w + units.y] * g;
    }
    if (UNITS_PER_PASS > 2u) {
        terms[2] = params[w + units.z] * g;
        terms[3] = params[w + units.w] * g;
    }
    return terms;
}

// (g W_hh)[j] for the four lanes and each unit j of a pass (one column each, unit_group): the
// backward passes' recurrent product, with g the gradient of the gates' pre-activations in
// carry from g_at (lstm.wgsl: d_a, gru.wgsl: d_hw) and GATES the gates per unit (each kernel
// file declares it). Over the GATES·H columns of g: four rows of W_hh per column_terms4_group
// and one per gate per iteration, written out (a loop over the gates would count against the
// loop cap); then the H mod 4 rows left over in each gate. GATES is a constant, so the fourth
// gate's term is compiled in or out.
fn gates_w_hh(g_at: u32, units: vec4<u32>) -> mat4x4<f32> {
    let H = dims.hidden;
    var sum = mat4x4<f32>();
    var k = 0u;
    for (; k + 4u <= H; k += 4u) {
        var terms = column_terms4_group(g_at, k, units) + column_terms4_group(g_at, H + k, units)
            + column_terms4_group(g_at, 2u * H + k, units);
        if (GATES == 4u) {
            terms += column_terms4_group(g_at, 3u * H + k, units);
        }
        sum += terms;
    }
    for (; k < H; k++) {
        for (var gate = 0u; gate < GATES; gate++) {
            sum += column_term1_group(g_at, gate * H + k, units);
        }
    }
    return sum;
}
