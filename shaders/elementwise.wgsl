// Inverted dropout between recurrent layers, forward and backward (the same kernel: the
// backward pass multiplies the gradient by the same mask).
//
//   dst[row, j] = src[row, j] · scale,   scale = 0 if u < p else 1 / (1 - p)
//   u = uniform(seed, counter), counter = (b·T + t)·W + j for row = t·B + b (batch-first order,
//   so the CPU engine draws the same mask), seed = the step's seed of this layer boundary.
//   b counts from the step's first_sequence: a batch run as micro-batches draws the masks of
//   the whole batch.
//
// The generator is the PCG hash (src/engine/rng.rs has the same function): the mask is a pure
// function of (seed, counter), nothing is stored between the passes.
//
// Buffers: dims (DropoutDims) and step (Step, common.wgsl) uniform; src [T·B, W] f32 read,
// dst [T·B, W] read_write.
// Dispatch: ELEMENTWISE_WG invocations per workgroup, one element each, over a 2-D grid of
// workgroups (grid_index; x up to 65,535).

struct DropoutDims {
    batch: u32, steps: u32, width: u32, layer: u32,
}

@group(0) @binding(0) var<uniform> dims: DropoutDims;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn pcg_hash(input: u32) -> u32 {
    let state = input * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn uniform01(seed: u32, counter: u32) -> f32 {
    let bits = pcg_hash(pcg_hash(seed) ^ counter);
    return f32(bits >> 8u) / 16777216.0;
}

@compute @workgroup_size(ELEMENTWISE_WG, 1, 1)
fn dropout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = grid_index(gid, groups);
    let total = dims.batch * dims.steps * dims.width;
    if (e >= total) {
        return;
    }
    let row = e / dims.width;
    let j = e % dims.width;
    let t = row / dims.batch;
    let b = row % dims.batch;
    let seed = step.seeds[dims.layer / 4u][dims.layer % 4u];
    let counter = ((step.first_sequence + b) * dims.steps + t) * dims.width + j;
    let p = step.dropout;
    var scale = 1.0 / (1.0 - p);
    if (uniform01(seed, counter) < p) {
        scale = 0.0;
    }
    dst[e] = src[e] * scale;
}
