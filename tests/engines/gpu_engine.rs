//! The GPU engine against the CPU engine, on the adapter `--device gpu` takes (the best one wgpu
//! finds, software ones included: lavapipe in CI), and the whole training step also on wgpu's GL
//! backend (llvmpipe through EGL in CI). They never go through `--device auto`, which
//! leaves software adapters to the CPU engine. With CI=true a missing adapter fails the tests;
//! elsewhere they say loudly that they skipped.
//!
//! Tolerances. Both engines compute in f32 but sum in different orders (the GPU kernels in
//! blocks of 4 along one axis, the CPU GEMM in its own order), so each result differs by a few
//! ulps of its scale, and the differences grow through the T steps of the recurrence. Forward
//! values are compared to 2e-5 of each tensor's scale, gradients (through the loss and the whole
//! backward pass) to 1e-4; parameters after Adam steps to 2e-5 absolute (an Adam step moves a
//! parameter by about lr = 5e-4, so this is 4 % of a step, while a wrong gradient sign or a
//! missing term moves it by a whole step or more).

use crate::common;

use common::{config, gl_gpu, gpu, random_batch};
use hrcast::engine::cpu::CpuEngine;
use hrcast::engine::cpu::{DropoutStep, loss_and_gradients};
use hrcast::engine::gpu::Gpu;
use hrcast::engine::gpu::engine::GpuEngine;
use hrcast::engine::gpu::variant::{Origin, RECURRENCE_WGS, Variant};
use hrcast::engine::optim::AdamState;
use hrcast::engine::{Engine, StepConfig, StepCounts};
use hrcast::model::{Batch, Cell, ModelConfig, Params};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn scale(v: &[f32]) -> f32 {
    v.iter().fold(1e-3f32, |m, x| m.max(x.abs()))
}

/// The training step of the comparisons: Adam at the default rate, weight decay and clipping,
/// masked loss.
const STEP: StepConfig = StepConfig {
    lr: 5e-4,
    weight_decay: 1e-4,
    grad_clip: 1.0,
    use_masking: true,
    seed: 3,
};

/// The largest absolute difference between two tensors.
fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: sizes");
    let s = scale(want);
    let err = max_difference(got, want);
    assert!(
        err <= tol * s,
        "{what}: max error {err:e} > {tol:e} x scale {s:e}"
    );
}

/// [`compare_counts`], in one submit per step (the batch fits the adapter's buffers).
fn compare(gpu: Gpu, c: &ModelConfig, batch: &Batch<f32>, steps: usize, what: &str) {
    let counts = compare_counts(gpu, c, batch, steps, what);
    assert_eq!(counts.submits, 1, "{what}: one submit per step");
}

/// [`compare_variant`] with the variant the engine picks for the adapter.
fn compare_counts(
    gpu: Gpu,
    c: &ModelConfig,
    batch: &Batch<f32>,
    steps: usize,
    what: &str,
) -> StepCounts {
    compare_variant(gpu, None, c, batch, steps, what)
}

/// Trains `steps` steps on both engines from the same weights (the GPU's kernels in `variant`,
/// or the one the engine picks) and compares predictions, gradients, losses and parameters
/// after every step; returns what the GPU's last step issued.
fn compare_variant(
    gpu: Gpu,
    variant: Option<Variant>,
    c: &ModelConfig,
    batch: &Batch<f32>,
    steps: usize,
    what: &str,
) -> StepCounts {
    let params: Params<f32> = Params::init(c, 7);
    let adam = AdamState::new(params.values.iter().map(Vec::len));
    let mut cpu = CpuEngine::new(c.clone(), params.clone(), adam.clone());
    let mut gpu = match variant {
        Some(v) => GpuEngine::with_variant(gpu, (v, Origin::Forced), c, &params, &adam),
        None => GpuEngine::new(gpu, c, &params, &adam),
    }
    .unwrap();
    let valid = |v: Vec<f32>| -> Vec<f32> {
        v.iter()
            .zip(&batch.mask)
            .map(|(p, m)| if *m > 0.0 { *p } else { 0.0 })
            .collect()
    };
    assert_close(
        &valid(gpu.predict(batch).unwrap()),
        &valid(cpu.predict(batch).unwrap()),
        2e-5,
        &format!("{what}: predictions"),
    );
    let step = STEP;
    for s in 1..=steps {
        let dropout = Some(DropoutStep {
            seed: step.seed,
            step: s as u64,
        });
        let before = cpu.params().unwrap();
        let (_, want, _) = loss_and_gradients(c, &before, batch, step.use_masking, dropout);
        cpu.train_step(batch, &step).unwrap();
        gpu.train_step(batch, &step).unwrap();
        let got = gpu.gradients().unwrap();
        for ((name, g), w) in before.names.iter().zip(&got).zip(&want) {
            assert_close(
                g,
                w,
                1e-4,
                &format!("{what}: gradient of {name} in step {s}"),
            );
        }
        let (pc, pg) = (cpu.params().unwrap(), gpu.params().unwrap());
        for ((name, a), b) in pc.names.iter().zip(&pg.values).zip(&pc.values) {
            let err = max_difference(a, b);
            assert!(
                err <= 2e-5,
                "{what}: {name} after step {s}: max error {err:e}"
            );
        }
    }
    let (sc, sg) = (
        cpu.take_train_sums().unwrap(),
        gpu.take_train_sums().unwrap(),
    );
    assert_eq!(
        sg.batches, steps as u64,
        "{what}: batches counted on the GPU"
    );
    assert!(
        (sc.loss - sg.loss).abs() <= 1e-4 * sc.loss.abs().max(1.0),
        "{what}: loss sums {} vs {}",
        sc.loss,
        sg.loss
    );
    assert!(
        (sc.valid_steps - sg.valid_steps).abs() < 0.5,
        "{what}: valid steps"
    );
    assert!(
        (sc.abs_error - sg.abs_error).abs() <= 1e-4 * sc.abs_error.max(1.0),
        "{what}: abs error sums"
    );
    let counts = gpu.step_counts();
    assert_eq!(counts.readbacks, 0, "{what}: no read-back in a step");
    counts
}

#[test]
fn lstm_two_layers_matches_the_cpu_engine() {
    let Some(g) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(1);
    let c = config(Cell::Lstm, 11, 7, 2, false, 0.0);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 11, 9, &[9, 4, 1]),
        3,
        "lstm 2x7",
    );
}

#[test]
fn gru_two_layers_matches_the_cpu_engine() {
    let Some(g) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(2);
    let c = config(Cell::Gru, 5, 9, 2, false, 0.0);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 5, 8, &[8, 1, 5]),
        3,
        "gru 2x9",
    );
}

#[test]
fn hidden_size_one_and_batch_one() {
    let Some(g) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(3);
    let c = config(Cell::Lstm, 3, 1, 1, false, 0.0);
    compare(g, &c, &random_batch(&mut rng, 3, 6, &[6]), 2, "lstm h1 b1");
    let Some(g) = gpu() else { return };
    let c = config(Cell::Gru, 3, 1, 2, false, 0.0);
    compare(g, &c, &random_batch(&mut rng, 3, 5, &[3]), 2, "gru h1 b1");
}

#[test]
fn bidirectional_layers_with_length_one_sequences() {
    let Some(g) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(4);
    let c = config(Cell::Lstm, 4, 7, 2, true, 0.0);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 4, 9, &[9, 1, 5, 2]),
        3,
        "bidirectional lstm",
    );
    let Some(g) = gpu() else { return };
    let c = config(Cell::Gru, 4, 5, 3, true, 0.0);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 4, 7, &[1, 7, 3]),
        3,
        "bidirectional gru, 3 layers",
    );
}

#[test]
fn dropout_masks_agree_with_the_cpu_engine() {
    let Some(g) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(5);
    let c = config(Cell::Lstm, 5, 12, 3, false, 0.3);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 5, 8, &[8, 6]),
        3,
        "lstm dropout",
    );
    let Some(g) = gpu() else { return };
    let c = config(Cell::Gru, 5, 6, 2, true, 0.5);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 5, 6, &[6, 2, 4]),
        2,
        "bidirectional gru dropout",
    );
}

#[test]
fn hidden_sizes_128_and_256_split_the_time_loop() {
    let Some(g) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(6);
    let c = config(Cell::Lstm, 11, 128, 1, false, 0.0);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 11, 30, &[30, 17, 1]),
        2,
        "lstm h128",
    );
    let Some(g) = gpu() else { return };
    // Backward: 4 units per invocation x 3 x 256 inner iterations: about 19 steps per dispatch.
    let c = config(Cell::Gru, 11, 256, 1, false, 0.0);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 11, 45, &[45, 20]),
        1,
        "gru h256",
    );
}

#[test]
fn sequences_of_1500_steps_stay_under_the_loop_cap() {
    // Hidden 256: 4 units per invocation, about 270 loop iterations per step, so the 1,500
    // steps take 7 dispatches each way (one dispatch would stop at step ~240 on lavapipe).
    let Some(g) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(7);
    let c = config(Cell::Lstm, 11, 256, 1, false, 0.0);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 11, 1500, &[1500, 1100]),
        1,
        "lstm 1500 steps",
    );
    let Some(g) = gpu() else { return };
    let c = config(Cell::Gru, 11, 32, 1, true, 0.0);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 11, 1500, &[1500, 700]),
        1,
        "bidirectional gru 1500 steps",
    );
}

#[test]
fn whole_steps_on_the_gl_backend_match_the_cpu_engine() {
    // wgpu's GL backend compiles the same WGSL to GLSL, with its own limits and lazy shader
    // compilation: two training steps each at a few shapes (two layers with dropout and ragged
    // lengths, a bidirectional GRU of batch 1 and odd hidden size) and a 1,500-step sequence.
    let mut rng = StdRng::seed_from_u64(13);
    let cases = [
        (
            config(Cell::Lstm, 11, 32, 2, false, 0.3),
            random_batch(&mut rng, 11, 60, &[60, 41, 7]),
            "gl: lstm, 2 layers, dropout",
        ),
        (
            config(Cell::Gru, 11, 17, 1, true, 0.0),
            random_batch(&mut rng, 11, 30, &[30]),
            "gl: bidirectional gru, batch 1, hidden 17",
        ),
        (
            config(Cell::Lstm, 11, 64, 1, false, 0.0),
            random_batch(&mut rng, 11, 1500, &[1500, 900]),
            "gl: lstm, 1500 steps",
        ),
    ];
    for (c, batch, what) in &cases {
        let Some(g) = gl_gpu() else { return };
        compare(g, c, batch, 2, what);
    }
    // Each matmul entry point on GL too (the tiled one's workgroup memory and barriers), with
    // the widest recurrence workgroup.
    let (c, batch, what) = &cases[1];
    for option in Variant::MATMULS {
        let Some(g) = gl_gpu() else { return };
        let variant = Variant::new(option, 256);
        let what = format!("{what}, {}", variant.id());
        compare_variant(g, Some(variant), c, batch, 2, &what);
    }
}

#[test]
fn every_kernel_variant_matches_the_cpu_engine() {
    // Each matmul option (entry point and workgroup) once, paired with the recurrence
    // workgroups in turn so that each of those runs too, on the shapes that stress them: batch
    // 1 with an odd hidden size, both directions and dropout; a ragged GRU batch across two
    // recurrence workgroups; a 1,500-step sequence (the time loop split under the loop cap); a
    // hidden size at which 32 invocations take their units four at a time and 64 in pairs;
    // micro-batches (gradients accumulated over three submits).
    let variants = Variant::MATMULS
        .iter()
        .enumerate()
        .map(|(i, &m)| Variant::new(m, RECURRENCE_WGS[i % RECURRENCE_WGS.len()]));
    for variant in variants {
        let id = variant.id();
        let mut rng = StdRng::seed_from_u64(21);
        let cases = [
            (
                config(Cell::Lstm, 11, 37, 2, true, 0.3),
                random_batch(&mut rng, 11, 23, &[23]),
                "lstm, batch 1, hidden 37, bidirectional, dropout",
            ),
            (
                config(Cell::Gru, 6, 19, 1, true, 0.0),
                random_batch(&mut rng, 6, 31, &[31, 4, 17, 1, 30, 9]),
                "gru, batch 6, hidden 19, bidirectional",
            ),
            (
                config(Cell::Lstm, 11, 70, 1, false, 0.0),
                random_batch(&mut rng, 11, 1500, &[1500, 1200, 3]),
                "lstm, 1500 steps",
            ),
            (
                config(Cell::Gru, 7, 131, 2, true, 0.0),
                random_batch(&mut rng, 7, 13, &[13, 5, 9]),
                "gru, hidden 131 (units by fours at 32 invocations, pairs at 64), bidirectional",
            ),
        ];
        for (c, batch, what) in &cases {
            let Some(g) = gpu() else { return };
            compare_variant(g, Some(variant), c, batch, 2, &format!("{id}: {what}"));
        }
        let Some(mut g) = gpu() else { return };
        let (steps, hidden) = (11, 9);
        g.limits.max_storage_buffer_binding_size = 3 * (steps * 4 * hidden * 4) as u64 + 8;
        let c = config(Cell::Gru, 5, hidden, 2, false, 0.2);
        let data = random_batch(&mut rng, 5, steps, &[11, 4, 9, 11, 1, 7, 10]);
        let what = format!("{id}: gru in micro-batches");
        let counts = compare_variant(g, Some(variant), &c, &data, 2, &what);
        assert_eq!(counts.submits, 3, "{what}: one submit per micro-batch");
    }
}

#[test]
fn random_shapes_across_several_workgroups() {
    // Each recurrence workgroup carries four sequences (the vec4 lanes): batches that are not
    // multiples of four, one or several workgroups, odd hidden sizes (the dot products' H mod 4
    // remainder), both cells, one or two directions, ragged lengths.
    let mut rng = StdRng::seed_from_u64(11);
    for case in 0..8 {
        let Some(g) = gpu() else { return };
        let cell = if case % 2 == 0 { Cell::Lstm } else { Cell::Gru };
        let hidden = [3, 17, 33, 6, 65, 10, 23, 5][case];
        let inputs = rng.random_range(1..12);
        let layers = rng.random_range(1..3);
        let bidirectional = case % 3 == 1;
        let batch = [1, 5, 7, 9, 2, 13, 6, 3][case];
        let steps = rng.random_range(4..40);
        let lengths: Vec<usize> = (0..batch)
            .map(|b| {
                if b == 0 {
                    steps
                } else {
                    rng.random_range(1..=steps)
                }
            })
            .collect();
        let c = config(cell, inputs, hidden, layers, bidirectional, 0.0);
        let what = format!(
            "case {case}: {cell:?} H{hidden} I{inputs} L{layers} bi {bidirectional} B{batch} T{steps}"
        );
        let data = random_batch(&mut rng, inputs, steps, &lengths);
        compare(g, &c, &data, 2, &what);
    }
}

#[test]
fn the_largest_hidden_size_512() {
    // Eight units per invocation, the kernels' register arrays full.
    let mut rng = StdRng::seed_from_u64(12);
    for cell in [Cell::Lstm, Cell::Gru] {
        let Some(g) = gpu() else { return };
        let c = config(cell, 11, 512, 1, false, 0.0);
        let data = random_batch(&mut rng, 11, 12, &[12, 5, 9, 12, 1]);
        compare(g, &c, &data, 1, &format!("{cell:?} h512 b5"));
    }
}

#[test]
fn batches_beyond_the_buffer_limit_run_as_micro_batches() {
    // An adapter binding at most 3 sequences' gates per buffer: batch 7 runs as micro-batches
    // of 3, 3 and 1, one submit each, the gradients accumulating across them. Dropout checks
    // that each micro-batch draws the masks of its own sequences; the loss and its gradient are
    // normalized by the whole batch's weight.
    let mut rng = StdRng::seed_from_u64(13);
    for (cell, hidden, bidirectional, dropout) in
        [(Cell::Lstm, 9, true, 0.3), (Cell::Gru, 6, false, 0.2)]
    {
        let Some(mut g) = gpu() else { return };
        let steps = 11;
        let gates_bytes = (steps * 4 * hidden * 4) as u64;
        g.limits.max_storage_buffer_binding_size = 3 * gates_bytes + 8;
        let c = config(cell, 5, hidden, 2, bidirectional, dropout);
        let data = random_batch(&mut rng, 5, steps, &[11, 4, 9, 11, 1, 7, 10]);
        let what = format!("{cell:?} in micro-batches");
        let counts = compare_counts(g, &c, &data, 2, &what);
        assert_eq!(counts.submits, 3, "{what}: one submit per micro-batch");
    }
}

/// The first `steps` steps of each sequence of `batch`.
fn first_steps(batch: &Batch<f32>, steps: usize) -> Batch<f32> {
    let (t, f) = (batch.steps, batch.inputs);
    let rows = |v: &[f32], per: usize| -> Vec<f32> {
        v.chunks(t * per)
            .flat_map(|row| row[..steps * per].to_vec())
            .collect()
    };
    Batch {
        batch: batch.batch,
        steps,
        inputs: f,
        x: rows(&batch.x, f),
        y: rows(&batch.y, 1),
        mask: rows(&batch.mask, 1),
        lengths: batch.lengths.clone(),
    }
}

#[test]
fn batches_cut_to_their_longest_sequence_train_as_the_padded_ones() {
    // `train --length-buckets` runs a batch only as far as its longest sequence: what is cut is
    // masked padding, which neither direction reads before a valid step. Without dropout (whose
    // masks are drawn per position of the batch as run) the step is the same. Each engine
    // trains one copy on the padded batch and one on the cut one and then the padded one (two
    // shapes on one engine); the parameters agree to 1e-6 on the CPU engine, 2e-5 on the GPU
    // (the GEMMs tile the two lengths differently, so sums run in another order).
    let mut rng = StdRng::seed_from_u64(29);
    for (cell, bidirectional) in [(Cell::Lstm, true), (Cell::Gru, false)] {
        let c = config(cell, 4, 7, 2, bidirectional, 0.0);
        let padded = random_batch(&mut rng, 4, 40, &[7, 19, 3]);
        let cut = first_steps(&padded, 20);
        let params: Params<f32> = Params::init(&c, 5);
        let adam = AdamState::new(params.values.iter().map(Vec::len));
        let step = STEP;
        let both = |a: &mut dyn Engine, b: &mut dyn Engine, tol: f32, what: &str| {
            a.train_step(&padded, &step).unwrap();
            a.train_step(&padded, &step).unwrap();
            b.train_step(&cut, &step).unwrap();
            b.train_step(&padded, &step).unwrap();
            let (pa, pb) = (a.params().unwrap(), b.params().unwrap());
            for ((name, x), y) in pa.names.iter().zip(&pa.values).zip(&pb.values) {
                let err = max_difference(x, y);
                assert!(
                    err <= tol,
                    "{what} {cell:?}: {name}: max difference {err:e}"
                );
            }
            let (sa, sb) = (a.take_train_sums().unwrap(), b.take_train_sums().unwrap());
            assert!(
                (sa.loss - sb.loss).abs() <= 1e-5 * sa.loss.abs().max(1.0),
                "{what} {cell:?}: losses {} vs {}",
                sa.loss,
                sb.loss
            );
            assert_eq!(sa.valid_steps, sb.valid_steps, "{what} {cell:?}");
        };
        let cpu = || CpuEngine::new(c.clone(), params.clone(), adam.clone());
        both(&mut cpu(), &mut cpu(), 1e-6, "CPU engine");
        let Some(g) = gpu() else { return };
        let mut a = GpuEngine::new(g, &c, &params, &adam).unwrap();
        let Some(g) = gpu() else { return };
        let mut b = GpuEngine::new(g, &c, &params, &adam).unwrap();
        both(&mut a, &mut b, 2e-5, "GPU engine");
    }
}

#[test]
fn the_kernels_run_within_wgpus_default_limits() {
    // A device opened with wgpu's default limits (what every adapter offers: 8 storage buffers
    // per stage, 16 KiB of workgroup memory, 128 MiB per binding) runs the widest kernels: the
    // GRU's backward pass binds 8 storage buffers, hidden 512 fills h_prev's workgroup array.
    let Some(g) = gpu() else { return };
    drop(g);
    let limits = wgpu::Limits::default();
    let open = || {
        let adapter = hrcast::engine::gpu::adapters().into_iter().next().unwrap();
        Gpu::open_with_limits(adapter, wgpu::Limits::default()).unwrap()
    };
    assert_eq!(open().limits, limits);
    let mut rng = StdRng::seed_from_u64(15);
    let c = config(Cell::Gru, 4, 512, 2, true, 0.3);
    let data = random_batch(&mut rng, 4, 6, &[6, 3, 5, 6, 2]);
    compare(open(), &c, &data, 1, "gru h512 under default limits");
    let c = config(Cell::Lstm, 4, 512, 1, false, 0.0);
    compare(open(), &c, &data, 1, "lstm h512 under default limits");
}

#[test]
fn a_model_beyond_the_norm_kernel_is_a_clear_error() {
    // Hidden 512, 4 bidirectional layers: about 21M parameters, over grad_norm's 15.36M.
    let Some(g) = gpu() else { return };
    let c = config(Cell::Lstm, 11, 512, 4, true, 0.0);
    let params: Params<f32> = Params::init(&c, 7);
    let adam = AdamState::new(params.values.iter().map(Vec::len));
    let err = GpuEngine::new(g, &c, &params, &adam)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("parameters, more than"), "{err}");
    let c = config(Cell::Lstm, 11, 512, 3, true, 0.0);
    let params: Params<f32> = Params::init(&c, 7);
    let adam = AdamState::new(params.values.iter().map(Vec::len));
    let Some(g) = gpu() else { return };
    assert!(
        GpuEngine::new(g, &c, &params, &adam).is_ok(),
        "3 layers fit"
    );
}

#[test]
fn a_sequence_beyond_the_buffer_limit_is_a_clear_error() {
    let Some(mut g) = gpu() else { return };
    g.limits.max_storage_buffer_binding_size = 1 << 10;
    let c = config(Cell::Lstm, 3, 8, 1, false, 0.0);
    let params: Params<f32> = Params::init(&c, 7);
    let adam = AdamState::new(params.values.iter().map(Vec::len));
    let mut engine = GpuEngine::new(g, &c, &params, &adam).unwrap();
    let data = random_batch(&mut StdRng::seed_from_u64(14), 3, 20, &[20]);
    let err = engine.predict(&data).unwrap_err().to_string();
    assert!(
        err.contains("one sequence of 20 steps") && err.contains("--seq-len"),
        "{err}"
    );
}

#[test]
fn long_weight_gradient_sums_are_split_into_chunks() {
    // 40 x 450 = 18,000 rows: the weight gradients sum over more than K_CHUNK rows.
    let Some(g) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(8);
    let lengths: Vec<usize> = (0..40).map(|i| 450 - i * 7).collect();
    let c = config(Cell::Lstm, 11, 4, 1, false, 0.0);
    compare(
        g,
        &c,
        &random_batch(&mut rng, 11, 450, &lengths),
        1,
        "18,000 rows",
    );
}

#[test]
fn the_unmasked_loss_matches() {
    let Some(g) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(9);
    let c = config(Cell::Gru, 3, 6, 1, false, 0.0);
    let batch = random_batch(&mut rng, 3, 7, &[7, 3]);
    let params: Params<f32> = Params::init(&c, 7);
    let adam = AdamState::new(params.values.iter().map(Vec::len));
    let mut cpu = CpuEngine::new(c.clone(), params.clone(), adam.clone());
    let mut gpu = GpuEngine::new(g, &c, &params, &adam).unwrap();
    let step = StepConfig {
        grad_clip: 0.0,
        use_masking: false,
        ..STEP
    };
    cpu.train_step(&batch, &step).unwrap();
    gpu.train_step(&batch, &step).unwrap();
    let (sc, sg) = (
        cpu.take_train_sums().unwrap(),
        gpu.take_train_sums().unwrap(),
    );
    assert!(
        (sc.loss - sg.loss).abs() < 1e-5,
        "{} vs {}",
        sc.loss,
        sg.loss
    );
    for (a, b) in cpu
        .params()
        .unwrap()
        .values
        .iter()
        .zip(&gpu.params().unwrap().values)
    {
        assert_close(b, a, 1e-4, "params after an unmasked, unclipped step");
    }
}

#[test]
fn every_shader_parses_and_validates_with_naga() {
    for (name, source) in hrcast::engine::gpu::kernels::SHADERS {
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        // Workgroup memory within wgpu's default limit (wgpu does not check it; a driver would
        // refuse the pipeline): all the module's workgroup variables together, an upper bound
        // of what any one entry point uses.
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        let workgroup_bytes: u32 = module
            .global_variables
            .iter()
            .filter(|(_, v)| v.space == naga::AddressSpace::WorkGroup)
            .map(|(_, v)| layouter[v.ty].size)
            .sum();
        assert!(
            workgroup_bytes <= wgpu::Limits::default().max_compute_workgroup_storage_size,
            "{name}: {workgroup_bytes} bytes of workgroup memory"
        );
        assert!(
            source.starts_with("//"),
            "{name} opens with a comment giving its equations"
        );
    }
}

/// Runs the hrcast binary in `dir` with the tuning cache `tuning` (the test's own, not the
/// user's) and no forced kernel variant unless `forced` names one.
fn hrcast(
    dir: &std::path::Path,
    tuning: &std::path::Path,
    args: &[&str],
    forced: Option<&str>,
) -> std::process::Output {
    let mut command = common::hrcast_command(dir, args);
    command
        .env("HRCAST_GPU_TUNING", tuning)
        .env_remove("HRCAST_GPU_VARIANT");
    if let Some(v) = forced {
        command.env("HRCAST_GPU_VARIANT", v);
    }
    common::output_within(&mut command, common::RUN_LIMIT)
}

#[test]
fn devices_and_train_on_the_gpu_from_the_command_line() {
    if gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tuning = dir.path().join("tuning.json");
    let run = |args: &[&str]| {
        let out = hrcast(dir.path(), &tuning, args, None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let bench = run(&[
        "bench",
        "--device",
        "gpu",
        "--hidden-size",
        "8",
        "--seq-len",
        "30",
        "--batch-size",
        "3",
        "--steps",
        "2",
        "--json",
        "--profile",
    ]);
    let report: serde_json::Value = serde_json::from_str(&bench).unwrap();
    assert_eq!(report["submits_per_step"], 1, "{bench}");
    assert_eq!(report["readbacks_per_step"], 0, "{bench}");
    let dispatches = report["dispatches_per_step"].as_u64().unwrap();
    assert!(dispatches >= 20, "{bench}");
    // The profile times every dispatch of the step, each kernel once.
    let profile = report["profile"].as_array().expect("--profile");
    let profiled: u64 = profile
        .iter()
        .map(|k| k["dispatches"].as_u64().unwrap())
        .sum();
    assert_eq!(profiled, dispatches, "{bench}");
    for kernel in ["lstm_forward", "lstm_backward", "matmul_", "adam_step"] {
        assert!(
            profile
                .iter()
                .any(|k| k["kernel"].as_str().unwrap().starts_with(kernel)),
            "{kernel}: {bench}"
        );
    }
    let devices = run(&["devices"]);
    assert!(devices.contains("--device gpu takes"), "{devices}");
    assert!(devices.contains("--device auto takes"), "{devices}");
    run(&[
        "synth",
        "--out",
        "raw",
        "--users",
        "4",
        "--workouts-per-user",
        "2",
    ]);
    run(&[
        "prepare",
        "--input",
        "raw",
        "--out",
        "processed",
        "--seq-len",
        "40",
        "--split",
        "0.5,0.25,0.25",
    ]);
    let common = [
        "train",
        "--data",
        "processed",
        "--hidden-size",
        "5",
        "--epochs",
        "2",
        "--dropout",
        "0.2",
    ];
    let on_gpu = run(&[&common[..], &["--device", "gpu", "--checkpoints", "g"]].concat());
    assert!(on_gpu.contains("device gpu: GPU engine on"), "{on_gpu}");
    assert!(
        on_gpu.contains("default for a software adapter"),
        "{on_gpu}"
    );
    assert!(
        on_gpu.contains("dispatches, 1 submit, 0 read-backs"),
        "{on_gpu}"
    );
    run(&[&common[..], &["--device", "cpu", "--checkpoints", "c"]].concat());
    // The same run on both engines: the same weights to f32 tolerance (dropout included).
    let g = hrcast::checkpoint::Checkpoint::load(&dir.path().join("g/last.safetensors")).unwrap();
    let c = hrcast::checkpoint::Checkpoint::load(&dir.path().join("c/last.safetensors")).unwrap();
    for (a, b) in g.params.values.iter().zip(&c.params.values) {
        let err = max_difference(a, b);
        assert!(err <= 5e-5, "weights after two epochs differ by {err:e}");
    }
    assert!(
        (g.val_loss - c.val_loss).abs() <= 1e-4 * c.val_loss,
        "{} vs {}",
        g.val_loss,
        c.val_loss
    );
}

#[test]
fn bench_tune_stores_the_fastest_variant_and_train_runs_it() {
    if gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tuning = dir.path().join("cache").join("tuning.json");
    let run = |args: &[&str], forced: Option<&str>| {
        let out = hrcast(dir.path(), &tuning, args, forced);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let shape = [
        "--device",
        "gpu",
        "--hidden-size",
        "6",
        "--seq-len",
        "12",
        "--batch-size",
        "2",
        "--num-layers",
        "1",
        "--steps",
        "1",
    ];
    let (ok, out, err) = run(&[&["bench", "--tune", "--json"][..], &shape].concat(), None);
    assert!(ok, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Five matmul options, then the three recurrence workgroups not yet timed: eight variants.
    let timings = report["timings"].as_array().unwrap();
    assert_eq!(timings.len(), 8, "{out}");
    let best = report["best"].as_str().unwrap();
    let fastest = timings
        .iter()
        .min_by(|a, b| a[1].as_f64().unwrap().total_cmp(&b[1].as_f64().unwrap()))
        .unwrap();
    assert_eq!(fastest[0], best, "{out}");
    let cache: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tuning).unwrap()).unwrap();
    let adapters = cache["adapters"].as_object().unwrap();
    assert_eq!(adapters.len(), 1, "{cache}");
    let (key, entries) = adapters.iter().next().unwrap();
    assert_eq!(entries[0]["variant"], best, "{cache}");
    assert_eq!(entries[0]["hidden_size"], 6, "{cache}");
    assert_eq!(report["adapter"], key.as_str());
    // bench (and train, evaluate, predict: the same engine) now runs the tuned variant.
    let (ok, out, err) = run(&[&["bench", "--profile"][..], &shape].concat(), None);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("kernels {best} "))
            && out.contains("tuned on this adapter at hidden size 6"),
        "{best}: {out}"
    );
    // A forced variant wins over the cache; a wrong one is an error naming the variable.
    let forced = "matmul_tiled:16x16:r256";
    let (ok, out, err) = run(
        &[&["bench", "--profile"][..], &shape].concat(),
        Some(forced),
    );
    assert!(ok && out.contains("matmul_tiled"), "{out}{err}");
    let (ok, _, err) = run(&["bench", "--device", "gpu"], Some("matmul_3x3"));
    assert!(!ok && err.contains("HRCAST_GPU_VARIANT"), "{err}");
    // A damaged cache is one clear error naming it, before any timing.
    std::fs::write(&tuning, "{").unwrap();
    let (ok, _, err) = run(&[&["bench", "--tune"][..], &shape].concat(), None);
    assert!(
        !ok && err.contains("tuning.json") && !err.contains("panicked"),
        "{err}"
    );
}
