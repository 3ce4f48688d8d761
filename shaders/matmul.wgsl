// Matrix multiply: every GEMM of a training step.
//
//   C[m, n] = accumulate ? C[m, n] + Σ_k A(m, k) B(k, n)
//                        : Σ_k A(m, k) B(k, n) + (has_bias ? bias[n] : 0)
//
// with k running over this dispatch's chunk [k_start, k_start + k_count). Long sums (a weight
// gradient sums over all T·B rows) are split into chunks of at most K_CHUNK by the host, the
// first chunk writing, the others accumulating, so that no invocation loops more than the
// software adapters allow (docs/adapters.md: Mesa's lavapipe and llvmpipe stop a shader
// silently after 65,535 loop iterations per invocation).
//
// Operands are read through strides, so one kernel serves every use:
//   A(m, k) = a[a_off + m·a_rs + k·a_cs]     (a_rs = 1, a_cs = rows: A read transposed)
//   B(k, n) = b[b_off + k·b_rs + n·b_cs]
//   C(m, n) = c[c_off + m·c_rs + n]
// Uses: the input projections X W_ihᵀ + b_ih of all steps at once, the head out·wᵀ + b, the
// input gradients dX = dA W_ih, the weight gradients dW = dAᵀ X, the bias gradients 1ᵀ dA.
// With copy_c, C is also written at c2_off (same layout): the LSTM's two bias gradients
// db_ih and db_hh are the same sum 1ᵀ dA, computed once.
//
// Buffers: dims (MatmulDims, uniform); a, b, bias read; c read_write (f32, flat).
//
// Four entry points compute the same C; the host picks one per adapter (engine/gpu/variant.rs,
// `hrcast bench --tune`). Each invocation keeps a block of C in registers as 4 × 4 matrices
// (`outer` adds one k's term A(m0.., k) ⊗ B(k, n0..) to one), so every value it loads serves
// four, eight or sixteen multiply-adds:
//   matmul_4x4    a 4 × 4 block per invocation, operands read straight from storage
//   matmul_8x8    an 8 × 8 block per invocation: twice the multiply-adds per load
//   matmul_16x16  a 16 × 16 block per invocation: four times. On a CPU adapter (lavapipe,
//                 llvmpipe: a workgroup runs on one thread, invocations in SIMD lanes, every
//                 load a per-lane gather) loads are the cost, so this wins there
//                 (docs/adapters.md has the timings).
//   matmul_tiled  a 4 × 4 block per invocation, but the workgroup first copies TILE_K steps of
//                 its A rows and B columns into workgroup memory (each value loaded once for
//                 the TILED_WG invocations that use it) between two barriers: the usual
//                 shape for a hardware GPU, where workgroup memory is on-chip.
// Dispatch of matmul_4x4, matmul_8x8 and matmul_16x16: workgroups of MATMUL_WG_X × MATMUL_WG_Y invocations
// (pipeline-overridable), each covering (MATMUL_WG_Y · tile) rows × (MATMUL_WG_X · tile)
// columns of C: (⌈n / (MATMUL_WG_X · tile)⌉, ⌈m / (MATMUL_WG_Y · tile)⌉, 1). Of matmul_tiled:
// TILED_WG × TILED_WG invocations covering 4·TILED_WG × 4·TILED_WG, the same formula.

override MATMUL_WG_X: u32 = 8u;
override MATMUL_WG_Y: u32 = 8u;
// The workgroup of matmul_tiled, per side, and the k steps one tile holds.
const TILED_WG: u32 = 16u;
const TILE_K: u32 = 16u;

struct MatmulDims {
    m: u32, n: u32, k_start: u32, k_count: u32,
    a_off: u32, a_rs: u32, a_cs: u32, b_off: u32,
    b_rs: u32, b_cs: u32, c_off: u32, c_rs: u32,
    accumulate: u32, has_bias: u32, bias_off: u32, copy_c: u32,
    c2_off: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> dims: MatmulDims;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

// One term of a 4 × 4 block: column i of the result is row i of the block, a[i] · b.
fn outer(a_col: vec4<f32>, b_row: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(a_col.x * b_row, a_col.y * b_row, a_col.z * b_row, a_col.w * b_row);
}

// The positions in a of A(m0 .. m0+3, k) less k·a_cs: rows past the edge read the last valid
// one (their results are not written).
fn a_rows(m0: u32) -> vec4<u32> {
    let m = min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(dims.m - 1u));
    return vec4<u32>(dims.a_off) + m * dims.a_rs;
}

// The positions in b of B(k, n0 .. n0+3) less k·b_rs, clamped like a_rows.
fn b_cols(n0: u32) -> vec4<u32> {
    let n = min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(dims.n - 1u));
    return vec4<u32>(dims.b_off) + n * dims.b_cs;
}

// A(rows, k) for the four positions of a_rows.
fn a_at(rows: vec4<u32>, k: u32) -> vec4<f32> {
    let at = rows + vec4<u32>(k * dims.a_cs);
    return vec4<f32>(a[at.x], a[at.y], a[at.z], a[at.w]);
}

// B(k, cols) for the four positions of b_cols.
fn b_at(k: u32, cols: vec4<u32>) -> vec4<f32> {
    let at = cols + vec4<u32>(k * dims.b_rs);
    return vec4<f32>(b[at.x], b[at.y], b[at.z], b[at.w]);
}

// Writes (or adds) one row of a block: C(m, n0 .. n0+3), the columns inside C only.
fn store_row(m: u32, n0: u32, row: vec4<f32>) {
    if (m >= dims.m) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let n = n0 + j;
        if (n >= dims.n) {
            return;
        }
        let at = dims.c_off + m * dims.c_rs + n;
        var v = row[j];
        if (dims.accumulate != 0u) {
            v += c[at];
        } else if (dims.has_bias != 0u) {
            v += bias[dims.bias_off + n];
        }
        c[at] = v;
        if (dims.copy_c != 0u) {
            c[dims.c2_off + m * dims.c_rs + n] = v;
        }
    }
}

// Writes a 4 × 4 block whose first element is C(m0, n0).
fn store_block(m0: u32, n0: u32, block: mat4x4<f32>) {
    for (var i = 0u; i < 4u; i++) {
        store_row(m0 + i, n0, block[i]);
    }
}

@compute @workgroup_size(MATMUL_WG_X, MATMUL_WG_Y, 1)
fn matmul_4x4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m0 = gid.y * 4u;
    let n0 = gid.x * 4u;
    if (m0 >= dims.m || n0 >= dims.n) {
        return;
    }
    let rows = a_rows(m0);
    let cols = b_cols(n0);
    var acc = mat4x4<f32>();
    for (var kk = 0u; kk < dims.k_count; kk++) {
        let k = dims.k_start + kk;
        acc += outer(a_at(rows, k), b_at(k, cols));
    }
    store_block(m0, n0, acc);
}

@compute @workgroup_size(MATMUL_WG_X, MATMUL_WG_Y, 1)
fn matmul_8x8(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m0 = gid.y * 8u;
    let n0 = gid.x * 8u;
    if (m0 >= dims.m || n0 >= dims.n) {
        return;
    }
    // The block as four 4 × 4 quarters: top/bottom rows × left/right columns.
    let rows_top = a_rows(m0);
    let rows_bottom = a_rows(m0 + 4u);
    let cols_left = b_cols(n0);
    let cols_right = b_cols(n0 + 4u);
    var top_left = mat4x4<f32>();
    var top_right = mat4x4<f32>();
    var bottom_left = mat4x4<f32>();
    var bottom_right = mat4x4<f32>();
    for (var kk = 0u; kk < dims.k_count; kk++) {
        let k = dims.k_start + kk;
        let a_top = a_at(rows_top, k);
        let a_bottom = a_at(rows_bottom, k);
        let b_left = b_at(k, cols_left);
        let b_right = b_at(k, cols_right);
        top_left += outer(a_top, b_left);
        top_right += outer(a_top, b_right);
        bottom_left += outer(a_bottom, b_left);
        bottom_right += outer(a_bottom, b_right);
    }
    store_block(m0, n0, top_left);
    store_block(m0, n0 + 4u, top_right);
    store_block(m0 + 4u, n0, bottom_left);
    store_block(m0 + 4u, n0 + 4u, bottom_right);
}

@compute @workgroup_size(MATMUL_WG_X, MATMUL_WG_Y, 1)
fn matmul_16x16(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m0 = gid.y * 16u;
    let n0 = gid.x * 16u;
    if (m0 >= dims.m || n0 >= dims.n) {
        return;
    }
    // The block as a 4 × 4 grid of 4 × 4 quarters: q_ij holds rows m0 + 4i .. and columns
    // n0 + 4j ..; per k, four reads of A and four of B serve 16 outer products.
    let rows0 = a_rows(m0 + 0u);
    let rows1 = a_rows(m0 + 4u);
    let rows2 = a_rows(m0 + 8u);
    let rows3 = a_rows(m0 + 12u);
    let cols0 = b_cols(n0 + 0u);
    let cols1 = b_cols(n0 + 4u);
    let cols2 = b_cols(n0 + 8u);
    let cols3 = b_cols(n0 + 12u);
    var q00 = mat4x4<f32>(); var q01 = mat4x4<f32>(); var q02 = mat4x4<f32>(); var q03 = mat4x4<f32>();
    var q10 = mat4x4<f32>(); var q11 = mat4x4<f32>(); var q12 = mat4x4<f32>(); var q13 = mat4x4<f32>();
    var q20 = mat4x4<f32>(); var q21 = mat4x4<f32>(); var q22 = mat4x4<f32>(); var q23 = mat4x4<f32>();
    var q30 = mat4x4<f32>(); var q31 = mat4x4<f32>(); var q32 = mat4x4<f32>(); var q33 = mat4x4<f32>();
    for (var kk = 0u; kk < dims.k_count; kk++) {
        let k = dims.k_start + kk;
        let a0 = a_at(rows0, k);
        let a1 = a_at(rows1, k);
        let a2 = a_at(rows2, k);
        let a3 = a_at(rows3, k);
        let b0 = b_at(k, cols0);
        let b1 = b_at(k, cols1);
        let b2 = b_at(k, cols2);
        let b3 = b_at(k, cols3);
        q00 += outer(a0, b0); q01 += outer(a0, b1); q02 += outer(a0, b2); q03 += outer(a0, b3);
        q10 += outer(a1, b0); q11 += outer(a1, b1); q12 += outer(a1, b2); q13 += outer(a1, b3);
        q20 += outer(a2, b0); q21 += outer(a2, b1); q22 += outer(a2, b2); q23 += outer(a2, b3);
        q30 += outer(a3, b0); q31 += outer(a3, b1); q32 += outer(a3, b2); q33 += outer(a3, b3);
    }
    store_block(m0 + 0u, n0 + 0u, q00);
    store_block(m0 + 0u, n0 + 4u, q01);
    store_block(m0 + 0u, n0 + 8u, q02);
    store_block(m0 + 0u, n0 + 12u, q03);
    store_block(m0 + 4u, n0 + 0u, q10);
    store_block(m0 + 4u, n0 + 4u, q11);
    store_block(m0 + 4u, n0 + 8u, q12);
    store_block(m0 + 4u, n0 + 12u, q13);
    store_block(m0 + 8u, n0 + 0u, q20);
    store_block(m0 + 8u, n0 + 4u, q21);
    store_block(m0 + 8u, n0 + 8u, q22);
    store_block(m0 + 8u, n0 + 12u, q23);
    store_block(m0 + 12u, n0 + 0u, q30);
    store_block(m0 + 12u, n0 + 4u, q31);
    store_block(m0 + 12u, n0 + 8u, q32);
    store_block(m0 + 12u, n0 + 12u, q33);
}

// matmul_tiled's copies: a_tile[kk · TILED_WG + r] holds A(rows 4r .. 4r+3 of the workgroup's
// block, k0 + kk), b_tile[kk · TILED_WG + q] holds B(k0 + kk, its columns 4q .. 4q+3).
var<workgroup> a_tile: array<vec4<f32>, TILE_K * TILED_WG>;
var<workgroup> b_tile: array<vec4<f32>, TILE_K * TILED_WG>;

@compute @workgroup_size(TILED_WG, TILED_WG, 1)
fn matmul_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let block_m = wid.y * 4u * TILED_WG;
    let block_n = wid.x * 4u * TILED_WG;
    // As a loader, invocation (x, y) copies step kk = its index mod TILE_K of row group and
    // column group r = its index / TILE_K (TILED_WG² = TILE_K · TILED_WG copies of each).
    let index = lid.y * TILED_WG + lid.x;
    let load_kk = index % TILE_K;
    let load_r = index / TILE_K;
    let rows = a_rows(block_m + 4u * load_r);
    let cols = b_cols(block_n + 4u * load_r);
    var acc = mat4x4<f32>();
    for (var k0 = 0u; k0 < dims.k_count; k0 += TILE_K) {
        // Steps past the chunk's end copy zeros, which add nothing.
        let inside = k0 + load_kk < dims.k_count;
        let k = dims.k_start + min(k0 + load_kk, dims.k_count - 1u);
        a_tile[load_kk * TILED_WG + load_r] = select(vec4<f32>(0.0), a_at(rows, k), inside);
        b_tile[load_kk * TILED_WG + load_r] = select(vec4<f32>(0.0), b_at(k, cols), inside);
        // Every copy must land before any invocation reads the tiles...
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            acc += outer(a_tile[kk * TILED_WG + lid.y], b_tile[kk * TILED_WG + lid.x]);
        }
        // ...and every read must finish before the next copy overwrites them.
        workgroupBarrier();
    }
    store_block(block_m + 4u * lid.y, block_n + 4u * lid.x, acc);
}
