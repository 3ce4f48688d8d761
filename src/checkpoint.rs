//! Checkpoints (docs/formats.md): one safetensors file with the parameters under PyTorch's state_dict
//! names, Adam's moments as `optim.exp_avg.<name>` and `optim.exp_avg_sq.<name>`, and metadata:
//! `format` = [`CHECKPOINT_FORMAT`], `config` and `normalization` (JSON), `epoch`, `step`,
//! `val_loss`, `val_mae`, `lr`, `seed`, plus hrcast's own `interval_s` (the data's grid, 5 s when
//! absent), `seq_len` (the training windows' length, [`DEFAULT_SEQ_LEN`] when absent),
//! `train_state` (JSON: what `--resume` needs to continue a run exactly) and `trained_on` (JSON
//! [`TrainedOn`]: the processed-data folder and set the model was trained on, where it was
//! trained on one; what `evaluate` scores by default).
//!
//! Loading checks a checkpoint completely before any of it is used: the configuration (a known
//! cell, known features without duplicates in hrcast's order, `input_size` equal to their
//! number, at least one layer and one hidden unit, dropout in [0, 1)), every tensor's dtype and
//! shape against it, read from the header before anything is allocated (so a configuration
//! larger than the file is refused without allocating it), no tensor the configuration does not
//! describe, finite weights and moments, a finite normalization with positive standard
//! deviations, and metadata numbers in range (`lr` finite and >= 0, `epoch`, `step` and `seed`
//! non-negative integers, `interval_s` and `seq_len` as for data files).

use crate::atomic;
use crate::data::read_regular;
use crate::dataset::{check_interval_s, check_seq_len};
use crate::engine::optim::AdamState;
use crate::engine::{self, Device, Engine};
use crate::features::{INPUT_NAMES, feature_index};
use crate::model::{ModelConfig, Normalization, ParamLayout, Params};
use anyhow::{Context, Result, anyhow, bail, ensure};
use safetensors::tensor::Metadata;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The `format` metadata of a checkpoint.
pub const CHECKPOINT_FORMAT: &str = "hrcast-checkpoint/1";

/// The window length a checkpoint without `seq_len` metadata was trained on (hrcast's default).
pub const DEFAULT_SEQ_LEN: usize = 500;

/// The grid interval of a checkpoint without `interval_s` metadata (hrcast's default).
pub const DEFAULT_INTERVAL_S: f64 = 5.0;

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
    /// Window length (steps) of the data the model was trained on.
    pub seq_len: usize,
    /// Training state for `--resume` (JSON), if any.
    pub train_state: Option<String>,
    /// The processed data the model was trained on, where it was a folder of them.
    pub trained_on: Option<TrainedOn>,
}

/// The processed data a model was trained on (metadata `trained_on`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedOn {
    /// The processed-data folder, as an absolute path.
    pub folder: String,
    /// The set id of its files (empty for files from before set ids).
    pub set_id: String,
}

/// Checks a model configuration read from a checkpoint: known features, each once and in
/// hrcast's order ([`INPUT_NAMES`]), `input_size` equal to their number, a non-empty model and
/// dropout in [0, 1). The cell is known once the configuration parsed.
pub fn check_config(config: &ModelConfig) -> Result<()> {
    ensure!(!config.features.is_empty(), "config lists no feature");
    let mut previous: Option<(usize, &str)> = None;
    for name in &config.features {
        let index = feature_index(name).ok_or_else(|| {
            anyhow!(
                "config lists the unknown feature {name:?}; the features are {}",
                INPUT_NAMES.join(", ")
            )
        })?;
        if let Some((before, before_name)) = previous {
            ensure!(index != before, "config lists the feature {name:?} twice");
            ensure!(
                index > before,
                "config lists the feature {name:?} after {before_name:?}: features must appear \
                 at most once each, in the order {}",
                INPUT_NAMES.join(", ")
            );
        }
        previous = Some((index, name));
    }
    ensure!(
        config.input_size == config.features.len(),
        "config has input_size {} but lists {} features",
        config.input_size,
        config.features.len()
    );
    ensure!(
        config.hidden_size > 0 && config.num_layers > 0,
        "config has an empty model (hidden_size {}, num_layers {})",
        config.hidden_size,
        config.num_layers
    );
    ensure!(
        config.dropout.is_finite() && (0.0..1.0).contains(&config.dropout),
        "config has dropout {}: it must be at least 0 and below 1",
        config.dropout
    );
    Ok(())
}

/// Checks a normalization read from a checkpoint against `input_size` features: one finite mean
/// and one finite positive standard deviation per feature, and likewise for heart rate.
pub fn check_normalization(norm: &Normalization, input_size: usize) -> Result<()> {
    ensure!(
        norm.feature_mean.len() == input_size && norm.feature_std.len() == input_size,
        "normalization has {} feature means and {} standard deviations, but the config has {} \
         input features",
        norm.feature_mean.len(),
        norm.feature_std.len(),
        input_size
    );
    for (j, (mean, std)) in norm.feature_mean.iter().zip(&norm.feature_std).enumerate() {
        ensure!(
            mean.is_finite(),
            "normalization feature_mean[{j}] is {mean}: it must be finite"
        );
        ensure!(
            std.is_finite() && *std > 0.0,
            "normalization feature_std[{j}] is {std}: it must be finite and positive"
        );
    }
    ensure!(
        norm.hr_mean.is_finite(),
        "normalization hr_mean is {}: it must be finite",
        norm.hr_mean
    );
    ensure!(
        norm.hr_std.is_finite() && norm.hr_std > 0.0,
        "normalization hr_std is {}: it must be finite and positive",
        norm.hr_std
    );
    Ok(())
}

/// The parameters' names and shapes that `config` describes, each checked against the file's
/// header (present, F32, same shape) as it is computed, so that nothing larger than the file
/// is ever built. `data_bytes` is the size of the file's tensor data.
fn checked_layout(
    config: &ModelConfig,
    header: &Metadata,
    data_bytes: usize,
) -> Result<Vec<(String, Vec<usize>)>> {
    let overflow = || {
        anyhow!(
            "config has hidden_size {} and num_layers {}: more parameters than a computer can \
             hold",
            config.hidden_size,
            config.num_layers
        )
    };
    let layout = ParamLayout::checked(config).ok_or_else(overflow)?;
    let too_large = || {
        let count = layout.checked_count();
        let fits = count
            .and_then(|c| c.checked_mul(4))
            .is_some_and(|b| b <= data_bytes);
        if fits {
            String::new()
        } else {
            format!(
                " (the config describes {} parameters, more than the file's {data_bytes} bytes \
                 of tensors can hold)",
                count.map_or("too many".to_string(), |c| c.to_string())
            )
        }
    };
    let check = |name: String, shape: Vec<usize>| -> Result<(String, Vec<usize>)> {
        let Some(info) = header.info(&name) else {
            bail!(
                "tensor {name:?} is missing: the config ({} layers of {} hidden units{}) needs \
                 it{}",
                config.num_layers,
                config.hidden_size,
                if config.bidirectional {
                    ", bidirectional"
                } else {
                    ""
                },
                too_large()
            );
        };
        ensure!(
            info.dtype == Dtype::F32,
            "tensor {name:?} is {:?}, expected F32",
            info.dtype
        );
        ensure!(
            info.shape == shape,
            "tensor {name:?} has shape {:?}, but the config needs {shape:?}{}",
            info.shape,
            too_large()
        );
        Ok((name, shape))
    };
    layout
        .tensors()
        .map(|(name, shape)| check(name, shape))
        .collect()
}

/// The first value of a tensor that is not finite (or, with `non_negative`, is negative).
fn check_tensor(name: &str, values: &[f32], non_negative: bool) -> Result<()> {
    if let Some(i) = values
        .iter()
        .position(|v| !v.is_finite() || (non_negative && *v < 0.0))
    {
        bail!(
            "tensor {name:?} holds {} at index {i}: it must be a finite{} number",
            values[i],
            if non_negative { " non-negative" } else { "" }
        );
    }
    Ok(())
}

fn f32_view<'a>(values: &'a [f32], shape: &[usize]) -> Result<TensorView<'a>> {
    Ok(TensorView::new(
        Dtype::F32,
        shape.to_vec(),
        bytemuck::cast_slice(values),
    )?)
}

/// A checkpoint's metadata, read key by key with errors that name the key.
struct MetadataReader(HashMap<String, String>);

impl MetadataReader {
    /// The text of `key`; an error where it is missing.
    fn get(&self, key: &str) -> Result<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| anyhow!("metadata {key:?} is missing"))
    }

    /// `key` parsed as JSON.
    fn json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        serde_json::from_str(self.get(key)?).with_context(|| format!("metadata {key:?}"))
    }

    /// `key` as a number.
    fn number(&self, key: &str) -> Result<f64> {
        self.get(key)?
            .trim()
            .parse::<f64>()
            .map_err(|_| anyhow!("metadata {key:?} is not a number"))
    }

    /// `key` as a non-negative integer; "3.0", as PyTorch users may write it, is accepted.
    fn count(&self, key: &str) -> Result<u64> {
        let text = self.get(key)?.trim();
        if let Ok(v) = text.parse::<u64>() {
            return Ok(v);
        }
        match text.parse::<f64>() {
            Ok(v) if v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(53) => Ok(v as u64),
            _ => bail!("metadata {key:?} is {text:?}: it must be a non-negative integer"),
        }
    }

    /// The data's grid interval (hrcast's own key; [`DEFAULT_INTERVAL_S`] where absent).
    fn interval_s(&self) -> Result<f64> {
        let interval_s = match self.0.get("interval_s") {
            None => DEFAULT_INTERVAL_S,
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| anyhow!("metadata \"interval_s\" is not a number"))?,
        };
        check_interval_s(interval_s)?;
        Ok(interval_s)
    }

    /// The training window length (hrcast's own key; [`DEFAULT_SEQ_LEN`] where absent).
    fn seq_len(&self) -> Result<usize> {
        let seq_len = match self.0.get("seq_len") {
            None => DEFAULT_SEQ_LEN,
            Some(text) => text.trim().parse().map_err(|_| {
                anyhow!("metadata \"seq_len\" is {text:?}: it must be a whole number of steps")
            })?,
        };
        check_seq_len("metadata \"seq_len\"", seq_len)?;
        Ok(seq_len)
    }

    /// The training state, where present: a JSON object whose learning rate, if any, is a
    /// non-negative number (the rest is checked by `train --resume`).
    fn train_state(&self) -> Result<Option<String>> {
        let Some(state) = self.0.get("train_state") else {
            return Ok(None);
        };
        let value: serde_json::Value =
            serde_json::from_str(state).context("metadata \"train_state\" is not JSON")?;
        ensure!(
            value.is_object(),
            "metadata \"train_state\" is not a JSON object"
        );
        if let Some(lr) = value.get("lr") {
            ensure!(
                lr.as_f64().is_some_and(|v| v.is_finite() && v >= 0.0),
                "metadata \"train_state\" has lr {lr}: a learning rate must be finite and not \
                 negative"
            );
        }
        Ok(Some(state.clone()))
    }
}

/// Checks that the header holds both Adam moments of every parameter (F32, the parameter's
/// shape) where it holds any, and no tensor the config does not describe; returns whether it
/// holds the optimizer's state.
fn check_tensor_names(
    config: &ModelConfig,
    header: &Metadata,
    layout: &[(String, Vec<usize>)],
) -> Result<bool> {
    let has_optimizer = header.offset_keys().iter().any(|n| n.starts_with("optim."));
    let mut expected: HashSet<String> = HashSet::new();
    for (name, shape) in layout {
        expected.insert(name.clone());
        if !has_optimizer {
            continue;
        }
        for moment in ["exp_avg", "exp_avg_sq"] {
            let key = format!("optim.{moment}.{name}");
            let info = header.info(&key).ok_or_else(|| {
                anyhow!(
                    "tensor {key:?} is missing: a checkpoint with optimizer state needs both \
                     moments of every parameter"
                )
            })?;
            ensure!(
                info.dtype == Dtype::F32,
                "tensor {key:?} is {:?}, expected F32",
                info.dtype
            );
            ensure!(
                &info.shape == shape,
                "tensor {key:?} has shape {:?}, but the config needs {shape:?}",
                info.shape
            );
            expected.insert(key);
        }
    }
    if let Some(extra) = header
        .offset_keys()
        .into_iter()
        .find(|n| !expected.contains(n))
    {
        bail!(
            "tensor {extra:?} is not part of the model the config describes ({}, {} layers of {} \
             hidden units, {})",
            config.model.module(),
            config.num_layers,
            config.hidden_size,
            if config.bidirectional {
                "bidirectional"
            } else {
                "unidirectional"
            }
        );
    }
    Ok(has_optimizer)
}

/// One tensor's values, checked finite (and non-negative where `non_negative`).
fn read_tensor(tensors: &SafeTensors, name: &str, non_negative: bool) -> Result<Vec<f32>> {
    let values: Vec<f32> = bytemuck::pod_collect_to_vec(tensors.tensor(name)?.data());
    check_tensor(name, &values, non_negative)?;
    Ok(values)
}

/// The parameters of `layout`, in its (state_dict) order.
fn read_params(tensors: &SafeTensors, layout: &[(String, Vec<usize>)]) -> Result<Params<f32>> {
    let mut params = Params {
        names: Vec::with_capacity(layout.len()),
        shapes: Vec::with_capacity(layout.len()),
        values: Vec::with_capacity(layout.len()),
    };
    for (name, shape) in layout {
        params.values.push(read_tensor(tensors, name, false)?);
        params.names.push(name.clone());
        params.shapes.push(shape.clone());
    }
    Ok(params)
}

/// Adam's moments of the parameters `names` after `step` steps (second moments non-negative).
fn read_moments(tensors: &SafeTensors, names: &[String], step: u64) -> Result<AdamState<f32>> {
    let mut state = AdamState {
        step,
        exp_avg: Vec::with_capacity(names.len()),
        exp_avg_sq: Vec::with_capacity(names.len()),
    };
    for name in names {
        let exp_avg = read_tensor(tensors, &format!("optim.exp_avg.{name}"), false)?;
        let exp_avg_sq = read_tensor(tensors, &format!("optim.exp_avg_sq.{name}"), true)?;
        state.exp_avg.push(exp_avg);
        state.exp_avg_sq.push(exp_avg_sq);
    }
    Ok(state)
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
            ("seq_len".to_string(), self.seq_len.to_string()),
        ]);
        if let Some(state) = &self.train_state {
            meta.insert("train_state".to_string(), state.clone());
        }
        if let Some(data) = &self.trained_on {
            meta.insert("trained_on".to_string(), serde_json::to_string(data)?);
        }
        Ok(safetensors::serialize(tensors, Some(meta))?)
    }

    /// Writes the checkpoint atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        atomic::write(path, self.to_bytes()?)
    }

    /// Reads and checks a checkpoint.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = read_regular(path)
            .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
        Checkpoint::from_bytes(&bytes)
            .with_context(|| format!("{} is not a usable hrcast checkpoint", path.display()))
    }

    /// Parses and checks checkpoint bytes (see the module documentation for what is checked).
    /// Nothing is allocated beyond what the bytes hold.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint> {
        let (header_len, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| anyhow!("not a safetensors file: {e}"))?;
        let meta = MetadataReader(header.metadata().clone().unwrap_or_default());
        let format = meta.get("format")?;
        ensure!(
            format == CHECKPOINT_FORMAT,
            "its format is {format:?}, expected {CHECKPOINT_FORMAT:?}"
        );
        let config: ModelConfig = meta.json("config")?;
        check_config(&config)?;
        let normalization: Normalization = meta.json("normalization")?;
        check_normalization(&normalization, config.input_size)?;
        let (epoch, step, seed) = (
            meta.count("epoch")?,
            meta.count("step")?,
            meta.count("seed")?,
        );
        let lr = meta.number("lr")?;
        ensure!(
            lr.is_finite() && lr >= 0.0,
            "metadata \"lr\" is {lr}: a learning rate must be finite and not negative"
        );
        let (val_loss, val_mae) = (meta.number("val_loss")?, meta.number("val_mae")?);
        let interval_s = meta.interval_s()?;
        let seq_len = meta.seq_len()?;
        let train_state = meta.train_state()?;
        let trained_on = match meta.0.get("trained_on") {
            Some(_) => Some(meta.json::<TrainedOn>("trained_on")?),
            None => None,
        };

        // Every tensor's dtype and shape against the config, from the header, before anything
        // is allocated; then no tensor the config does not describe.
        let data_bytes = bytes.len().saturating_sub(8 + header_len);
        let layout = checked_layout(&config, &header, data_bytes)?;
        let has_optimizer = check_tensor_names(&config, &header, &layout)?;

        let tensors = SafeTensors::deserialize(bytes)?;
        let params = read_params(&tensors, &layout)?;
        let optimizer = if has_optimizer {
            Some(read_moments(&tensors, &params.names, step)?)
        } else {
            None
        };
        Ok(Checkpoint {
            config,
            normalization,
            params,
            optimizer,
            epoch,
            step,
            val_loss,
            val_mae,
            lr,
            seed,
            interval_s,
            seq_len,
            train_state,
            trained_on,
        })
    }
}

/// The engine `device` picks, holding a checkpoint's weights (for evaluation and prediction).
pub fn engine_for(ck: &Checkpoint, device: Device) -> Result<Box<dyn Engine>> {
    let adam = AdamState::for_params(&ck.params);
    Ok(engine::select(device, &ck.config, ck.params.clone(), adam)?.0)
}
