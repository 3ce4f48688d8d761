// Global gradient-norm clipping and Adam, as torch.nn.utils.clip_grad_norm_ and
// torch.optim.Adam (L2 weight decay added to the gradient, not AdamW):
//
//   norm  = sqrt(Σ grad²) over all parameters              (grad_norm)
//   coef  = min(1, clip / (norm + 1e-6))  (1 when clip = 0)
//   g     = coef · grad + weight_decay · p                    (adam_step)
//   m     = β1 m + (1 - β1) g
//   v     = β2 v + (1 - β2) g²
//   p    -= step_size · m / (sqrt(v) / bias2_sqrt + eps)
// with step_size = lr / (1 - β1^t) and bias2_sqrt = sqrt(1 - β2^t) computed by the host for
// step t and written to the step uniform (a write, never a read-back).
//
// Buffers: dims (AdamDims) and step (Step, common.wgsl) uniform; params, grads, m, v [P] f32,
// flat in state_dict order; norm [1] (written by grad_norm, read by adam_step).
// Dispatch: grad_norm one workgroup of ELEMENTWISE_WG (strided sums, tree reduction), (1, 1, 1);
// adam_step ELEMENTWISE_WG per workgroup over a 2-D grid (grid_index), one parameter each.

const CLIP_EPS: f32 = 1e-6;

struct AdamDims {
    count: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> dims: AdamDims;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<uniform> step: Step;

@group(1) @binding(0) var<storage, read_write> norm: array<f32>;

var<workgroup> part: array<f32, ELEMENTWISE_WG>;

@compute @workgroup_size(ELEMENTWISE_WG, 1, 1)
fn grad_norm(@builtin(local_invocation_id) lid: vec3<u32>) {
    var acc = 0.0;
    for (var i = lid.x; i < dims.count; i += ELEMENTWISE_WG) {
        acc += grads[i] * grads[i];
    }
    part[lid.x] = acc;
    workgroupBarrier();
    for (var half = ELEMENTWISE_WG / 2u; half > 0u; half /= 2u) {
        if (lid.x < half) {
            part[lid.x] += part[lid.x + half];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        norm[0] = sqrt(part[0]);
    }
}

@group(1) @binding(1) var<storage, read> norm_in: array<f32>;
@group(1) @binding(2) var<storage, read_write> params: array<f32>;
@group(1) @binding(3) var<storage, read_write> m: array<f32>;
@group(1) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(ELEMENTWISE_WG, 1, 1)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = grid_index(gid, groups);
    if (i >= dims.count) {
        return;
    }
    var coef = 1.0;
    if (step.clip > 0.0) {
        coef = min(1.0, step.clip / (norm_in[0] + CLIP_EPS));
    }
    let g = coef * grads[i] + step.weight_decay * params[i];
    m[i] = step.beta1 * m[i] + (1.0 - step.beta1) * g;
    v[i] = step.beta2 * v[i] + (1.0 - step.beta2) * g * g;
    params[i] -= step.step_size * m[i] / (sqrt(v[i]) / step.bias2_sqrt + step.eps);
}
