//! [`CpuEngine`]: the CPU engine behind the [`Engine`] trait, in f32: the hand-written forward
//! and backward passes of [`super::network`] on a [`Workspace`] kept from step to step, then
//! clipping and Adam of [`crate::engine::optim`].

use super::workspace::Workspace;
use crate::engine::optim::{AdamConfig, AdamState, clip_grad_norm};
use crate::engine::scalar::Scalar;
use crate::engine::{Engine, StepConfig, TrainSums};
use crate::model::{Batch, ModelConfig, Params};

/// The CPU engine as an [`Engine`], in f32.
pub struct CpuEngine {
    config: ModelConfig,
    params: Params<f32>,
    adam: AdamState<f32>,
    sums: TrainSums,
    /// The buffers of the training passes, sized by the first batch and reused.
    workspace: Workspace<f32>,
    /// The buffers of the predictions, apart so that evaluation batches of another shape do not
    /// make the training buffers reallocate.
    predict_workspace: Workspace<f32>,
    /// The last training step's predictions, batch-first.
    pred: Vec<f32>,
}

impl CpuEngine {
    /// An engine holding these parameters and optimizer state.
    pub fn new(config: ModelConfig, params: Params<f32>, adam: AdamState<f32>) -> Self {
        CpuEngine {
            config,
            params,
            adam,
            sums: TrainSums::default(),
            workspace: Workspace::default(),
            predict_workspace: Workspace::default(),
            pred: Vec::new(),
        }
    }
}

impl Engine for CpuEngine {
    fn describe(&self) -> String {
        let threads = match crate::engine::device::threads() {
            1 => "1 thread".to_string(),
            n => format!("{n} threads"),
        };
        format!("CPU engine (f32, hand-written BPTT, {threads} over the batch)")
    }

    fn train_step(&mut self, batch: &Batch<f32>, step: &StepConfig) -> anyhow::Result<()> {
        let dropout = Some(super::DropoutStep {
            seed: step.seed,
            step: self.adam.step + 1,
        });
        let ws = &mut self.workspace;
        let loss = ws.train(&self.config, &self.params, batch, step.use_masking, dropout);
        if step.grad_clip > 0.0 {
            clip_grad_norm(ws.gradients_mut(), step.grad_clip);
        }
        self.adam.step(
            &AdamConfig::new(step.lr, step.weight_decay),
            &mut self.params.values,
            ws.gradients(),
        );
        ws.predictions_into(&mut self.pred);
        self.sums.loss += f64::from(loss);
        self.sums.batches += 1;
        for ((p, y), m) in self.pred.iter().zip(&batch.y).zip(&batch.mask) {
            if *m > 0.0 {
                self.sums.abs_error += f64::from((p - y).abs());
                self.sums.valid_steps += 1.0;
            }
        }
        Ok(())
    }

    fn take_train_sums(&mut self) -> anyhow::Result<TrainSums> {
        Ok(std::mem::take(&mut self.sums))
    }

    fn predict(&mut self, batch: &Batch<f32>) -> anyhow::Result<Vec<f32>> {
        Ok(self
            .predict_workspace
            .predict(&self.config, &self.params, batch))
    }

    fn params(&self) -> anyhow::Result<Params<f32>> {
        Ok(self.params.clone())
    }

    fn optimizer(&self) -> anyhow::Result<AdamState<f32>> {
        Ok(self.adam.clone())
    }

    fn gemm_gflops(&self, n: usize, repeats: usize) -> anyhow::Result<f64> {
        let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; n * n];
        f32::gemm(n, n, n, &a, false, &a, true, 0.0, &mut c);
        let mut best = f64::MAX;
        for _ in 0..repeats {
            let start = std::time::Instant::now();
            f32::gemm(n, n, n, &a, false, &a, true, 0.0, &mut c);
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok(2.0 * (n as f64).powi(3) / best / 1e9)
    }
}
