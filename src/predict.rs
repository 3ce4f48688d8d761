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
//!
//! The person-level inputs are the workout's: its profile (from the file, else `--resting-hr` /
//! `--max-hr`), its sport, and its history: the workouts of `--history` (all of them the same
//! person's) that started before it. Without `--history` the person is a newcomer, as the first
//! workout of a person is in training: no earlier workout, every other history value unknown.

use crate::atomic;
use crate::checkpoint::{Checkpoint, engine_for};
use crate::data::{self, HISTORY_INPUT_NAMES, NUM_PERSON_INPUTS};
use crate::dataset::Split;
use crate::engine::{ComputeArgs, Engine};
use crate::features::{self, HISTORY_SET, NUM_FEATURES, Sequence, feature_indices};
use crate::model::Batch;
use crate::workouts::{self, Prepared, ProfileArgs, Truncation};
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
    /// `--device` and `--threads`.
    #[command(flatten)]
    pub compute: ComputeArgs,
    /// The person's heart rates, where the file does not record them.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Workout files or folders of the same person's other workouts: those that started
    /// before --input's are its history (the history inputs); without it the person is a
    /// newcomer with no earlier workout.
    #[arg(long = "history", value_name = "HISTORY", num_args = 1..)]
    pub history: Vec<PathBuf>,
}

/// Predicted heart rate (bpm) for one sequence of raw features (`[steps, NUM_FEATURES]`) of a
/// workout whose person-level inputs are `person` (as stored in [`Split::person`], NaN where
/// unknown; e.g. [`Split::person_values`] of [`Prepared::person_values`]), used where the model
/// takes them.
pub fn predict_sequence(
    engine: &mut dyn Engine,
    ck: &Checkpoint,
    raw: &[f32],
    person: &[f32; NUM_PERSON_INPUTS],
) -> Result<Vec<f32>> {
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
            person,
            &features,
            &mut batch.x[step * f..(step + 1) * f],
        );
    }
    Ok(engine
        .predict(&batch)?
        .iter()
        .map(|&z| ck.normalization.bpm(z, person))
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
/// first piece's, and its person-level inputs.
pub struct WorkoutPieces {
    /// The pieces cleaning left, in order.
    pub pieces: Vec<(f64, Sequence)>,
    /// The workout's person-level inputs as stored in [`Split::person`] (NaN where unknown):
    /// the person's heart rates, the history and the sport.
    pub person: [f32; NUM_PERSON_INPUTS],
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
    let mut engine = engine_for(&ck, options.compute.device)?;
    let predicted = predict_workout(engine.as_mut(), &ck, &workout)?;
    atomic::write(&path, predicted.csv.into_bytes())?;
    Ok(Prediction {
        path,
        steps: predicted.steps,
        mae: predicted.mae,
    })
}

/// Reads the first workout of `--input`, cleans it and resamples its pieces at the checkpoint's
/// interval; its person-level inputs are its profile, sport and history ([`person_row`]).
fn read_workout(options: &PredictOptions, ck: &Checkpoint) -> Result<WorkoutPieces> {
    let input = &options.input;
    let fallback = options.profile.profile()?;
    options.profile.warn_unused(&ck.config.features);
    workouts::warn_history_unused(&options.history, &ck.config.features);
    let mut skipped = Vec::new();
    let workouts = data::read_file(input, &mut skipped)
        .with_context(|| format!("--input {}", input.display()))?;
    let count = workouts.len();
    let Some(mut workout) = workouts.into_iter().next() else {
        bail!("--input {}: no workout in the file", input.display());
    };
    if count > 1 {
        eprintln!(
            "warning: {} holds {count} workouts; predicting the first",
            input.display()
        );
    }
    workout.profile = workout.profile.or(fallback);
    ProfileArgs::warn_unknown(
        workout.profile,
        &ck.config.features,
        &input.display().to_string(),
    );
    let cleaned = data::clean(&workout);
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
    let target = Prepared::new(first.clone(), pieces[0].1.clone());
    let person = person_row(options, ck, target)?;
    Ok(WorkoutPieces { pieces, person })
}

/// The person-level inputs of the workout `target` (its first piece): its profile and sport,
/// and its history from the workouts of `--history`, all taken for `target`'s person, that
/// started before it. Warns where the model takes history inputs and `--history` is not given.
fn person_row(
    options: &PredictOptions,
    ck: &Checkpoint,
    target: Prepared,
) -> Result<[f32; NUM_PERSON_INPUTS]> {
    let inputs = std::slice::from_ref(&options.input);
    let mut history = workouts::load_history_flag(&options.history, inputs, ck.interval_s)?;
    for h in &mut history {
        h.workout.user_id = target.workout.user_id;
    }
    if history.is_empty() && workouts::takes_history(&ck.config.features) {
        eprintln!(
            "warning: the {HISTORY_SET} inputs ({}) know no earlier workout of the person: \
             predicting for a newcomer; give the person's earlier workouts with --history",
            HISTORY_INPUT_NAMES.join(", ")
        );
    }
    let mut targets = [target];
    workouts::fill_histories(&mut targets, &history, &|_| Truncation::None);
    Ok(Split::person_values(&targets[0].person_values()))
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
        let pred = predict_sequence(engine, ck, &seq.features, &workout.person)?;
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
