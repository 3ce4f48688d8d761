//! `hrcast calibrate`: personal calibration. A trained model (`--checkpoint`) is fine-tuned on
//! one person's own workouts (`--input`): every workout is cut into the checkpoint's windows
//! at its interval, and training starts from the checkpoint's weights and normalization
//! (`train --init`) for `--epochs` epochs, validating on the same windows (a person's history
//! is too short to hold some back for early stopping). The windows stay in memory
//! ([`train::fit`]); the calibrated model is written to `--out` like a `train` run's
//! checkpoints, with its curves and log.
//!
//! So that the person learns what calibration gives them, the latest `--hold-out` share of
//! their recordings (at least one, where there are two or more) is left out of the
//! fine-tuning, and both models are scored on it: before (the checkpoint) and after (the
//! calibrated model), with the MAE's interval and a note where the workouts are few.
//!
//! Cross-validation measures it the same way ([`crate::crossval`] with `--calibrate`, through
//! [`fine_tune`]): on the real workouts, fine-tuning on the first half of a person's workouts
//! took the MAE of their later workouts from 25.5 to 13.6 bpm (30 epochs; 15.1 with 10), where
//! shifting the model's predictions by its mean error on the earlier workouts reached 19.2.

use crate::atomic;
use crate::checkpoint::{Checkpoint, engine_for};
use crate::dataset::Split;
use crate::engine::ComputeArgs;
use crate::evaluate::{EvaluateConfig, Labels, Metrics, evaluate_split};
use crate::train::{self, Folders, Splits, StartFrom, TrainConfig};
use crate::values::{at_least, non_negative};
use crate::workouts::{self, Prepared, ProfileArgs, Truncation};
use anyhow::{Context, Result, ensure};
use std::collections::BTreeMap;
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
    /// Share (0 to 0.9) of the person's latest recordings left out of the fine-tuning, on
    /// which the model is scored before and after; at least one where there are two or more.
    /// 0: fine-tune on every workout, and score nothing.
    #[arg(long, default_value_t = HOLD_OUT_SHARE, value_parser = hold_out_share)]
    pub hold_out: f64,
}

/// The default share of a person's latest recordings held out by `hrcast calibrate`.
pub const HOLD_OUT_SHARE: f64 = 0.2;

/// Parses `--hold-out`: a share from 0 to 0.9.
fn hold_out_share(text: &str) -> Result<f64, String> {
    let share = non_negative(text)?;
    if share <= 0.9 {
        Ok(share)
    } else {
        Err(format!("expected a share from 0 to 0.9, found {text}"))
    }
}

/// What `hrcast calibrate` did: the calibrated model, and where workouts were held out, both
/// models' scores on them.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// The calibrated best checkpoint.
    pub best: PathBuf,
    /// Recordings fine-tuned on, and held out.
    pub workouts: [usize; 2],
    /// The checkpoint and the calibrated model on the held-out workouts' windows (as
    /// `evaluate` scores them: MAE with its interval, RMSE, R², the note where too few).
    pub before_after: Option<[Metrics; 2]>,
    /// The held-out steps' valid minutes.
    pub held_out_minutes: f64,
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
        folder: None,
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
/// it), holds out the latest, fine-tunes on the rest and scores both models on the held out.
pub fn calibrate(options: &CalibrateOptions) -> Result<Calibration> {
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
    let (tuning, held_out) = hold_out(&loaded.prepared, options.hold_out);
    let context = || format!("--input {}", workouts::describe_inputs(&options.inputs));
    let best =
        fine_tune(&options.checkpoint, &ck, &tuning, &options.config()).with_context(context)?;
    let mut held = Split::empty(ck.seq_len, ck.interval_s, "held out");
    for p in &held_out {
        workouts::push_windows(&mut held, p);
    }
    let before_after = if held.n > 0 {
        let config = EvaluateConfig {
            device: options.compute.device,
            ..EvaluateConfig::default()
        };
        let score = |ck: &Checkpoint, path: &Path| -> Result<Metrics> {
            let labels = Labels {
                checkpoint: path.display().to_string(),
                data: "the held-out recordings".into(),
                whole_workouts: false,
            };
            let mut engine = engine_for(ck, config.device)?;
            let shift = BTreeMap::new();
            Ok(evaluate_split(engine.as_mut(), ck, &held, labels, &config, &shift)?.metrics)
        };
        let before = score(&ck, &options.checkpoint)?;
        let after = score(&Checkpoint::load(&best)?, &best)?;
        Some([before, after])
    } else {
        None
    };
    let steps: f64 = held.mask.iter().map(|&m| f64::from(m)).sum();
    Ok(Calibration {
        best,
        workouts: [recordings(&tuning), recordings(&held_out)],
        before_after,
        held_out_minutes: steps * ck.interval_s / 60.0,
    })
}

/// `prepared` cut in time: the person's latest `share` of recordings (rounded up; at least one
/// where there are two or more and `share` is above 0, never all) held out, the rest to
/// fine-tune on. Pieces of one recording stay together.
fn hold_out(prepared: &[Prepared], share: f64) -> (Vec<&Prepared>, Vec<&Prepared>) {
    let recording_start = workouts::recording_starts(prepared);
    let mut starts = recording_start.clone();
    starts.sort_by(f64::total_cmp);
    starts.dedup();
    let n = starts.len();
    let held = if share > 0.0 && n >= 2 {
        ((share * n as f64).ceil() as usize).clamp(1, n - 1)
    } else {
        0
    };
    let first_held = starts.get(n - held).copied().unwrap_or(f64::INFINITY);
    let (mut tuning, mut held_out) = (Vec::new(), Vec::new());
    for (p, &start) in prepared.iter().zip(&recording_start) {
        if start < first_held {
            tuning.push(p);
        } else {
            held_out.push(p);
        }
    }
    (tuning, held_out)
}

/// The number of distinct recordings (workout ids) among `workouts`.
fn recordings(workouts: &[&Prepared]) -> usize {
    let mut ids: Vec<i64> = workouts.iter().map(|p| p.workout.workout_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// The printed report of a calibration: both models on the held-out workouts.
pub fn report(c: &Calibration) -> String {
    let Some([before, after]) = &c.before_after else {
        return format!(
            "fine-tuned on all {} recordings; none held out to score on (--hold-out)\n",
            c.workouts[0]
        );
    };
    let mut out = format!(
        "fine-tuned on the {} earlier recordings; scored on the {} latest, held out ({:.0} valid minutes):\n\n\
         | model | MAE (bpm) | 95 % interval | RMSE | R² |\n| --- | --- | --- | --- | --- |\n",
        c.workouts[0], c.workouts[1], c.held_out_minutes
    );
    for (name, s) in [
        ("before (the checkpoint)", before),
        ("after (calibrated)", after),
    ] {
        let interval = s.mae_interval.map_or("one workout: none".into(), |i| {
            format!("{:.2} to {:.2}", i.low, i.high)
        });
        out += &format!(
            "| {name} | {:.2} | {interval} | {:.2} | {:.3} |\n",
            s.mae, s.rmse, s.r2
        );
    }
    if let Some(few) = &after.too_few {
        out += &format!("\nnote: {few}\n");
    }
    out
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
    let calibration = calibrate(options)?;
    print!("{}", report(&calibration));
    println!("calibrated model: {}", calibration.best.display());
    Ok(ExitCode::SUCCESS)
}
