//! The options of `hrcast train` (clap), and the [`TrainConfig`] they ask for. The flags'
//! defaults are [`TrainConfig::default`]'s.

use super::config::{Architecture, Folders, StartFrom, TrainConfig};
use crate::engine::ComputeArgs;
use crate::features::{FeatureList, features_help};
use crate::model::{Cell, HrLevel};
use crate::values::{at_least, non_negative, unit_interval};
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
    #[arg(long, alias = "hidden_size", value_parser = at_least(1))]
    pub hidden_size: Option<u32>,
    /// Recurrent layers [default: 2].
    #[arg(long, alias = "num_layers", value_parser = at_least(1))]
    pub num_layers: Option<u32>,
    /// Dropout between recurrent layers.
    #[arg(long, default_value_t = Architecture::default().dropout, value_parser = unit_interval)]
    pub dropout: f64,
    /// Bidirectional recurrent layers.
    #[arg(long)]
    pub bidirectional: bool,
    /// Windows per batch.
    #[arg(long, alias = "batch_size", default_value_t = TrainConfig::default().batch_size as u32, value_parser = at_least(1))]
    pub batch_size: u32,
    /// Learning rate.
    #[arg(long, default_value_t = TrainConfig::default().lr, value_parser = non_negative)]
    pub lr: f64,
    /// L2 weight decay added to the gradient.
    #[arg(long, alias = "weight_decay", default_value_t = TrainConfig::default().weight_decay, value_parser = non_negative)]
    pub weight_decay: f64,
    /// Global gradient-norm clip (0: none).
    #[arg(long, alias = "grad_clip", default_value_t = TrainConfig::default().grad_clip, value_parser = non_negative)]
    pub grad_clip: f64,
    /// Maximum epochs.
    #[arg(long, default_value_t = TrainConfig::default().epochs, value_parser = at_least(1))]
    pub epochs: u32,
    /// Early-stopping patience in epochs.
    #[arg(long, default_value_t = TrainConfig::default().patience)]
    pub patience: u32,
    /// ReduceLROnPlateau factor.
    #[arg(long, alias = "scheduler_factor", default_value_t = TrainConfig::default().scheduler_factor, value_parser = unit_interval)]
    pub scheduler_factor: f64,
    /// ReduceLROnPlateau patience in epochs.
    #[arg(long, alias = "scheduler_patience", default_value_t = TrainConfig::default().scheduler_patience)]
    pub scheduler_patience: u32,
    /// Masked MSE (true) or the plain mean over all steps (false).
    #[arg(long, alias = "use_masking", default_value_t = TrainConfig::default().use_masking, action = clap::ArgAction::Set)]
    pub use_masking: bool,
    /// Batch windows of similar length together and run each batch only as many steps as its
    /// longest window needs (the window length halved up to three times): for data whose windows
    /// differ in length, such as whole workouts (`prepare --whole-workouts`), where most steps of
    /// a full-length batch are padding. Needs masking.
    #[arg(long, alias = "length_buckets")]
    pub length_buckets: bool,
    /// What a new model's output is measured from: training-mean (every window from the
    /// training split's mean heart rate, as the PyTorch tool) or history (each window from its
    /// person's own level in their earlier workouts: the same sport's mean heart rate, else all
    /// sports', else the training mean; with `--features ...,history`). `--init` and `--resume`
    /// keep their checkpoint's.
    #[arg(long, alias = "hr_level", value_enum, default_value_t = TrainConfig::default().hr_level)]
    pub hr_level: HrLevel,
    /// The model's inputs (the help, [`features_help`], lists the sets and names it takes)
    /// [default: all].
    #[arg(long, value_parser = FeatureList::from_str, help = features_help())]
    pub features: Option<FeatureList>,
    /// Folder with train/val/test.safetensors [default: DATA/processed if it holds a training
    /// split, else the default synthetic set in DATA/synthetic, generated on first use].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Seed of initialisation, shuffling and dropout.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    /// `--device` and `--threads`.
    #[command(flatten)]
    pub compute: ComputeArgs,
    /// Start from this checkpoint's weights and normalization (fine-tuning).
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Continue the run saved in this checkpoint (weights, optimizer, scheduler, epoch).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Checkpoint folder.
    #[arg(long, default_value_os_t = Folders::default().checkpoints)]
    pub checkpoints: PathBuf,
    /// Results folder.
    #[arg(long, default_value_os_t = Folders::default().results)]
    pub results: PathBuf,
    /// Log folder.
    #[arg(long, default_value_os_t = Folders::default().logs)]
    pub logs: PathBuf,
}

impl TrainOptions {
    /// The run the flags ask for (`--data` aside: the splits are read, not configured).
    pub fn config(&self) -> TrainConfig {
        let start = match (&self.resume, &self.init) {
            (Some(path), _) => Some(StartFrom::Resume(path.clone())),
            (None, Some(path)) => Some(StartFrom::Init(path.clone())),
            (None, None) => None,
        };
        TrainConfig {
            architecture: Architecture {
                model: self.model,
                hidden_size: self.hidden_size.map(|h| h as usize),
                num_layers: self.num_layers.map(|l| l as usize),
                dropout: self.dropout,
                bidirectional: self.bidirectional,
                features: self.features.as_ref().map(|f| f.0.clone()),
            },
            batch_size: self.batch_size as usize,
            lr: self.lr,
            weight_decay: self.weight_decay,
            grad_clip: self.grad_clip,
            epochs: self.epochs,
            patience: self.patience,
            scheduler_factor: self.scheduler_factor,
            scheduler_patience: self.scheduler_patience,
            use_masking: self.use_masking,
            length_buckets: self.length_buckets,
            hr_level: self.hr_level,
            seed: self.seed,
            device: self.compute.device,
            start,
            folders: Folders {
                checkpoints: self.checkpoints.clone(),
                results: self.results.clone(),
                logs: self.logs.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Command, FromArgMatches};

    #[test]
    fn the_flags_defaults_are_the_default_configuration() {
        let command = TrainOptions::augment_args(Command::new("train"));
        let options = TrainOptions::from_arg_matches(&command.get_matches_from(["train"])).unwrap();
        assert_eq!(options.config(), TrainConfig::default());
    }
}
