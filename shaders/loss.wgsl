// Masked MSE on the predictions of every step, its gradient, and the sums that training and
// evaluation report.
//
//   w[i]   = mask[i] (masked loss) or 1 (the plain mean over all steps)
//   loss   = Σ w (pred - y)² / Σ w
//   d_pred = 2 w (pred - y) / Σ w
// loss_reduce writes loss and Σ w to `stats` and adds to the running sums `sums`:
//   sums[0] += loss, sums[1] += 1 (batches), sums[2] += Σ mask |pred - y|, sums[3] += Σ mask
// which the host reads once per epoch.
//
// Buffers: pred, y, mask [T·B] f32; stats [2]; sums [4]; d_pred [T·B].
// Dispatch: loss_reduce one workgroup of 256 (each invocation strides over the rows, then a tree
// reduction in workgroup memory); loss_grad 256 per workgroup, a 2-D grid over the rows.

const WG: u32 = 256u;

struct Loss {
    rows: u32, use_masking: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> l: Loss;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;

@group(1) @binding(0) var<storage, read_write> stats: array<f32>;
@group(1) @binding(1) var<storage, read_write> sums: array<f32>;

var<workgroup> part: array<vec4<f32>, 256>;

fn weight(i: u32) -> f32 {
    return select(1.0, mask[i], l.use_masking != 0u);
}

@compute @workgroup_size(256, 1, 1)
fn loss_reduce(@builtin(local_invocation_id) lid: vec3<u32>) {
    // x: Σ w e², y: Σ w, z: Σ mask |e|, w: Σ mask
    var acc = vec4<f32>(0.0);
    for (var i = lid.x; i < l.rows; i += WG) {
        let e = pred[i] - y[i];
        let w = weight(i);
        acc += vec4<f32>(w * e * e, w, mask[i] * abs(e), mask[i]);
    }
    part[lid.x] = acc;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (lid.x < half) {
            part[lid.x] += part[lid.x + half];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        let total = part[0];
        var loss = 0.0;
        if (total.y > 0.0) {
            loss = total.x / total.y;
        }
        stats[0] = loss;
        stats[1] = total.y;
        sums[0] += loss;
        sums[1] += 1.0;
        sums[2] += total.z;
        sums[3] += total.w;
    }
}

@group(1) @binding(2) var<storage, read> stats_in: array<f32>;
@group(1) @binding(3) var<storage, read_write> d_pred: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn loss_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    if (i >= l.rows) {
        return;
    }
    let total = stats_in[1];
    var g = 0.0;
    if (total > 0.0) {
        g = 2.0 * weight(i) * (pred[i] - y[i]) / total;
    }
    d_pred[i] = g;
}
