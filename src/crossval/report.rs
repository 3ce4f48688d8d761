//! What `hrcast crossval` reports ([`Report`], crossval.json), and the [`Tally`] that builds it
//! fold by fold: per fold, per person, pooled over every held-out step, and the calibrations.

use super::folds::FoldData;
use super::scores::{Both, HISTORY_BUCKETS, HistoryPairs, Pairs};
use crate::score::{MaeInterval, Scores, too_few};
use crate::train::TrainReport;
use serde::Serialize;
use std::collections::BTreeMap;

/// One fold's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Fold {
    /// The people tested.
    pub people: Vec<i64>,
    /// Their names, in the same order.
    pub names: Vec<String>,
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
    /// The person's name: their folder, `user <id>` for FitRec lines
    /// ([`crate::data::Workout::person`]).
    pub name: String,
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
    /// A 95 % interval of the pooled MAE (windows) by bootstrap over the held-out workouts.
    pub pooled_mae_interval: Option<MaeInterval>,
    /// Where the held-out workouts or steps are too few for the figures to mean much, why.
    pub too_few: Option<String>,
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
    /// The held-out windows by the number of the person's earlier workouts (0, 1, 2-4, 5 or
    /// more): each predicted with that history and with it withheld.
    pub by_history: Vec<HistoryRow>,
}

/// The held-out windows of one bucket of earlier workouts, pooled over the folds.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    /// The earlier workouts: `0`, `1`, `2-4` or `5 or more`.
    pub earlier_workouts: String,
    /// Predicted with the person's earlier workouts as history.
    pub with_history: Scores,
    /// The same windows with the history withheld, as for a newcomer (no earlier workout).
    pub withheld: Scores,
    /// Withheld, shifted by the same prediction's mean error on the earlier workouts.
    pub offset: Scores,
    /// With history, shifted by the same prediction's mean error on the earlier workouts.
    pub history_offset: Scores,
    /// The model fine-tuned on the person's first workouts (with `--calibrate`; no steps
    /// otherwise, and for no earlier workout).
    pub fine_tuned: Scores,
    /// No model: predicting the person's own level in their history at every step.
    pub level: Scores,
}

/// A report in the making, with the held-out pairs its pooled figures need.
pub struct Tally {
    report: Report,
    /// Every held-out step of every fold.
    pooled: Pairs,
    /// The calibrated people's later steps: before, fine-tuned, offset.
    calibration: [Pairs; 3],
    /// |actual - the fold's training mean| summed over the held-out steps, and their count.
    baseline: (f64, usize),
    /// The held-out windows by bucket of earlier workouts.
    by_history: [HistoryPairs; HISTORY_BUCKETS.len()],
    /// The grid interval, seconds.
    interval_s: f64,
}

impl Tally {
    /// Nothing tallied yet, for the cross-validation of `inputs` (on a grid of `interval_s`
    /// seconds) whose models train as `training` says.
    pub fn new(inputs: &str, training: &str, interval_s: f64) -> Tally {
        Tally {
            report: Report {
                inputs: inputs.to_string(),
                training: training.to_string(),
                folds: Vec::new(),
                people: Vec::new(),
                pooled: Both::default(),
                pooled_mae_interval: None,
                too_few: None,
                mean_person_mae: [0.0; 2],
                pooled_mean_baseline_mae: 0.0,
                calibration: Vec::new(),
                calibration_pooled: None,
                by_history: Vec::new(),
            },
            pooled: Pairs::default(),
            calibration: Default::default(),
            baseline: (0.0, 0),
            by_history: Default::default(),
            interval_s,
        }
    }

    /// Adds a fold's held-out windows by history bucket.
    pub fn add_by_history(&mut self, buckets: &[HistoryPairs; HISTORY_BUCKETS.len()]) {
        for (pool, bucket) in self.by_history.iter_mut().zip(buckets) {
            pool.with_history.extend_from_slice(&bucket.with_history);
            pool.withheld.extend_from_slice(&bucket.withheld);
            pool.offset.extend_from_slice(&bucket.offset);
            pool.history_offset
                .extend_from_slice(&bucket.history_offset);
            pool.fine_tuned.extend_from_slice(&bucket.fine_tuned);
            pool.level.extend_from_slice(&bucket.level);
        }
    }

    /// Adds the windows of bucket `bucket` as predicted by a model fine-tuned on the person's
    /// first workouts.
    pub fn add_fine_tuned(&mut self, bucket: usize, pairs: &[(f32, f32)]) {
        self.by_history[bucket].fine_tuned.extend_from_slice(pairs);
    }

    /// Adds `fold`, whose model trained as `run` says, predicted its held-out people's steps as
    /// `pairs`, and whose training mean heart rate is `train_mean` (bpm); prints its figures.
    pub fn add_fold(
        &mut self,
        fold: &FoldData,
        run: &TrainReport,
        train_mean: f32,
        pairs: &BTreeMap<i64, Pairs>,
    ) {
        let mut workouts: BTreeMap<i64, usize> = BTreeMap::new();
        let mut names: BTreeMap<i64, String> = BTreeMap::new();
        for p in &fold.test {
            names
                .entry(p.workout.user_id)
                .or_insert_with(|| p.workout.person.clone());
            *workouts.entry(p.workout.user_id).or_default() += 1;
        }
        let mut all = Pairs::default();
        for (user, pairs) in pairs {
            let n = pairs.windows.len();
            let mean_hr =
                pairs.windows.iter().map(|p| f64::from(p.0)).sum::<f64>() / n.max(1) as f64;
            self.baseline.0 += pairs
                .windows
                .iter()
                .map(|p| f64::from((p.0 - train_mean).abs()))
                .sum::<f64>();
            self.baseline.1 += n;
            self.report.people.push(Person {
                user_id: *user,
                name: names.get(user).cloned().unwrap_or_default(),
                fold: fold.number,
                workouts: workouts.get(user).copied().unwrap_or(0),
                mean_hr,
                test: pairs.scores(),
            });
            all.extend(pairs);
        }
        let test = all.scores();
        println!(
            "fold {}: test MAE {:.2} bpm (windows), {:.2} bpm (whole workouts)",
            fold.number, test.windows.mae, test.whole.mae
        );
        self.report.folds.push(Fold {
            people: fold.people.clone(),
            names: fold.names.clone(),
            workouts: fold.workouts,
            train_windows: fold.splits.train.n,
            epochs: run.epochs,
            val_mae: run.best_val_mae,
            test,
        });
        self.pooled.extend(&all);
    }

    /// Adds one person's calibration, whose later steps `[before, after, offset]` were
    /// predicted as `pairs`.
    pub fn add_calibrated(&mut self, calibrated: Calibrated, pairs: [Option<&Pairs>; 3]) {
        for (pool, pairs) in self.calibration.iter_mut().zip(pairs) {
            if let Some(p) = pairs {
                pool.extend(p);
            }
        }
        self.report.calibration.push(calibrated);
    }

    /// The finished report, and every held-out step's pairs (for the scatter plot).
    pub fn finish(self) -> (Report, Pairs) {
        let Tally {
            mut report,
            pooled,
            calibration,
            baseline,
            by_history,
            interval_s,
        } = self;
        report.by_history = HISTORY_BUCKETS
            .iter()
            .zip(&by_history)
            .filter(|(_, pairs)| !pairs.with_history.is_empty())
            .map(|(&(_, _, name), pairs)| HistoryRow {
                earlier_workouts: name.to_string(),
                with_history: Scores::of(&pairs.with_history),
                withheld: Scores::of(&pairs.withheld),
                offset: Scores::of(&pairs.offset),
                history_offset: Scores::of(&pairs.history_offset),
                fine_tuned: Scores::of(&pairs.fine_tuned),
                level: Scores::of(&pairs.level),
            })
            .collect();
        report.pooled = pooled.scores();
        report.pooled_mae_interval = pooled.mae_interval();
        let workouts = pooled.workout_steps.iter().filter(|&&n| n > 0).count();
        let minutes = report.pooled.windows.n_steps as f64 * interval_s / 60.0;
        report.too_few = too_few(workouts, minutes);
        let people = report.people.len().max(1) as f64;
        let mean_mae = |pick: fn(&Both) -> f64| {
            report.people.iter().map(|p| pick(&p.test)).sum::<f64>() / people
        };
        report.mean_person_mae = [mean_mae(|b| b.windows.mae), mean_mae(|b| b.whole.mae)];
        if !report.calibration.is_empty() {
            report.calibration_pooled = Some(calibration.map(|p| p.scores()));
        }
        report.pooled_mean_baseline_mae = baseline.0 / baseline.1.max(1) as f64;
        (report, pooled)
    }
}
