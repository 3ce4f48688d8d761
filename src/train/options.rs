//! The options of `hrcast train` and the model architecture they ask for.

use crate::checkpoint::Checkpoint;
use crate::engine::Device;
use crate::evaluate::non_negative;
use crate::features::{FEATURE_NAMES, FeatureList, feature_names};
use crate::model::{Cell, ModelConfig};
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::str::FromStr;

/// `hrcast train` options (docs/cli.md), defaults of the reference configuration. Architecture
/// flags are optional so that, with `--init` or `--resume`, one that contradicts the
/// checkpoint can be told from one left at its default.
#[derive(Debug, Clone, Args)]
pub struct TrainOptions {
    /// Recurrent cell [default: lstm].
    #[arg(long, value_enum)]
    pub model: Option<Cell>,
    /// Hidden units per direction and layer [default: 128].
    #[arg(long, alias = "hidden_size", value_parser = clap::value_parser!(u32).range(1..))]
    pub hidden_size: Option<u32>,
    /// Recurrent layers [default: 2].
    #[arg(long, alias = "num_layers", value_parser = clap::value_parser!(u32).range(1..))]
    pub num_layers: Option<u32>,
    /// Dropout between recurrent layers.
    #[arg(long, default_value_t = 0.3, value_parser = unit_interval)]
    pub dropout: f64,
    /// Bidirectional recurrent layers.
    #[arg(long)]
    pub bidirectional: bool,
    /// Windows per batch.
    #[arg(long, alias = "batch_size", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Learning rate.
    #[arg(long, default_value_t = 0.0005, value_parser = non_negative)]
    pub lr: f64,
    /// L2 weight decay added to the gradient.
    #[arg(long, alias = "weight_decay", default_value_t = 1e-4, value_parser = non_negative)]
    pub weight_decay: f64,
    /// Global gradient-norm clip (0: none).
    #[arg(long, alias = "grad_clip", default_value_t = 1.0, value_parser = non_negative)]
    pub grad_clip: f64,
    /// Maximum epochs.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub epochs: u32,
    /// Early-stopping patience in epochs.
    #[arg(long, default_value_t = 10)]
    pub patience: u32,
    /// ReduceLROnPlateau factor.
    #[arg(long, alias = "scheduler_factor", default_value_t = 0.5, value_parser = unit_interval)]
    pub scheduler_factor: f64,
    /// ReduceLROnPlateau patience in epochs.
    #[arg(long, alias = "scheduler_patience", default_value_t = 5)]
    pub scheduler_patience: u32,
    /// Masked MSE (true) or the plain mean over all steps (false).
    #[arg(long, alias = "use_masking", default_value_t = true, action = clap::ArgAction::Set)]
    pub use_masking: bool,
    /// Batch windows of similar length together and run each batch only as many steps as its
    /// longest window needs (the window length halved up to three times): for data whose windows
    /// differ in length, such as whole workouts (`prepare --whole-workouts`), where most steps of
    /// a full-length batch are padding. Needs masking.
    #[arg(long, alias = "length_buckets")]
    pub length_buckets: bool,
    /// `all`, a feature set (baseline, lags, derivatives, rolling) or a comma list of names
    /// [default: all].
    #[arg(long, value_parser = FeatureList::from_str)]
    pub features: Option<FeatureList>,
    /// Folder with train/val/test.safetensors [default: DATA/processed if it holds a training
    /// split, else the default synthetic set in DATA/synthetic, generated on first use].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Seed of initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the math runs.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
    /// Start from this checkpoint's weights and normalization (fine-tuning).
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Continue the run saved in this checkpoint (weights, optimizer, scheduler, epoch).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Checkpoint folder.
    #[arg(long, default_value = "checkpoints")]
    pub checkpoints: PathBuf,
    /// Results folder.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Log folder.
    #[arg(long, default_value = "logs")]
    pub logs: PathBuf,
}

/// Parses a flag's value that must be a number in [0, 1) (a dropout, a factor, a share).
pub fn unit_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a number in [0, 1), got {text:?}")),
    }
}

impl TrainOptions {
    /// The flag that named the checkpoint a run starts from (`--resume` or `--init`).
    pub(super) fn checkpoint_flag(&self) -> &'static str {
        if self.resume.is_some() {
            "--resume"
        } else {
            "--init"
        }
    }

    /// The architecture from the flags, or from a checkpoint whose architecture the flags must not
    /// contradict.
    pub(super) fn architecture(&self, from: Option<&Checkpoint>) -> Result<ModelConfig> {
        let features = self.features.as_ref().map(|f| f.0.clone());
        let Some(ck) = from else {
            let features = features.unwrap_or_else(|| (0..FEATURE_NAMES.len()).collect());
            return Ok(ModelConfig {
                model: self.model.unwrap_or(Cell::Lstm),
                input_size: features.len(),
                hidden_size: self.hidden_size.unwrap_or(128) as usize,
                num_layers: self.num_layers.unwrap_or(2) as usize,
                dropout: self.dropout,
                bidirectional: self.bidirectional,
                features: feature_names(&features),
            });
        };
        let c = &ck.config;
        let flag = self.checkpoint_flag();
        let contradiction = |name: &str, given: String, saved: String| -> Result<()> {
            bail!(
                "--{name} {given} contradicts the checkpoint given to {flag}, which has {name} {saved}"
            )
        };
        if let Some(m) = self.model.filter(|m| *m != c.model) {
            contradiction(
                "model",
                format!("{m:?}").to_lowercase(),
                c.model.module().into(),
            )?;
        }
        if let Some(h) = self.hidden_size.filter(|h| *h as usize != c.hidden_size) {
            contradiction("hidden-size", h.to_string(), c.hidden_size.to_string())?;
        }
        if let Some(l) = self.num_layers.filter(|l| *l as usize != c.num_layers) {
            contradiction("num-layers", l.to_string(), c.num_layers.to_string())?;
        }
        if self.bidirectional && !c.bidirectional {
            contradiction(
                "bidirectional",
                "(set)".into(),
                "a unidirectional model".into(),
            )?;
        }
        if let Some(f) = features {
            let names = feature_names(&f);
            if names != c.features {
                contradiction("features", names.join(","), c.features.join(","))?;
            }
        }
        Ok(ModelConfig {
            dropout: self.dropout,
            ..c.clone()
        })
    }
}
