//! What a training run is asked to do, as plain values: [`TrainConfig`], whose defaults are the
//! reference configuration (and `hrcast train`'s flags' defaults), and the model architecture it
//! asks for.

use crate::atomic;
use crate::checkpoint::Checkpoint;
use crate::engine::Device;
use crate::features::{FEATURE_NAMES, feature_names};
use crate::model::{Cell, HrLevel, ModelConfig};
use anyhow::{Result, bail, ensure};
use std::path::{Path, PathBuf};

/// The model a run asks for. The fields other than dropout are optional so that, starting from a
/// checkpoint, one that contradicts it can be told from one left unset.
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    /// Recurrent cell [default: LSTM].
    pub model: Option<Cell>,
    /// Hidden units per direction and layer [default: 128].
    pub hidden_size: Option<usize>,
    /// Recurrent layers [default: 2].
    pub num_layers: Option<usize>,
    /// Dropout between recurrent layers.
    pub dropout: f64,
    /// Bidirectional recurrent layers.
    pub bidirectional: bool,
    /// Input indices (features, then person inputs) [default: all].
    pub features: Option<Vec<usize>>,
}

impl Default for Architecture {
    fn default() -> Self {
        Architecture {
            model: None,
            hidden_size: None,
            num_layers: None,
            dropout: 0.3,
            bidirectional: false,
            features: None,
        }
    }
}

/// Where a run starts from, other than a new model.
#[derive(Debug, Clone, PartialEq)]
pub enum StartFrom {
    /// This checkpoint's weights and normalization (fine-tuning; `--init`).
    Init(PathBuf),
    /// The run saved in this checkpoint: weights, optimizer, scheduler, epoch (`--resume`).
    Resume(PathBuf),
}

impl StartFrom {
    /// The checkpoint.
    pub fn path(&self) -> &Path {
        match self {
            StartFrom::Init(path) | StartFrom::Resume(path) => path,
        }
    }

    /// The flag that names it.
    pub fn flag(&self) -> &'static str {
        match self {
            StartFrom::Init(_) => "--init",
            StartFrom::Resume(_) => "--resume",
        }
    }
}

/// The folders a run writes into.
#[derive(Debug, Clone, PartialEq)]
pub struct Folders {
    /// best_model.safetensors and last.safetensors.
    pub checkpoints: PathBuf,
    /// training_curves.png.
    pub results: PathBuf,
    /// `training_<date>_<time>.log`.
    pub logs: PathBuf,
}

impl Folders {
    /// Everything in `dir`.
    pub fn all_in(dir: &Path) -> Folders {
        Folders {
            checkpoints: dir.to_path_buf(),
            results: dir.to_path_buf(),
            logs: dir.to_path_buf(),
        }
    }
}

impl Default for Folders {
    fn default() -> Self {
        Folders {
            checkpoints: "checkpoints".into(),
            results: "results".into(),
            logs: "logs".into(),
        }
    }
}

/// How a run trains (docs/cli.md, `hrcast train`); the defaults are the reference
/// configuration's.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// The model.
    pub architecture: Architecture,
    /// Windows per batch.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f64,
    /// Global gradient-norm clip (0: none).
    pub grad_clip: f64,
    /// Maximum epochs.
    pub epochs: u32,
    /// Early-stopping patience in epochs.
    pub patience: u32,
    /// ReduceLROnPlateau factor.
    pub scheduler_factor: f64,
    /// ReduceLROnPlateau patience in epochs.
    pub scheduler_patience: u32,
    /// Masked MSE (true) or the plain mean over all steps (false).
    pub use_masking: bool,
    /// Batch windows of similar length together, each batch cut to its longest window.
    pub length_buckets: bool,
    /// What a new model's output is measured from (a checkpoint started from keeps its own).
    pub hr_level: HrLevel,
    /// Seed of initialisation, shuffling and dropout.
    pub seed: u64,
    /// Where the math runs.
    pub device: Device,
    /// A checkpoint to start from, if any.
    pub start: Option<StartFrom>,
    /// Where the checkpoints, curves and log go.
    pub folders: Folders,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            architecture: Architecture::default(),
            batch_size: 16,
            lr: 0.0005,
            weight_decay: 1e-4,
            grad_clip: 1.0,
            epochs: 100,
            patience: 10,
            scheduler_factor: 0.5,
            scheduler_patience: 5,
            use_masking: true,
            length_buckets: false,
            hr_level: HrLevel::TrainingMean,
            seed: 0,
            device: Device::Auto,
            start: None,
            folders: Folders::default(),
        }
    }
}

impl TrainConfig {
    /// Checks what can be checked before any data is read: the options agree with each other,
    /// and the output folders can be written (they are created).
    pub fn check(&self) -> Result<()> {
        ensure!(
            self.use_masking || !self.length_buckets,
            "--length-buckets needs masking: without it the loss averages over padding too, \
             which cutting padding would change (drop --use-masking false or --length-buckets)"
        );
        atomic::writable_folder(&self.folders.checkpoints, "--checkpoints")?;
        atomic::writable_folder(&self.folders.results, "--results")?;
        atomic::writable_folder(&self.folders.logs, "--logs")
    }

    /// The model: the architecture asked for, or a starting checkpoint's, which it must not
    /// contradict (its dropout is the run's).
    pub fn model(&self, from: Option<&Checkpoint>) -> Result<ModelConfig> {
        let a = &self.architecture;
        let Some(ck) = from else {
            let features = a
                .features
                .clone()
                .unwrap_or_else(|| (0..FEATURE_NAMES.len()).collect());
            return Ok(ModelConfig {
                model: a.model.unwrap_or(Cell::Lstm),
                input_size: features.len(),
                hidden_size: a.hidden_size.unwrap_or(128),
                num_layers: a.num_layers.unwrap_or(2),
                dropout: a.dropout,
                bidirectional: a.bidirectional,
                features: feature_names(&features),
            });
        };
        let c = &ck.config;
        let flag = self.start.as_ref().map_or("--init", StartFrom::flag);
        let contradiction = |name: &str, given: String, saved: String| -> Result<()> {
            bail!(
                "--{name} {given} contradicts the checkpoint given to {flag}, which has {name} {saved}"
            )
        };
        if let Some(m) = a.model.filter(|m| *m != c.model) {
            contradiction(
                "model",
                format!("{m:?}").to_lowercase(),
                c.model.module().into(),
            )?;
        }
        if let Some(h) = a.hidden_size.filter(|h| *h != c.hidden_size) {
            contradiction("hidden-size", h.to_string(), c.hidden_size.to_string())?;
        }
        if let Some(l) = a.num_layers.filter(|l| *l != c.num_layers) {
            contradiction("num-layers", l.to_string(), c.num_layers.to_string())?;
        }
        if a.bidirectional && !c.bidirectional {
            contradiction(
                "bidirectional",
                "(set)".into(),
                "a unidirectional model".into(),
            )?;
        }
        if let Some(f) = &a.features {
            let names = feature_names(f);
            if names != c.features {
                contradiction("features", names.join(","), c.features.join(","))?;
            }
        }
        Ok(ModelConfig {
            dropout: a.dropout,
            ..c.clone()
        })
    }
}
