//! Checkpoints (SPEC §6): one safetensors file with the parameters under PyTorch's state_dict
//! names, Adam's moments as `optim.exp_avg.<name>` and `optim.exp_avg_sq.<name>`, and metadata:
//! `format` = [`CHECKPOINT_FORMAT`], `config` and `normalization` (JSON), `epoch`, `step`,
//! `val_loss`, `val_mae`, `lr`, `seed`, plus hrcast's own `interval_s` (the data's grid) and
//! `train_state` (JSON: what `--resume` needs to continue a run exactly).

use crate::atomic;
use crate::engine::cpu::optim::AdamState;
use crate::model::{ModelConfig, Normalization, Params};
use anyhow::{Context, Result, anyhow, ensure};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

/// The `format` metadata of a checkpoint.
pub const CHECKPOINT_FORMAT: &str = "hrcast-checkpoint/1";

/// A saved model, optionally with its optimizer and training state.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The architecture.
    pub config: ModelConfig,
    /// Z-scoring statistics the weights are tied to.
    pub normalization: Normalization,
    /// The weights.
    pub params: Params<f32>,
    /// Adam's moments and step count, if saved.
    pub optimizer: Option<AdamState<f32>>,
    /// Epochs completed.
    pub epoch: u64,
    /// Optimizer steps taken.
    pub step: u64,
    /// Validation loss at save time.
    pub val_loss: f64,
    /// Validation MAE (bpm) at save time.
    pub val_mae: f64,
    /// Learning rate at save time.
    pub lr: f64,
    /// The run's seed.
    pub seed: u64,
    /// Grid interval of the data, seconds.
    pub interval_s: f64,
    /// Training state for `--resume` (JSON), if any.
    pub train_state: Option<String>,
}

fn f32_view<'a>(values: &'a [f32], shape: &[usize]) -> Result<TensorView<'a>> {
    Ok(TensorView::new(
        Dtype::F32,
        shape.to_vec(),
        bytemuck::cast_slice(values),
    )?)
}

impl Checkpoint {
    /// The safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let p = &self.params;
        let mut tensors: Vec<(String, TensorView)> = Vec::new();
        for (i, ((name, shape), values)) in p.names.iter().zip(&p.shapes).zip(&p.values).enumerate()
        {
            tensors.push((name.clone(), f32_view(values, shape)?));
            if let Some(o) = &self.optimizer {
                tensors.push((
                    format!("optim.exp_avg.{name}"),
                    f32_view(&o.exp_avg[i], shape)?,
                ));
                tensors.push((
                    format!("optim.exp_avg_sq.{name}"),
                    f32_view(&o.exp_avg_sq[i], shape)?,
                ));
            }
        }
        let mut meta = HashMap::from([
            ("format".to_string(), CHECKPOINT_FORMAT.to_string()),
            ("config".to_string(), serde_json::to_string(&self.config)?),
            (
                "normalization".to_string(),
                serde_json::to_string(&self.normalization)?,
            ),
            ("epoch".to_string(), self.epoch.to_string()),
            ("step".to_string(), self.step.to_string()),
            ("val_loss".to_string(), self.val_loss.to_string()),
            ("val_mae".to_string(), self.val_mae.to_string()),
            ("lr".to_string(), self.lr.to_string()),
            ("seed".to_string(), self.seed.to_string()),
            ("interval_s".to_string(), self.interval_s.to_string()),
        ]);
        if let Some(state) = &self.train_state {
            meta.insert("train_state".to_string(), state.clone());
        }
        Ok(safetensors::serialize(tensors, Some(meta))?)
    }

    /// Writes the checkpoint atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        atomic::write(path, self.to_bytes()?)
    }

    /// Reads and checks a checkpoint.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
        Checkpoint::from_bytes(&bytes)
            .with_context(|| format!("{} is not a usable hrcast checkpoint", path.display()))
    }

    /// Parses and checks checkpoint bytes: format, configuration, and every tensor's shape.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint> {
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| anyhow!("not a safetensors file: {e}"))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |key: &str| {
            meta.get(key)
                .ok_or_else(|| anyhow!("metadata {key:?} is missing"))
        };
        let format = get("format")?;
        ensure!(
            format == CHECKPOINT_FORMAT,
            "its format is {format:?}, expected {CHECKPOINT_FORMAT:?}"
        );
        let config: ModelConfig =
            serde_json::from_str(get("config")?).context("metadata \"config\"")?;
        let normalization: Normalization =
            serde_json::from_str(get("normalization")?).context("metadata \"normalization\"")?;
        ensure!(
            config.input_size == config.features.len()
                && normalization.feature_mean.len() == config.input_size
                && normalization.feature_std.len() == config.input_size,
            "config and normalization disagree on the number of input features"
        );
        ensure!(
            config.hidden_size > 0 && config.num_layers > 0,
            "config has an empty model"
        );
        let number = |key: &str| -> Result<f64> {
            get(key)?
                .parse::<f64>()
                .map_err(|_| anyhow!("metadata {key:?} is not a number"))
        };
        let tensors = SafeTensors::deserialize(bytes)?;
        let read = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let view = tensors
                .tensor(name)
                .map_err(|_| anyhow!("tensor {name:?} is missing"))?;
            ensure!(
                view.dtype() == Dtype::F32,
                "tensor {name:?} is {:?}, expected F32",
                view.dtype()
            );
            ensure!(
                view.shape() == shape,
                "tensor {name:?} has shape {:?}, but the config needs {shape:?}",
                view.shape()
            );
            Ok(bytemuck::pod_collect_to_vec(view.data()))
        };
        let mut params = Params::zeros(&config);
        for i in 0..params.names.len() {
            params.values[i] = read(&params.names[i], &params.shapes[i])?;
        }
        let has_optimizer = tensors.names().iter().any(|n| n.starts_with("optim."));
        let optimizer = if has_optimizer {
            let mut state = AdamState::new(params.values.iter().map(Vec::len));
            state.step = number("step")? as u64;
            for (i, (name, shape)) in params.names.iter().zip(&params.shapes).enumerate() {
                state.exp_avg[i] = read(&format!("optim.exp_avg.{name}"), shape)?;
                state.exp_avg_sq[i] = read(&format!("optim.exp_avg_sq.{name}"), shape)?;
            }
            Some(state)
        } else {
            None
        };
        let interval_s = meta
            .get("interval_s")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5.0);
        ensure!(interval_s > 0.0, "metadata \"interval_s\" must be positive");
        Ok(Checkpoint {
            config,
            normalization,
            params,
            optimizer,
            epoch: number("epoch")? as u64,
            step: number("step")? as u64,
            val_loss: number("val_loss")?,
            val_mae: number("val_mae")?,
            lr: number("lr")?,
            seed: number("seed")? as u64,
            interval_s,
            train_state: meta.get("train_state").cloned(),
        })
    }
}
