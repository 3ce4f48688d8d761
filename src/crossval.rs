//! `hrcast crossval`: cross-validation across people. The workouts of `--input` are read once;
//! the people (FitRec user ids, else one per subfolder of an input folder) are dealt into
//! `--folds` folds, and for each fold a model is trained on every other person's workouts and
//! tested on that fold's people, whom it has never seen. Within the training people, the latest
//! `--val-share` of each person's workouts validate (early stopping, the learning-rate
//! schedule); `--add-train` adds the windows of a processed file (synthetic people, say) to the
//! training split of every fold.
//!
//! Each held-out workout is predicted two ways, and both are reported:
//! - `windows`: cut into windows of `--seq-len` steps, each starting from a zero state, as the
//!   model was trained (and as `hrcast evaluate` scores a processed file);
//! - `whole`: the whole workout as one sequence, the state carried from start to end (as
//!   `hrcast predict` runs a file).
//!
//! The figures are MAE, RMSE and R² over the valid steps, per fold and pooled over all folds
//! (every step of every person, each predicted by the one model that did not see that person;
//! R² about the pooled mean), and the MAE of each person. Files in `<results>/crossval/`:
//! crossval.json, crossval.md (the tables), per_person.csv, folds.csv, per_person_mae.png,
//! scatter.png; each fold's data, checkpoints and curves in `fold-<k>/`.

use crate::atomic;
use crate::calibrate::{CALIBRATION_EPOCHS, fine_tune};
use crate::checkpoint::{Checkpoint, engine_for};
use crate::data::Profile;
use crate::dataset::Split;
use crate::engine::Engine;
use crate::evaluate::predict_split;
use crate::plot::{self, Chart, Series};
use crate::predict::predict_sequence;
use crate::prepare;
use crate::train::{self, TrainOptions, unit_interval};
use crate::workouts::{self, Prepared};
use anyhow::{Context, Result, bail, ensure};
use plotters::style::RGBColor;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const WINDOWS: RGBColor = RGBColor(31, 119, 180);
const WHOLE: RGBColor = RGBColor(214, 39, 40);
/// Points drawn at most in scatter.png.
const SCATTER_POINTS: usize = 20_000;

/// `hrcast crossval` options.
#[derive(Debug, Clone, clap::Args)]
pub struct CrossvalOptions {
    /// Workout files or folders (FIT, TCX, GPX, FitRec JSON lines); each subfolder of a folder
    /// is one person.
    #[arg(long = "input", value_name = "INPUT", num_args = 1.., required = true)]
    pub inputs: Vec<PathBuf>,
    /// Folds; people are dealt into them largest first, each to the fold with the fewest
    /// windows so far. More folds than people: one person per fold.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..))]
    pub folds: u32,
    /// Steps per training window.
    #[arg(long, alias = "seq_len", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=crate::dataset::MAX_SEQ_LEN as i64))]
    pub seq_len: u32,
    /// Train every fold's model on whole workouts, each one sequence with the state carried
    /// from its start to its end, instead of windows of --seq-len steps from a zero state.
    /// Folds are dealt as without it, and the held-out workouts are still scored both ways
    /// (windows of --seq-len steps, and whole).
    #[arg(long, alias = "whole_workouts")]
    pub whole_workouts: bool,
    /// Grid interval in seconds.
    #[arg(long = "interval", value_name = "INTERVAL", default_value_t = 5.0, value_parser = workouts::grid_seconds)]
    pub interval_s: f64,
    /// Share of each training person's workouts, the latest, that validate (a person with one
    /// workout only trains).
    #[arg(long, alias = "val_share", default_value_t = 0.15, value_parser = unit_interval)]
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
    #[arg(long, alias = "calibrate_epochs", default_value_t = CALIBRATION_EPOCHS, value_parser = clap::value_parser!(u32).range(1..))]
    pub calibrate_epochs: u32,
    /// Training options of every fold's model (`--results` is where crossval/ goes; `--data`
    /// and `--resume` do not apply).
    #[command(flatten)]
    pub train: TrainOptions,
}

/// MAE, RMSE and R² of some valid steps.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Scores {
    /// Mean absolute error, bpm.
    pub mae: f64,
    /// Root mean squared error, bpm.
    pub rmse: f64,
    /// 1 - SS_res / SS_tot, about the mean of these steps' heart rate.
    pub r2: f64,
    /// Valid steps.
    pub n_steps: usize,
}

impl Scores {
    /// The scores of `(actual, predicted)` pairs.
    fn of(pairs: &[(f32, f32)]) -> Scores {
        let n = pairs.len();
        if n == 0 {
            return Scores::default();
        }
        let mean = pairs.iter().map(|p| f64::from(p.0)).sum::<f64>() / n as f64;
        let (mut abs, mut sq, mut tot) = (0.0, 0.0, 0.0);
        for &(y, p) in pairs {
            let e = f64::from(p) - f64::from(y);
            abs += e.abs();
            sq += e * e;
            tot += (f64::from(y) - mean).powi(2);
        }
        Scores {
            mae: abs / n as f64,
            rmse: (sq / n as f64).sqrt(),
            r2: if tot > 0.0 { 1.0 - sq / tot } else { f64::NAN },
            n_steps: n,
        }
    }
}

/// The scores of one way of running the held-out workouts.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Both {
    /// Windows of `--seq-len` steps, each from a zero state.
    pub windows: Scores,
    /// Each workout as one sequence.
    pub whole: Scores,
}

impl Both {
    /// `n_steps,mae_windows,rmse_windows,r2_windows,mae_whole,rmse_whole,r2_whole` as CSV.
    fn csv(&self) -> String {
        let (w, h) = (&self.windows, &self.whole);
        format!(
            "{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4}",
            w.n_steps, w.mae, w.rmse, w.r2, h.mae, h.rmse, h.r2
        )
    }
}

/// One fold's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Fold {
    /// The people tested.
    pub people: Vec<i64>,
    /// Workouts trained on, validated on, tested on.
    pub workouts: [usize; 3],
    /// Windows trained on (with `--add-train`'s).
    pub train_windows: usize,
    /// Epochs trained.
    pub epochs: u64,
    /// Validation MAE of the best model, bpm.
    pub val_mae: f64,
    /// Test figures.
    pub test: Both,
}

/// One person's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    /// The person's id.
    pub user_id: i64,
    /// The folder of one of their workouts' files (empty for FitRec lines), to tell people apart
    /// by more than a number.
    pub folder: String,
    /// The fold that tested them.
    pub fold: usize,
    /// Their workouts.
    pub workouts: usize,
    /// Their mean heart rate over valid steps, bpm.
    pub mean_hr: f64,
    /// Test figures.
    pub test: Both,
}

/// One person's calibration: their later workouts before and after fine-tuning on the earlier.
#[derive(Debug, Clone, Serialize)]
pub struct Calibrated {
    /// The person's id.
    pub user_id: i64,
    /// The fold that tested them.
    pub fold: usize,
    /// Workouts fine-tuned on.
    pub calibration_workouts: usize,
    /// Later workouts tested.
    pub test_workouts: usize,
    /// The fold's model on the later workouts.
    pub before: Both,
    /// The calibrated (fine-tuned) model on the same steps.
    pub after: Both,
    /// The fold's model plus its mean error on the earlier workouts (each way of running its
    /// own), on the same steps: calibration without training.
    pub offset: Both,
}

/// What `hrcast crossval` reports (crossval.json).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The inputs.
    pub inputs: String,
    /// How the models trained: `windows of N steps` or `whole workouts (up to N steps)`.
    pub training: String,
    /// Per fold.
    pub folds: Vec<Fold>,
    /// Per person.
    pub people: Vec<Person>,
    /// Over every held-out step of every fold.
    pub pooled: Both,
    /// The mean of the people's MAE, windows and whole (each person counts once, however many
    /// steps they hold).
    pub mean_person_mae: [f64; 2],
    /// The MAE of predicting each fold's training mean heart rate at every step, pooled: the
    /// bar a model has to clear.
    pub pooled_mean_baseline_mae: f64,
    /// With `--calibrate`: per person calibrated.
    pub calibration: Vec<Calibrated>,
    /// With `--calibrate`: before, fine-tuned and offset, over every calibrated person's later
    /// steps.
    pub calibration_pooled: Option<[Both; 3]>,
}

/// The held-out steps of one person: `(actual, predicted)` per way of running.
#[derive(Default, Clone)]
struct Pairs {
    windows: Vec<(f32, f32)>,
    whole: Vec<(f32, f32)>,
}

impl Pairs {
    fn scores(&self) -> Both {
        Both {
            windows: Scores::of(&self.windows),
            whole: Scores::of(&self.whole),
        }
    }

    /// Adds to every prediction the mean error (actual - predicted) of `earlier`, way by way.
    fn shift(&mut self, earlier: &Pairs) {
        for (pairs, reference) in [
            (&mut self.windows, &earlier.windows),
            (&mut self.whole, &earlier.whole),
        ] {
            let n = reference.len().max(1) as f32;
            let bias = reference.iter().map(|(y, p)| y - p).sum::<f32>() / n;
            for pair in pairs.iter_mut() {
                pair.1 += bias;
            }
        }
    }

    fn extend(&mut self, other: &Pairs) {
        self.windows.extend_from_slice(&other.windows);
        self.whole.extend_from_slice(&other.whole);
    }
}

/// The people of `prepared` dealt into `folds` folds: largest (most windows) first, each to
/// the fold with the fewest windows so far (ties: the lower fold). Returns each fold's people,
/// sorted; no fold is empty.
fn deal(prepared: &[Prepared], folds: usize, seq_len: usize) -> Vec<Vec<i64>> {
    let mut windows: BTreeMap<i64, usize> = BTreeMap::new();
    for p in prepared {
        *windows.entry(p.workout.user_id).or_default() += p.sequence.len().div_ceil(seq_len);
    }
    let mut people: Vec<(i64, usize)> = windows.into_iter().collect();
    people.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let folds = folds.min(people.len());
    let mut dealt: Vec<(usize, Vec<i64>)> = vec![(0, Vec::new()); folds];
    for (user, size) in people {
        let fold = (0..folds)
            .min_by_key(|&f| (dealt[f].0, f))
            .expect("at least one fold");
        dealt[fold].0 += size;
        dealt[fold].1.push(user);
    }
    dealt
        .into_iter()
        .map(|(_, mut people)| {
            people.sort_unstable();
            people
        })
        .collect()
}

/// The split (0 train, 1 val) of each training workout: per person, in order of start time,
/// the last `⌈share · n⌉` of `n ≥ 2` workouts validate. When that leaves no validation workout
/// at all, the latest workout of the person with the most validates.
fn train_or_val(prepared: &[&Prepared], share: f64) -> Vec<usize> {
    let mut by_person: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, p) in prepared.iter().enumerate() {
        by_person.entry(p.workout.user_id).or_default().push(i);
    }
    let mut split = vec![0; prepared.len()];
    for list in by_person.values_mut() {
        list.sort_by(|&a, &b| {
            let (a, b) = (
                prepared[a].workout.start_time(),
                prepared[b].workout.start_time(),
            );
            a.total_cmp(&b)
        });
        if list.len() >= 2 {
            let val = ((share * list.len() as f64).ceil() as usize).min(list.len() - 1);
            for &i in &list[list.len() - val..] {
                split[i] = 1;
            }
        }
    }
    if !split.contains(&1)
        && let Some(list) = by_person
            .values()
            .filter(|l| l.len() >= 2)
            .max_by_key(|l| l.len())
    {
        split[*list.last().expect("two workouts")] = 1;
    }
    split
}

/// Predictions for `workouts` both ways, per person: windows of `seq_len` steps (each from a
/// zero state; a window without valid heart rate is left out, as in training) and each workout
/// as one sequence. Both hold the same valid steps.
fn predict_pairs(
    engine: &mut dyn Engine,
    ck: &Checkpoint,
    workouts: &[&Prepared],
    seq_len: usize,
) -> Result<BTreeMap<i64, Pairs>> {
    let mut split = Split::empty(seq_len, ck.interval_s, "crossval");
    for p in workouts {
        workouts::push_windows(&mut split, p);
    }
    let windowed = predict_split(engine, ck, &split)?;
    let mut pairs: BTreeMap<i64, Pairs> = BTreeMap::new();
    for row in 0..split.n {
        let person = pairs.entry(split.user_id[row]).or_default();
        let steps = row * seq_len..(row + 1) * seq_len;
        for ((&m, &y), &p) in split.mask[steps.clone()]
            .iter()
            .zip(&split.heart_rate[steps.clone()])
            .zip(&windowed[steps])
        {
            if m > 0.0 {
                person.windows.push((y, p));
            }
        }
    }
    for p in workouts {
        let pred = predict_sequence(engine, ck, &p.sequence.features, &p.workout.profile)?;
        let person = pairs.entry(p.workout.user_id).or_default();
        for (step, &y) in p.sequence.heart_rate.iter().enumerate() {
            if p.sequence.valid[step] {
                person.whole.push((y, pred[step]));
            }
        }
    }
    Ok(pairs)
}

/// Personal calibration of fold `fold`'s model (`checkpoint`, open in `engine`): for each of
/// its held-out people with two workouts or more, in order of start time, the first half
/// (at least one) fine-tunes a copy of the model as `hrcast calibrate` does
/// ([`fine_tune`], `--calibrate-epochs`), and the rest test the fold's model, the calibrated
/// one and the fold's model shifted by its mean error on the earlier workouts.
#[allow(clippy::too_many_arguments)]
fn calibrate(
    options: &CrossvalOptions,
    dir: &Path,
    checkpoint: &Path,
    engine: &mut dyn Engine,
    ck: &Checkpoint,
    test: &[&Prepared],
    fold: usize,
    out: &mut Vec<Calibrated>,
    pooled: &mut [Pairs; 3],
) -> Result<()> {
    let seq_len = options.seq_len as usize;
    let mut by_person: BTreeMap<i64, Vec<&Prepared>> = BTreeMap::new();
    for p in test {
        by_person.entry(p.workout.user_id).or_default().push(p);
    }
    for (user, mut list) in by_person {
        if list.len() < 2 {
            continue;
        }
        list.sort_by(|a, b| a.workout.start_time().total_cmp(&b.workout.start_time()));
        let (earlier, later) = list.split_at((list.len() / 2).max(1));
        println!(
            "== fold {fold}: calibrating on person {user}'s {} earlier workouts, testing on {} ==",
            earlier.len(),
            later.len()
        );
        let pdir = dir.join(format!("calibration-{user}"));
        let tuned_path = fine_tune(
            checkpoint,
            ck,
            earlier,
            &options.train,
            options.calibrate_epochs,
            &pdir,
        )
        .with_context(|| format!("fold {fold}: calibrating person {user}"))?;
        let tuned = Checkpoint::load(&tuned_path)?;
        let mut tuned_engine = engine_for(&tuned, options.train.device)?;
        let before = predict_pairs(engine, ck, later, seq_len)?;
        let after = predict_pairs(tuned_engine.as_mut(), &tuned, later, seq_len)?;
        // The fold's model shifted by its mean error on the earlier workouts.
        let earlier_pairs = predict_pairs(engine, ck, earlier, seq_len)?;
        let mut offset = before.clone();
        if let (Some(e), Some(o)) = (earlier_pairs.get(&user), offset.get_mut(&user)) {
            o.shift(e);
        }
        for (pool, pairs) in pooled.iter_mut().zip([&before, &after, &offset]) {
            if let Some(p) = pairs.get(&user) {
                pool.extend(p);
            }
        }
        let scores =
            |pairs: &BTreeMap<i64, Pairs>| pairs.get(&user).map(Pairs::scores).unwrap_or_default();
        out.push(Calibrated {
            user_id: user,
            fold,
            calibration_workouts: earlier.len(),
            test_workouts: later.len(),
            before: scores(&before),
            after: scores(&after),
            offset: scores(&offset),
        });
        println!(
            "person {user}: later workouts' MAE {:.2} bpm before calibration, {:.2} fine-tuned, {:.2} offset (whole workouts)",
            scores(&before).whole.mae,
            scores(&after).whole.mae,
            scores(&offset).whole.mae
        );
    }
    Ok(())
}

/// The name of the folder holding a workout's file (`source` is a path, or `path:line` for
/// FitRec lines, which carry their own people: empty then).
fn folder_of(source: &str) -> String {
    let path = Path::new(source);
    if !path.is_file() {
        return String::new();
    }
    path.parent()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs the cross-validation and writes its files.
pub fn crossval(options: &CrossvalOptions) -> Result<Report> {
    let base = &options.train;
    if base.data.is_some() {
        bail!("--data does not apply to crossval: it makes each fold's data from --input");
    }
    if base.resume.is_some() {
        bail!("--resume does not apply to crossval: each fold trains its own model");
    }
    let out = base.results.join("crossval");
    atomic::writable_folder(&out, "--results")?;
    let extra = options
        .add_train
        .as_ref()
        .map(|path| Split::read(path).context("--add-train"))
        .transpose()?;
    let inputs = workouts::describe_inputs(&options.inputs);
    let loaded = workouts::load(&options.inputs, options.interval_s, Profile::default())?;
    workouts::warn(&loaded.cleaned, &loaded.skipped);
    let prepared = loaded.prepared;
    let seq_len = options.seq_len as usize;
    // The training windows: --seq-len steps, or with --whole-workouts one per workout, as long
    // as the longest (and at least --add-train's, whose windows are then padded to it).
    let train_len = if options.whole_workouts {
        workouts::longest(&prepared).max(extra.as_ref().map_or(1, |e| e.seq_len))
    } else {
        seq_len
    };
    let extra = match extra {
        Some(extra) => {
            ensure!(
                (extra.seq_len == seq_len || options.whole_workouts)
                    && (extra.interval_s - options.interval_s).abs() < 1e-9,
                "--add-train {}: windows of {} steps at {} s, but crossval cuts {} steps at {} s",
                options.add_train.as_ref().expect("read").display(),
                extra.seq_len,
                extra.interval_s,
                options.seq_len,
                options.interval_s
            );
            Some(extra.padded_to(train_len))
        }
        None => None,
    };
    let training = if options.whole_workouts {
        format!("whole workouts (up to {train_len} steps)")
    } else {
        format!("windows of {seq_len} steps")
    };
    let folds = deal(&prepared, options.folds as usize, seq_len);
    ensure!(
        folds.len() >= 2,
        "--input {inputs}: crossval needs at least 2 people, found {}",
        folds.len()
    );
    if folds.len() < options.folds as usize {
        eprintln!(
            "note: {} people, so {} folds of one person each",
            folds.len(),
            folds.len()
        );
    }

    let mut report = Report {
        inputs: inputs.clone(),
        training,
        folds: Vec::new(),
        people: Vec::new(),
        pooled: Both::default(),
        mean_person_mae: [0.0; 2],
        pooled_mean_baseline_mae: 0.0,
        calibration: Vec::new(),
        calibration_pooled: None,
    };
    let mut calibration_pairs = [Pairs::default(), Pairs::default(), Pairs::default()];
    let mut pooled = Pairs::default();
    let (mut baseline_abs, mut baseline_n) = (0.0, 0usize);
    for (k, people) in folds.iter().enumerate() {
        println!(
            "== fold {} of {}: testing people {people:?} ==",
            k + 1,
            folds.len()
        );
        let dir = out.join(format!("fold-{}", k + 1));
        let (test, rest): (Vec<&Prepared>, Vec<&Prepared>) = prepared
            .iter()
            .partition(|p| people.contains(&p.workout.user_id));
        let assignment = train_or_val(&rest, options.val_share);
        let set_id = format!(
            "crossval-fold-{}-{}",
            k + 1,
            crate::data::stable_id(&inputs)
        );
        let mut splits: Vec<Split> = (0..3)
            .map(|_| Split::empty(train_len, options.interval_s, &inputs).with_set_id(&set_id))
            .collect();
        for (p, &s) in rest.iter().zip(&assignment) {
            workouts::push_windows(&mut splits[s], p);
        }
        for p in &test {
            workouts::push_windows(&mut splits[2], p);
        }
        if let Some(extra) = &extra {
            splits[0].append(extra);
        }
        if splits[1].n == 0 {
            eprintln!(
                "warning: fold {}: no training person has two workouts; validating on the training windows",
                k + 1
            );
            splits[1] = splits[0].clone();
        }
        let data = dir.join("data");
        atomic::writable_folder(&data, "--results")?;
        let files: Vec<(PathBuf, Vec<u8>)> = prepare::SPLIT_NAMES
            .iter()
            .zip(&splits)
            .map(|(name, split)| Ok((data.join(format!("{name}.safetensors")), split.to_bytes()?)))
            .collect::<Result<_>>()?;
        atomic::write_all(&files)?;

        let run = train::train(&TrainOptions {
            data: Some(data),
            checkpoints: dir.join("checkpoints"),
            results: dir.clone(),
            logs: dir.clone(),
            resume: None,
            ..base.clone()
        })
        .with_context(|| format!("fold {}", k + 1))?;
        let checkpoint = run
            .best_checkpoint
            .clone()
            .with_context(|| format!("fold {}: no best model was written", k + 1))?;
        let ck = Checkpoint::load(&checkpoint)?;
        let mut engine = engine_for(&ck, base.device)?;

        let fold_pairs = predict_pairs(engine.as_mut(), &ck, &test, seq_len)?;
        let mut workouts: BTreeMap<i64, usize> = BTreeMap::new();
        let mut folders: BTreeMap<i64, String> = BTreeMap::new();
        for p in &test {
            folders
                .entry(p.workout.user_id)
                .or_insert_with(|| folder_of(&p.workout.source));
            *workouts.entry(p.workout.user_id).or_default() += 1;
        }
        if options.calibrate {
            calibrate(
                options,
                &dir,
                &checkpoint,
                engine.as_mut(),
                &ck,
                &test,
                k + 1,
                &mut report.calibration,
                &mut calibration_pairs,
            )?;
        }
        let train_mean = ck.normalization.bpm(0.0);
        let mut all = Pairs::default();
        for (user, pairs) in &fold_pairs {
            let n = pairs.windows.len();
            let mean_hr =
                pairs.windows.iter().map(|p| f64::from(p.0)).sum::<f64>() / n.max(1) as f64;
            baseline_abs += pairs
                .windows
                .iter()
                .map(|p| f64::from((p.0 - train_mean).abs()))
                .sum::<f64>();
            baseline_n += n;
            report.people.push(Person {
                user_id: *user,
                folder: folders.get(user).cloned().unwrap_or_default(),
                fold: k + 1,
                workouts: workouts.get(user).copied().unwrap_or(0),
                mean_hr,
                test: pairs.scores(),
            });
            all.extend(pairs);
        }
        let fold = Fold {
            people: people.clone(),
            workouts: [
                assignment.iter().filter(|&&s| s == 0).count(),
                assignment.iter().filter(|&&s| s == 1).count(),
                test.len(),
            ],
            train_windows: splits[0].n,
            epochs: run.epochs,
            val_mae: run.best_val_mae,
            test: all.scores(),
        };
        println!(
            "fold {}: test MAE {:.2} bpm (windows), {:.2} bpm (whole workouts)",
            k + 1,
            fold.test.windows.mae,
            fold.test.whole.mae
        );
        report.folds.push(fold);
        pooled.extend(&all);
    }
    report.pooled = pooled.scores();
    let people = report.people.len().max(1) as f64;
    report.mean_person_mae = [
        report
            .people
            .iter()
            .map(|p| p.test.windows.mae)
            .sum::<f64>()
            / people,
        report.people.iter().map(|p| p.test.whole.mae).sum::<f64>() / people,
    ];
    if !report.calibration.is_empty() {
        report.calibration_pooled = Some(calibration_pairs.map(|p| p.scores()));
    }
    report.pooled_mean_baseline_mae = baseline_abs / baseline_n.max(1) as f64;
    write(&out, &report, &pooled)?;
    Ok(report)
}

/// The tables of crossval.md: pooled, per fold, per person.
pub fn tables(r: &Report) -> String {
    let mut md = String::new();
    let row = |md: &mut String, name: &str, b: &Both| {
        let _ = writeln!(
            md,
            "| {name} | {:.2} | {:.2} | {:.3} | {:.2} | {:.2} | {:.3} | {} |",
            b.windows.mae,
            b.windows.rmse,
            b.windows.r2,
            b.whole.mae,
            b.whole.rmse,
            b.whole.r2,
            b.windows.n_steps
        );
    };
    let header =
        "| MAE windows | RMSE windows | R² windows | MAE whole | RMSE whole | R² whole | steps |";
    let rule = "| --- | --- | --- | --- | --- | --- | --- | --- |";
    let _ = writeln!(
        md,
        "Cross-validation across people: {}; the models trained on {}.\n",
        r.inputs, r.training
    );
    let _ = writeln!(md, "| held out {header}\n{rule}");
    row(&mut md, "pooled", &r.pooled);
    let _ = writeln!(
        md,
        "\nThe mean of the people's MAE: {:.2} bpm (windows), {:.2} bpm (whole). Predicting each \
         fold's training mean: pooled MAE {:.2} bpm.\n",
        r.mean_person_mae[0], r.mean_person_mae[1], r.pooled_mean_baseline_mae
    );
    let _ = writeln!(md, "| fold (people) {header}\n{rule}");
    for (k, f) in r.folds.iter().enumerate() {
        row(&mut md, &format!("{} ({:?})", k + 1, f.people), &f.test);
    }
    let _ = writeln!(
        md,
        "\n| person (folder; fold, workouts, mean bpm) {header}\n{rule}"
    );
    for p in &r.people {
        row(
            &mut md,
            &format!(
                "{} ({}; {}, {}, {:.0})",
                p.user_id, p.folder, p.fold, p.workouts, p.mean_hr
            ),
            &p.test,
        );
    }
    if !r.calibration.is_empty() {
        let _ = writeln!(
            md,
            "\nPersonal calibration: each person's later workouts, by the fold's model (before), by \
             the model fine-tuned on their earlier workouts, and by the fold's model shifted by its \
             mean error on those earlier workouts (offset).\n"
        );
        let _ = writeln!(
            md,
            "| person (fold, calibration/test workouts) {header}\n{rule}"
        );
        if let Some([before, after, offset]) = &r.calibration_pooled {
            row(&mut md, "pooled, before", before);
            row(&mut md, "pooled, fine-tuned", after);
            row(&mut md, "pooled, offset", offset);
        }
        for c in &r.calibration {
            let who = format!(
                "{} ({}, {}/{})",
                c.user_id, c.fold, c.calibration_workouts, c.test_workouts
            );
            row(&mut md, &format!("{who}, before"), &c.before);
            row(&mut md, &format!("{who}, fine-tuned"), &c.after);
            row(&mut md, &format!("{who}, offset"), &c.offset);
        }
    }
    md
}

/// Writes crossval.json, crossval.md, per_person.csv, folds.csv and the plots into `out`.
fn write(out: &Path, r: &Report, pooled: &Pairs) -> Result<()> {
    let mut people = String::from(
        "user_id,folder,fold,workouts,mean_hr,n_steps,mae_windows,rmse_windows,r2_windows,mae_whole,rmse_whole,r2_whole\n",
    );
    for p in &r.people {
        let _ = writeln!(
            people,
            "{},{},{},{},{:.2},{}",
            p.user_id,
            p.folder.replace(',', " "),
            p.fold,
            p.workouts,
            p.mean_hr,
            p.test.csv()
        );
    }
    let mut folds = String::from(
        "fold,people,train_workouts,val_workouts,test_workouts,train_windows,epochs,val_mae,n_steps,mae_windows,rmse_windows,r2_windows,mae_whole,rmse_whole,r2_whole\n",
    );
    for (k, f) in r.folds.iter().enumerate() {
        let people: Vec<String> = f.people.iter().map(i64::to_string).collect();
        let _ = writeln!(
            folds,
            "{},{},{},{},{},{},{},{:.4},{}",
            k + 1,
            people.join(" "),
            f.workouts[0],
            f.workouts[1],
            f.workouts[2],
            f.train_windows,
            f.epochs,
            f.val_mae,
            f.test.csv()
        );
    }
    atomic::write_all(&[
        (out.join("crossval.json"), serde_json::to_vec_pretty(r)?),
        (out.join("crossval.md"), tables(r).into_bytes()),
        (out.join("per_person.csv"), people.into_bytes()),
        (out.join("folds.csv"), folds.into_bytes()),
    ])?;
    let per_person = |pick: fn(&Both) -> f64| -> Vec<(f64, f64)> {
        r.people
            .iter()
            .map(|p| (p.mean_hr, pick(&p.test)))
            .collect()
    };
    let thin = |pairs: &[(f32, f32)]| -> Vec<(f64, f64)> {
        let stride = pairs.len().div_ceil(SCATTER_POINTS).max(1);
        pairs
            .iter()
            .step_by(stride)
            .map(|&(y, p)| (f64::from(y), f64::from(p)))
            .collect()
    };
    let charts = [
        (
            "per_person_mae.png",
            format!(
                "MAE of each held-out person (pooled: {:.2} bpm windows, {:.2} whole)",
                r.pooled.windows.mae, r.pooled.whole.mae
            ),
            "the person's mean heart rate (bpm)",
            "MAE (bpm)",
            [per_person(|b| b.windows.mae), per_person(|b| b.whole.mae)],
        ),
        (
            "scatter.png",
            format!(
                "Held-out people, predicted vs actual (R² {:.3} windows, {:.3} whole)",
                r.pooled.windows.r2, r.pooled.whole.r2
            ),
            "actual heart rate (bpm)",
            "predicted heart rate (bpm)",
            [thin(&pooled.windows), thin(&pooled.whole)],
        ),
    ];
    for (file, title, x_label, y_label, [windows, whole]) in charts {
        let series = vec![
            Series {
                label: "windows",
                points: windows,
                color: WINDOWS,
            },
            Series {
                label: "whole workouts",
                points: whole,
                color: WHOLE,
            },
        ];
        let chart = Chart {
            title,
            x_label,
            y_label,
            series,
            markers: Vec::new(),
            scatter: true,
        };
        plot::save(&out.join(file), &[chart], 1)?;
    }
    Ok(())
}

/// Runs `hrcast crossval` from the command line: prints the tables and where they went.
pub fn run(options: &CrossvalOptions) -> Result<ExitCode> {
    let report = crossval(options)?;
    print!("{}", tables(&report));
    println!("wrote {}", options.train.results.join("crossval").display());
    Ok(ExitCode::SUCCESS)
}
