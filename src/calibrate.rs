//! `hrcast calibrate`: personal calibration. A trained model (`--checkpoint`) is fine-tuned on
//! one person's own workouts (`--input`): every workout is cut into the checkpoint's windows
//! at its interval, and training starts from the checkpoint's weights and normalization
//! (`train --init`) for `--epochs` epochs, validating on the same windows (a person's history
//! is too short to hold some back). The windows stay in memory ([`train::fit`]); the calibrated
//! model is written to `--out` like a `train` run's checkpoints, with its curves and log.
//!
//! Cross-validation measures it the same way ([`crate::crossval`] with `--calibrate`, through
//! [`fine_tune`]): on the real workouts, fine-tuning on the first half of a person's workouts
//! took the MAE of their later workouts from 25.5 to 13.6 bpm (30 epochs; 15.1 with 10), where
//! shifting the model's predictions by its mean error on the earlier workouts reached 19.2.

use crate::atomic;
use crate::checkpoint::Checkpoint;
use crate::dataset::Split;
use crate::engine::ComputeArgs;
use crate::train::{self, Folders, Splits, StartFrom, TrainConfig};
use crate::values::{at_least, non_negative};
use crate::workouts::{self, Prepared, ProfileArgs, Truncation};
use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Epochs of a calibration, by default: cross-validated, 30 did better than 10 (above).
pub const CALIBRATION_EPOCHS: u32 = 30;

/// `hrcast calibrate` options.
#[derive(Debug, Clone, clap::Args)]
pub struct CalibrateOptions {
    /// The trained model to calibrate.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The person's workout files or folders (FIT, TCX, GPX, FitRec JSON lines).
    #[arg(long = "input", value_name = "INPUT", num_args = 1.., required = true)]
    pub inputs: Vec<PathBuf>,
    /// Epochs of fine-tuning.
    #[arg(long, default_value_t = CALIBRATION_EPOCHS, value_parser = at_least(1))]
    pub epochs: u32,
    /// Learning rate.
    #[arg(long, default_value_t = TrainConfig::default().lr, value_parser = non_negative)]
    pub lr: f64,
    /// Folder of the calibrated checkpoints (best_model.safetensors, last.safetensors), curves
    /// and log.
    #[arg(long, default_value = "checkpoints/calibrated")]
    pub out: PathBuf,
    /// Seed of shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `--device` and `--threads`.
    #[command(flatten)]
    pub compute: ComputeArgs,
    /// The person's heart rates, where the files do not record them.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Workout files or folders of the person's that only serve as earlier workouts (the
    /// history inputs) of the workouts of --input, which also get each other's earlier ones.
    #[arg(long = "history", value_name = "HISTORY", num_args = 1..)]
    pub history: Vec<PathBuf>,
}

impl CalibrateOptions {
    /// The fine-tuning the flags ask for: [`TrainConfig`]'s defaults but for the epochs,
    /// learning rate, seed and device, everything written into `--out`.
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            lr: self.lr,
            seed: self.seed,
            device: self.compute.device,
            folders: Folders::all_in(&self.out),
            ..TrainConfig::default()
        }
    }
}

/// Fine-tunes the model of `checkpoint` (read already as `ck`, whose window length and interval
/// cut the windows) on `workouts` as `config` says (epochs, learning rate, device, seed,
/// folders...), training and validating on their windows, in memory; returns the best
/// checkpoint, written into `config`'s checkpoint folder.
pub fn fine_tune(
    checkpoint: &Path,
    ck: &Checkpoint,
    workouts: &[&Prepared],
    config: &TrainConfig,
) -> Result<PathBuf> {
    let mut windows = Split::empty(ck.seq_len, ck.interval_s, "calibration");
    for p in workouts {
        workouts::push_windows(&mut windows, p);
    }
    ensure!(
        windows.n > 0,
        "no window with a valid heart rate to calibrate on"
    );
    let splits = Splits {
        train: windows.clone(),
        val: windows,
        source: format!("calibration windows of {} workouts", workouts.len()),
    };
    let config = TrainConfig {
        start: Some(StartFrom::Init(checkpoint.to_path_buf())),
        ..config.clone()
    };
    train::fit(&splits, &config)?
        .best_checkpoint
        .context("calibration wrote no best model")
}

/// Runs `hrcast calibrate`: reads the person's workouts at the checkpoint's interval, each
/// with its history (the person's workouts of `--input` and `--history` that started before
/// it), and fine-tunes; returns the calibrated best checkpoint.
pub fn calibrate(options: &CalibrateOptions) -> Result<PathBuf> {
    let ck = Checkpoint::load(&options.checkpoint).context("--checkpoint")?;
    atomic::writable_folder(&options.out, "--out")?;
    options.profile.warn_unused(&ck.config.features);
    workouts::warn_history_unused(&options.history, &ck.config.features);
    let mut loaded = workouts::load(&options.inputs, ck.interval_s, options.profile.profile()?)?;
    workouts::warn(&loaded.cleaned, &loaded.skipped);
    let mut history =
        workouts::load_history_flag(&options.history, &options.inputs, ck.interval_s)?;
    one_person(&mut loaded.prepared, &mut history);
    workouts::fill_histories(&mut loaded.prepared, &history, &|_| Truncation::None);
    let workouts: Vec<&Prepared> = loaded.prepared.iter().collect();
    fine_tune(&options.checkpoint, &ck, &workouts, &options.config())
        .with_context(|| format!("--input {}", workouts::describe_inputs(&options.inputs)))
}

/// Takes every workout of `inputs` and `history` for the same person (the first input's), as
/// `calibrate` is given one person's workouts, whatever the folders they lie in.
fn one_person(inputs: &mut [Prepared], history: &mut [Prepared]) {
    let Some(person) = inputs.first().map(|p| p.workout.user_id) else {
        return;
    };
    for p in inputs.iter_mut().chain(history.iter_mut()) {
        p.workout.user_id = person;
    }
}

/// Runs `hrcast calibrate` from the command line: calibrates, then says where the model went.
pub fn run(options: &CalibrateOptions) -> Result<ExitCode> {
    let best = calibrate(options)?;
    println!("calibrated model: {}", best.display());
    Ok(ExitCode::SUCCESS)
}
