//! What a training run carries from epoch to epoch and saves for `--resume`: the counters, the
//! schedule and the history of the curves.

use crate::engine::TrainSums;
use crate::schedule::ReduceLrOnPlateau;
use anyhow::{Result, ensure};
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;

/// One epoch's figures, as logged and plotted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: u64,
    /// Mean of the batches' training losses.
    pub train_loss: f64,
    /// Validation loss.
    pub val_loss: f64,
    /// Training MAE, bpm.
    pub train_mae: f64,
    /// Validation MAE, bpm.
    pub val_mae: f64,
    /// Learning rate used in this epoch.
    pub lr: f64,
    /// Wall time of the epoch, seconds.
    pub seconds: f64,
}

/// The epoch of the least validation loss (the first of equals): that of the best checkpoint.
pub(super) fn best_epoch(history: &[EpochRecord]) -> Option<&EpochRecord> {
    history
        .iter()
        .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
}

/// What `--resume` restores beyond weights and optimizer (the checkpoint's `train_state`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TrainState {
    /// Epochs completed.
    pub(super) epochs_done: u64,
    /// Batches of the next epoch already taken (non-zero after Ctrl-C).
    pub(super) next_batch: usize,
    /// Training sums of those batches.
    pub(super) partial: TrainSums,
    /// The learning rate of the next epoch.
    pub(super) lr: f64,
    /// ReduceLROnPlateau's state.
    pub(super) scheduler: ReduceLrOnPlateau,
    /// The best validation loss so far (early stopping; +∞ before the first validation).
    #[serde(with = "crate::schedule::infinity_as_null")]
    pub(super) best_val_loss: f64,
    /// Epochs since it improved.
    pub(super) bad_epochs: u32,
    /// Every epoch's figures.
    pub(super) history: Vec<EpochRecord>,
}

impl TrainState {
    /// The state of a run that starts at its first epoch.
    pub(super) fn new(config: &TrainConfig) -> Self {
        TrainState {
            epochs_done: 0,
            next_batch: 0,
            partial: TrainSums::default(),
            lr: config.lr,
            scheduler: ReduceLrOnPlateau::new(config.scheduler_factor, config.scheduler_patience),
            best_val_loss: f64::INFINITY,
            bad_epochs: 0,
            history: Vec::new(),
        }
    }

    /// Checks what a checkpoint file says against what a run can continue from: a learning rate
    /// and scheduler that keep descending, finite sums, counters that agree with the history.
    pub(super) fn check(&self) -> Result<()> {
        ensure!(
            self.lr.is_finite() && self.lr >= 0.0,
            "lr {} is not a non-negative number",
            self.lr
        );
        let s = &self.scheduler;
        ensure!(
            s.factor.is_finite() && s.factor > 0.0 && s.factor < 1.0,
            "the scheduler's factor {} is not in (0, 1)",
            s.factor
        );
        ensure!(
            !s.best.is_nan() && !self.best_val_loss.is_nan(),
            "a best validation loss is NaN"
        );
        let p = &self.partial;
        ensure!(
            [p.loss, p.abs_error, p.valid_steps]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0),
            "the partial epoch's sums are not finite non-negative numbers"
        );
        ensure!(
            self.history.len() as u64 == self.epochs_done,
            "{} epochs done but {} in the history",
            self.epochs_done,
            self.history.len()
        );
        Ok(())
    }
}
