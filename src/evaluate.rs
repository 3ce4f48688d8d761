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
//! Training scores its validation split here too: [`validate`] (the model's loss and MAE) and
//! [`mean_baseline`] (those of predicting the training mean).

use crate::atomic;
use crate::checkpoint::{Checkpoint, engine_for};
use crate::data::Profile;
use crate::dataset::Split;
use crate::engine::{Device, Engine};
use crate::features::feature_indices;
use crate::model::{Batch, Normalization};
use crate::plot::{self, Chart, Series};
use crate::prepare::default_data;
use crate::train::{BatchRows, by_length, full_length};
use crate::workouts;
use anyhow::{Context, Result};
use plotters::style::RGBColor;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The default `--hr-max`, bpm.
pub const DEFAULT_HR_MAX: f64 = 190.0;
/// Upper bounds of the heart-rate zones, as fractions of the maximal heart rate.
const ZONE_BOUNDS: [f64; 4] = [0.6, 0.7, 0.8, 0.9];
/// Windows per evaluation batch.
const EVAL_BATCH: usize = 16;
/// Windows drawn in sample_predictions.png.
const SAMPLE_WINDOWS: usize = 6;
/// Points drawn at most in scatter.png.
const SCATTER_POINTS: usize = 20_000;
const ACTUAL: RGBColor = RGBColor(31, 119, 180);
const PREDICTED: RGBColor = RGBColor(214, 39, 40);

/// `hrcast evaluate` options.
#[derive(Debug, Clone, clap::Args)]
pub struct EvaluateOptions {
    /// Checkpoint to evaluate.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Processed data file [default: test.safetensors of DATA/processed, or of the default
    /// synthetic set in DATA/synthetic/processed when DATA/processed holds no data].
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
    /// Output folder.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Maximal heart rate for the zones.
    #[arg(long, alias = "hr_max", default_value_t = DEFAULT_HR_MAX, value_parser = non_negative)]
    pub hr_max: f64,
    /// Where the math runs.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
}

/// Parses a flag's value that must be a finite number >= 0.
pub fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("expected a non-negative number, got {text:?}")),
    }
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

/// The batches an evaluation runs. Cut (`cut`): the windows longest first, `batch_size` at a
/// time, each batch cut to the steps its longest window needs ([`by_length`]). What is cut is
/// padding, which neither direction reads before a valid step, so the predictions at every
/// valid step are those of full-length batches; whole workouts padded to the longest one run
/// several times faster. Else the windows in order at full length.
fn eval_batches(split: &Split, batch_size: usize, cut: bool) -> Vec<BatchRows> {
    let mut rows: Vec<usize> = (0..split.n).collect();
    if cut {
        by_length(&mut rows, &split.length, batch_size, split.seq_len)
    } else {
        full_length(&rows, batch_size, split.seq_len)
    }
}

/// Predictions of a checkpoint for every window of a split, in bpm, `[n, seq_len]` (0 where a
/// batch was cut short: padding).
pub fn predict_split(engine: &mut dyn Engine, ck: &Checkpoint, split: &Split) -> Result<Vec<f32>> {
    let features = feature_indices(&ck.config.features)?;
    let norm = &ck.normalization;
    let t = split.seq_len;
    let mut out = vec![0.0; split.n * t];
    for BatchRows { rows, steps } in eval_batches(split, EVAL_BATCH, true) {
        let batch = split.batch_of(&rows, steps, &features, norm);
        let pred = engine.predict(&batch)?;
        for (&r, row) in rows.iter().zip(pred.chunks(steps)) {
            for (o, &z) in out[r * t..r * t + steps].iter_mut().zip(row) {
                *o = norm.bpm(z);
            }
        }
    }
    Ok(out)
}

/// Loss and MAE (bpm) of an engine's predictions on a whole split, in batches.
pub fn validate(
    engine: &mut dyn Engine,
    split: &Split,
    features: &[usize],
    norm: &Normalization,
    batch_size: usize,
    use_masking: bool,
) -> Result<(f64, f64)> {
    score(split, features, norm, batch_size, use_masking, |batch| {
        engine.predict(batch)
    })
}

/// Validation loss and MAE (bpm) of the trivial model that predicts the training mean heart
/// rate at every step (0 in normalized units): the bar a trained model has to clear.
pub fn mean_baseline(
    split: &Split,
    features: &[usize],
    norm: &Normalization,
    batch_size: usize,
    use_masking: bool,
) -> Result<(f64, f64)> {
    score(split, features, norm, batch_size, use_masking, |batch| {
        Ok(vec![0.0; batch.y.len()])
    })
}

/// Loss (masked MSE in normalized units, or the plain mean without masking) and MAE (bpm, over
/// valid steps) of `predict`'s output on a whole split, in batches.
fn score(
    split: &Split,
    features: &[usize],
    norm: &Normalization,
    batch_size: usize,
    use_masking: bool,
    mut predict: impl FnMut(&Batch<f32>) -> Result<Vec<f32>>,
) -> Result<(f64, f64)> {
    let (mut sq, mut abs, mut valid, mut all) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    // Without masking the loss averages over padding too: batches run at full length then.
    for BatchRows { rows, steps } in eval_batches(split, batch_size, use_masking) {
        let batch = split.batch_of(&rows, steps, features, norm);
        let pred = predict(&batch)?;
        for ((p, y), m) in pred.iter().zip(&batch.y).zip(&batch.mask) {
            let e = f64::from(p - y);
            let weight = if use_masking { f64::from(*m) } else { 1.0 };
            sq += weight * e * e;
            all += weight;
            if *m > 0.0 {
                abs += e.abs();
                valid += 1.0;
            }
        }
    }
    Ok((sq / all.max(1.0), abs / valid.max(1.0) * norm.hr_std))
}

/// Runs `hrcast evaluate`: writes the files and returns the metrics.
pub fn evaluate(options: &EvaluateOptions) -> Result<Metrics> {
    let ck = Checkpoint::load(&options.checkpoint).context("--checkpoint")?;
    let (split, data_name, flag) = evaluation_split(options, &ck)?;
    atomic::writable_folder(&options.out, "--out")?;
    let mut engine = engine_for(&ck, options.device)?;
    let pred = predict_split(engine.as_mut(), &ck, &split)?;

    let mut tally = Tally::new(split.seq_len);
    for row in 0..split.n {
        tally.add_window(&split, &pred, row, options.hr_max);
    }
    anyhow::ensure!(tally.n > 0, "{flag} {data_name}: no valid step to evaluate");
    let metrics = tally.metrics(
        &split,
        options.checkpoint.display().to_string(),
        data_name,
        options.whole_workouts,
    );
    let step_points = tally.write(&options.out, &metrics)?;
    plots(&options.out, &split, &pred, &step_points, &metrics)?;
    Ok(metrics)
}

/// The windows to evaluate, a name for them and the flag that named them: the processed file
/// of `--data` (by default the test split of the default data), or the raw files of `--input`
/// prepared in memory with the checkpoint's interval and window length.
fn evaluation_split(
    options: &EvaluateOptions,
    ck: &Checkpoint,
) -> Result<(Split, String, &'static str)> {
    if !options.input.is_empty() {
        let name = workouts::describe_inputs(&options.input);
        let loaded = workouts::load(&options.input, ck.interval_s, Profile::default())?;
        workouts::warn(&loaded.cleaned, &loaded.skipped);
        let seq_len = if options.whole_workouts {
            workouts::longest(&loaded.prepared)
        } else {
            ck.seq_len
        };
        let split = workouts::windows(&loaded.prepared, seq_len, ck.interval_s, &name);
        return Ok((split, name, "--input"));
    }
    let data = options
        .data
        .clone()
        .unwrap_or_else(default_data::default_test_file);
    let split = Split::read(&data).context("--data")?;
    if (split.interval_s - ck.interval_s).abs() > 1e-9 {
        eprintln!(
            "warning: {} is sampled every {} s but the model was trained at {} s",
            data.display(),
            split.interval_s,
            ck.interval_s
        );
    }
    Ok((split, data.display().to_string(), "--data"))
}

/// The errors of the valid steps, summed overall, per window step and per person, and the
/// predictions' CSV, as the windows are walked.
struct Tally {
    abs: f64,
    sq: f64,
    zones_right: usize,
    n: usize,
    actual_sum: f64,
    per_step: Vec<(f64, usize)>,
    per_user: BTreeMap<i64, (f64, usize)>,
    workouts: BTreeSet<i64>,
    csv: String,
}

impl Tally {
    /// Nothing counted yet, for windows of `steps` steps.
    fn new(steps: usize) -> Tally {
        Tally {
            abs: 0.0,
            sq: 0.0,
            zones_right: 0,
            n: 0,
            actual_sum: 0.0,
            per_step: vec![(0.0, 0); steps],
            per_user: BTreeMap::new(),
            workouts: BTreeSet::new(),
            csv: String::from("window,workout_id,user_id,step,actual,predicted\n"),
        }
    }

    /// Counts the valid steps of window `row` (zones against `hr_max`).
    fn add_window(&mut self, split: &Split, pred: &[f32], row: usize, hr_max: f64) {
        let t = split.seq_len;
        for (step, step_sums) in self.per_step.iter_mut().enumerate() {
            let i = row * t + step;
            if split.mask[i] <= 0.0 {
                continue;
            }
            let (y, p) = (f64::from(split.heart_rate[i]), f64::from(pred[i]));
            let e = p - y;
            self.abs += e.abs();
            self.sq += e * e;
            self.actual_sum += y;
            self.n += 1;
            self.zones_right += usize::from(zone(y, hr_max) == zone(p, hr_max));
            step_sums.0 += e.abs();
            step_sums.1 += 1;
            let u = self.per_user.entry(split.user_id[row]).or_default();
            u.0 += e.abs();
            u.1 += 1;
            self.workouts.insert(split.workout_id[row]);
            let _ = writeln!(
                self.csv,
                "{row},{},{},{step},{y:.2},{p:.2}",
                split.workout_id[row], split.user_id[row]
            );
        }
    }

    /// MAE, RMSE, R² (against the mean of the valid steps' heart rate) and zone accuracy;
    /// `whole` when each window is a whole workout.
    fn metrics(&self, split: &Split, checkpoint: String, data: String, whole: bool) -> Metrics {
        let n = self.n as f64;
        let mean = self.actual_sum / n;
        let ss_tot: f64 = (0..split.n * split.seq_len)
            .filter(|&i| split.mask[i] > 0.0)
            .map(|i| (f64::from(split.heart_rate[i]) - mean).powi(2))
            .sum();
        Metrics {
            mae: self.abs / n,
            rmse: (self.sq / n).sqrt(),
            r2: if ss_tot > 0.0 {
                1.0 - self.sq / ss_tot
            } else {
                f64::NAN
            },
            zone_accuracy: self.zones_right as f64 / n,
            n_steps: self.n,
            n_workouts: self.workouts.len(),
            checkpoint,
            data,
            sequences: if whole {
                "whole workouts".into()
            } else {
                format!("windows of {} steps", split.seq_len)
            },
        }
    }

    /// Writes metrics.json, predictions.csv, per_user.csv and per_timestep_mae.csv into `out`
    /// (all or none); returns the per-step MAE for the plot.
    fn write(self, out: &Path, metrics: &Metrics) -> Result<Vec<(f64, f64)>> {
        let mut users = String::from("user_id,n_steps,mae\n");
        for (user, (e, count)) in &self.per_user {
            let _ = writeln!(users, "{user},{count},{:.4}", e / *count as f64);
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
            step_points.push((step as f64, e / *count as f64));
        }
        atomic::write_all(&[
            (
                out.join("metrics.json"),
                serde_json::to_vec_pretty(metrics)?,
            ),
            (out.join("predictions.csv"), self.csv.into_bytes()),
            (out.join("per_user.csv"), users.into_bytes()),
            (out.join("per_timestep_mae.csv"), steps.into_bytes()),
        ])?;
        Ok(step_points)
    }
}

fn plots(
    out: &Path,
    split: &Split,
    pred: &[f32],
    step_points: &[(f64, f64)],
    metrics: &Metrics,
) -> Result<()> {
    let t = split.seq_len;
    let minutes = |step: usize| step as f64 * split.interval_s / 60.0;
    let picks: Vec<usize> = (0..SAMPLE_WINDOWS.min(split.n))
        .map(|k| k * split.n / SAMPLE_WINDOWS.min(split.n))
        .collect();
    let samples: Vec<Chart> = picks
        .iter()
        .map(|&row| {
            let len = split.length[row] as usize;
            let actual = (0..t)
                .filter(|&s| split.mask[row * t + s] > 0.0)
                .map(|s| (minutes(s), f64::from(split.heart_rate[row * t + s])))
                .collect();
            let predicted = (0..t)
                .map(|s| (minutes(s), f64::from(pred[row * t + s])))
                .collect();
            Chart {
                title: format!("window {row} (workout {})", split.workout_id[row]),
                x_label: "minutes into the window",
                y_label: "heart rate (bpm)",
                series: vec![
                    Series {
                        label: "actual",
                        points: actual,
                        color: ACTUAL,
                    },
                    Series {
                        label: "predicted",
                        points: predicted,
                        color: PREDICTED,
                    },
                ],
                markers: if len < t {
                    vec![(minutes(len), "padding starts")]
                } else {
                    Vec::new()
                },
                scatter: false,
            }
        })
        .collect();
    plot::save(&out.join("sample_predictions.png"), &samples, 3)?;

    let valid: Vec<usize> = (0..split.n * t).filter(|&i| split.mask[i] > 0.0).collect();
    let stride = valid.len().div_ceil(SCATTER_POINTS).max(1);
    let points: Vec<(f64, f64)> = valid
        .iter()
        .step_by(stride)
        .map(|&i| (f64::from(split.heart_rate[i]), f64::from(pred[i])))
        .collect();
    let (lo, hi) = points.iter().fold((f64::MAX, f64::MIN), |(l, h), p| {
        (l.min(p.0).min(p.1), h.max(p.0).max(p.1))
    });
    plot::save(
        &out.join("scatter.png"),
        &[Chart {
            title: format!(
                "Predicted vs actual (MAE {:.2} bpm, R² {:.3})",
                metrics.mae, metrics.r2
            ),
            x_label: "actual heart rate (bpm)",
            y_label: "predicted heart rate (bpm)",
            series: vec![
                Series {
                    label: "valid steps",
                    points,
                    color: ACTUAL,
                },
                Series {
                    label: "predicted = actual",
                    points: vec![(lo, lo), (hi, hi)],
                    color: PREDICTED,
                },
            ],
            markers: Vec::new(),
            scatter: true,
        }],
        1,
    )?;
    plot::save(
        &out.join("error_by_timestep.png"),
        &[Chart {
            title: "Mean absolute error by step inside the window".into(),
            x_label: "step",
            y_label: "MAE (bpm)",
            series: vec![Series {
                label: "MAE",
                points: step_points.to_vec(),
                color: PREDICTED,
            }],
            markers: Vec::new(),
            scatter: false,
        }],
        1,
    )
}

/// The printed table of `hrcast evaluate`.
pub fn table(m: &Metrics) -> String {
    format!(
        "| metric | value |\n| --- | --- |\n| MAE | {:.2} bpm |\n| RMSE | {:.2} bpm |\n| R² | {:.3} |\n| zone accuracy | {:.1} % |\n| steps | {} |\n| workouts | {} |\n| sequences | {} |\n",
        m.mae,
        m.rmse,
        m.r2,
        100.0 * m.zone_accuracy,
        m.n_steps,
        m.n_workouts,
        m.sequences
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
