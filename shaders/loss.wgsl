// Masked MSE on the predictions of every step, its gradient, and the sums that training
// reports, in one kernel:
//
//   w[i]   = mask[i] (masked loss) or 1 (the plain mean over all steps)
//   loss   = Σ w (pred - y)² / Σ w
//   d_pred = 2 w (pred - y) / Σ w
//   sums[0] += loss, sums[1] += 1 (batches), sums[2] += Σ mask |pred - y|, sums[3] += Σ mask
// The running sums stay on the GPU; the host reads them once per epoch.
//
// The host writes 1 / Σ w of the whole batch into the step uniform (inv_weight; 0 when Σ w = 0),
// so that a batch too large for the adapter's buffers can run as micro-batches: each one adds
// its share of the loss and its rows' d_pred, and only the first counts the batch (batches).
//
// Buffers: dims (LossDims) and step (Step, common.wgsl) uniform; pred, y, mask [T·B] f32 read;
// sums [4] and d_pred [T·B] read_write.
// Dispatch: one workgroup of ELEMENTWISE_WG (1, 1, 1). Each invocation sums a strided share of
// the rows, a tree reduction in workgroup memory gives the totals, then each invocation writes
// d_pred for its rows.

struct LossDims {
    rows: u32, use_masking: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> dims: LossDims;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;
@group(0) @binding(4) var<storage, read_write> sums: array<f32>;
@group(0) @binding(5) var<storage, read_write> d_pred: array<f32>;
@group(0) @binding(6) var<uniform> step: Step;

var<workgroup> part: array<vec3<f32>, ELEMENTWISE_WG>;

fn weight(i: u32) -> f32 {
    return select(1.0, mask[i], dims.use_masking != 0u);
}

@compute @workgroup_size(ELEMENTWISE_WG, 1, 1)
fn loss(@builtin(local_invocation_id) lid: vec3<u32>) {
    // x: Σ w e², y: Σ mask |e|, z: Σ mask
    var acc = vec3<f32>(0.0);
    for (var i = lid.x; i < dims.rows; i += ELEMENTWISE_WG) {
        let e = pred[i] - y[i];
        acc += vec3<f32>(weight(i) * e * e, mask[i] * abs(e), mask[i]);
    }
    part[lid.x] = acc;
    workgroupBarrier();
    for (var half = ELEMENTWISE_WG / 2u; half > 0u; half /= 2u) {
        if (lid.x < half) {
            part[lid.x] += part[lid.x + half];
        }
        workgroupBarrier();
    }
    let total = part[0];
    for (var i = lid.x; i < dims.rows; i += ELEMENTWISE_WG) {
        d_pred[i] = 2.0 * step.inv_weight * weight(i) * (pred[i] - y[i]);
    }
    if (lid.x == 0u) {
        sums[0] += step.inv_weight * total.x;
        sums[1] += step.batches;
        sums[2] += total.y;
        sums[3] += total.z;
    }
}
