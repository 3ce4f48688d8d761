//! Scoring a model on a split: running it over the split's windows in batches, reading its
//! predictions back in bpm, and the figures they are judged by.
//!
//! - [`predict_split`]: every window's prediction, in batches cut to their longest window
//!   (`batches.rs`), for `hrcast evaluate` and `hrcast crossval`;
//! - [`validate`] and [`mean_baseline`]: the loss (masked MSE in normalized units) and MAE of a
//!   model, or of predicting the training mean, as training validates each epoch;
//! - [`Scores`]: MAE, RMSE and R² over (actual, predicted) valid steps (`metrics.rs`);
//! - [`earlier_offsets`]: calibration without training, a model's mean error on a person's
//!   earlier workouts (`offset.rs`).

mod batches;
mod metrics;
mod offset;

pub use batches::{BatchRows, by_length, full_length, trimmed_steps};
pub use metrics::{MaeInterval, Scores, too_few};
pub use offset::{ErrorSum, earlier_offsets, window_errors};

use crate::checkpoint::Checkpoint;
use crate::dataset::Split;
use crate::engine::Engine;
use crate::features::feature_indices;
use crate::model::{Batch, Normalization};
use anyhow::Result;

/// Windows per batch of [`predict_split`].
const PREDICT_BATCH: usize = 16;

/// Predictions of a checkpoint for every window of a split, in bpm, `[n, seq_len]` (0 where a
/// batch was cut short: padding).
pub fn predict_split(engine: &mut dyn Engine, ck: &Checkpoint, split: &Split) -> Result<Vec<f32>> {
    let features = feature_indices(&ck.config.features)?;
    let norm = &ck.normalization;
    let t = split.seq_len;
    let mut out = vec![0.0; split.n * t];
    for BatchRows { rows, steps } in batches::for_split(split, PREDICT_BATCH, true) {
        let batch = split.batch_of(&rows, steps, &features, norm);
        let pred = engine.predict(&batch)?;
        for (&r, row) in rows.iter().zip(pred.chunks(steps)) {
            let person = split.person_row_of(r);
            for (o, &z) in out[r * t..r * t + steps].iter_mut().zip(row) {
                *o = norm.bpm(z, person);
            }
        }
    }
    Ok(out)
}

/// The valid steps of window `row` of `split` with `predicted` (`[n, seq_len]`, as
/// [`predict_split`] returns): `(step, actual, predicted)` in order of step.
pub fn valid_steps<'a>(
    split: &'a Split,
    predicted: &'a [f32],
    row: usize,
) -> impl Iterator<Item = (usize, f32, f32)> + 'a {
    let t = split.seq_len;
    (0..t)
        .map(move |step| row * t + step)
        .filter(|&i| split.mask[i] > 0.0)
        .map(move |i| (i - row * t, split.heart_rate[i], predicted[i]))
}

/// How a split is scored during training: batches of `batch_size` windows, and whether the
/// loss counts only valid steps (`use_masking`) or every step, padding included.
#[derive(Debug, Clone, Copy)]
pub struct Scoring<'a> {
    /// The model's inputs (indices into the features and person inputs).
    pub features: &'a [usize],
    /// The normalization of the model's inputs and target.
    pub normalization: &'a Normalization,
    /// Windows per batch.
    pub batch_size: usize,
    /// Masked MSE (true) or the plain mean over all steps (false).
    pub use_masking: bool,
}

/// Loss and MAE (bpm) of an engine's predictions on a whole split, in batches.
pub fn validate(engine: &mut dyn Engine, split: &Split, how: &Scoring) -> Result<(f64, f64)> {
    loss_and_mae(split, how, |batch| engine.predict(batch))
}

/// Validation loss and MAE (bpm) of the trivial model that predicts the training mean heart
/// rate at every step (0 in normalized units): the bar a trained model has to clear.
pub fn mean_baseline(split: &Split, how: &Scoring) -> Result<(f64, f64)> {
    loss_and_mae(split, how, |batch| Ok(vec![0.0; batch.y.len()]))
}

/// Loss (masked MSE in normalized units, or the plain mean without masking) and MAE (bpm, over
/// valid steps) of `predict`'s output on a whole split, in batches.
fn loss_and_mae(
    split: &Split,
    how: &Scoring,
    mut predict: impl FnMut(&Batch<f32>) -> Result<Vec<f32>>,
) -> Result<(f64, f64)> {
    let (mut sq, mut abs, mut valid, mut all) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    // Without masking the loss averages over padding too: batches run at full length then.
    for BatchRows { rows, steps } in batches::for_split(split, how.batch_size, how.use_masking) {
        let batch = split.batch_of(&rows, steps, how.features, how.normalization);
        let pred = predict(&batch)?;
        for ((p, y), m) in pred.iter().zip(&batch.y).zip(&batch.mask) {
            let e = f64::from(p - y);
            let weight = if how.use_masking { f64::from(*m) } else { 1.0 };
            sq += weight * e * e;
            all += weight;
            if *m > 0.0 {
                abs += e.abs();
                valid += 1.0;
            }
        }
    }
    Ok((
        sq / all.max(1.0),
        abs / valid.max(1.0) * how.normalization.hr_std,
    ))
}
