//! training_curves.png: the loss and MAE of every epoch, training and validation.

use super::state::EpochRecord;
use crate::plot::{self, Chart, Series};
use anyhow::Result;
use plotters::style::RGBColor;
use std::path::Path;

const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(255, 127, 14);

/// Draws the loss and MAE curves of `history` into `path`.
pub fn curves(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let series = |label, color, f: fn(&EpochRecord) -> f64| Series {
        label,
        color,
        points: history.iter().map(|r| (r.epoch as f64, f(r))).collect(),
    };
    let chart = |title: &str, y_label, train: fn(&EpochRecord) -> f64, val| Chart {
        title: title.into(),
        x_label: "epoch",
        y_label,
        series: vec![
            series("train", TRAIN, train),
            series("validation", VAL, val),
        ],
        markers: Vec::new(),
        scatter: false,
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
