//! CPU engine speed: one training step (forward, backward, clipping, Adam) of the reference
//! configuration (LSTM and GRU, batch 16, 500 steps, 11 inputs, hidden 128, 2 layers, f32), and
//! its forward pass alone. Run with `cargo bench --bench cpu_engine`.

use criterion::{Criterion, criterion_group, criterion_main};
use hrcast::engine::cpu::optim::{AdamConfig, AdamState, clip_grad_norm};
use hrcast::engine::cpu::{self, DropoutStep};
use hrcast::model::{Batch, Cell, ModelConfig, Params};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::hint::black_box;

const BATCH: usize = 16;
const STEPS: usize = 500;
const INPUTS: usize = 11;

fn reference(cell: Cell) -> ModelConfig {
    ModelConfig {
        model: cell,
        input_size: INPUTS,
        hidden_size: 128,
        num_layers: 2,
        dropout: 0.3,
        bidirectional: false,
        features: Vec::new(),
    }
}

fn batch() -> Batch<f32> {
    let mut rng = StdRng::seed_from_u64(0);
    Batch {
        batch: BATCH,
        steps: STEPS,
        inputs: INPUTS,
        x: (0..BATCH * STEPS * INPUTS)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
        y: (0..BATCH * STEPS)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
        mask: vec![1.0; BATCH * STEPS],
        lengths: vec![STEPS; BATCH],
    }
}

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
