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
// Dispatch: workgroups of MATMUL_WG × MATMUL_WG invocations, each invocation computing a
// MATMUL_TILE × MATMUL_TILE block of C, so a workgroup covers a block of 32 × 32:
// (⌈n / 32⌉, ⌈m / 32⌉, 1).

const MATMUL_WG: u32 = 8u;
const MATMUL_TILE: u32 = 4u;

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

@compute @workgroup_size(MATMUL_WG, MATMUL_WG, 1)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m0 = gid.y * MATMUL_TILE;
    let n0 = gid.x * MATMUL_TILE;
    if (m0 >= dims.m || n0 >= dims.n) {
        return;
    }
    var acc: array<array<f32, 4>, 4>;
    // Rows and columns past the edge read the last valid one and are not written.
    var a_row: array<u32, 4>;
    var b_col: array<u32, 4>;
    for (var i = 0u; i < MATMUL_TILE; i++) {
        a_row[i] = dims.a_off + min(m0 + i, dims.m - 1u) * dims.a_rs;
        b_col[i] = dims.b_off + min(n0 + i, dims.n - 1u) * dims.b_cs;
    }
    for (var kk = 0u; kk < dims.k_count; kk++) {
        let k = dims.k_start + kk;
        let a_k = k * dims.a_cs;
        let b_k = k * dims.b_rs;
        let av = vec4<f32>(a[a_row[0] + a_k], a[a_row[1] + a_k], a[a_row[2] + a_k], a[a_row[3] + a_k]);
        let bv = vec4<f32>(b[b_col[0] + b_k], b[b_col[1] + b_k], b[b_col[2] + b_k], b[b_col[3] + b_k]);
        acc[0][0] += av.x * bv.x; acc[0][1] += av.x * bv.y; acc[0][2] += av.x * bv.z; acc[0][3] += av.x * bv.w;
        acc[1][0] += av.y * bv.x; acc[1][1] += av.y * bv.y; acc[1][2] += av.y * bv.z; acc[1][3] += av.y * bv.w;
        acc[2][0] += av.z * bv.x; acc[2][1] += av.z * bv.y; acc[2][2] += av.z * bv.z; acc[2][3] += av.z * bv.w;
        acc[3][0] += av.w * bv.x; acc[3][1] += av.w * bv.y; acc[3][2] += av.w * bv.z; acc[3][3] += av.w * bv.w;
    }
    for (var i = 0u; i < MATMUL_TILE; i++) {
        if (m0 + i >= dims.m) {
            break;
        }
        for (var j = 0u; j < MATMUL_TILE; j++) {
            if (n0 + j >= dims.n) {
                break;
            }
            let at = dims.c_off + (m0 + i) * dims.c_rs + n0 + j;
            if (dims.accumulate != 0u) {
                c[at] += acc[i][j];
            } else if (dims.has_bias != 0u) {
                c[at] = acc[i][j] + bias[dims.bias_off + n0 + j];
            } else {
                c[at] = acc[i][j];
            }
            if (dims.copy_c != 0u) {
                c[dims.c2_off + (m0 + i) * dims.c_rs + n0 + j] = c[at];
            }
        }
    }
}
