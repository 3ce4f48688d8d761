//! The compute engines that run the model, and what they share.
//!
//! - [`cpu`]: hand-written BPTT on the CPU (checked against an autodiff tape), the oracle the GPU
//!   kernels are tested against and the engine of machines without a GPU.
//! - [`gpu`]: WGSL compute shaders (`shaders/`) dispatched through wgpu.
//! - Shared by both: [`optim`] (Adam's configuration and state, clipping), [`scalar`] (the float
//!   types and the CPU GEMMs, with [`packed`] for the recurrence's steps and [`strided`] for
//!   their left operands), [`layout`] (batch-first and time-major), [`rng`] (dropout masks, so
//!   that both engines draw the same ones).
//!
//! Both implement [`Engine`], which training, evaluation and the benchmarks drive; [`select`]
//! builds the one `--device` asks for ([`device`]: the `--device` and `--threads` flags).

pub mod cpu;
pub mod device;
pub mod gpu;
pub mod layout;
pub mod optim;
pub mod packed;
pub mod rng;
pub mod scalar;
pub mod strided;

use crate::model::{Batch, ModelConfig, Params};
use cpu::CpuEngine;
pub use device::{ComputeArgs, Device};
use optim::AdamState;

/// The hyper-parameters of one training step.
#[derive(Debug, Clone, Copy)]
pub struct StepConfig {
    /// Learning rate.
    pub lr: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Global gradient-norm clip (0: none).
    pub grad_clip: f64,
    /// Masked MSE (else the plain mean over all steps).
    pub use_masking: bool,
    /// The run's seed (dropout masks).
    pub seed: u64,
}

/// Training figures summed over the steps since they were last taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainSums {
    /// Sum of the batches' losses.
    pub loss: f64,
    /// Number of batches.
    pub batches: u64,
    /// Sum of |prediction - target| over valid steps, in normalized units.
    pub abs_error: f64,
    /// Number of valid steps.
    pub valid_steps: f64,
}

impl std::ops::AddAssign for TrainSums {
    fn add_assign(&mut self, other: TrainSums) {
        self.loss += other.loss;
        self.batches += other.batches;
        self.abs_error += other.abs_error;
        self.valid_steps += other.valid_steps;
    }
}

/// What the training workflow needs from an engine.
pub trait Engine {
    /// A description for the log (engine, adapter, backend).
    fn describe(&self) -> String;
    /// One training step: forward, loss, backward, clipping, Adam.
    fn train_step(&mut self, batch: &Batch<f32>, step: &StepConfig) -> anyhow::Result<()>;
    /// The figures summed since the last call, then reset.
    fn take_train_sums(&mut self) -> anyhow::Result<TrainSums>;
    /// Predictions (normalized units, batch-first `[B, T]`) without dropout.
    fn predict(&mut self, batch: &Batch<f32>) -> anyhow::Result<Vec<f32>>;
    /// The current parameters.
    fn params(&self) -> anyhow::Result<Params<f32>>;
    /// The optimizer state.
    fn optimizer(&self) -> anyhow::Result<AdamState<f32>>;
    /// What the last training step issued to a GPU (all zero on the CPU engine).
    fn step_counts(&self) -> StepCounts {
        StepCounts::default()
    }
    /// The adapter's name and backend ("CPU" and "none" for the CPU engine).
    fn adapter(&self) -> (String, String) {
        ("CPU".into(), "none".into())
    }
    /// A line for the log where a batch of `batch` sequences of `steps` steps does not run as
    /// one submit (the GPU engine's micro-batches for batches beyond the adapter's buffers).
    fn batch_note(&self, _batch: usize, _steps: usize) -> Option<String> {
        None
    }
    /// The time each kernel takes within a training step of `batch` (after running one), for
    /// `hrcast bench --profile`; empty where the engine has no kernels (the CPU engine).
    fn profile(
        &mut self,
        _batch: &Batch<f32>,
        _step: &StepConfig,
    ) -> anyhow::Result<Vec<KernelTime>> {
        Ok(Vec::new())
    }
    /// Waits until all submitted work is done (for timing; reads nothing back).
    fn finish(&self) -> anyhow::Result<()> {
        Ok(())
    }
    /// The best f32 GEMM rate this engine's device reaches, GFLOP/s, on an `n × n × n`
    /// product timed `repeats` times after a warm-up.
    fn gemm_gflops(&self, n: usize, repeats: usize) -> anyhow::Result<f64>;
}

/// One kernel's part of a training step: its dispatches, submitted alone and waited for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KernelTime {
    /// The kernel's entry point (`shaders/`).
    pub kernel: String,
    /// Its dispatches in one step.
    pub dispatches: usize,
    /// Milliseconds they take together.
    pub ms: f64,
}

/// What one training step issues to a GPU, counted by the engine as it records the step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepCounts {
    /// Compute dispatches.
    pub dispatches: usize,
    /// Queue submits.
    pub submits: usize,
    /// Buffers read back to the host.
    pub readbacks: usize,
}

/// Builds the engine `device` asks for, with these parameters and optimizer state. Returns the
/// engine and a line for the log saying what was picked and why, such as "device auto: CPU
/// engine (...), as the only adapter, llvmpipe (...) (Vulkan), is a software rasterizer, ...".
pub fn select(
    device: Device,
    config: &ModelConfig,
    params: Params<f32>,
    adam: AdamState<f32>,
) -> anyhow::Result<(Box<dyn Engine>, String)> {
    use anyhow::Context;
    let on_gpu = |gpu: gpu::Gpu| -> anyhow::Result<Box<dyn Engine>> {
        Ok(Box::new(gpu::engine::GpuEngine::new(
            gpu, config, &params, &adam,
        )?))
    };
    // The CPU engine, with the log line: `prefix`, the engine's description, then `why`.
    let on_cpu = |params: Params<f32>, adam: AdamState<f32>, prefix: &str, why: &str| {
        let cpu = CpuEngine::new(config.clone(), params, adam);
        let line = format!("{prefix}{}{why}", cpu.describe());
        Ok((Box::new(cpu) as Box<dyn Engine>, line))
    };
    match device {
        Device::Gpu(index) => {
            let engine = gpu::Gpu::open_index(index.unwrap_or(0))
                .and_then(on_gpu)
                .with_context(|| format!("--device {device}"))?;
            let why = format!("device {device}: {}", engine.describe());
            Ok((engine, why))
        }
        Device::Auto => {
            let mut found = gpu::adapters();
            let infos: Vec<wgpu::AdapterInfo> = found.iter().map(wgpu::Adapter::get_info).collect();
            let best = match gpu::auto_choice(&infos) {
                gpu::AutoChoice::Gpu(i) => found.swap_remove(i),
                gpu::AutoChoice::Cpu(why) => {
                    let backend = if infos.is_empty() {
                        gpu::backend_note()
                    } else {
                        String::new()
                    };
                    let why = format!(", as {why}{backend}");
                    return on_cpu(params, adam, "device auto: ", &why);
                }
            };
            let name = best.get_info().name;
            match gpu::Gpu::open(best).and_then(on_gpu) {
                Ok(engine) => {
                    let why = format!("device auto: {}", engine.describe());
                    Ok((engine, why))
                }
                Err(err) => {
                    let why =
                        format!(", as the GPU engine cannot run this model on {name} ({err:#})");
                    on_cpu(params, adam, "device auto: ", &why)
                }
            }
        }
        Device::Cpu => on_cpu(params, adam, "device cpu: ", ""),
    }
}
