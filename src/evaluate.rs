//! `hrcast evaluate`: a checkpoint's predictions on a processed data file, or on raw workout
//! files prepared in memory with the checkpoint's features, interval and window length,
//! measured on the valid (masked) steps in bpm.
//!
//! - MAE = mean |ŷ - y|, RMSE = sqrt(mean (ŷ - y)²), R² = 1 - SS_res / SS_tot with SS_tot about
//!   the mean of the evaluated targets;
//! - per-timestep MAE (by step index inside the window) and per-user MAE;
//! - zone accuracy: the share of steps whose predicted zone equals the true one, zones by the
//!   fraction of `--hr-max`: below 0.6, 0.6-0.7, 0.7-0.8, 0.8-0.9, from 0.9.
//!
//! Files in `--out`: metrics.json, predictions.csv, per_user.csv, per_timestep_mae.csv,
//! sample_predictions.png, scatter.png, error_by_timestep.png.
//!
//! The command in its parts: [`EvaluateOptions`] name the checkpoint and the data and give an
//! [`EvaluateConfig`]; [`evaluate_split`] evaluates a checkpoint on windows in memory (as
//! `hrcast ablate` does each of its models) and returns an [`Evaluation`], which [`write()`]
//! writes. The predictions come from [`crate::score::predict_split`] and MAE, RMSE and R² from
//! [`Scores`], as `hrcast crossval` scores its held-out people.

use crate::atomic;
use crate::checkpoint::{Checkpoint, TrainedOn, engine_for};
use crate::data::{Profile, Workout};
use crate::dataset::Split;
use crate::engine::{ComputeArgs, Device, Engine};
use crate::plot::{self, Chart, Mark, Markers, Series};
use crate::prepare::default_data;
use crate::score::{
    MaeInterval, Scores, earlier_offsets, predict_split, too_few, valid_steps, window_errors,
};
use crate::values::non_negative;
use crate::workouts::{self, Prepared, Truncation};
use anyhow::{Context, Result, ensure};
use plotters::style::{BLACK, RGBColor};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The default `--hr-max`, bpm.
pub const DEFAULT_HR_MAX: f64 = 190.0;
/// Upper bounds of the heart-rate zones, as fractions of the maximal heart rate.
pub const ZONE_BOUNDS: [f64; 4] = [0.6, 0.7, 0.8, 0.9];
/// Windows drawn in sample_predictions.png.
const SAMPLE_WINDOWS: usize = 6;
/// Points drawn at most in scatter.png.
const SCATTER_POINTS: usize = 20_000;
/// The colour of recorded heart rate in plots.
pub const ACTUAL: RGBColor = RGBColor(31, 119, 180);
/// The colour of predicted heart rate in plots.
pub const PREDICTED: RGBColor = RGBColor(214, 39, 40);

/// `hrcast evaluate` options.
#[derive(Debug, Clone, clap::Args)]
pub struct EvaluateOptions {
    /// Checkpoint to evaluate.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Processed data file, or a folder of them (as `train --data` takes), whose
    /// test.safetensors is read [default: the test split of the data the checkpoint was
    /// trained on; for a checkpoint that does not record it, that of DATA/processed, or of the
    /// default synthetic set in DATA/synthetic/processed when DATA/processed holds no data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Raw workout files or folders (FIT, TCX, GPX, FitRec) to evaluate on instead of --data,
    /// prepared in memory with the checkpoint's features, interval and window length.
    #[arg(long, num_args = 1.., conflicts_with = "data")]
    pub input: Vec<PathBuf>,
    /// With --input: run each workout as one sequence, the state carried from start to end (as
    /// `predict` does), instead of windows of the checkpoint's length from a zero state.
    #[arg(long, requires = "input")]
    pub whole_workouts: bool,
    /// With --input: workout files or folders that only serve as earlier workouts (the
    /// history inputs) of the people of --input, who also get each other's earlier workouts;
    /// a folder X under a --history folder is the person of the folder X under an --input
    /// folder, as in `prepare --history`.
    #[arg(long = "history", value_name = "HISTORY", num_args = 1.., requires = "input")]
    pub history: Vec<PathBuf>,
    /// With --input: shift each workout's predictions by the model's mean error (actual -
    /// predicted) on the same person's earlier workouts (of --input and --history; none for
    /// a person's first): calibration without training.
    #[arg(long, requires = "input")]
    pub offset: bool,
    /// Output folder.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Maximal heart rate for the zones.
    #[arg(long, alias = "hr_max", default_value_t = EvaluateConfig::default().hr_max, value_parser = non_negative)]
    pub hr_max: f64,
    /// `--device` and `--threads`.
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// How a checkpoint is evaluated; the defaults are `hrcast evaluate`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluateConfig {
    /// Maximal heart rate for the zones, bpm.
    pub hr_max: f64,
    /// Where the math runs.
    pub device: Device,
}

impl Default for EvaluateConfig {
    fn default() -> Self {
        EvaluateConfig {
            hr_max: DEFAULT_HR_MAX,
            device: Device::Auto,
        }
    }
}

impl EvaluateOptions {
    /// The evaluation the flags ask for (the checkpoint and the data aside: they are read).
    pub fn config(&self) -> EvaluateConfig {
        EvaluateConfig {
            hr_max: self.hr_max,
            device: self.compute.device,
        }
    }
}

/// What an evaluation is of, by name, as metrics.json says.
#[derive(Debug, Clone)]
pub struct Labels {
    /// The checkpoint.
    pub checkpoint: String,
    /// The data.
    pub data: String,
    /// Whether each window is a whole workout.
    pub whole_workouts: bool,
}

/// A checkpoint's evaluation on a split: its metrics, and the predictions and tallies the
/// files are written from.
pub struct Evaluation {
    /// The figures of metrics.json.
    pub metrics: Metrics,
    predictions: Vec<f32>,
    tally: Tally,
}

/// The figures of metrics.json.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// Mean absolute error, bpm.
    pub mae: f64,
    /// Root mean squared error, bpm.
    pub rmse: f64,
    /// Coefficient of determination.
    pub r2: f64,
    /// Share of steps in the right zone.
    pub zone_accuracy: f64,
    /// Valid steps evaluated.
    pub n_steps: usize,
    /// Workouts evaluated.
    pub n_workouts: usize,
    /// A 95 % interval of the MAE by bootstrap over the workouts.
    pub mae_interval: Option<MaeInterval>,
    /// Where the steps or workouts are too few for the figures to mean much, why.
    pub too_few: Option<String>,
    /// The checkpoint.
    pub checkpoint: String,
    /// The data file.
    pub data: String,
    /// How the workouts ran: `windows of N steps` (each from a zero state) or `whole workouts`.
    pub sequences: String,
}

/// The zone (0 to 4) of a heart rate.
pub fn zone(hr: f64, hr_max: f64) -> usize {
    ZONE_BOUNDS
        .iter()
        .take_while(|&&b| hr >= b * hr_max)
        .count()
}

/// Runs `hrcast evaluate`: reads the checkpoint and the windows, evaluates, writes the files
/// and returns the metrics.
pub fn evaluate(options: &EvaluateOptions) -> Result<Metrics> {
    let ck = Checkpoint::load(&options.checkpoint).context("--checkpoint")?;
    let source = evaluation_source(options, &ck)?;
    atomic::writable_folder(&options.out, "--out")?;
    let labels = Labels {
        checkpoint: options.checkpoint.display().to_string(),
        data: source.name.clone(),
        whole_workouts: options.whole_workouts,
    };
    let config = options.config();
    let mut engine = engine_for(&ck, config.device)?;
    let shift = match (&source.workouts, options.offset) {
        (Some((inputs, history)), true) => {
            offsets_by_workout(engine.as_mut(), &ck, inputs, history)?
        }
        _ => BTreeMap::new(),
    };
    let split = &source.split;
    let evaluation = evaluate_split(engine.as_mut(), &ck, split, labels, &config, &shift)
        .with_context(|| format!("{} {}", source.flag, source.name))?;
    write(&options.out, split, &evaluation)?;
    Ok(evaluation.metrics)
}

/// Each workout's offset (by id): the model's mean error on the same person's earlier
/// workouts of `inputs` and `history` ([`earlier_offsets`]).
fn offsets_by_workout(
    engine: &mut dyn Engine,
    ck: &Checkpoint,
    inputs: &[Prepared],
    history: &[Prepared],
) -> Result<BTreeMap<i64, f32>> {
    let targets: Vec<&Workout> = inputs.iter().map(|p| &p.workout).collect();
    let all: Vec<&Prepared> = inputs.iter().chain(history).collect();
    let errors = window_errors(engine, ck, &all)?;
    let sources: Vec<_> = all.iter().map(|p| &p.workout).zip(errors).collect();
    let offsets = earlier_offsets(&targets, &sources);
    let shifted = offsets.iter().filter(|&&o| o != 0.0).count();
    println!(
        "offset: {shifted} of {} workouts shifted by the model's mean error on their person's earlier workouts",
        targets.len()
    );
    Ok((targets.iter().map(|w| w.workout_id))
        .zip(offsets)
        .collect())
}

/// Evaluates the model of `ck`, open in `engine`, on `split` (named by `labels`) as `config`
/// says: predicts every window, adds the `shift` of its workout (by id; none where absent)
/// and scores its valid steps; fails when there is none.
pub fn evaluate_split(
    engine: &mut dyn Engine,
    ck: &Checkpoint,
    split: &Split,
    labels: Labels,
    config: &EvaluateConfig,
    shift: &BTreeMap<i64, f32>,
) -> Result<Evaluation> {
    let mut predictions = predict_split(engine, ck, split)?;
    let t = split.seq_len;
    for (row, window) in predictions.chunks_mut(t.max(1)).enumerate() {
        if let Some(&offset) = shift.get(&split.workout_id[row]) {
            window.iter_mut().for_each(|p| *p += offset);
        }
    }
    let mut tally = Tally::new(split.seq_len);
    for row in 0..split.n {
        tally.add_window(split, &predictions, row, config.hr_max);
    }
    ensure!(!tally.pairs.is_empty(), "no valid step to evaluate");
    Ok(Evaluation {
        metrics: tally.metrics(split, labels),
        predictions,
        tally,
    })
}

/// Writes the files of `evaluation` (of `split`) into `out`: metrics.json, the CSVs and the
/// plots.
pub fn write(out: &Path, split: &Split, evaluation: &Evaluation) -> Result<()> {
    let step_points = evaluation.tally.write(out, &evaluation.metrics)?;
    plots(
        out,
        split,
        &evaluation.predictions,
        &step_points,
        &evaluation.metrics,
    )
}

/// What `evaluate` scores: the windows, a name for them, the flag that named them, and with
/// `--input` the workouts they were cut from and the history-only workouts of `--history`.
struct Source {
    split: Split,
    name: String,
    flag: &'static str,
    workouts: Option<(Vec<Prepared>, Vec<Prepared>)>,
}

/// The windows to evaluate: the processed file of `--data` (by default the test split of the
/// data the checkpoint was trained on), or the raw files of `--input` prepared in memory with
/// the checkpoint's interval and window length, each workout's history from the same person's
/// earlier workouts of `--input` and `--history`.
fn evaluation_source(options: &EvaluateOptions, ck: &Checkpoint) -> Result<Source> {
    if !options.input.is_empty() {
        let name = workouts::describe_inputs(&options.input);
        workouts::warn_history_unused(&options.history, &ck.config.features);
        let mut loaded = workouts::load(&options.input, ck.interval_s, Profile::default())?;
        workouts::warn(&loaded.cleaned, &loaded.skipped);
        let history = workouts::load_history_flag(&options.history, &options.input, ck.interval_s)?;
        workouts::fill_histories(&mut loaded.prepared, &history, &|_| Truncation::None);
        let seq_len = if options.whole_workouts {
            workouts::longest(&loaded.prepared)
        } else {
            ck.seq_len
        };
        let split = workouts::windows(&loaded.prepared, seq_len, ck.interval_s, &name);
        return Ok(Source {
            split,
            name,
            flag: "--input",
            workouts: Some((loaded.prepared, history)),
        });
    }
    // clap's `requires = "input"` lets these through beside --data, which conflicts with it.
    ensure!(
        options.history.is_empty(),
        "--history needs --input: a processed --data file holds its histories already"
    );
    ensure!(
        !options.whole_workouts,
        "--whole-workouts needs --input: a processed --data file holds its windows already"
    );
    ensure!(
        !options.offset,
        "--offset needs --input: the person's earlier workouts are read from raw files"
    );
    let (data, split) = match (&options.data, &ck.trained_on) {
        (None, Some(trained_on)) => trained_test_split(trained_on, &options.checkpoint)?,
        (data, _) => {
            let data = default_data::test_file(data.as_deref());
            let split = Split::read(&data).context("--data")?;
            (data, split)
        }
    };
    if (split.interval_s - ck.interval_s).abs() > 1e-9 {
        eprintln!(
            "warning: {} is sampled every {} s but the model was trained at {} s",
            data.display(),
            split.interval_s,
            ck.interval_s
        );
    }
    Ok(Source {
        split,
        name: data.display().to_string(),
        flag: "--data",
        workouts: None,
    })
}

/// The test split (path and windows) of the data a checkpoint (`checkpoint`) was trained on, as it records them
/// (`trained_on`): what `evaluate` scores without `--data`. Refused, saying what to pass, where
/// that file is gone or has since been prepared again (another set).
fn trained_test_split(trained_on: &TrainedOn, checkpoint: &Path) -> Result<(PathBuf, Split)> {
    let test = Path::new(&trained_on.folder).join("test.safetensors");
    let pass = "name the data to score with --data FILE|FOLDER or --input PATH";
    ensure!(
        test.is_file(),
        "--checkpoint {} was trained on {}, which holds no test.safetensors now; {pass}",
        checkpoint.display(),
        trained_on.folder
    );
    let split = Split::read(&test).context("--data")?;
    let set_id = &split.set_id;
    ensure!(
        trained_on.set_id.is_empty() || set_id.is_empty() || *set_id == trained_on.set_id,
        "--checkpoint {} was trained on set {} of {}, which has since been prepared again \
         (set {set_id}); {pass}",
        checkpoint.display(),
        trained_on.set_id,
        trained_on.folder
    );
    println!(
        "scoring the test split of the data the model was trained on: {}",
        test.display()
    );
    Ok((test, split))
}

/// The valid steps' (actual, predicted) pairs, their errors per window step and per person, the
/// zones and the predictions' CSV, as the windows are walked.
struct Tally {
    pairs: Vec<(f32, f32)>,
    zones_right: usize,
    per_step: Vec<(f64, usize)>,
    per_user: BTreeMap<i64, (f64, usize)>,
    /// Per workout: the sum of absolute errors and the count of valid steps.
    per_workout: BTreeMap<i64, (f64, usize)>,
    people: BTreeMap<i64, String>,
    csv: String,
}

impl Tally {
    /// Nothing counted yet, for windows of `steps` steps.
    fn new(steps: usize) -> Tally {
        Tally {
            pairs: Vec::new(),
            zones_right: 0,
            per_step: vec![(0.0, 0); steps],
            per_user: BTreeMap::new(),
            per_workout: BTreeMap::new(),
            people: BTreeMap::new(),
            csv: String::from("window,workout_id,user_id,step,actual,predicted\n"),
        }
    }

    /// Counts the valid steps of window `row` (zones against `hr_max`).
    fn add_window(&mut self, split: &Split, pred: &[f32], row: usize, hr_max: f64) {
        let user = split.user_id[row];
        self.people
            .entry(user)
            .or_insert_with(|| split.person_name(row));
        for (step, actual, predicted) in valid_steps(split, pred, row) {
            self.pairs.push((actual, predicted));
            let (y, p) = (f64::from(actual), f64::from(predicted));
            let e = (p - y).abs();
            self.zones_right += usize::from(zone(y, hr_max) == zone(p, hr_max));
            self.per_step[step].0 += e;
            self.per_step[step].1 += 1;
            let u = self.per_user.entry(user).or_default();
            u.0 += e;
            u.1 += 1;
            let w = self.per_workout.entry(split.workout_id[row]).or_default();
            w.0 += e;
            w.1 += 1;
            let _ = writeln!(
                self.csv,
                "{row},{},{},{step},{y:.2},{p:.2}",
                split.workout_id[row], user
            );
        }
    }

    /// MAE, RMSE, R² ([`Scores`]) and zone accuracy of the windows of `split`, named by
    /// `labels`.
    fn metrics(&self, split: &Split, labels: Labels) -> Metrics {
        let scores = Scores::of(&self.pairs);
        Metrics {
            mae: scores.mae,
            rmse: scores.rmse,
            r2: scores.r2,
            zone_accuracy: self.zones_right as f64 / scores.n_steps as f64,
            n_steps: scores.n_steps,
            n_workouts: self.per_workout.len(),
            mae_interval: MaeInterval::over_workouts(
                &self.per_workout.values().copied().collect::<Vec<_>>(),
            ),
            too_few: too_few(
                self.per_workout.len(),
                scores.n_steps as f64 * split.interval_s / 60.0,
            ),
            checkpoint: labels.checkpoint,
            data: labels.data,
            sequences: if labels.whole_workouts {
                "whole workouts".into()
            } else {
                format!("windows of {} steps", split.seq_len)
            },
        }
    }

    /// Writes metrics.json, predictions.csv, per_user.csv and per_timestep_mae.csv into `out`
    /// (all or none); returns the per-step MAE (by step index) for the plot.
    fn write(&self, out: &Path, metrics: &Metrics) -> Result<Vec<(usize, f64)>> {
        let mut users = String::from("user_id,person,n_steps,mae\n");
        for (user, (e, count)) in &self.per_user {
            let name = self.people[user].replace(',', " ");
            let _ = writeln!(users, "{user},{name},{count},{:.4}", e / *count as f64);
        }
        let mut steps = String::from("step,n_steps,mae\n");
        let mut step_points = Vec::new();
        for (step, (e, count)) in self
            .per_step
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| *c > 0)
        {
            let _ = writeln!(steps, "{step},{count},{:.4}", e / *count as f64);
            step_points.push((step, e / *count as f64));
        }
        atomic::write_all(&[
            (
                out.join("metrics.json"),
                serde_json::to_vec_pretty(metrics)?,
            ),
            (out.join("predictions.csv"), self.csv.clone().into_bytes()),
            (out.join("per_user.csv"), users.into_bytes()),
            (out.join("per_timestep_mae.csv"), steps.into_bytes()),
        ])?;
        Ok(step_points)
    }
}

/// Draws sample_predictions.png, scatter.png and error_by_timestep.png into `out`;
/// `step_points` holds the MAE by step index.
fn plots(
    out: &Path,
    split: &Split,
    pred: &[f32],
    step_points: &[(usize, f64)],
    metrics: &Metrics,
) -> Result<()> {
    plot::save(
        &out.join("sample_predictions.png"),
        &sample_charts(split, pred),
        3,
    )?;
    plot::save(
        &out.join("scatter.png"),
        &[scatter(split, pred, metrics)],
        1,
    )?;
    let x_label = format!("minutes into the window (a step is {} s)", split.interval_s);
    plot::save(
        &out.join("error_by_timestep.png"),
        &[Chart {
            title: "Mean absolute error by time into the window".into(),
            x_label: &x_label,
            y_label: "MAE (bpm)",
            series: vec![Series {
                label: "MAE",
                points: (step_points.iter())
                    .map(|&(step, mae)| (minutes(split, step), mae))
                    .collect(),
                color: PREDICTED,
                mark: Mark::Line,
            }],
            markers: Vec::new(),
            notes: Vec::new(),
        }],
        1,
    )
}

/// Minutes from a window's start to its step `step`.
fn minutes(split: &Split, step: usize) -> f64 {
    step as f64 * split.interval_s / 60.0
}

/// Window `row`'s actual heart rate (minutes, bpm) up to its length, NaN (a gap in the line) at
/// its masked steps.
fn actual_line(split: &Split, row: usize) -> Vec<(f64, f64)> {
    let t = split.seq_len;
    (0..split.length[row] as usize)
        .map(|s| {
            let i = row * t + s;
            let bpm = if split.mask[i] > 0.0 {
                f64::from(split.heart_rate[i])
            } else {
                f64::NAN
            };
            (minutes(split, s), bpm)
        })
        .collect()
}

/// The prediction of window `row` (minutes, bpm) up to its length: none over the padding.
fn predicted_line(split: &Split, pred: &[f32], row: usize) -> Vec<(f64, f64)> {
    let t = split.seq_len;
    (0..split.length[row] as usize)
        .map(|s| (minutes(split, s), f64::from(pred[row * t + s])))
        .collect()
}

/// Actual and predicted heart rate of [`SAMPLE_WINDOWS`] windows spread over the split, each
/// titled with its workout's name.
fn sample_charts(split: &Split, pred: &[f32]) -> Vec<Chart<'static>> {
    let shown = SAMPLE_WINDOWS.min(split.n);
    (0..shown)
        .map(|k| k * split.n / shown)
        .map(|row| {
            let len = split.length[row] as usize;
            Chart {
                title: format!("{} (window {row})", split.workout_name(row)),
                x_label: "minutes into the window",
                y_label: "heart rate (bpm)",
                series: vec![
                    Series {
                        label: "actual",
                        points: actual_line(split, row),
                        color: ACTUAL,
                        mark: Mark::Line,
                    },
                    Series {
                        label: "predicted",
                        points: predicted_line(split, pred, row),
                        color: PREDICTED,
                        mark: Mark::Line,
                    },
                ],
                markers: if len < split.seq_len {
                    vec![Markers {
                        label: "padding starts",
                        xs: vec![minutes(split, len)],
                        color: BLACK,
                        width: 1,
                        dashed: true,
                    }]
                } else {
                    Vec::new()
                },
                notes: Vec::new(),
            }
        })
        .collect()
}

/// Predicted against actual heart rate at (at most [`SCATTER_POINTS`]) valid steps, with the
/// line where they are equal.
fn scatter(split: &Split, pred: &[f32], metrics: &Metrics) -> Chart<'static> {
    let valid: Vec<usize> = (0..split.n * split.seq_len)
        .filter(|&i| split.mask[i] > 0.0)
        .collect();
    let stride = valid.len().div_ceil(SCATTER_POINTS).max(1);
    let points: Vec<(f64, f64)> = valid
        .iter()
        .step_by(stride)
        .map(|&i| (f64::from(split.heart_rate[i]), f64::from(pred[i])))
        .collect();
    Chart {
        title: format!(
            "Predicted vs actual (MAE {:.2} bpm, R² {:.3})",
            metrics.mae, metrics.r2
        ),
        x_label: "actual heart rate (bpm)",
        y_label: "predicted heart rate (bpm)",
        series: vec![
            Series {
                label: "predicted = actual",
                points: plot::identity_line(&points),
                color: PREDICTED,
                mark: Mark::Line,
            },
            Series {
                label: "valid steps",
                points,
                color: ACTUAL,
                mark: Mark::Dots,
            },
        ],
        markers: Vec::new(),
        notes: Vec::new(),
    }
}

/// The printed table of `hrcast evaluate`.
pub fn table(m: &Metrics) -> String {
    let interval = m
        .mae_interval
        .map_or(" (one workout: no interval)".into(), |i| {
            format!(
                " (95 % interval {:.2} to {:.2}, bootstrap over {} workouts)",
                i.low, i.high, i.workouts
            )
        });
    let warning = m
        .too_few
        .as_ref()
        .map_or(String::new(), |w| format!("\nnote: {w}\n"));
    format!(
        "| metric | value |\n| --- | --- |\n| MAE | {:.2} bpm{interval} |\n| RMSE | {:.2} bpm |\n| R² | {:.3} |\n| zone accuracy | {:.1} % |\n| steps | {} |\n| workouts | {} |\n| sequences | {} |\n| data | {} |\n| checkpoint | {} |\n{warning}",
        m.mae,
        m.rmse,
        m.r2,
        100.0 * m.zone_accuracy,
        m.n_steps,
        m.n_workouts,
        m.sequences,
        m.data,
        m.checkpoint
    )
}

/// Runs `hrcast evaluate` from the command line: evaluates, then prints the metrics' table and
/// where the files went.
pub fn run(options: &EvaluateOptions) -> Result<ExitCode> {
    let metrics = evaluate(options)?;
    print!("{}", table(&metrics));
    println!(
        "wrote metrics, predictions and plots to {}",
        options.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One window of 6 steps at 30 s: 4 long, step 1 masked, steps 4 and 5 padding.
    fn window() -> (Split, Vec<f32>) {
        let mut split = Split::empty(6, 30.0, "test");
        split.n = 1;
        split.heart_rate = vec![100.0, 0.0, 110.0, 120.0, 0.0, 0.0];
        split.mask = vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        split.length = vec![4];
        split.user_id = vec![7];
        split.workout_id = vec![70];
        (split, vec![101.0, 105.0, 111.0, 121.0, 0.0, 0.0])
    }

    #[test]
    fn the_actual_line_has_gaps_at_masked_steps_and_stops_at_the_length() {
        let (split, _) = window();
        let line = actual_line(&split, 0);
        assert_eq!(line.len(), 4, "no padding step");
        assert_eq!(line[0], (0.0, 100.0));
        assert!(line[1].1.is_nan(), "the masked step is a gap");
        assert_eq!(line[3], (1.5, 120.0), "minutes on x");
        assert_eq!(plot::segments(&line).len(), 2);
    }

    #[test]
    fn the_prediction_stops_where_padding_starts() {
        let (split, pred) = window();
        let line = predicted_line(&split, &pred, 0);
        assert_eq!(line.len(), 4);
        assert_eq!(line[1], (0.5, 105.0));
        assert!(line.iter().all(|p| p.1 > 100.0), "nothing of the padding");
        let chart = &sample_charts(&split, &pred)[0];
        assert_eq!(chart.markers[0].xs, [2.0], "padding starts at 2 minutes");
        assert_eq!(chart.title, "workout 70 (window 0)", "no name in the file");
    }

    #[test]
    fn the_scatter_draws_the_identity_line_across_the_points() {
        let (split, pred) = window();
        let metrics = Tally::new(6).metrics(&split, labels());
        let chart = scatter(&split, &pred, &metrics);
        let identity = chart.series.iter().find(|s| s.mark == Mark::Line).unwrap();
        assert_eq!(identity.points, [(100.0, 100.0), (121.0, 121.0)]);
    }

    fn labels() -> Labels {
        Labels {
            checkpoint: String::new(),
            data: String::new(),
            whole_workouts: false,
        }
    }
}
