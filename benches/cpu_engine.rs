//! CPU engine speed: one training step (forward, backward, clipping, Adam) of the reference
//! configuration (LSTM and GRU, batch 16, 500 steps, 11 inputs, hidden 128, 2 layers, f32), its
//! forward pass alone, and the GEMM under both: the step's largest product shape (8000 × 512 ×
//! 128, the input projection of layer 2) and 1024³. Run with `cargo bench --bench cpu_engine`.

mod common;

use common::{batch, reference};
use criterion::{Criterion, criterion_group, criterion_main};
use hrcast::engine::cpu::{self, DropoutStep};
use hrcast::engine::optim::{AdamConfig, AdamState, clip_grad_norm};
use hrcast::engine::scalar::Scalar;
use hrcast::model::{Cell, Params};
use std::hint::black_box;

fn training_step(c: &mut Criterion) {
    let batch = batch();
    let mut group = c.benchmark_group("cpu_reference_b16_t500_h128_l2");
    group.sample_size(10);
    for cell in [Cell::Lstm, Cell::Gru] {
        let config = reference(cell);
        let mut params: Params<f32> = Params::init(&config, 0);
        let mut adam = AdamState::new(params.values.iter().map(Vec::len));
        let adam_config = AdamConfig::new(5e-4, 1e-4);
        let mut step = 0;
        group.bench_function(format!("{cell:?}_train_step"), |b| {
            b.iter(|| {
                step += 1;
                let dropout = Some(DropoutStep { seed: 0, step });
                let (loss, mut grads, _) =
                    cpu::loss_and_gradients(&config, &params, &batch, true, dropout);
                clip_grad_norm(&mut grads, 1.0);
                adam.step(&adam_config, &mut params.values, &grads);
                black_box(loss)
            })
        });
        group.bench_function(format!("{cell:?}_forward"), |b| {
            b.iter(|| black_box(cpu::predict(&config, &params, &batch)))
        });
    }
    for (m, n, k) in [(8000, 512, 128), (1024, 1024, 1024)] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; m * n];
        group.bench_function(format!("gemm_{m}x{n}x{k}"), |bench| {
            bench.iter(|| {
                f32::gemm(m, k, n, &a, false, &b, false, 0.0, &mut c);
                black_box(c[0])
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // No plots: criterion's plotters backend needs system fonts, which CI boxes lack.
    config = Criterion::default().without_plots();
    targets = training_step
}
criterion_main!(benches);
