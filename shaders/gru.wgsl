// GRU recurrence of one layer and one direction: the forward pass through time and its
// backward pass (backpropagation through time, BPTT). Its structure is that of lstm.wgsl,
// whose header explains in full the dispatch shape, the lanes trick, why the backward pass
// shares data through a storage buffer, and the loop cap; they are summed up below.
//
// Notation. Vectors are rows, as in the host's matmul comments: one sequence's state at time t
// is a row h_t [1, H], and a layer's input projection is XW = X W_ihᵀ + b_ih (matmul.wgsl).
// W_hh is [3H, H]: its rows j, H + j, 2H + j belong to unit j of gates r, z, n.
// ⊙ is the elementwise product, σ the logistic function. Step s is the processing order; time
// t = s for the forward direction and t = T-1-s for the reverse one (time_of). h_prev is the h
// of step s - 1 (zero at s = 0).
//
// ---- Forward, for s = 0 .. T-1 (gru_forward):
//   xw = XW[t]                    = [xw_r | xw_z | xw_n], [1, 3H]
//   hw = h_prev W_hhᵀ + b_hh      = [hw_r | hw_z | hw_n], [1, 3H]
//   r = σ(xw_r + hw_r)    z = σ(xw_z + hw_z)
//   n = tanh(xw_n + r ⊙ hw_n)     the reset gate multiplies hw_n, b_hh's n part included
//   h = n + z ⊙ (h_prev - n)      = (1 - z) ⊙ n + z ⊙ h_prev
//   Reverse direction: h = 0 at the padding steps t ≥ length[b], so each sequence starts from
//   a zero state at its own last valid step.
//   Stored per step: h (out) and, in gates, r, z, n and hw_n. hw_n is not a gate: it is kept
//   because the backward pass needs it for d_r (r multiplies it), and recomputing it there
//   would take the n part of h_prev W_hhᵀ all over again.
//
// ---- Backward, for s = T-1 down to 0 (gru_backward). The loss reaches h_t from above (d_out,
// the gradient of this layer's output) and from step s + 1 (d_h_rec). With the pre-activations
// a_r = xw_r + hw_r, a_z = xw_z + hw_z, a_n = xw_n + r ⊙ hw_n, in the order the code runs:
//   d_h        = d_out[t] + d_h_rec
//   d_n        = d_h ⊙ (1 - z)
//   d_z        = d_h ⊙ (h_prev - n)
//   d_h_direct = d_h ⊙ z                    (through the z ⊙ h_prev term of h)
//   d_an       = d_n ⊙ (1 - n²)             (tanh'(a_n) from the stored n)
//   d_hw_n     = d_an ⊙ r                   (a_n depends on hw_n through r ⊙ hw_n)
//   d_ar       = d_an ⊙ hw_n ⊙ r (1 - r)    (d_r = d_an ⊙ hw_n, times σ'(a_r) = r (1 - r))
//   d_az       = d_z ⊙ z (1 - z)            (σ'(a_z) = z (1 - z))
//   d_xw = [d_ar | d_az | d_an]      the gradient of XW
//   d_hw = [d_ar | d_az | d_hw_n]    the gradient of hw; it differs from d_xw in the n part
//   d_h_rec    = d_h_direct + d_hw W_hh     ([1, 3H] [3H, H]: becomes d_h_rec of step s - 1)
// Padding steps of the reverse direction get d_h = 0, so nothing flows through them, and
// d_h_rec is zero at s = T-1. matmul.wgsl turns d_xw into dW_ih, db_ih, dX and d_hw into
// dW_hh, db_hh.
//
// ---- Buffers (f32 unless said; rows are time-major, row = t·B + b):
//   params   all parameters, flat; W_hh [3H, H] at w_hh_off, b_hh [3H] at b_hh_off
//   lengths  [B] u32, valid steps of each sequence
//   xw       [T·B, 3H]   XW, columns xw_r, xw_z, xw_n
//   out      [T·B, out_stride]; this direction's h in columns out_col .. out_col + H
//   gates    [T·B, 4H]   r, z, n, hw_n
//   d_out    like out: dL/dh from above      d_xw, d_hw [T·B, 3H]
//   carry    vec4 [⌈B/4⌉, 4H], one slice per workgroup: d_h_rec [H] (passed from one backward
//            dispatch to the next), then d_hw [3H] of the current step (shared by the
//            workgroup's invocations within a step)
//
// ---- Dispatch (as in lstm.wgsl): ⌈B/4⌉ workgroups of RECURRENCE_WG invocations (32, 64,
// 128 or 256). A workgroup owns four sequences, one per lane of every vec4 (so each W_hh read
// serves four sequences; lanes past the batch repeat the last sequence and are never stored);
// invocation lid handles the hidden units j = lid, lid + RECURRENCE_WG, ... < H (at most
// UNITS). The forward pass shares h_prev (8 KiB) through workgroup memory; the backward pass
// shares d_hw (3H vec4 = 24 KiB at H = 512, over the 16 KiB default
// maxComputeWorkgroupStorageSize) through its slice of carry, with storageBarrier. One
// dispatch runs steps s_start .. s_start + s_count; the host chooses s_count so that no
// invocation runs more than about 60,000 loop iterations, because Mesa's software Vulkan/GL
// drivers stop a shader silently at 65,535 (docs/adapters.md). The dot products over the
// hidden units are unrolled by four, all three gates in one pass, and the units go
// UNITS_PER_PASS at a time (1, 2 or 4; unit_group) so that each read of h_prev or d_hw serves
// that many.

// Shared with lstm.wgsl, in recurrence.wgsl (joined after this text): RECURRENCE_WG,
// UNITS_PER_PASS, LANES, MAX_HIDDEN, UNITS, RecurrenceDims, the bindings dims, params and
// lengths, and sigmoid, time_of, lanes, rows_at, live_at, unit_group, unit_in_pass, w_hh_row4,
// w_hh_col4, carry_rows4, and the backward's gates_w_hh, which uses GATES below.

// The gates per hidden unit (r, z, n): the rows of W_hh are 3H, and d_hw has 3H columns.
const GATES: u32 = 3u;

// ---------------------------------------------------------------- forward

@group(0) @binding(3) var<storage, read> xw: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> gates: array<f32>;

// h of the previous step, shared by the workgroup: h_prev[k] is unit k of the four lanes.
var<workgroup> h_prev: array<vec4<f32>, MAX_HIDDEN>;

// Column col of xw for the four lanes' rows.
fn xw4(rows: vec4<u32>, col: u32) -> vec4<f32> {
    let at = rows * 3u * dims.hidden + col;
    return vec4<f32>(xw[at.x], xw[at.y], xw[at.z], xw[at.w]);
}

// Unit j of h for the four lanes' rows.
fn out4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * dims.out_stride + dims.out_col + j;
    return vec4<f32>(out[at.x], out[at.y], out[at.z], out[at.w]);
}

// Stores unit j of one lane's step: h and, in gates, (r, z, n, hw_n), if the lane is a sequence.
fn store_step(b: u32, row: u32, j: u32, h: f32, r_z_n_hw_n: vec4<f32>) {
    if (b >= dims.batch) {
        return;
    }
    let H = dims.hidden;
    out[row * dims.out_stride + dims.out_col + j] = h;
    gates[row * 4u * H + j] = r_z_n_hw_n.x;
    gates[row * 4u * H + H + j] = r_z_n_hw_n.y;
    gates[row * 4u * H + 2u * H + j] = r_z_n_hw_n.z;
    gates[row * 4u * H + 3u * H + j] = r_z_n_hw_n.w;
}

// b_hh for unit j, one gate per column: r, z, n (where hw = b_hh + h_prev W_hhᵀ starts).
fn hw_bias(j: u32) -> mat3x4<f32> {
    let b_hh = dims.b_hh_off + j;
    let H = dims.hidden;
    return mat3x4<f32>(vec4<f32>(params[b_hh]), vec4<f32>(params[b_hh + H]), vec4<f32>(params[b_hh + 2u * H]));
}

// Four terms of (h_prev W_hhᵀ)[j] for each gate, Σ_{m<4} h_prev[k + m] W_hh[gate·H + j, k + m],
// where the columns of h are h_prev[k .. k+3] (w_hh_row4, recurrence.wgsl).
fn recurrent_part4(j: u32, k: u32, h: mat4x4<f32>) -> mat3x4<f32> {
    let H = dims.hidden;
    return mat3x4<f32>(h * w_hh_row4(j, k), h * w_hh_row4(H + j, k), h * w_hh_row4(2u * H + j, k));
}

// One term h_prev[k] W_hh[gate·H + j, k] for each gate (the H mod 4 left over).
fn recurrent_part1(j: u32, k: u32, h_k: vec4<f32>) -> mat3x4<f32> {
    let H = dims.hidden;
    let w = dims.w_hh_off + j * H + k;
    return mat3x4<f32>(params[w] * h_k, params[w + H * H] * h_k, params[w + 2u * H * H] * h_k);
}

// h_prev[k .. k+3] as the columns of a matrix.
fn h_prev4(k: u32) -> mat4x4<f32> {
    return mat4x4<f32>(h_prev[k], h_prev[k + 1u], h_prev[k + 2u], h_prev[k + 3u]);
}

// hw = b_hh + h_prev W_hhᵀ for each unit j of a pass (unit_group), one matrix per unit with
// one gate per column (r, z, n); k runs over h_prev's units, four at a time, then the H mod 4
// left over. Each read of h_prev serves all the units of the pass.
fn hw_of(units: vec4<u32>) -> array<mat3x4<f32>, 4> {
    let H = dims.hidden;
    var hw: array<mat3x4<f32>, 4>;
    for (var n = 0u; n < UNITS_PER_PASS; n++) {
        hw[n] = hw_bias(units[n]);
    }
    var k = 0u;
    for (; k + 4u <= H; k += 4u) {
        let h = h_prev4(k);
        hw[0] += recurrent_part4(units.x, k, h);
        if (UNITS_PER_PASS > 1u) {
            hw[1] += recurrent_part4(units.y, k, h);
        }
        if (UNITS_PER_PASS > 2u) {
            hw[2] += recurrent_part4(units.z, k, h);
            hw[3] += recurrent_part4(units.w, k, h);
        }
    }
    for (; k < H; k++) {
        let h_k = h_prev[k];
        hw[0] += recurrent_part1(units.x, k, h_k);
        if (UNITS_PER_PASS > 1u) {
            hw[1] += recurrent_part1(units.y, k, h_k);
        }
        if (UNITS_PER_PASS > 2u) {
            hw[2] += recurrent_part1(units.z, k, h_k);
            hw[3] += recurrent_part1(units.w, k, h_k);
        }
    }
    return hw;
}

// Unit j's step from hw (columns r, z, n): the gates and the new h, stored for every lane that
// is a sequence; returns h. Lanes that are not live (reverse-direction padding) get a zero state.
fn cell_step(hw: mat3x4<f32>, live: vec4<bool>, rows: vec4<u32>, b: vec4<u32>, j: u32) -> vec4<f32> {
    let H = dims.hidden;
    let r = sigmoid(xw4(rows, j) + hw[0]);
    let z = sigmoid(xw4(rows, H + j) + hw[1]);
    let n = tanh(xw4(rows, 2u * H + j) + r * hw[2]);
    let h = select(vec4<f32>(0.0), n + z * (h_prev[j] - n), live);
    store_step(b.x, rows.x, j, h.x, vec4<f32>(r.x, z.x, n.x, hw[2].x));
    store_step(b.y, rows.y, j, h.y, vec4<f32>(r.y, z.y, n.y, hw[2].y));
    store_step(b.z, rows.z, j, h.z, vec4<f32>(r.z, z.z, n.z, hw[2].z));
    store_step(b.w, rows.w, j, h.w, vec4<f32>(r.w, z.w, n.w, hw[2].w));
    return h;
}

// wid.x: which four sequences (b0 = 4·wid.x); lid.x: which hidden units
// (j = u·RECURRENCE_WG + lid.x).
@compute @workgroup_size(RECURRENCE_WG, 1, 1)
fn gru_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b0 = wid.x * LANES;
    let H = dims.hidden;
    let zero = vec4<f32>(0.0);
    // This invocation's units of the new h, shared through h_prev at the end of each step.
    var h_next: array<vec4<f32>, UNITS>;
    // The state before step s_start: zero at the start of the sequence, else the h that the
    // previous dispatch stored for step s_start - 1 (wgpu orders one dispatch's storage writes
    // before the next dispatch's reads). The loop visits j = lid, lid + RECURRENCE_WG, ... < H.
    for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u++) {
        let j = u * RECURRENCE_WG + lid.x;
        h_prev[j] = zero;
        if (dims.s_start > 0u) {
            h_prev[j] = out4(rows_at(time_of(dims.s_start - 1u), b0), j);
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
            var hw = hw_of(units);
            for (var n = 0u; n < UNITS_PER_PASS; n++) {
                if (unit_in_pass(units, n)) {
                    h_next[u + n] = cell_step(hw[n], live, rows, b, units[n]);
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

@group(1) @binding(0) var<storage, read> out_in: array<f32>;
@group(1) @binding(1) var<storage, read> gates_in: array<f32>;
@group(1) @binding(2) var<storage, read> d_out: array<f32>;
@group(1) @binding(3) var<storage, read_write> d_xw: array<f32>;
@group(1) @binding(4) var<storage, read_write> d_hw: array<f32>;
@group(1) @binding(5) var<storage, read_write> carry: array<vec4<f32>>;

// Column col of the stored gates (r, z, n, hw_n) for the four lanes' rows.
fn gates4(rows: vec4<u32>, col: u32) -> vec4<f32> {
    let at = rows * 4u * dims.hidden + col;
    return vec4<f32>(gates_in[at.x], gates_in[at.y], gates_in[at.z], gates_in[at.w]);
}

// Unit j of the stored h for the four lanes' rows.
fn out_in4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * dims.out_stride + dims.out_col + j;
    return vec4<f32>(out_in[at.x], out_in[at.y], out_in[at.z], out_in[at.w]);
}

// Unit j of d_out (dL/dh from above) for the four lanes' rows.
fn d_out4(rows: vec4<u32>, j: u32) -> vec4<f32> {
    let at = rows * dims.out_stride + dims.out_col + j;
    return vec4<f32>(d_out[at.x], d_out[at.y], d_out[at.z], d_out[at.w]);
}

// Stores unit j of one lane's d_xw (d_ar, d_az, d_an) and d_hw (d_ar, d_az, d_hw_n), if the
// lane is a sequence.
fn store_d_xw_d_hw(b: u32, row: u32, j: u32, d_ar: f32, d_az: f32, d_an: f32, d_hw_n: f32) {
    if (b >= dims.batch) {
        return;
    }
    let H = dims.hidden;
    d_xw[row * 3u * H + j] = d_ar;
    d_xw[row * 3u * H + H + j] = d_az;
    d_xw[row * 3u * H + 2u * H + j] = d_an;
    d_hw[row * 3u * H + j] = d_ar;
    d_hw[row * 3u * H + H + j] = d_az;
    d_hw[row * 3u * H + 2u * H + j] = d_hw_n;
}

@compute @workgroup_size(RECURRENCE_WG, 1, 1)
fn gru_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b0 = wid.x * LANES;
    let H = dims.hidden;
    let zero = vec4<f32>(0.0);
    // This workgroup's slice of carry: d_h_rec [H], d_hw [3H].
    let d_h_rec_at = wid.x * 4u * H;
    let d_hw_at = d_h_rec_at + H;
    // The backward pass runs the dispatches in reverse order, so the one that holds the last
    // steps (s up to T-1) starts it: nothing has been carried yet and d_h_rec is zero. Every
    // later dispatch picks it up from carry.
    let starts_backward = dims.s_start + dims.s_count == dims.steps;
    // Per unit of this invocation, in registers:
    //   d_h_rec[u]     the part of d_h that comes from step s + 1, carried from step to step
    //   d_h_direct[u]  d_h ⊙ z of the current step, kept until d_h_rec adds d_hw W_hh to it
    var d_h_rec: array<vec4<f32>, UNITS>;
    var d_h_direct: array<vec4<f32>, UNITS>;
    for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u++) {
        d_h_rec[u] = zero;
        if (!starts_backward) {
            d_h_rec[u] = carry[d_h_rec_at + u * RECURRENCE_WG + lid.x];
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
            // Padding steps (lanes not live) pass no gradient: d_h = 0 there.
            let d_h = select(zero, d_out4(rows, j) + d_h_rec[u], live);
            let r = gates4(rows, j);
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
            let d_hw_n = d_an * r;
            let d_ar = d_an * hw_n * r * (1.0 - r);
            let d_az = d_z * z * (1.0 - z);
            store_d_xw_d_hw(b.x, rows.x, j, d_ar.x, d_az.x, d_an.x, d_hw_n.x);
            store_d_xw_d_hw(b.y, rows.y, j, d_ar.y, d_az.y, d_an.y, d_hw_n.y);
            store_d_xw_d_hw(b.z, rows.z, j, d_ar.z, d_az.z, d_an.z, d_hw_n.z);
            store_d_xw_d_hw(b.w, rows.w, j, d_ar.w, d_az.w, d_an.w, d_hw_n.w);
            // Also into the workgroup's d_hw, which every invocation reads for d_hw W_hh below.
            carry[d_hw_at + j] = d_ar;
            carry[d_hw_at + H + j] = d_az;
            carry[d_hw_at + 2u * H + j] = d_hw_n;
        }
        // Every invocation reads all of d_hw below: wait until all of it is written. d_hw is in
        // the storage buffer carry (too big for workgroup memory, see the header), so this is a
        // storageBarrier, which orders storage accesses among the workgroup's invocations.
        storageBarrier();
        // d_h_rec for step s - 1: d_h_direct + (d_hw W_hh)[j], UNITS_PER_PASS units at a time
        // (unit_group), so that each read of d_hw serves all of them.
        for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u += UNITS_PER_PASS) {
            let units = unit_group(u, lid.x);
            var sums = gates_w_hh(d_hw_at, units);
            for (var n = 0u; n < UNITS_PER_PASS; n++) {
                if (unit_in_pass(units, n)) {
                    d_h_rec[u + n] = d_h_direct[u + n] + sums[n];
                }
            }
        }
        // Every invocation must finish reading d_hw before the next step overwrites it: the
        // same storageBarrier, for the same storage buffer.
        storageBarrier();
    }
    // Hand d_h_rec to the next dispatch (steps before s_start). Each invocation writes and
    // later reads only its own units, so no barrier is needed; wgpu orders dispatches.
    for (var u = 0u; u * RECURRENCE_WG + lid.x < H; u++) {
        carry[d_h_rec_at + u * RECURRENCE_WG + lid.x] = d_h_rec[u];
    }
}
