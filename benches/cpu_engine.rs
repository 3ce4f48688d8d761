//! CPU engine speed: one training step (forward, backward, clipping, Adam) of the reference
//! configuration (LSTM and GRU, batch 16, 500 steps, 11 inputs, hidden 128, 2 layers, f32), and
//! its forward pass alone. Run with `cargo bench --bench cpu_engine`.

mod common;

use common::{batch, reference};
use criterion::{Criterion, criterion_group, criterion_main};
use hrcast::engine::cpu::optim::{AdamConfig, AdamState, clip_grad_norm};
use hrcast::engine::cpu::{self, DropoutStep};
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
    group.finish();
}

criterion_group!(benches, training_step);
criterion_main!(benches);
