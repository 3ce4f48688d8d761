//! `hrcast predict`: a checkpoint's heart-rate prediction for a raw workout file (FIT, TCX, GPX
//! or FitRec JSON lines), or each file of a folder: a CSV of `time_s,actual,predicted` (actual is
//! empty where the file has no valid heart rate, as in a workout recorded without a heart-rate
//! strap or a planned route), a PNG of the predicted curve with the route's elevation, and a
//! printed [`Summary`]. The workout is resampled at the checkpoint's interval, its features are
//! z-scored with the checkpoint's statistics, and the whole workout runs as one sequence,
//! however long (no windows). A workout that cleaning split at a clock jump or a long pause
//! runs as one sequence per piece; `time_s` counts from the first piece's start.
//!
//! A planned route (points without times: a GPX route, a TCX course, a route planner's track)
//! is timed from `--pace` or `--speed` ([`retime`]); a recorded workout given a pace is retimed
//! the same way, as if run at that pace.
//!
//! The command in its parts: [`PredictOptions`] name the checkpoint and the files, each read
//! into [`WorkoutPieces`]; [`predict_workout`] predicts them in memory (each piece through
//! [`predict_sequence`], as `hrcast crossval` runs whole workouts), [`predict`] writes the
//! files, and report.rs makes the summary and the charts.
//!
//! The person-level inputs are the workout's: its profile (from the file, else `--resting-hr` /
//! `--max-hr`), its sport, and its history: the workouts of `--history` (all of them the same
//! person's) that started before it. Without `--history` the person is a newcomer, as the first
//! workout of a person is in training: no earlier workout, every other history value unknown.

mod report;
mod route;

pub use report::{Summary, Zones, clock};
pub use route::{MAX_ROUTE_H, PaceArgs, has_times, retime};

use crate::atomic;
use crate::checkpoint::{Checkpoint, engine_for};
use crate::data::{self, HISTORY_INPUT_NAMES, NUM_PERSON_INPUTS, PointTimes, Profile, Workout};
use crate::dataset::Split;
use crate::engine::{ComputeArgs, Engine};
use crate::features::{
    self, ALTITUDE_FEATURE, DISTANCE_FEATURE, HISTORY_SET, NUM_FEATURES, Sequence, feature_indices,
};
use crate::model::Batch;
use crate::plot;
use crate::score::{ErrorSum, earlier_offsets, window_errors};
use crate::workouts::{self, Prepared, ProfileArgs, Truncation};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `hrcast predict` options.
#[derive(Debug, Clone, clap::Args)]
pub struct PredictOptions {
    /// Checkpoint to predict with.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Raw workout file (FIT, TCX, GPX, FitRec JSON lines), or a folder of them (each file
    /// predicted).
    #[arg(long)]
    pub input: PathBuf,
    /// For a file: the CSV to write, the PNG beside it named with .png [default:
    /// results/<input name>_predictions.csv]; for a folder: the folder to write each file's CSV
    /// and PNG into, its subfolders as in --input [default: results].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `--pace` and `--speed`, which time a planned route.
    #[command(flatten)]
    pub pace: PaceArgs,
    /// `--device` and `--threads`.
    #[command(flatten)]
    pub compute: ComputeArgs,
    /// The person's heart rates, where the file does not record them (the maximal one also
    /// gives the zones of the summary).
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Workout files or folders of the same person's other workouts: those that started
    /// before --input's are its history (the history inputs); without it the person is a
    /// newcomer with no earlier workout.
    #[arg(long = "history", value_name = "HISTORY", num_args = 1..)]
    pub history: Vec<PathBuf>,
    /// With --history: shift the predictions by the model's mean error (actual - predicted) on
    /// the person's earlier workouts of --history that hold a heart rate: calibration without
    /// training.
    #[arg(long, requires = "history")]
    pub offset: bool,
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

/// What `hrcast predict` wrote for one workout file, and its summary.
#[derive(Debug)]
pub struct Prediction {
    /// The CSV file.
    pub csv: PathBuf,
    /// The PNG file.
    pub png: PathBuf,
    /// Grid steps predicted.
    pub steps: usize,
    /// MAE (bpm) over the steps with a valid recorded heart rate, if any.
    pub mae: Option<f64>,
    /// With `--offset`: the shift (bpm) added to every prediction.
    pub offset: Option<f32>,
    /// Duration, distance, mean and peak heart rate, time in zones.
    pub summary: Summary,
}

/// `wrote CSV and PNG (N steps; MAE ...)`, then the summary's lines.
impl fmt::Display for Prediction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (csv, png, steps) = (self.csv.display(), self.png.display(), self.steps);
        match self.mae {
            Some(mae) => writeln!(
                f,
                "wrote {csv} and {png} ({steps} steps; MAE {mae:.2} bpm against the recorded \
                 heart rate)"
            )?,
            None => writeln!(f, "wrote {csv} and {png} ({steps} steps)")?,
        }
        if let Some(offset) = self.offset {
            writeln!(
                f,
                "offset: {offset:+.2} bpm, the model's mean error on the person's earlier workouts"
            )?;
        }
        write!(f, "{}", self.summary)
    }
}

/// One workout ready to predict: its pieces on the grid, each with its start in seconds from the
/// first piece's, and its person-level inputs.
pub struct WorkoutPieces {
    /// The pieces cleaning left, in order.
    pub pieces: Vec<(f64, Sequence)>,
    /// The workout's person-level inputs as stored in [`Split::person`] (NaN where unknown):
    /// the person's heart rates, the history and the sport.
    pub person: [f32; NUM_PERSON_INPUTS],
    /// The person's maximal heart rate (the file's, else `--max-hr`), if known.
    pub max_hr: Option<f64>,
    /// The workout's first piece as cleaned, taken for the person of `--history`: what tells
    /// which of their workouts are earlier.
    pub workout: Workout,
    /// Whether the workout records an elevation.
    pub has_elevation: bool,
}

/// One grid step of a predicted workout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Seconds since the start of the first piece.
    pub time_s: f64,
    /// The recorded heart rate (bpm), where valid.
    pub actual: Option<f32>,
    /// The predicted heart rate, bpm.
    pub predicted: f32,
    /// Elevation, m.
    pub altitude_m: f32,
    /// Distance since the start, km (a gap between pieces adds none).
    pub distance_km: f64,
}

/// A workout's predicted heart rate, step by step.
pub struct PredictedWorkout {
    /// Every grid step of every piece, in order.
    pub steps: Vec<Step>,
}

impl PredictedWorkout {
    /// Adds `offset` (bpm) to every prediction.
    pub fn shift(&mut self, offset: f32) {
        self.steps.iter_mut().for_each(|s| s.predicted += offset);
    }

    /// `time_s,actual,predicted`, one line per grid step, bpm with 2 decimals (actual empty
    /// where not valid).
    pub fn csv(&self) -> String {
        let mut csv = String::from("time_s,actual,predicted\n");
        for s in &self.steps {
            let actual = s.actual.map(|y| format!("{y:.2}")).unwrap_or_default();
            let _ = writeln!(csv, "{},{actual},{:.2}", s.time_s, s.predicted);
        }
        csv
    }

    /// MAE (bpm) over the steps with a valid recorded heart rate, if any.
    pub fn mae(&self) -> Option<f64> {
        let errors: Vec<f64> = (self.steps.iter())
            .filter_map(|s| s.actual.map(|y| f64::from((s.predicted - y).abs())))
            .collect();
        (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64)
    }
}

/// Where the files of one workout file go.
struct Output {
    /// The workout file.
    input: PathBuf,
    /// Its CSV.
    csv: PathBuf,
    /// Its PNG.
    png: PathBuf,
}

impl Output {
    /// The outputs of `input`: the CSV `csv`, the PNG beside it; refused where the two would be
    /// one file.
    fn new(input: &Path, csv: PathBuf) -> Result<Output> {
        let png = csv.with_extension("png");
        if png == csv {
            bail!(
                "--out {}: the PNG goes beside the CSV with the extension .png; name the CSV \
                 with another (e.g. .csv)",
                csv.display()
            );
        }
        Ok(Output {
            input: input.to_path_buf(),
            csv,
            png,
        })
    }
}

/// The default folder of `--out`.
const DEFAULT_OUT: &str = "results";

/// The CSV's name for the workout file `input`: `<stem>_predictions.csv`.
fn csv_name(input: &Path) -> String {
    let stem = input.file_stem().unwrap_or_default().to_string_lossy();
    format!("{stem}_predictions.csv")
}

/// The files to predict and where each one's go: `--input` and `--out` for a file; for a
/// folder, each workout file under it (those passed over are warned of), into `--out` with the
/// subfolders of `--input`. Refused where two files would write the same CSV.
fn outputs(options: &PredictOptions) -> Result<Vec<Output>> {
    let input = &options.input;
    if !input.is_dir() {
        let default = || Path::new(DEFAULT_OUT).join(csv_name(input));
        return Ok(vec![Output::new(
            input,
            options.out.clone().unwrap_or_else(default),
        )?]);
    }
    let (files, skipped) = data::workout_files(input, "--input")?;
    for s in skipped {
        eprintln!("warning: skipped {s}");
    }
    let out = options.out.clone().unwrap_or_else(|| DEFAULT_OUT.into());
    atomic::writable_folder(&out, "--out")?;
    let mut writer: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut outputs = Vec::new();
    for file in files {
        let folder = file.parent().unwrap_or(Path::new(""));
        let under = folder.strip_prefix(input).unwrap_or(Path::new(""));
        let csv = out.join(under).join(csv_name(&file));
        if let Some(other) = writer.insert(csv.clone(), file.clone()) {
            bail!(
                "--input {}: {} and {} would both write {}; predict one of them on its own \
                 with --out",
                input.display(),
                other.display(),
                file.display(),
                csv.display()
            );
        }
        outputs.push(Output::new(&file, csv)?);
    }
    Ok(outputs)
}

/// Predicts the heart rate of `--input` (a file, or each file of a folder) and writes each
/// one's CSV and PNG. In a folder, a file that cannot be predicted is passed over with a
/// warning; none that can is an error.
pub fn predict(options: &PredictOptions) -> Result<Vec<Prediction>> {
    let ck = Checkpoint::load(&options.checkpoint).context("--checkpoint")?;
    let mut predictor = Predictor::new(options, ck)?;
    let outputs = outputs(options)?;
    if !options.input.is_dir() {
        return Ok(vec![predictor.file(&outputs[0])?]);
    }
    let mut predictions = Vec::new();
    for output in &outputs {
        match predictor.file(output) {
            Ok(p) => predictions.push(p),
            Err(err) => eprintln!("warning: skipped {}: {err:#}", output.input.display()),
        }
    }
    if predictions.is_empty() {
        bail!(
            "--input {}: none of its {} workout files could be predicted (the warnings say why)",
            options.input.display(),
            outputs.len()
        );
    }
    Ok(predictions)
}

/// What predicting each workout file takes: the options, the checkpoint and its engine (opened
/// for the first file), the person's earlier workouts and the heart rates of the flags.
struct Predictor<'a> {
    options: &'a PredictOptions,
    ck: Checkpoint,
    engine: Option<Box<dyn Engine>>,
    history: Vec<Prepared>,
    /// The model's [`ErrorSum`] on each workout of `history`, once the engine is open (with
    /// `--offset`).
    history_errors: Option<Vec<ErrorSum>>,
    fallback: Profile,
}

impl<'a> Predictor<'a> {
    /// Checks the flags against the checkpoint's model (warning of those it does not take) and
    /// loads `--history`, all of it taken for one person.
    fn new(options: &'a PredictOptions, ck: Checkpoint) -> Result<Predictor<'a>> {
        let fallback = options.profile.profile()?;
        let inputs = &ck.config.features;
        // --max-hr also gives the zones: used whatever the model takes.
        let resting_only = ProfileArgs {
            max_hr: None,
            ..options.profile.clone()
        };
        resting_only.warn_unused(inputs);
        workouts::warn_history_unused(&options.history, inputs);
        let inputs_flag = std::slice::from_ref(&options.input);
        let mut history =
            workouts::load_history_flag(&options.history, inputs_flag, ck.interval_s)?;
        if let Some(person) = history.first().map(|h| h.workout.user_id) {
            for h in &mut history {
                h.workout.user_id = person;
            }
        }
        if history.is_empty() && workouts::takes_history(inputs) {
            eprintln!(
                "warning: the {HISTORY_SET} inputs ({}) know no earlier workout of the person: \
                 predicting for a newcomer; give the person's earlier workouts with --history",
                HISTORY_INPUT_NAMES.join(", ")
            );
        }
        Ok(Predictor {
            options,
            ck,
            engine: None,
            history,
            history_errors: None,
            fallback,
        })
    }

    /// Predicts one workout file and writes its CSV and PNG (both or neither).
    fn file(&mut self, output: &Output) -> Result<Prediction> {
        let workout = self.read(&output.input)?;
        if let Some(dir) = output.csv.parent().filter(|d| !d.as_os_str().is_empty()) {
            atomic::writable_folder(dir, "--out")?;
        }
        let engine = match &mut self.engine {
            Some(engine) => engine,
            None => (self.engine).insert(engine_for(&self.ck, self.options.compute.device)?),
        };
        let mut predicted = predict_workout(engine.as_mut(), &self.ck, &workout)?;
        let offset = if self.options.offset {
            let errors = match &mut self.history_errors {
                Some(errors) => errors,
                None => {
                    let history: Vec<&Prepared> = self.history.iter().collect();
                    let errors = window_errors(engine.as_mut(), &self.ck, &history)?;
                    self.history_errors.insert(errors)
                }
            };
            let sources: Vec<_> = (self.history.iter().map(|p| &p.workout))
                .zip(errors.iter().copied())
                .collect();
            let offset = earlier_offsets(&[&workout.workout], &sources)[0];
            predicted.shift(offset);
            Some(offset)
        } else {
            None
        };
        let summary = Summary::of(&predicted, self.ck.interval_s, workout.max_hr);
        let name = output
            .input
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let charts = report::chart(&name, &predicted, &summary, workout.has_elevation);
        let png =
            plot::png(&charts, 1).with_context(|| format!("drawing {}", output.png.display()))?;
        atomic::write_all(&[
            (output.csv.clone(), predicted.csv().into_bytes()),
            (output.png.clone(), png),
        ])?;
        Ok(Prediction {
            csv: output.csv.clone(),
            png: output.png.clone(),
            steps: predicted.steps.len(),
            mae: predicted.mae(),
            offset,
            summary,
        })
    }

    /// Reads the first workout of `input` (timed from the pace, where one is given), cleans it
    /// and resamples its pieces at the checkpoint's interval; its person-level inputs are its
    /// profile, sport and history ([`person_row`]).
    fn read(&self, input: &Path) -> Result<WorkoutPieces> {
        let named = || format!("--input {}", input.display());
        let mut skipped = Vec::new();
        let workouts =
            data::read_file_with(input, PointTimes::Optional, &mut skipped).with_context(named)?;
        let count = workouts.len();
        let Some(mut workout) = workouts.into_iter().next() else {
            bail!("{}: no workout in the file", named());
        };
        if count > 1 {
            eprintln!(
                "warning: {} holds {count} workouts; predicting the first",
                input.display()
            );
        }
        if let Some(speed) = self.options.pace.speed() {
            retime(&mut workout, speed, now_s(), self.ck.interval_s).with_context(named)?;
        } else if !has_times(&workout) {
            bail!(
                "{}: no point has a time (a planned route?): give the pace to time it with \
                 --pace MM:SS (per km) or --speed KMH",
                named()
            );
        }
        workout.profile = workout.profile.or(self.fallback);
        let features = &self.ck.config.features;
        ProfileArgs::warn_unknown(workout.profile, features, &input.display().to_string());
        let cleaned = data::clean(&workout);
        if !cleaned.notes.is_empty() {
            eprintln!("warning: {}: {}", input.display(), cleaned.notes.join("; "));
        }
        let Some(first) = cleaned.pieces.first() else {
            bail!("{}: no usable records left after cleaning", named());
        };
        let start = first.start_time();
        let pieces = (cleaned.pieces.iter())
            .map(|piece| {
                let seq = features::resample_any(piece, self.ck.interval_s).with_context(named)?;
                Ok((piece.start_time() - start, seq))
            })
            .collect::<Result<Vec<_>>>()?;
        let has_elevation = (cleaned.pieces.iter())
            .any(|piece| piece.samples.iter().any(|s| s.altitude_m.is_some()));
        let mut target = Prepared::new(first.clone(), pieces[0].1.clone());
        if let Some(h) = self.history.first() {
            target.workout.user_id = h.workout.user_id;
        }
        Ok(WorkoutPieces {
            workout: target.workout.clone(),
            person: person_row(&self.history, target),
            pieces,
            max_hr: workout.profile.max_hr,
            has_elevation,
        })
    }
}

/// Now, in whole Unix seconds: when a planned route without times starts.
fn now_s() -> f64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since_epoch.map_or(0.0, |d| d.as_secs() as f64)
}

/// The person-level inputs of the workout `target` (its first piece): its profile and sport,
/// and its history from `history` (the workouts of `--history`, all one person's, taken for
/// `target`'s) that started before it.
fn person_row(history: &[Prepared], mut target: Prepared) -> [f32; NUM_PERSON_INPUTS] {
    if let Some(h) = history.first() {
        target.workout.user_id = h.workout.user_id;
    }
    let mut targets = [target];
    workouts::fill_histories(&mut targets, history, &|_| Truncation::None);
    Split::person_values(&targets[0].person_values())
}

/// Predicts `workout` with the model of `ck`, open in `engine`, each piece as one sequence.
pub fn predict_workout(
    engine: &mut dyn Engine,
    ck: &Checkpoint,
    workout: &WorkoutPieces,
) -> Result<PredictedWorkout> {
    let mut steps = Vec::new();
    let mut distance_before = 0.0;
    for (offset, seq) in &workout.pieces {
        let pred = predict_sequence(engine, ck, &seq.features, &workout.person)?;
        let mut distance = distance_before;
        for (k, (&predicted, row)) in pred
            .iter()
            .zip(seq.features.chunks(NUM_FEATURES))
            .enumerate()
        {
            distance = distance_before + f64::from(row[DISTANCE_FEATURE]);
            steps.push(Step {
                time_s: offset + k as f64 * ck.interval_s,
                actual: seq.valid[k].then_some(seq.heart_rate[k]),
                predicted,
                altitude_m: row[ALTITUDE_FEATURE],
                distance_km: distance,
            });
        }
        distance_before = distance;
    }
    Ok(PredictedWorkout { steps })
}

/// Runs `hrcast predict` from the command line: predicts, then says what it wrote.
pub fn run(options: &PredictOptions) -> Result<ExitCode> {
    for p in predict(options)? {
        println!("{p}");
    }
    Ok(ExitCode::SUCCESS)
}
