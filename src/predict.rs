//! `hrcast predict`: a checkpoint's heart-rate prediction for one raw workout file (FIT, TCX,
//! GPX or FitRec JSON lines), as a CSV of `time_s,actual,predicted` (actual is empty where the
//! file has no valid heart rate, as in a workout recorded without a heart-rate strap). The workout is resampled at the checkpoint's interval, its
//! features are z-scored with the checkpoint's statistics, and the whole workout runs as one
//! sequence, however long (no windows). A workout that cleaning split at a clock jump or a long
//! pause runs as one sequence per piece; `time_s` counts from the first piece's start.
//!
//! The command in its parts: [`PredictOptions`] name the checkpoint and the file, which is read
//! into [`WorkoutPieces`]; [`predict_workout`] predicts them in memory (each piece through
//! [`predict_sequence`], as `hrcast crossval` runs whole workouts) and [`predict`] writes the
//! CSV.

use crate::atomic;
use crate::checkpoint::{Checkpoint, engine_for};
use crate::data::{self, Profile};
use crate::dataset::Split;
use crate::engine::{Device, Engine};
use crate::features::{self, NUM_FEATURES, Sequence, feature_indices};
use crate::model::Batch;
use crate::workouts::ProfileArgs;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `hrcast predict` options.
#[derive(Debug, Clone, clap::Args)]
pub struct PredictOptions {
    /// Checkpoint to predict with.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Raw workout file (FIT, TCX, GPX, FitRec JSON lines).
    #[arg(long)]
    pub input: PathBuf,
    /// CSV file to write [default: results/<input name>_predictions.csv].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the math runs.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
    /// The person's heart rates, where the file does not record them.
    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// Predicted heart rate (bpm) for one sequence of raw features (`[steps, NUM_FEATURES]`) of a
/// person with `profile` (used where the model takes person-level inputs).
pub fn predict_sequence(
    engine: &mut dyn Engine,
    ck: &Checkpoint,
    raw: &[f32],
    profile: &Profile,
) -> Result<Vec<f32>> {
    let person = Split::person_row(profile);
    let features = feature_indices(&ck.config.features)?;
    let steps = raw.len() / NUM_FEATURES;
    let f = features.len();
    let mut batch = Batch {
        batch: 1,
        steps,
        inputs: f,
        x: vec![0.0; steps * f],
        y: vec![0.0; steps],
        mask: vec![1.0; steps],
        lengths: vec![steps],
    };
    for (step, row) in raw.chunks(NUM_FEATURES).enumerate() {
        ck.normalization.features(
            row,
            &person,
            &features,
            &mut batch.x[step * f..(step + 1) * f],
        );
    }
    Ok(engine
        .predict(&batch)?
        .iter()
        .map(|&z| ck.normalization.bpm(z))
        .collect())
}

/// What `hrcast predict` wrote.
#[derive(Debug)]
pub struct Prediction {
    /// The CSV file.
    pub path: PathBuf,
    /// Grid steps predicted.
    pub steps: usize,
    /// MAE (bpm) over the steps with a valid recorded heart rate, if any.
    pub mae: Option<f64>,
}

/// One workout ready to predict: its pieces on the grid, each with its start in seconds from the
/// first piece's, and the person's profile.
pub struct WorkoutPieces {
    /// The pieces cleaning left, in order.
    pub pieces: Vec<(f64, Sequence)>,
    /// The person's heart rates and other inputs.
    pub profile: Profile,
}

/// A workout's predicted heart rate: the CSV's text, the steps and the MAE against the recorded
/// heart rate, if any.
pub struct PredictedWorkout {
    /// `time_s,actual,predicted`, one line per grid step.
    pub csv: String,
    /// Grid steps predicted.
    pub steps: usize,
    /// MAE (bpm) over the steps with a valid recorded heart rate, if any.
    pub mae: Option<f64>,
}

/// Predicts the heart rate of `--input` and writes the CSV.
pub fn predict(options: &PredictOptions) -> Result<Prediction> {
    let ck = Checkpoint::load(&options.checkpoint).context("--checkpoint")?;
    let workout = read_workout(options, &ck)?;
    let input = &options.input;
    let path = match &options.out {
        Some(p) => p.clone(),
        None => {
            let stem = input.file_stem().unwrap_or_default().to_string_lossy();
            PathBuf::from("results").join(format!("{stem}_predictions.csv"))
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        atomic::writable_folder(dir, "--out")?;
    }
    let mut engine = engine_for(&ck, options.device)?;
    let predicted = predict_workout(engine.as_mut(), &ck, &workout)?;
    atomic::write(&path, predicted.csv.into_bytes())?;
    Ok(Prediction {
        path,
        steps: predicted.steps,
        mae: predicted.mae,
    })
}

/// Reads the first workout of `--input`, cleans it and resamples its pieces at the checkpoint's
/// interval.
fn read_workout(options: &PredictOptions, ck: &Checkpoint) -> Result<WorkoutPieces> {
    let input = &options.input;
    let fallback = options.profile.profile()?;
    options.profile.warn_unused(&ck.config.features);
    let mut skipped = Vec::new();
    let workouts = data::read_file(input, &mut skipped)
        .with_context(|| format!("--input {}", input.display()))?;
    let Some(workout) = workouts.first() else {
        bail!("--input {}: no workout in the file", input.display());
    };
    if workouts.len() > 1 {
        eprintln!(
            "warning: {} holds {} workouts; predicting the first",
            input.display(),
            workouts.len()
        );
    }
    let profile = workout.profile.or(fallback);
    let cleaned = data::clean(workout);
    if !cleaned.notes.is_empty() {
        eprintln!("warning: {}: {}", input.display(), cleaned.notes.join("; "));
    }
    let Some(first) = cleaned.pieces.first() else {
        bail!(
            "--input {}: no usable records left after cleaning",
            input.display()
        );
    };
    let start = first.start_time();
    let pieces = cleaned
        .pieces
        .iter()
        .map(|piece| {
            let seq = features::resample_any(piece, ck.interval_s)
                .with_context(|| format!("--input {}", input.display()))?;
            Ok((piece.start_time() - start, seq))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(WorkoutPieces { pieces, profile })
}

/// Predicts `workout` with the model of `ck`, open in `engine`, each piece as one sequence.
pub fn predict_workout(
    engine: &mut dyn Engine,
    ck: &Checkpoint,
    workout: &WorkoutPieces,
) -> Result<PredictedWorkout> {
    let mut csv = String::from("time_s,actual,predicted\n");
    let (mut abs, mut n, mut steps) = (0.0, 0usize, 0usize);
    for (offset, seq) in &workout.pieces {
        let pred = predict_sequence(engine, ck, &seq.features, &workout.profile)?;
        steps += pred.len();
        for (k, p) in pred.iter().enumerate() {
            let time = offset + k as f64 * ck.interval_s;
            if seq.valid[k] {
                let y = seq.heart_rate[k];
                abs += f64::from((p - y).abs());
                n += 1;
                let _ = writeln!(csv, "{time},{y:.2},{p:.2}");
            } else {
                let _ = writeln!(csv, "{time},,{p:.2}");
            }
        }
    }
    Ok(PredictedWorkout {
        csv,
        steps,
        mae: (n > 0).then(|| abs / n as f64),
    })
}

/// Runs `hrcast predict` from the command line: predicts, then says what it wrote.
pub fn run(options: &PredictOptions) -> Result<ExitCode> {
    let p = predict(options)?;
    match p.mae {
        Some(mae) => println!(
            "wrote {} ({} steps; MAE {mae:.2} bpm against the recorded heart rate)",
            p.path.display(),
            p.steps
        ),
        None => println!("wrote {} ({} steps)", p.path.display(), p.steps),
    }
    Ok(ExitCode::SUCCESS)
}
