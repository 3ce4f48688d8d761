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
//! scatter.png; each fold's checkpoints, curves and log in `fold-<k>/` (its data stay in
//! memory).
//!
//! The command in its phases: [`CrossvalOptions`] give a [`CrossvalConfig`]; `folds.rs` reads
//! the workouts ([`Workouts`]), deals the people and builds each fold's
//! [`Splits`](crate::train::Splits) in memory; [`cross_validate`], the loop over the folds,
//! trains each fold's model ([`train::fit`]), predicts the held-out people both ways
//! (`scores.rs`), calibrates them with `--calibrate` (`calibration.rs`) and tallies the
//! [`Report`] (`report.rs`); `write.rs` writes it.

mod calibration;
mod folds;
mod options;
mod report;
mod scores;
mod write;

pub use folds::{FoldData, HeldOut, Workouts};
pub use options::{CrossvalConfig, CrossvalOptions};
pub use report::{Calibrated, Fold, HistoryRow, Person, Report};
pub use scores::{Both, Pairs};
pub use write::tables;

use crate::atomic;
use crate::train::{self, Folders, TrainConfig};
use anyhow::{Context, Result};
use calibration::Calibration;
use report::Tally;
use scores::TrainedModel;
use std::path::Path;
use std::process::ExitCode;

/// Runs the cross-validation as `options` say and writes its files.
pub fn crossval(options: &CrossvalOptions) -> Result<Report> {
    let config = options.config()?;
    let out = config.train.folders.results.join("crossval");
    atomic::writable_folder(&out, "--results")?;
    let workouts = Workouts::load(&options.inputs, &config)?;
    let (report, pooled) = cross_validate(&workouts, &config, &out)?;
    write::write(&out, &report, &pooled)?;
    Ok(report)
}

/// Cross-validates on `workouts` as `config` says, each fold's model (and calibrations) in
/// `out/fold-<k>/`; returns the report and every held-out step's pairs.
pub fn cross_validate(
    workouts: &Workouts,
    config: &CrossvalConfig,
    out: &Path,
) -> Result<(Report, Pairs)> {
    let folds = workouts.deal(config.folds, config.seq_len)?;
    let mut tally = Tally::new(&workouts.inputs, &workouts.training, workouts.interval_s);
    for (k, held_out) in folds.iter().enumerate() {
        println!(
            "== fold {} of {}: testing {} ==",
            k + 1,
            folds.len(),
            workouts.describe(held_out)
        );
        let dir = out.join(format!("fold-{}", k + 1));
        let fold = workouts.fold(k + 1, held_out, config.val_share)?;
        let fold_config = TrainConfig {
            folders: Folders {
                checkpoints: dir.join("checkpoints"),
                ..Folders::all_in(&dir)
            },
            ..config.train.clone()
        };
        let context = || format!("fold {}", k + 1);
        let run = train::fit(&fold.splits, &fold_config).with_context(context)?;
        let mut model = TrainedModel::best_of(&run, config.train.device).with_context(context)?;
        let pairs = model.pairs(&fold.test, config.seq_len)?;
        tally.add_by_history(&model.by_history(&fold.test, &fold.test_earlier, config.seq_len)?);
        if let Some(epochs) = config.calibrate_epochs {
            let how = Calibration {
                fold_dir: &dir,
                seq_len: config.seq_len,
                epochs,
                train: &config.train,
            };
            calibration::calibrate(&mut model, &fold, &how, &mut tally)?;
            calibration::calibrate_by_history(&model, &fold, &how, &mut tally)?;
        }
        let train_mean = model.checkpoint.normalization.hr_mean as f32;
        tally.add_fold(&fold, &run, train_mean, &pairs);
    }
    Ok(tally.finish())
}

/// Runs `hrcast crossval` from the command line: prints the tables and where they went.
pub fn run(options: &CrossvalOptions) -> Result<ExitCode> {
    let report = crossval(options)?;
    print!("{}", tables(&report));
    println!("wrote {}", options.train.results.join("crossval").display());
    Ok(ExitCode::SUCCESS)
}
