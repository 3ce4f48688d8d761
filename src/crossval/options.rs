//! The options of `hrcast crossval` (clap), and the [`CrossvalConfig`] they ask for.

use crate::calibrate::CALIBRATION_EPOCHS;
use crate::train::{TrainConfig, TrainOptions};
use crate::values::{at_least, between, unit_interval};
use crate::workouts;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// `hrcast crossval` options.
#[derive(Debug, Clone, clap::Args)]
pub struct CrossvalOptions {
    /// Workout files or folders (FIT, TCX, GPX, FitRec JSON lines); each subfolder of a folder
    /// is one person.
    #[arg(long = "input", value_name = "INPUT", num_args = 1.., required = true)]
    pub inputs: Vec<PathBuf>,
    /// Folds; people are dealt into them largest first, each to the fold with the fewest
    /// windows so far. More folds than people: one person per fold.
    #[arg(long, default_value_t = CrossvalConfig::default().folds as u32, value_parser = at_least(2))]
    pub folds: u32,
    /// Steps per training window.
    #[arg(long, alias = "seq_len", default_value_t = CrossvalConfig::default().seq_len as u32, value_parser = between(1, crate::dataset::MAX_SEQ_LEN as u32))]
    pub seq_len: u32,
    /// Train every fold's model on whole workouts, each one sequence with the state carried
    /// from its start to its end, instead of windows of --seq-len steps from a zero state.
    /// Folds are dealt as without it, and the held-out workouts are still scored both ways
    /// (windows of --seq-len steps, and whole).
    #[arg(long, alias = "whole_workouts")]
    pub whole_workouts: bool,
    /// Grid interval in seconds.
    #[arg(long = "interval", value_name = "INTERVAL", default_value_t = CrossvalConfig::default().interval_s, value_parser = workouts::grid_seconds)]
    pub interval_s: f64,
    /// Share of each training person's workouts, the latest, that validate (a person with one
    /// workout only trains).
    #[arg(long, alias = "val_share", default_value_t = CrossvalConfig::default().val_share, value_parser = unit_interval)]
    pub val_share: f64,
    /// A processed data file (e.g. a synthetic set's train.safetensors) whose windows join the
    /// training split of every fold.
    #[arg(long)]
    pub add_train: Option<PathBuf>,
    /// Also calibrate: fine-tune each fold's model on each held-out person's earlier workouts
    /// (the first half, by start time), and score on the later ones the fold's model, the
    /// fine-tuned one and the fold's model shifted by its mean error on the earlier ones.
    #[arg(long)]
    pub calibrate: bool,
    /// Epochs of each personal calibration.
    #[arg(long, alias = "calibrate_epochs", default_value_t = CALIBRATION_EPOCHS, value_parser = at_least(1))]
    pub calibrate_epochs: u32,
    /// Training options of every fold's model (`--results` is where crossval/ goes; `--data`
    /// and `--resume` do not apply).
    #[command(flatten)]
    pub train: TrainOptions,
}

/// How a cross-validation runs (docs/cli.md, `hrcast crossval`).
#[derive(Debug, Clone, PartialEq)]
pub struct CrossvalConfig {
    /// Folds the people are dealt into (at most one per person).
    pub folds: usize,
    /// Steps per window, of training (unless `whole_workouts`) and of the windowed scores.
    pub seq_len: usize,
    /// Train on whole workouts, one window each.
    pub whole_workouts: bool,
    /// Grid interval in seconds.
    pub interval_s: f64,
    /// Share of each training person's workouts, the latest, that validate.
    pub val_share: f64,
    /// A processed data file whose windows join every fold's training split.
    pub add_train: Option<PathBuf>,
    /// With personal calibration: its epochs.
    pub calibrate_epochs: Option<u32>,
    /// Every fold's training (`folders.results` is where crossval/ goes).
    pub train: TrainConfig,
}

impl Default for CrossvalConfig {
    fn default() -> Self {
        CrossvalConfig {
            folds: 5,
            seq_len: 500,
            whole_workouts: false,
            interval_s: 5.0,
            val_share: 0.15,
            add_train: None,
            calibrate_epochs: None,
            train: TrainConfig::default(),
        }
    }
}

impl CrossvalOptions {
    /// The cross-validation the flags ask for; refuses the training flags that do not apply.
    pub fn config(&self) -> Result<CrossvalConfig> {
        if self.train.data.is_some() {
            bail!("--data does not apply to crossval: it makes each fold's data from --input");
        }
        if self.train.resume.is_some() {
            bail!("--resume does not apply to crossval: each fold trains its own model");
        }
        Ok(CrossvalConfig {
            folds: self.folds as usize,
            seq_len: self.seq_len as usize,
            whole_workouts: self.whole_workouts,
            interval_s: self.interval_s,
            val_share: self.val_share,
            add_train: self.add_train.clone(),
            calibrate_epochs: self.calibrate.then_some(self.calibrate_epochs),
            train: self.train.config(),
        })
    }
}
