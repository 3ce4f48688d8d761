//! `hrcast train` (docs/cli.md): the training loop around an [`Engine`](crate::engine::Engine).
//!
//! Each epoch shuffles the training windows (the permutation is a function of the seed and the
//! epoch; with `--length-buckets`, windows of similar length share a batch, cut to the longest,
//! as `batches.rs` says), takes one optimizer step per batch, then evaluates the validation
//! split. The learning rate follows ReduceLROnPlateau on the validation loss; training stops early after
//! `--patience` epochs without improvement. `best_model.safetensors` is written whenever the
//! validation loss improves and `last.safetensors` after every epoch, both atomically, with
//! everything `--resume` needs: weights, Adam moments and step, scheduler, early-stopping
//! counters, epoch and position inside it, and the history of the curves. Dropout masks and
//! shuffles are functions of (seed, step) and (seed, epoch), so a resumed run draws exactly what
//! the uninterrupted one would have. Ctrl-C stops after the current batch and saves `last`.
//!
//! The command in its parts: [`TrainOptions`] (the flags) give a [`TrainConfig`] (plain values,
//! defaults of the reference configuration); [`fit`] trains on [`Splits`] in memory, as
//! `train`, `crossval`, `calibrate` and `ablate` all do, and returns a [`TrainReport`]; [`train`]
//! reads the splits of `--data` and fits. [`fit`] reads as the loop: `Run::start` restores or
//! initializes, `Run::epoch` trains one epoch, `Run::end_epoch` validates, schedules, stops
//! early, saves and plots, and `Run::report` reports (run.rs).

mod batches;
mod config;
mod curves;
mod log;
mod options;
mod run;
mod splits;
mod state;

pub use config::{Architecture, Folders, StartFrom, TrainConfig};
pub use options::TrainOptions;
pub use run::TrainReport;
pub use splits::Splits;
pub use state::EpochRecord;

use crate::prepare::default_data;
use anyhow::Result;
use run::Run;
use std::process::ExitCode;
use std::time::Instant;

/// The exit status of a run that Ctrl-C ended (128 + SIGINT), after saving its state.
const EXIT_INTERRUPTED: u8 = 130;

/// Trains on `splits` as `config` says: restores or initializes, runs epochs until the last
/// one, an early stop or Ctrl-C, and reports. Writes the checkpoints, the curves and the log
/// into `config`'s folders, and nothing else.
pub fn fit(splits: &Splits, config: &TrainConfig) -> Result<TrainReport> {
    let started = Instant::now();
    run::stop_on_ctrl_c();
    let mut run = Run::start(splits, config)?;
    let mut interrupted = false;
    while run.epochs_left() {
        let epoch_start = Instant::now();
        if run.epoch()?.is_break() {
            interrupted = true;
            break;
        }
        if run.end_epoch(epoch_start)?.is_break() {
            break;
        }
    }
    run.report(started, interrupted)
}

/// Trains as `options` say: checks the flags, reads the splits of `--data` (by default the
/// default data, generated on first use) and fits.
pub fn train(options: &TrainOptions) -> Result<TrainReport> {
    let config = options.config();
    config.check()?;
    let data = default_data::data_folder(options.data.as_deref())?;
    fit(&Splits::read(&data)?, &config)
}

/// Runs `hrcast train` from the command line: trains; the exit status is 130 (128 + SIGINT)
/// when Ctrl-C ended the run (after saving its state).
pub fn run(options: &TrainOptions) -> Result<ExitCode> {
    if train(options)?.interrupted {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}
