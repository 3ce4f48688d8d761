//! GPU engine speed on the adapter `--device auto` would take (lavapipe on a CI box): one
//! training step of the reference configuration (LSTM and GRU, batch 16, 500 steps, hidden 128,
//! 2 layers), its forward pass, the kernels inside the step on their own (the recurrence forward
//! and backward of both layers, every matmul of the step), and the matmul kernel on a 1024³
//! product. Without an adapter it says so and measures nothing. Run with
//! `cargo bench --bench gpu_engine`.

mod common;

use common::{batch, reference};
use criterion::{Criterion, criterion_group, criterion_main};
use hrcast::engine::gpu::Gpu;
use hrcast::engine::gpu::engine::GpuEngine;
use hrcast::engine::gpu::kernels::Kernel;
use hrcast::engine::optim::AdamState;
use hrcast::engine::{Engine, StepConfig};
use hrcast::model::{Cell, Params};

fn engine(cell: Cell) -> Option<GpuEngine> {
    let gpu = match Gpu::open_best() {
        Ok(gpu) => gpu,
        Err(err) => {
            eprintln!("no GPU adapter, nothing measured: {err:#}");
            return None;
        }
    };
    let config = reference(cell);
    let params: Params<f32> = Params::init(&config, 0);
    let adam = AdamState::new(params.values.iter().map(Vec::len));
    Some(GpuEngine::new(gpu, &config, &params, &adam).expect("the reference model fits"))
}

fn gpu_engine(c: &mut Criterion) {
    let batch = batch();
    let mut group = c.benchmark_group("gpu_reference_b16_t500_h128_l2");
    group.sample_size(10);
    let step = StepConfig {
        lr: 5e-4,
        weight_decay: 1e-4,
        grad_clip: 1.0,
        use_masking: true,
        seed: 0,
    };
    for cell in [Cell::Lstm, Cell::Gru] {
        let Some(mut e) = engine(cell) else { return };
        group.bench_function(format!("{cell:?}_train_step"), |b| {
            b.iter(|| {
                e.train_step(&batch, &step).unwrap();
                e.finish().unwrap();
            })
        });
        group.bench_function(format!("{cell:?}_forward"), |b| {
            b.iter(|| e.predict(&batch).unwrap())
        });
        let (forward, backward) = match cell {
            Cell::Lstm => (Kernel::LstmForward, Kernel::LstmBackward),
            Cell::Gru => (Kernel::GruForward, Kernel::GruBackward),
        };
        e.train_step(&batch, &step).unwrap();
        for (name, kernel) in [
            ("recurrence_forward", forward),
            ("recurrence_backward", backward),
            ("step_matmuls", Kernel::Matmul),
        ] {
            group.bench_function(format!("{cell:?}_{name}"), |b| {
                b.iter(|| e.run_kernel(&batch, step.use_masking, kernel).unwrap())
            });
        }
        if cell == Cell::Lstm {
            group.bench_function("matmul_1024_warm_and_timed", |b| {
                b.iter(|| e.gemm_gflops(1024, 1).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // No plots: criterion's plotters backend needs system fonts, which CI boxes lack.
    config = Criterion::default().without_plots();
    targets = gpu_engine
}
criterion_main!(benches);
