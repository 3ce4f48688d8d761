//! [`GpuEngine`]: the engine's lifecycle and its [`Engine`] impl. The model's parameters,
//! gradients and Adam moments live in GPU buffers, flat in state_dict order
//! ([`Persistent`]). For each batch shape a [`Plan`] holds the activation buffers and the
//! dispatches of one training step (or one evaluation); a step uploads the batch and the step's
//! uniform, records the dispatches in one compute pass and submits, reading nothing back. Loss
//! and MAE sums accumulate on the GPU and are read once per epoch. A batch too large for the
//! adapter's buffers runs as micro-batches ([`micro_batch`]); [`Engine::batch_note`] says so.

use super::buffers::{F32, Persistent, Shape, storage, storage_init};
use super::kernels::*;
use super::params::ParamOffsets;
use super::plan::{self, Context, Plan};
use super::recorder::{Dispatch, Gemm, Recorder, op, submit};
use super::uniforms::Step;
use super::variant::{self, Origin, Variant};
use super::{Gpu, micro_batch};
use crate::engine::optim::AdamState;
use crate::engine::{Engine, KernelTime, StepConfig, StepCounts, TrainSums};
use crate::model::{Batch, ModelConfig, Params};
use anyhow::{Result, bail, ensure};
use std::collections::HashMap;
use std::ops::Range;

/// Plans kept at once: evaluation's full and last, partial batch, and training's, at each of up
/// to four batch lengths (`train --length-buckets` cuts batches to the window length halved up
/// to three times). The halvings together hold at most as many steps again as the full length.
const MAX_PLANS: usize = 10;

/// The GPU engine.
pub struct GpuEngine {
    gpu: Gpu,
    kernels: Kernels,
    /// Why the kernels run the variant they run (forced, tuned or the adapter's default).
    origin: Origin,
    config: ModelConfig,
    names: Vec<String>,
    offsets: ParamOffsets,
    buffers: Persistent,
    adam_step: u64,
    plans: HashMap<Shape, Plan>,
    /// Clipping and Adam: the dispatches that end every training step.
    update: Vec<Dispatch>,
    last_counts: StepCounts,
}

impl GpuEngine {
    /// Uploads a model and its optimizer state to `gpu`, with the kernel variant
    /// [`variant::choose`] picks for the adapter. Fails with a clear message where the model
    /// does not fit the kernels or the adapter.
    pub fn new(
        gpu: Gpu,
        config: &ModelConfig,
        params: &Params<f32>,
        adam: &AdamState<f32>,
    ) -> Result<GpuEngine> {
        let (variant, origin) = variant::choose(&gpu.info, config.hidden_size)?;
        GpuEngine::with_variant(gpu, (variant, origin), config, params, adam)
    }

    /// [`GpuEngine::new`] with a given kernel variant and the reason it is used.
    pub fn with_variant(
        gpu: Gpu,
        (variant, origin): (Variant, Origin),
        config: &ModelConfig,
        params: &Params<f32>,
        adam: &AdamState<f32>,
    ) -> Result<GpuEngine> {
        ensure!(
            config.hidden_size <= MAX_HIDDEN,
            "hidden size {} exceeds the GPU engine's maximum of {MAX_HIDDEN}; use --device cpu",
            config.hidden_size
        );
        ensure!(
            config.num_layers <= MAX_LAYERS,
            "{} layers exceed the GPU engine's maximum of {MAX_LAYERS}; use --device cpu",
            config.num_layers
        );
        let offsets = ParamOffsets::new(config);
        let total = offsets.total;
        // grad_norm sums the gradients with one workgroup: n / 256 iterations per invocation.
        let max_params = LOOP_BUDGET * ELEMENTWISE_WG as usize;
        ensure!(
            total <= max_params,
            "the model has {total} parameters, more than the GPU engine's {max_params}; use fewer \
             layers, a smaller hidden size or --device cpu"
        );
        let kernels = Kernels::new(&gpu, variant, config.hidden_size)?;
        let buffers = Persistent::new(
            &gpu,
            &params.values.concat(),
            &adam.exp_avg.concat(),
            &adam.exp_avg_sq.concat(),
        );
        let mut engine = GpuEngine {
            kernels,
            origin,
            config: config.clone(),
            names: params.names.clone(),
            offsets,
            buffers,
            adam_step: adam.step,
            plans: HashMap::new(),
            update: Vec::new(),
            last_counts: StepCounts::default(),
            gpu,
        };
        engine.update = plan::update(&engine.context());
        Ok(engine)
    }

    /// What plans are recorded against.
    fn context(&self) -> Context<'_> {
        Context {
            gpu: &self.gpu,
            kernels: &self.kernels,
            config: &self.config,
            offsets: &self.offsets,
            persistent: &self.buffers,
        }
    }

    /// The micro-batches of a batch of `batch` × `steps` on this adapter.
    fn micro_batches(&self, batch: usize, steps: usize) -> Result<Vec<Range<usize>>> {
        micro_batch::micro_batches(&self.config, &self.gpu.limits, batch, steps)
    }

    /// Makes the plan of `shape` unless there is one. An evaluation uses at most two shapes (the
    /// full batch and the last, partial one), training at most two per batch length; more than
    /// MAX_PLANS means the shapes changed: the old ones are freed.
    fn prepare(&mut self, shape: Shape) -> Result<()> {
        if !self.plans.contains_key(&shape) {
            if self.plans.len() >= MAX_PLANS {
                self.plans.clear();
            }
            let plan = self.gpu.checked("preparing the GPU buffers", || {
                Plan::new(&self.context(), shape)
            })?;
            self.plans.insert(shape, plan);
        }
        Ok(())
    }

    /// Uploads sequences `seqs` of a batch and submits their plan's dispatches, preceded by
    /// clearing the gradients (`clear_grads`) and followed by the update (`update`); returns
    /// the plan's shape.
    fn run(
        &mut self,
        batch: &Batch<f32>,
        seqs: Range<usize>,
        (training, use_masking): (bool, bool),
        clear_grads: bool,
        update: bool,
    ) -> Result<Shape> {
        let (b, t) = (seqs.len(), batch.steps);
        let shape = Shape {
            batch: b,
            steps: t,
            training,
            use_masking,
        };
        self.prepare(shape)?;
        let inputs = &self.plans[&shape].acts.inputs;
        let q = &self.gpu.queue;
        let time_major = |values: &[f32], width: usize| {
            let part = &values[seqs.start * t * width..seqs.end * t * width];
            crate::engine::layout::to_time_major(part, b, t, width)
        };
        let write = |buffer: &wgpu::Buffer, values: Vec<f32>| {
            q.write_buffer(buffer, 0, bytemuck::cast_slice(&values));
        };
        write(&inputs.x, time_major(&batch.x, batch.inputs));
        write(&inputs.y, time_major(&batch.y, 1));
        write(&inputs.mask, time_major(&batch.mask, 1));
        let lengths: Vec<u32> = batch.lengths[seqs].iter().map(|&l| l as u32).collect();
        q.write_buffer(&inputs.lengths, 0, bytemuck::cast_slice(&lengths));
        let after: &[Dispatch] = if update { &self.update } else { &[] };
        let clear = clear_grads.then_some(&self.buffers.grads);
        let dispatches = self.plans[&shape].dispatches.iter().chain(after);
        submit(&self.gpu, &self.kernels, clear, dispatches);
        Ok(shape)
    }

    /// Submits, alone, the dispatches of `kernel` in a training step of `batch`'s shape (the
    /// first micro-batch's plan), on the buffers the last step left, and waits; returns how
    /// many there were. Run a training step of this shape first. For profiling and benches:
    /// after it the engine's state is whatever those dispatches made of it.
    pub fn run_kernel(&self, batch: &Batch<f32>, masking: bool, kernel: Kernel) -> Result<usize> {
        let shape = Shape {
            batch: self.micro_batches(batch.batch, batch.steps)?[0].len(),
            steps: batch.steps,
            training: true,
            use_masking: masking,
        };
        let Some(plan) = self.plans.get(&shape) else {
            bail!("run_kernel: no training step of this shape has run yet");
        };
        let dispatches: Vec<&Dispatch> = plan
            .dispatches
            .iter()
            .chain(&self.update)
            .filter(|d| d.kernel == kernel)
            .collect();
        submit(&self.gpu, &self.kernels, None, dispatches.iter().copied());
        self.finish()?;
        Ok(dispatches.len())
    }

    /// The gradients of the last training step (state_dict order, before clipping), read
    /// back: for tests and inspection, never on the training path.
    pub fn gradients(&self) -> Result<Vec<Vec<f32>>> {
        self.read_tensors(&self.buffers.grads)
    }

    /// `floats` values of `buffer`, read back.
    fn read_f32(&self, buffer: &wgpu::Buffer, floats: usize) -> Result<Vec<f32>> {
        Ok(bytemuck::pod_collect_to_vec(
            &self.gpu.read(buffer, floats as u64 * F32)?,
        ))
    }

    /// A flat parameter-shaped buffer, read back and split into tensors.
    fn read_tensors(&self, buffer: &wgpu::Buffer) -> Result<Vec<Vec<f32>>> {
        let flat = self.read_f32(buffer, self.offsets.total)?;
        Ok(self.offsets.unflatten(&flat))
    }

    /// The step uniform of the next step, before the micro-batch fields.
    fn step_uniform(&self, batch: &Batch<f32>, step: &StepConfig) -> Step {
        // 1 / Σ w of the whole batch, the loss's normalization in every micro-batch.
        let weight: f64 = if step.use_masking {
            batch.mask.iter().map(|&m| f64::from(m)).sum()
        } else {
            (batch.batch * batch.steps) as f64
        };
        Step {
            inv_weight: if weight > 0.0 {
                (1.0 / weight) as f32
            } else {
                0.0
            },
            ..Step::new(step, self.adam_step, self.config.dropout)
        }
    }
}

impl Engine for GpuEngine {
    fn describe(&self) -> String {
        format!(
            "GPU engine on {} ({}); {}",
            super::describe(&self.gpu.info),
            if super::is_software(&self.gpu.info) {
                "software adapter"
            } else {
                "hardware adapter"
            },
            self.kernels.variant().describe(&self.origin)
        )
    }

    fn train_step(&mut self, batch: &Batch<f32>, step: &StepConfig) -> Result<()> {
        self.adam_step += 1;
        let uniform = self.step_uniform(batch, step);
        let parts = self.micro_batches(batch.batch, batch.steps)?;
        let last = parts.len() - 1;
        let mut dispatches = 0;
        for (i, seqs) in parts.iter().enumerate() {
            let uniform = Step {
                first_sequence: seqs.start as u32,
                batches: if i == 0 { 1.0 } else { 0.0 },
                ..uniform
            };
            // Each submit sees the uniform written just before it (writes are ordered with
            // submits), so every micro-batch has its own.
            self.gpu
                .queue
                .write_buffer(&self.buffers.step, 0, bytemuck::bytes_of(&uniform));
            let modes = (true, step.use_masking);
            let shape = self.run(batch, seqs.clone(), modes, i == 0, i == last)?;
            dispatches += self.plans[&shape].dispatches.len();
        }
        self.last_counts = StepCounts {
            dispatches: dispatches + self.update.len(),
            submits: parts.len(),
            readbacks: 0,
        };
        Ok(())
    }

    fn take_train_sums(&mut self) -> Result<TrainSums> {
        let s = self.read_f32(&self.buffers.sums, 4)?;
        self.gpu
            .queue
            .write_buffer(&self.buffers.sums, 0, bytemuck::cast_slice(&[0.0f32; 4]));
        Ok(TrainSums {
            loss: f64::from(s[0]),
            batches: s[1] as u64,
            abs_error: f64::from(s[2]),
            valid_steps: f64::from(s[3]),
        })
    }

    fn predict(&mut self, batch: &Batch<f32>) -> Result<Vec<f32>> {
        let mut pred = Vec::with_capacity(batch.batch * batch.steps);
        for seqs in self.micro_batches(batch.batch, batch.steps)? {
            let b = seqs.len();
            let shape = self.run(batch, seqs, (false, true), false, false)?;
            let part = self.read_f32(&self.plans[&shape].acts.pred, b * batch.steps)?;
            pred.extend(crate::engine::layout::to_batch_first(
                &part,
                b,
                batch.steps,
                1,
            ));
        }
        Ok(pred)
    }

    fn params(&self) -> Result<Params<f32>> {
        Ok(Params {
            names: self.names.clone(),
            shapes: self
                .config
                .param_layout()
                .into_iter()
                .map(|(_, s)| s)
                .collect(),
            values: self.read_tensors(&self.buffers.params)?,
        })
    }

    fn step_counts(&self) -> StepCounts {
        self.last_counts
    }

    fn adapter(&self) -> (String, String) {
        (
            self.gpu.info.name.clone(),
            format!("{:?}", self.gpu.info.backend).to_lowercase(),
        )
    }

    fn batch_note(&self, batch: usize, steps: usize) -> Option<String> {
        micro_batch::note(&self.config, &self.gpu.limits, batch, steps)
    }

    fn profile(&mut self, batch: &Batch<f32>, step: &StepConfig) -> Result<Vec<KernelTime>> {
        self.train_step(batch, step)?;
        self.finish()?;
        let mut times = Vec::new();
        for kernel in Kernel::ALL {
            let start = std::time::Instant::now();
            let dispatches = self.run_kernel(batch, step.use_masking, kernel)?;
            if dispatches > 0 {
                times.push(KernelTime {
                    kernel: self.kernels.entry(kernel).to_string(),
                    dispatches,
                    ms: start.elapsed().as_secs_f64() * 1e3,
                });
            }
        }
        times.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        Ok(times)
    }

    fn finish(&self) -> Result<()> {
        self.gpu
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| anyhow::anyhow!("waiting for the GPU failed (device lost?): {e}"))?;
        Ok(())
    }

    fn gemm_gflops(&self, n: usize, repeats: usize) -> Result<f64> {
        let values: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
        let a = storage_init(&self.gpu, "gemm a", &values);
        let c = storage(&self.gpu, "gemm c", n * n);
        let mut rec = Recorder::new(&self.gpu, &self.kernels);
        rec.matmul(&Gemm::new(
            (n, n, n),
            op(&a, 0, n, 1),
            op(&a, 0, 1, n),
            op(&c, 0, n, 1),
        ));
        let dispatches = rec.finish();
        let run = || {
            submit(&self.gpu, &self.kernels, None, &dispatches);
            self.finish()
        };
        run()?;
        let mut best = f64::MAX;
        for _ in 0..repeats {
            let start = std::time::Instant::now();
            run()?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok(2.0 * (n as f64).powi(3) / best / 1e9)
    }

    fn optimizer(&self) -> Result<AdamState<f32>> {
        Ok(AdamState {
            step: self.adam_step,
            exp_avg: self.read_tensors(&self.buffers.m)?,
            exp_avg_sq: self.read_tensors(&self.buffers.v)?,
        })
    }
}
