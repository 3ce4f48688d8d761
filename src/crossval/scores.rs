//! Scoring held-out people: a fold's model ([`TrainedModel`]) predicts their workouts two ways,
//! windows of `--seq-len` steps from a zero state and each workout whole, into `(actual,
//! predicted)` pairs per person ([`Pairs`]), scored by [`Scores::of`] ([`Both`]).

use crate::checkpoint::{Checkpoint, engine_for};
use crate::dataset::Split;
use crate::engine::{Device, Engine};
use crate::model::{HrLevel, Normalization};
use crate::predict::predict_sequence;
use crate::score::{MaeInterval, Scores, earlier_offsets, predict_split, valid_steps};
use crate::train::TrainReport;
use crate::workouts::{self, Prepared, Truncation};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    pub fn csv(&self) -> String {
        let (w, h) = (&self.windows, &self.whole);
        format!(
            "{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4}",
            w.n_steps, w.mae, w.rmse, w.r2, h.mae, h.rmse, h.r2
        )
    }
}

/// Held-out valid steps: `(actual, predicted)` per way of running.
#[derive(Debug, Default, Clone)]
pub struct Pairs {
    /// Windows of `--seq-len` steps, each from a zero state.
    pub windows: Vec<(f32, f32)>,
    /// Each workout as one sequence.
    pub whole: Vec<(f32, f32)>,
    /// How many of `windows` (and of `whole`: the same steps) each workout holds, in order.
    pub workout_steps: Vec<usize>,
}

impl Pairs {
    /// The scores of both ways.
    pub fn scores(&self) -> Both {
        Both {
            windows: Scores::of(&self.windows),
            whole: Scores::of(&self.whole),
        }
    }

    /// Adds to every prediction the mean error (actual - predicted) of `earlier`, way by way.
    pub fn shift(&mut self, earlier: &Pairs) {
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

    /// Appends `other`'s pairs.
    pub fn extend(&mut self, other: &Pairs) {
        self.windows.extend_from_slice(&other.windows);
        self.whole.extend_from_slice(&other.whole);
        self.workout_steps.extend_from_slice(&other.workout_steps);
    }

    /// A 95 % interval of the windows' MAE by bootstrap over the workouts.
    pub fn mae_interval(&self) -> Option<MaeInterval> {
        let mut rest = self.windows.as_slice();
        let per_workout: Vec<(f64, usize)> = (self.workout_steps.iter())
            .map(|&n| {
                let (this, next) = rest.split_at(n);
                rest = next;
                let abs = this.iter().map(|(y, p)| f64::from((p - y).abs())).sum();
                (abs, n)
            })
            .collect();
        MaeInterval::over_workouts(&per_workout)
    }
}

/// The numbers of earlier workouts the held-out steps are broken down by: from, to (inclusive),
/// and the name of the bucket.
pub const HISTORY_BUCKETS: [(usize, usize, &str); 4] = [
    (0, 0, "0"),
    (1, 1, "1"),
    (2, 4, "2-4"),
    (5, usize::MAX, "5 or more"),
];

/// The held-out windows' `(actual, predicted)` pairs in one bucket of [`HISTORY_BUCKETS`]: as
/// the model predicts them with the person's earlier workouts as history, with the history
/// withheld (as for a newcomer: no earlier workout, as `predict` without `--history`), that
/// prediction shifted by its mean error on the person's earlier workouts, the model fine-tuned
/// on the person's first workouts, and no model at all.
#[derive(Debug, Default, Clone)]
pub struct HistoryPairs {
    /// With the history of the person's earlier workouts.
    pub with_history: Vec<(f32, f32)>,
    /// With the history withheld.
    pub withheld: Vec<(f32, f32)>,
    /// With the history withheld, plus the mean error (actual - predicted) of the same
    /// prediction on the person's earlier workouts (none on a first workout).
    pub offset: Vec<(f32, f32)>,
    /// With the history, plus the mean error of the same prediction on the person's earlier
    /// workouts: the history inputs and the offset together.
    pub history_offset: Vec<(f32, f32)>,
    /// The model fine-tuned on the person's first `from` workouts (the bucket's lower bound),
    /// with the history: `crossval --calibrate` only, and never for the bucket of none.
    pub fine_tuned: Vec<(f32, f32)>,
    /// No model: the person's own level in their history at every step (the same sport's mean
    /// heart rate, else all sports', else the training mean: [`HrLevel::History`]).
    pub level: Vec<(f32, f32)>,
}

/// The bucket of [`HISTORY_BUCKETS`] that `earlier` workouts fall in.
pub fn history_bucket(earlier: usize) -> usize {
    HISTORY_BUCKETS
        .iter()
        .position(|&(from, to, _)| (from..=to).contains(&earlier))
        .expect("the buckets cover every count")
}

/// A trained model open on an engine: a fold's, or a person's calibrated one.
pub struct TrainedModel {
    /// Its checkpoint file.
    pub path: PathBuf,
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The engine it runs on.
    pub engine: Box<dyn Engine>,
}

impl TrainedModel {
    /// Opens the checkpoint at `path` on `device`.
    pub fn open(path: &Path, device: Device) -> Result<TrainedModel> {
        let checkpoint = Checkpoint::load(path)?;
        let engine = engine_for(&checkpoint, device)?;
        Ok(TrainedModel {
            path: path.to_path_buf(),
            checkpoint,
            engine,
        })
    }

    /// Opens the best model of a training run on `device`.
    pub fn best_of(run: &TrainReport, device: Device) -> Result<TrainedModel> {
        let path = run
            .best_checkpoint
            .as_ref()
            .context("no best model was written")?;
        TrainedModel::open(path, device)
    }

    /// The windows of `workouts` (whose earlier workouts number `earlier`) per bucket of
    /// [`HISTORY_BUCKETS`]: predicted with their history, with it withheld, withheld and
    /// offset, and the person's level ([`HistoryPairs`]; fine-tuning is added by
    /// `calibration.rs`).
    pub fn by_history(
        &mut self,
        workouts: &[&Prepared],
        earlier: &[usize],
        seq_len: usize,
    ) -> Result<[HistoryPairs; HISTORY_BUCKETS.len()]> {
        let ck = &self.checkpoint;
        let own_level = Normalization {
            hr_level: HrLevel::History,
            ..ck.normalization.clone()
        };
        let mut with = Split::empty(seq_len, ck.interval_s, "crossval");
        let mut without = Split::empty(seq_len, ck.interval_s, "crossval");
        let mut workout_of_row = Vec::new();
        for (i, p) in workouts.iter().enumerate() {
            workouts::push_windows(&mut with, p);
            // Withheld: the history of the person's first workout, as a newcomer's.
            let first = workouts::histories(std::slice::from_ref(*p), &[], &|_| Truncation::None);
            let newcomer = p.person_values_with(&first[0]);
            workouts::push_windows_with(&mut without, p, &newcomer);
            workout_of_row.resize(with.n, i);
        }
        let predicted_with = predict_split(self.engine.as_mut(), ck, &with)?;
        let predicted_without = predict_split(self.engine.as_mut(), ck, &without)?;
        let steps = |split, predicted, row| {
            valid_steps(split, predicted, row).map(|(_, actual, p)| (actual, p))
        };
        // Each workout's summed error (actual - predicted) and valid steps, for both ways.
        let mut errors = [
            vec![(0.0, 0); workouts.len()],
            vec![(0.0, 0); workouts.len()],
        ];
        for (row, &i) in workout_of_row.iter().enumerate() {
            let both = [(&without, &predicted_without), (&with, &predicted_with)];
            for (way, (split, predicted)) in both.into_iter().enumerate() {
                for (actual, p) in steps(split, predicted, row) {
                    errors[way][i].0 += f64::from(actual - p);
                    errors[way][i].1 += 1;
                }
            }
        }
        let targets: Vec<_> = workouts.iter().map(|p| &p.workout).collect();
        let [offsets, history_offsets] = errors.map(|e| {
            let sources: Vec<_> = targets.iter().copied().zip(e).collect();
            earlier_offsets(&targets, &sources)
        });
        let mut buckets: [HistoryPairs; HISTORY_BUCKETS.len()] = Default::default();
        for (row, &i) in workout_of_row.iter().enumerate() {
            let pairs = &mut buckets[history_bucket(earlier[i])];
            let with_history: Vec<_> = steps(&with, &predicted_with, row).collect();
            let shifted = with_history
                .iter()
                .map(|&(y, p)| (y, p + history_offsets[i]));
            pairs.history_offset.extend(shifted);
            pairs.with_history.extend(with_history);
            let withheld: Vec<_> = steps(&without, &predicted_without, row).collect();
            let offset = withheld.iter().map(|&(y, p)| (y, p + offsets[i]));
            pairs.offset.extend(offset);
            pairs.withheld.extend(withheld);
            let level = own_level.level(with.person_row_of(row)) as f32;
            let actual = valid_steps(&with, &predicted_with, row).map(|(_, y, _)| (y, level));
            pairs.level.extend(actual);
        }
        Ok(buckets)
    }

    /// Predictions for `workouts` both ways, per person: windows of `seq_len` steps (each from
    /// a zero state; a window without valid heart rate is left out, as in training) and each
    /// workout as one sequence. Both hold the same valid steps.
    pub fn pairs(
        &mut self,
        workouts: &[&Prepared],
        seq_len: usize,
    ) -> Result<BTreeMap<i64, Pairs>> {
        let ck = &self.checkpoint;
        let mut split = Split::empty(seq_len, ck.interval_s, "crossval");
        let mut first_rows = Vec::new();
        for p in workouts {
            first_rows.push(split.n);
            workouts::push_windows(&mut split, p);
        }
        first_rows.push(split.n);
        let windowed = predict_split(self.engine.as_mut(), ck, &split)?;
        let mut pairs: BTreeMap<i64, Pairs> = BTreeMap::new();
        for (p, rows) in workouts.iter().zip(first_rows.windows(2)) {
            let person = pairs.entry(p.workout.user_id).or_default();
            let before = person.windows.len();
            for row in rows[0]..rows[1] {
                person.windows.extend(
                    valid_steps(&split, &windowed, row)
                        .map(|(_, actual, predicted)| (actual, predicted)),
                );
            }
            person.workout_steps.push(person.windows.len() - before);
        }
        for p in workouts {
            let pred = predict_sequence(
                self.engine.as_mut(),
                ck,
                &p.sequence.features,
                &Split::person_values(&p.person_values()),
            )?;
            let person = pairs.entry(p.workout.user_id).or_default();
            for (step, &y) in p.sequence.heart_rate.iter().enumerate() {
                if p.sequence.valid[step] {
                    person.whole.push((y, pred[step]));
                }
            }
        }
        Ok(pairs)
    }
}
