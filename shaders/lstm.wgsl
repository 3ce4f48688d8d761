// LSTM recurrence of one layer and one direction: the forward pass through time and its
// backward pass (backpropagation through time, BPTT).
//
// Notation. Vectors are rows, as in the host's matmul comments: one sequence's state at time t
// is a row h_t [1, H], and a layer's input projection is XW = X W_ihᵀ + b_ih (matmul.wgsl).
// W_hh is [4H, H]: its rows j, H + j, 2H + j, 3H + j belong to unit j of gates i, f, g, o.
// ⊙ is the elementwise product, σ the logistic function, and a the gates' pre-activations.
// Step s is the processing order; time t = s for the forward direction and t = T-1-s for the
// reverse one (time_of). h_prev and c_prev are the h and c of step s - 1 (zero at s = 0).
//
// ---- Forward, for s = 0 .. T-1 (lstm_forward):
//   a = XW[t] + h_prev W_hhᵀ + b_hh                   a = [a_i | a_f | a_g | a_o], [1, 4H]
//   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//   c = f ⊙ c_prev + i ⊙ g
//   h = o ⊙ tanh(c)
//   Reverse direction: h = c = 0 at the padding steps t ≥ length[b], so each sequence starts
//   from a zero state at its own last valid step.
//   Stored per step: h (out), c (cell) and the activations i, f, g, o (gates), all that the
//   backward pass needs; the pre-activations a are not kept.
//
// ---- Backward, for s = T-1 down to 0 (lstm_backward). The loss reaches h_t two ways: from
// above (d_out, the gradient of this layer's output) and from step s + 1 through h_prev W_hhᵀ
// (d_h_rec). It reaches c_t from step s + 1 through f ⊙ c_prev (d_c_from_next). In the order
// the code runs:
//   d_h           = d_out[t] + d_h_rec
//   d_o           = d_h ⊙ tanh(c)
//   d_c           = d_c_from_next + d_h ⊙ o ⊙ (1 - tanh²(c))
//   d_c_to_prev   = d_c ⊙ f                  (becomes d_c_from_next of step s - 1)
//   d_a_i = d_c ⊙ g ⊙ σ'(a_i)      d_a_f = d_c ⊙ c_prev ⊙ σ'(a_f)
//   d_a_g = d_c ⊙ i ⊙ tanh'(a_g)   d_a_o = d_o ⊙ σ'(a_o)
//   d_h_rec       = d_a W_hh                 ([1, 4H] [4H, H]: becomes d_h_rec of step s - 1)
// The derivatives come from the stored activations, never from a:
//   σ'(a_i) = i (1 - i), σ'(a_f) = f (1 - f), σ'(a_o) = o (1 - o), tanh'(a_g) = 1 - g².
// Padding steps of the reverse direction get d_h = d_c = 0, so nothing flows through them.
// Both d_h_rec and d_c_from_next are zero at s = T-1. d_a is written to d_xw; matmul.wgsl then
// turns it into dW_ih, dW_hh, db_ih, db_hh and dX (a = X W_ihᵀ + b_ih + h_prev W_hhᵀ + b_hh,
// so d_a is the gradient of both XW and h_prev W_hhᵀ + b_hh).
//
// ---- Buffers (f32 unless said; rows are time-major, row = t·B + b):
//   params   all parameters, flat; W_hh [4H, H] at w_hh_off, b_hh [4H] at b_hh_off
//   lengths  [B] u32, valid steps of each sequence
//   xw       [T·B, 4H]   XW, columns a_i, a_f, a_g, a_o
//   out      [T·B, out_stride]; this direction's h in columns out_col .. out_col + H
//   cell     [T·B, H]    c
//   gates    [T·B, 4H]   i, f, g, o (after their activations)
//   d_out    like out: dL/dh from above      d_xw [T·B, 4H]: d_a
//   carry    vec4 [⌈B/4⌉, 6H], one slice per workgroup: d_h_rec [H] and d_c_from_next [H]
//            (passed from one backward dispatch to the next), then d_a [4H] of the current
//            step (shared by the workgroup's invocations within a step)
//
// ---- Dispatch: ⌈B/4⌉ workgroups of RECURRENCE_WG invocations (32, 64, 128 or 256). Time is
// serial: step s needs all of h_prev, so the units of one step must be exchanged between steps,
// and only invocations of one workgroup can wait for each other (barriers). So a workgroup owns whole
// sequences for a span of steps, and its invocations split the hidden units: invocation lid
// handles units j = lid, lid + RECURRENCE_WG, lid + 2·RECURRENCE_WG, ... < H, at most
// UNITS = MAX_HIDDEN / MIN_RECURRENCE_WG of them, whose state it keeps in registers (arrays
// indexed by u, j = u·RECURRENCE_WG + lid). More invocations per workgroup give each fewer
// units: on a hardware GPU, more of the chip at work on one step.
//
// The lanes trick: a workgroup runs four sequences b0 .. b0 + 3 at once, one in each lane
// (x, y, z, w) of every vec4: h_prev[k] holds unit k of the four sequences, and a_i, c, d_h,
// ... are vec4s of four sequences' values of one unit. A scalar weight times a vec4
// (params[w] * h_prev[k]) thus serves four sequences with one read of W_hh, the dominant
// memory traffic. Reads and stores of per-row buffers go lane by lane (helpers ending in 4
// gather, store_* scatter). When B is not a multiple of 4, the extra lanes repeat sequence
// B - 1 (rows_at) so they compute harmless values, and they are never stored.
//
// Why h goes through workgroup memory in the forward pass but d_a through a storage buffer in
// the backward one: the forward shares h_prev, MAX_HIDDEN vec4 = 8 KiB, which fits the 16 KiB
// that WebGPU guarantees by default (maxComputeWorkgroupStorageSize). The backward shares d_a,
// 4H vec4 = 32 KiB at H = 512, which does not; so it goes through the workgroup's own slice of
// carry, and the backward's barriers are storageBarrier instead of workgroupBarrier. Like
// workgroupBarrier, storageBarrier only synchronizes the invocations of one workgroup, which
// is enough: each workgroup reads and writes its own slice of carry only.
//
// Loop bounds: one dispatch runs steps s_start .. s_start + s_count, and the host calls it for
// consecutive spans until all T steps are done. It chooses s_count so that no invocation runs
// more than about 60,000 loop iterations (LOOP_BUDGET on the host), because Mesa's software
// Vulkan/GL drivers stop a shader silently at 65,535; see docs/adapters.md. Per step an
// invocation runs at most UNITS unit iterations, each with a dot product over H hidden units
// unrolled by four (H/4 iterations and H mod 4 more): four times fewer iterations against
// that cap, and each h_prev[k] read serves all four gates. Where every invocation has two
// units or more, they go UNITS_PER_PASS (2 or 4) at a time (unit_group): each read of h_prev
// (forward) or d_a (backward) then serves that many units (docs/adapters.md has what that saves
// on a CPU adapter).
//
// Matrices as bundles of vec4s: a unit's four pre-activations are the columns of a mat4x4
// (i, f, g, o), and four consecutive h_prev[k] are the columns of another, so that
// h_prev4(k) * w_hh_row4(row, k) is four terms of one dot product, for the four lanes.

// Shared with gru.wgsl, in recurrence.wgsl (joined after this text): RECURRENCE_WG,
// UNITS_PER_PASS, LANES, MAX_HIDDEN, UNITS, RecurrenceDims, the bindings dims, params and
// lengths, and sigmoid, time_of, lanes, rows_at, live_at, unit_group, unit_in_pass, w_hh_row4,
// w_hh_col4, carry_rows4, and the backward's gates_w_hh, which uses GATES below.

// The gates per hidden unit (i, f, g, o): the rows of W_hh are 4H, and d_a has 4H columns.
const GATES: u32 = 4u;

// ---------------------------------------------------------------- forward

@group(0) @binding(3) var<storage, read> xw: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> cell: array<f32>;
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;

// h of the previous step, shared by the workgroup: h_prev[k] is unit k of the four lanes.
var<workgroup> h_prev: array<vec4<f32>, MAX_HIDDEN>;

// Column col of xw for the four lanes' rows.
fn xw4(rows: vec4<u32>, col: u32) -> vec4<f32> {
    let at = rows * 4u * dims.hidden + col;
    return vec4<f32>(xw[at.x], xw[at.y], xw[at.z], xw[at.w]);
}

// Unit j of h for the four lanes' rows.
fn out4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * dims.out_stride + dims.out_col + j;
    return vec4<f32>(out[at.x], out[at.y], out[at.z], out[at.w]);
}

// Unit j of c for the four lanes' rows.
fn cell4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * dims.hidden + j;
    return vec4<f32>(cell[at.x], cell[at.y], cell[at.z], cell[at.w]);
}

// Stores unit j of one lane's step: c, h and the gates (i, f, g, o), if the lane is a sequence.
fn store_step(b: u32, row: u32, j: u32, c: f32, h: f32, ifgo: vec4<f32>) {
    if (b >= dims.batch) {
        return;
    }
    let H = dims.hidden;
    cell[row * H + j] = c;
    out[row * dims.out_stride + dims.out_col + j] = h;
    gates[row * 4u * H + j] = ifgo.x;
    gates[row * 4u * H + H + j] = ifgo.y;
    gates[row * 4u * H + 2u * H + j] = ifgo.z;
    gates[row * 4u * H + 3u * H + j] = ifgo.w;
}

// The part of unit j's pre-activations that does not depend on h_prev, XW[t] + b_hh, one gate
// per column: i, f, g, o.
fn input_part(rows: vec4<u32>, j: u32) -> mat4x4<f32> {
    let H = dims.hidden;
    let b_hh = dims.b_hh_off + j;
    return mat4x4<f32>(
        xw4(rows, j) + params[b_hh],
        xw4(rows, H + j) + params[b_hh + H],
        xw4(rows, 2u * H + j) + params[b_hh + 2u * H],
        xw4(rows, 3u * H + j) + params[b_hh + 3u * H],
    );
}

// Four terms of (h_prev W_hhᵀ)[j] for each gate, Σ_{m<4} h_prev[k + m] W_hh[gate·H + j, k + m],
// where the columns of h are h_prev[k .. k+3]: the matrix-vector product h w_hh_row4(..) sums
// exactly those (w_hh_row4, recurrence.wgsl). One gate per column of the result, as in input_part.
fn recurrent_part4(j: u32, k: u32, h: mat4x4<f32>) -> mat4x4<f32> {
    let H = dims.hidden;
    return mat4x4<f32>(
        h * w_hh_row4(j, k),
        h * w_hh_row4(H + j, k),
        h * w_hh_row4(2u * H + j, k),
        h * w_hh_row4(3u * H + j, k),
    );
}

// One term h_prev[k] W_hh[gate·H + j, k] for each gate (the H mod 4 left over).
fn recurrent_part1(j: u32, k: u32, h_k: vec4<f32>) -> mat4x4<f32> {
    let H = dims.hidden;
    let w = dims.w_hh_off + j * H + k;
    return mat4x4<f32>(
        params[w] * h_k,
        params[w + H * H] * h_k,
        params[w + 2u * H * H] * h_k,
        params[w + 3u * H * H] * h_k,
    );
}

// h_prev[k .. k+3] as the columns of a matrix.
fn h_prev4(k: u32) -> mat4x4<f32> {
    return mat4x4<f32>(h_prev[k], h_prev[k + 1u], h_prev[k + 2u], h_prev[k + 3u]);
}

// a = XW[t] + b_hh + h_prev W_hhᵀ for each unit j of a pass (unit_group), one matrix per unit
// with one gate per column (i, f, g, o); k runs over h_prev's units, four at a time, then the
// H mod 4 left over. Each read of h_prev serves all the units of the pass.
fn pre_activations(rows: vec4<u32>, units: vec4<u32>) -> array<mat4x4<f32>, 4> {
    let H = dims.hidden;
    var a: array<mat4x4<f32>, 4>;
    for (var n = 0u; n < UNITS_PER_PASS; n++) {
        a[n] = input_part(rows, units[n]);
    }
    var k = 0u;
    for (; k + 4u <= H; k += 4u) {
        let h = h_prev4(k);
        a[0] += recurrent_part4(units.x, k, h);
        if (UNITS_PER_PASS > 1u) {
            a[1] += recurrent_part4(units.y, k, h);
        }
        if (UNITS_PER_PASS > 2u) {
            a[2] += recurrent_part4(units.z, k, h);
            a[3] += recurrent_part4(units.w, k, h);
        }
    }
    for (; k < H; k++) {
        let h_k = h_prev[k];
        a[0] += recurrent_part1(units.x, k, h_k);
        if (UNITS_PER_PASS > 1u) {
            a[1] += recurrent_part1(units.y, k, h_k);
        }
        if (UNITS_PER_PASS > 2u) {
            a[2] += recurrent_part1(units.z, k, h_k);
            a[3] += recurrent_part1(units.w, k, h_k);
        }
    }
    return a;
}

// c and h of one unit after a step.
struct CellState {
    c: vec4<f32>,
    h: vec4<f32>,
}

// Unit j's step from its pre-activations a (columns i, f, g, o) and c_prev: the activations,
// c and h, stored for every lane that is a sequence. Lanes that are not live (reverse-direction
// padding) get a zero state.
fn cell_step(a: mat4x4<f32>, c_prev: vec4<f32>, live: vec4<bool>, rows: vec4<u32>, b: vec4<u32>, j: u32) -> CellState {
    let zero = vec4<f32>(0.0);
    let i = sigmoid(a[0]);
    let f = sigmoid(a[1]);
    let g = tanh(a[2]);
    let o = sigmoid(a[3]);
    let c = select(zero, f * c_prev + i * g, live);
    let h = select(zero, o * tanh(c), live);
    store_step(b.x, rows.x, j, c.x, h.x, vec4<f32>(i.x, f.x, g.x, o.x));
    store_step(b.y, rows.y, j, c.y, h.y, vec4<f32>(i.y, f.y, g.y, o.y));
    store_step(b.z, rows.z, j, c.z, h.z, vec4<f32>(i.z, f.z, g.z, o.z));
    store_step(b.w, rows.w, j, c.w, h.w, vec4<f32>(i.w, f.w, g.w, o.w));
    return CellState(c, h);
}

// wid.x: which four sequences (b0 = 4·wid.x); lid.x: which hidden units
// (j = u·RECURRENCE_WG + lid.x).
@compute @workgroup_size(RECURRENCE_WG, 1, 1)
fn lstm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b0 = wid.x * LANES;
    let H = dims.hidden;
    let zero = vec4<f32>(0.0);
    // This invocation's units: h (shared through h_prev at the end of each step) and c (only
    // this invocation ever needs its units of c, so c stays in registers).
    var h_next: array<vec4<f32>, UNITS>;
    var c: array<vec4<f32>, UNITS>;
    // The state before step s_start: zero at the start of the sequence, else the h and c that
    // the previous dispatch stored for step s_start - 1 (wgpu orders one dispatch's storage
    // writes before the next dispatch's reads). The loop visits j = lid, lid + RECURRENCE_WG,
    // ... < H.
    for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u++) {
        let j = u * RECURRENCE_WG + lid.x;
        h_prev[j] = zero;
        c[u] = zero;
        if (dims.s_start > 0u) {
            let rows = rows_at(time_of(dims.s_start - 1u), b0);
            h_prev[j] = out4(rows, j);
            c[u] = cell4(rows, j);
        }
    }
    // Every invocation reads all of h_prev below: wait until all of it is written. A
    // workgroupBarrier orders workgroup-memory accesses, which is where h_prev lives.
    workgroupBarrier();
    // The host bounds s_count so this loop stays under the loop cap (see the header).
    for (var s = dims.s_start; s < dims.s_start + dims.s_count; s++) {
        let t = time_of(s);
        let rows = rows_at(t, b0);
        let live = live_at(t, b0);
        let b = lanes(b0);
        // UNITS_PER_PASS units at a time (unit_group, recurrence.wgsl): each read of h_prev
        // serves all of them.
        for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u += UNITS_PER_PASS) {
            let units = unit_group(u, lid.x);
            var a = pre_activations(rows, units);
            for (var n = 0u; n < UNITS_PER_PASS; n++) {
                if (unit_in_pass(units, n)) {
                    let next = cell_step(a[n], c[u + n], live, rows, b, units[n]);
                    c[u + n] = next.c;
                    h_next[u + n] = next.h;
                }
            }
        }
        // Every invocation must finish reading h_prev (the dot products above) before any
        // overwrites it with the new h: a workgroupBarrier, as h_prev is workgroup memory.
        workgroupBarrier();
        for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u++) {
            h_prev[u * RECURRENCE_WG + lid.x] = h_next[u];
        }
        // All of the new h must be written before the next step reads it: the same barrier.
        workgroupBarrier();
    }
}

// ---------------------------------------------------------------- backward

@group(1) @binding(0) var<storage, read> cell_in: array<f32>;
@group(1) @binding(1) var<storage, read> gates_in: array<f32>;
@group(1) @binding(2) var<storage, read> d_out: array<f32>;
@group(1) @binding(3) var<storage, read_write> d_xw: array<f32>;
@group(1) @binding(4) var<storage, read_write> carry: array<vec4<f32>>;

// Column col of the stored gates (i, f, g, o) for the four lanes' rows.
fn gates4(rows: vec4<u32>, col: u32) -> vec4<f32> {
    let at = rows * 4u * dims.hidden + col;
    return vec4<f32>(gates_in[at.x], gates_in[at.y], gates_in[at.z], gates_in[at.w]);
}

// Unit j of the stored c for the four lanes' rows.
fn cell_in4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * dims.hidden + j;
    return vec4<f32>(cell_in[at.x], cell_in[at.y], cell_in[at.z], cell_in[at.w]);
}

// Unit j of d_out (dL/dh from above) for the four lanes' rows.
fn d_out4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * dims.out_stride + dims.out_col + j;
    return vec4<f32>(d_out[at.x], d_out[at.y], d_out[at.z], d_out[at.w]);
}

// Stores unit j of one lane's d_a = (d_a_i, d_a_f, d_a_g, d_a_o), if the lane is a sequence.
fn store_d_a(b: u32, row: u32, j: u32, d_a: vec4<f32>) {
    if (b >= dims.batch) {
        return;
    }
    let H = dims.hidden;
    d_xw[row * 4u * H + j] = d_a.x;
    d_xw[row * 4u * H + H + j] = d_a.y;
    d_xw[row * 4u * H + 2u * H + j] = d_a.z;
    d_xw[row * 4u * H + 3u * H + j] = d_a.w;
}

@compute @workgroup_size(RECURRENCE_WG, 1, 1)
fn lstm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b0 = wid.x * LANES;
    let H = dims.hidden;
    let zero = vec4<f32>(0.0);
    // This workgroup's slice of carry: d_h_rec [H], d_c_from_next [H], d_a [4H].
    let d_h_rec_at = wid.x * 6u * H;
    let d_c_at = d_h_rec_at + H;
    let d_a_at = d_c_at + H;
    // The backward pass runs the dispatches in reverse order, so the one that holds the last
    // steps (s up to T-1) starts it: nothing has been carried yet and both gradients from
    // step s + 1 are zero. Every later dispatch picks them up from carry.
    let starts_backward = dims.s_start + dims.s_count == dims.steps;
    // Carried from step to step in registers, for this invocation's units:
    //   d_h_rec[u]  the part of d_h that comes from step s + 1 (d_a W_hh of that step)
    //   d_c_carry[u] d_c_from_next on entry to a step, replaced by its d_c_to_prev at the end
    //               (which is d_c_from_next of the step after it in this loop, s - 1)
    var d_h_rec: array<vec4<f32>, UNITS>;
    var d_c_carry: array<vec4<f32>, UNITS>;
    for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u++) {
        let j = u * RECURRENCE_WG + lid.x;
        d_h_rec[u] = zero;
        d_c_carry[u] = zero;
        if (!starts_backward) {
            d_h_rec[u] = carry[d_h_rec_at + j];
            d_c_carry[u] = carry[d_c_at + j];
        }
    }
    // s runs from s_start + s_count - 1 down to s_start; n_done counts the steps done. The host
    // bounds s_count so this loop stays under the loop cap (see the header).
    for (var n_done = 0u; n_done < dims.s_count; n_done++) {
        let s = dims.s_start + dims.s_count - 1u - n_done;
        let t = time_of(s);
        let rows = rows_at(t, b0);
        let live = live_at(t, b0);
        let b = lanes(b0);
        for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u++) {
            let j = u * RECURRENCE_WG + lid.x;
            // Padding steps (lanes not live) pass no gradient: d_h = d_c = 0 there.
            let d_h = select(zero, d_out4(rows, j) + d_h_rec[u], live);
            let d_c_from_next = select(zero, d_c_carry[u], live);
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
            let d_c = d_c_from_next + d_h * o * (1.0 - tanh_c * tanh_c);
            let d_c_to_prev = d_c * f;
            d_c_carry[u] = d_c_to_prev;
            let d_a_i = d_c * g * i * (1.0 - i);
            let d_a_f = d_c * c_prev * f * (1.0 - f);
            let d_a_g = d_c * i * (1.0 - g * g);
            let d_a_o = d_o * o * (1.0 - o);
            store_d_a(b.x, rows.x, j, vec4<f32>(d_a_i.x, d_a_f.x, d_a_g.x, d_a_o.x));
            store_d_a(b.y, rows.y, j, vec4<f32>(d_a_i.y, d_a_f.y, d_a_g.y, d_a_o.y));
            store_d_a(b.z, rows.z, j, vec4<f32>(d_a_i.z, d_a_f.z, d_a_g.z, d_a_o.z));
            store_d_a(b.w, rows.w, j, vec4<f32>(d_a_i.w, d_a_f.w, d_a_g.w, d_a_o.w));
            // Also into the workgroup's d_a, which every invocation reads for d_a W_hh below.
            carry[d_a_at + j] = d_a_i;
            carry[d_a_at + H + j] = d_a_f;
            carry[d_a_at + 2u * H + j] = d_a_g;
            carry[d_a_at + 3u * H + j] = d_a_o;
        }
        // Every invocation reads all of d_a below: wait until all of it is written. d_a is in
        // the storage buffer carry (too big for workgroup memory, see the header), so this is a
        // storageBarrier, which orders storage accesses among the workgroup's invocations.
        storageBarrier();
        // d_h_rec for step s - 1: d_h_rec[j] = (d_a W_hh)[j], UNITS_PER_PASS units at a time
        // (unit_group), so that each read of d_a serves all of them.
        for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u += UNITS_PER_PASS) {
            let units = unit_group(u, lid.x);
            var sums = gates_w_hh(d_a_at, units);
            for (var n = 0u; n < UNITS_PER_PASS; n++) {
                if (unit_in_pass(units, n)) {
                    d_h_rec[u + n] = sums[n];
                }
            }
        }
        // Every invocation must finish reading d_a before the next step overwrites it: the
        // same storageBarrier, for the same storage buffer.
        storageBarrier();
    }
    // Hand d_h_rec and d_c to the next dispatch (steps before s_start). Each invocation writes
    // and later reads only its own units, so no barrier is needed; wgpu orders dispatches.
    for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u++) {
        let j = u * RECURRENCE_WG + lid.x;
        carry[d_h_rec_at + j] = d_h_rec[u];
        carry[d_c_at + j] = d_c_carry[u];
    }
}
