//! Calibration without training: a model's predictions for a person's workout shifted by the
//! model's mean error on the same person's earlier workouts,
//!
//!   offset(w) = Σ_{e earlier than w} Σ_{valid steps of e} (y - ŷ) / Σ_{e earlier than w} steps(e),
//!
//! `e earlier than w` as [`workouts::started_before`] says (the same person's, started before,
//! not a piece of the same recording); 0 where there is none. `crossval` measures it on the
//! held-out people in time order; `evaluate --offset` and `predict --offset` apply it.

use super::predict_split;
use crate::checkpoint::Checkpoint;
use crate::data::Workout;
use crate::dataset::Split;
use crate::engine::Engine;
use crate::workouts::{self, Prepared};
use anyhow::Result;

/// A workout's error summed over its valid steps (actual - predicted, bpm), and their count.
pub type ErrorSum = (f64, usize);

/// For each of `targets`, the mean error over the valid steps of those of `sources` (each
/// with its [`ErrorSum`]) that started before it; 0 where none did.
pub fn earlier_offsets(targets: &[&Workout], sources: &[(&Workout, ErrorSum)]) -> Vec<f32> {
    (targets.iter())
        .map(|w| {
            let (sum, n) = (sources.iter())
                .filter(|(e, _)| workouts::started_before(e, w))
                .fold((0.0, 0), |(s, n), (_, (es, en))| (s + es, n + en));
            if n == 0 { 0.0 } else { (sum / n as f64) as f32 }
        })
        .collect()
}

/// Each of `workouts`' [`ErrorSum`] as the model of `ck` on `engine` predicts its windows
/// (the checkpoint's window length, each from a zero state, as `evaluate` runs them).
pub fn window_errors(
    engine: &mut dyn Engine,
    ck: &Checkpoint,
    workouts: &[&Prepared],
) -> Result<Vec<ErrorSum>> {
    let mut split = Split::empty(ck.seq_len, ck.interval_s, "earlier workouts");
    let mut workout_of_row = Vec::new();
    for (i, p) in workouts.iter().enumerate() {
        workouts::push_windows(&mut split, p);
        workout_of_row.resize(split.n, i);
    }
    let predicted = predict_split(engine, ck, &split)?;
    let mut errors = vec![(0.0, 0); workouts.len()];
    for (row, &i) in workout_of_row.iter().enumerate() {
        for (_, actual, p) in super::valid_steps(&split, &predicted, row) {
            errors[i].0 += f64::from(actual - p);
            errors[i].1 += 1;
        }
    }
    Ok(errors)
}
