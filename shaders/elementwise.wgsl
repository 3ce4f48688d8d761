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
// Buffers: src, dst [T·B, W] f32. Dispatch: 256 invocations per workgroup, one element each,
// over a 2-D grid of workgroups (x up to 65,535).

const WG: u32 = 256u;

struct Dropout {
    batch: u32, steps: u32, width: u32, layer: u32,
}

struct Step {
    seeds: array<vec4<u32>, 4>,
    step_size: f32, bias2_sqrt: f32, weight_decay: f32, clip: f32,
    beta1: f32, beta2: f32, eps: f32, dropout: f32,
    first_sequence: u32, inv_weight: f32, batches: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> d: Dropout;
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

@compute @workgroup_size(256, 1, 1)
fn dropout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = gid.x + gid.y * groups.x * WG;
    let total = d.batch * d.steps * d.width;
    if (e >= total) {
        return;
    }
    let row = e / d.width;
    let j = e % d.width;
    let t = row / d.batch;
    let b = row % d.batch;
    let seed = step.seeds[d.layer / 4u][d.layer % 4u];
    let counter = ((step.first_sequence + b) * d.steps + t) * d.width + j;
    let p = step.dropout;
    var scale = 1.0 / (1.0 - p);
    if (uniform01(seed, counter) < p) {
        scale = 0.0;
    }
    dst[e] = src[e] * scale;
}
