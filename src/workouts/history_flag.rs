//! `--history` of `evaluate`, `predict` and `calibrate`: earlier workouts that only serve as the
//! history of the people of `--input` (read as `prepare --history` reads them), and the
//! warnings where the flag and the checkpoint's model do not go together.

use super::{Prepared, load_history, warn};
use crate::data::HISTORY_INPUT_NAMES;
use crate::features::HISTORY_SET;
use anyhow::Result;
use std::path::PathBuf;

/// Whether a model whose inputs are named `inputs` takes any of [`HISTORY_INPUT_NAMES`].
pub fn takes_history(inputs: &[String]) -> bool {
    inputs
        .iter()
        .any(|name| HISTORY_INPUT_NAMES.contains(&name.as_str()))
}

/// The workouts of `--history` (none where it is not given), resampled at `interval_s`, the
/// people of its folders mapped onto those of `inputs` ([`load_history`]); what was cleaned or
/// skipped is printed as warnings. Fails, naming `--history`, where a path cannot be read or
/// no workout in it is usable.
pub fn load_history_flag(
    history: &[PathBuf],
    inputs: &[PathBuf],
    interval_s: f64,
) -> Result<Vec<Prepared>> {
    if history.is_empty() {
        return Ok(Vec::new());
    }
    let loaded = load_history(history, inputs, interval_s)?;
    warn(&loaded.cleaned, &loaded.skipped);
    Ok(loaded.prepared)
}

/// Warns on stderr where `--history` was given (`history`) for a model (its inputs named
/// `inputs`) that takes no history input: it changes nothing.
pub fn warn_history_unused(history: &[PathBuf], inputs: &[String]) {
    if !history.is_empty() && !takes_history(inputs) {
        eprintln!(
            "warning: --history is ignored: the checkpoint's model does not take the history \
             inputs (train with --features ...,{HISTORY_SET})"
        );
    }
}
