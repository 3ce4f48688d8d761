//! training_curves.png: the loss and MAE of every epoch, training and validation, with the best
//! epoch and the epochs where the learning rate was cut marked.

use super::state::{EpochRecord, best_epoch};
use crate::plot::{self, Chart, Mark, Markers, Series};
use anyhow::Result;
use plotters::style::RGBColor;
use std::path::Path;

const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(255, 127, 14);
const BEST: RGBColor = RGBColor(44, 160, 44);
const LR_CUT: RGBColor = RGBColor(0, 0, 0);

/// The epochs trained with a lower learning rate than the epoch before.
fn lr_cuts(history: &[EpochRecord]) -> Vec<u64> {
    history
        .windows(2)
        .filter(|pair| pair[1].lr < pair[0].lr)
        .map(|pair| pair[1].epoch)
        .collect()
}

/// The dashed lines of both charts: the best epoch, and the learning-rate cuts.
fn markers(history: &[EpochRecord]) -> Vec<Markers<'static>> {
    let mut markers = Vec::new();
    if let Some(best) = best_epoch(history) {
        markers.push(Markers {
            label: "best epoch (best_model)",
            xs: vec![best.epoch as f64],
            color: BEST,
            width: 3,
            dashed: false,
        });
    }
    let cuts = lr_cuts(history);
    if !cuts.is_empty() {
        markers.push(Markers {
            label: "learning rate cut",
            xs: cuts.into_iter().map(|e| e as f64).collect(),
            color: LR_CUT,
            width: 1,
            dashed: true,
        });
    }
    markers
}

/// Draws the loss and MAE curves of `history` into `path`.
pub fn curves(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let series = |label, color, f: fn(&EpochRecord) -> f64| Series {
        label,
        color,
        points: history.iter().map(|r| (r.epoch as f64, f(r))).collect(),
        mark: Mark::Line,
    };
    let chart = |title: &str, y_label, train: fn(&EpochRecord) -> f64, val| Chart {
        title: title.into(),
        x_label: "epoch",
        y_label,
        series: vec![
            series("train", TRAIN, train),
            series("validation", VAL, val),
        ],
        markers: markers(history),
        notes: Vec::new(),
    };
    plot::save(
        path,
        &[
            chart(
                "Loss (masked MSE, normalized heart rate)",
                "loss",
                |r| r.train_loss,
                |r| r.val_loss,
            ),
            chart(
                "Mean absolute error",
                "MAE (bpm)",
                |r| r.train_mae,
                |r| r.val_mae,
            ),
        ],
        2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: u64, val_loss: f64, lr: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 1.0,
            val_loss,
            train_mae: 1.0,
            val_mae: 1.0,
            lr,
            seconds: 0.0,
        }
    }

    #[test]
    fn the_best_epoch_and_the_cuts_are_marked() {
        let history = [
            record(1, 0.9, 1e-3),
            record(2, 0.5, 1e-3),
            record(3, 0.7, 5e-4),
            record(4, 0.5, 5e-4),
            record(5, 0.6, 2.5e-4),
        ];
        assert_eq!(lr_cuts(&history), [3, 5]);
        let marked = markers(&history);
        assert_eq!(marked.len(), 2);
        assert_eq!(marked[0].xs, [2.0], "the first of equal losses, as saved");
        assert_eq!(marked[1].xs, [3.0, 5.0]);
    }

    #[test]
    fn no_cut_no_cut_marker() {
        let history = [record(1, 0.9, 1e-3), record(2, 0.8, 1e-3)];
        assert!(lr_cuts(&history).is_empty());
        assert_eq!(markers(&history).len(), 1);
        assert!(markers(&[]).is_empty());
    }
}
