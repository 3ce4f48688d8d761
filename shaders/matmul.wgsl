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
// Three variants compute the same C; the host picks one per adapter (engine/gpu/variant.rs,
// `hrcast bench --tune`). Each invocation keeps a block of C in registers as 4 × 4 matrices
// (`outer` adds one k's term A(m0.., k) ⊗ B(k, n0..) to one), so every value it loads serves
// four or eight multiply-adds:
//   matmul_4x4    a 4 × 4 block per invocation, operands read straight from storage
//   matmul_8x8    an 8 × 8 block per invocation: twice the multiply-adds per load. On a CPU
//                 adapter (lavapipe, llvmpipe: a workgroup runs on one thread, invocations in
//                 SIMD lanes, every load a per-lane gather) loads are the cost, so this wins.
//   matmul_tiled  a 4 × 4 block per invocation, but the workgroup first copies TILE_K steps of
//                 its A rows and B columns into workgroup memory (each value loaded once for
//                 the TILED_WG invocations that use it) between two barriers: the usual
//                 shape for a hardware GPU, where workgroup memory is on-chip.
// Dispatch of matmul_4x4 and matmul_8x8: workgroups of MATMUL_WG_X × MATMUL_WG_Y invocations
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
