// Prelude: what several kernels share, written once. kernels.rs joins it after the text of every
// shader file when the binary is built (SHADERS), so a file's line numbers in naga's messages are
// its own; WGSL lets a module use a declaration before it appears.
//
//   Step            the step uniform, written by the host before every submit: what changes
//                   from one training step to the next (dropout seeds, one per layer boundary;
//                   Adam's step-dependent factors; the loss's 1 / Σ w; micro-batch bookkeeping)
//   MAX_LAYERS      recurrent layers at most (Step holds one dropout seed per layer boundary)
//   ELEMENTWISE_WG  invocations per workgroup of the elementwise and reduction kernels
//                   (dropout, loss, grad_norm, adam_step)
//   grid_index      the element of an invocation in a 2-D grid of ELEMENTWISE_WG-wide workgroups:
//                   x + y · (groups in x) · ELEMENTWISE_WG
//
// The host has the same names (src/engine/gpu/uniforms.rs: Step; kernels.rs: the constants, and
// the grid: ⌈n / ELEMENTWISE_WG⌉ workgroups, at most 65,535 in x, the rest in y);
// tests/engines/gpu_kernels.rs checks sizes, offsets and values with naga.
// Buffers: none. Dispatch: none (declarations only).

const MAX_LAYERS: u32 = 16u;
const ELEMENTWISE_WG: u32 = 256u;

struct Step {
    seeds: array<vec4<u32>, MAX_LAYERS / 4u>,
    step_size: f32, bias2_sqrt: f32, weight_decay: f32, clip: f32,
    beta1: f32, beta2: f32, eps: f32, dropout: f32,
    first_sequence: u32, inv_weight: f32, batches: f32, _pad: u32,
}

fn grid_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * ELEMENTWISE_WG;
}
