//! `hrcast prepare`'s command-line options.

use crate::dataset::MAX_SEQ_LEN;
use crate::values::{at_least, between};
use crate::workouts::{self, ProfileArgs};
use anyhow::{Result, bail, ensure};
use std::path::PathBuf;

/// How workouts are assigned to splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitBy {
    /// Each person's workouts all go to one split.
    User,
    /// Each person's earlier workouts train, later ones validate and test.
    Time,
}

/// What `hrcast prepare` does: its command-line options.
#[derive(Debug, Clone, clap::Args)]
pub struct PrepareOptions {
    /// Workout files or folders (FIT, TCX, GPX, FitRec JSON lines).
    #[arg(long = "input", value_name = "INPUT", num_args = 1.., required = true)]
    pub inputs: Vec<PathBuf>,
    /// Workout files or folders that only serve as the history of the people of --input
    /// (their earlier workouts: the history inputs), never as windows: a folder `X` under a
    /// --history folder is the person of the folder `X` under an --input folder, the files
    /// directly in a --history folder the person of those directly in the first --input folder.
    #[arg(long = "history", value_name = "HISTORY", num_args = 1..)]
    pub history: Vec<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "DATA/processed")]
    pub out: PathBuf,
    /// Steps per window.
    #[arg(long, alias = "seq_len", default_value_t = 500, value_parser = between(1, MAX_SEQ_LEN as u32))]
    pub seq_len: u32,
    /// Each workout one window, as long as the longest workout, instead of windows of --seq-len
    /// steps: training then carries the state through whole workouts (backpropagation through
    /// all of each) instead of restarting it from zero every window.
    #[arg(long, alias = "whole_workouts", conflicts_with = "seq_len")]
    pub whole_workouts: bool,
    /// Grid interval in seconds (0.1 to 3600).
    #[arg(long = "interval", value_name = "INTERVAL", default_value_t = 5.0, value_parser = workouts::grid_seconds)]
    pub interval_s: f64,
    /// Shares of train, val and test.
    #[arg(long, default_value = "0.8,0.1,0.1", value_parser = parse_split)]
    pub split: [f64; 3],
    /// How workouts are assigned to splits.
    #[arg(long, alias = "split_by", value_enum, default_value_t = SplitBy::User)]
    pub split_by: SplitBy,
    /// Seed of the user shuffle, and of the cut of each training workout's history to its
    /// latest k earlier workouts (k drawn from 0 to all of them).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The person's heart rates, where the files do not record them.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// CPU threads that read and resample the workouts [default: every core this process may
    /// use, or RAYON_NUM_THREADS where set]. The files written are the same on any number.
    #[arg(long, value_name = "N", value_parser = at_least(1))]
    pub threads: Option<u32>,
}

/// Parses `--split`: three non-negative shares that add up to 1, at least one above 0.
pub fn parse_split(text: &str) -> Result<[f64; 3]> {
    let shares: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("expected three numbers like 0.8,0.1,0.1, got {text:?}"))?;
    let [train, val, test] = shares[..] else {
        bail!(
            "expected three shares (train,val,test), got {}",
            shares.len()
        );
    };
    ensure!(
        [train, val, test]
            .iter()
            .all(|s| s.is_finite() && *s >= 0.0),
        "shares must be non-negative numbers, got {text:?}"
    );
    ensure!(
        (train + val + test - 1.0).abs() < 1e-6,
        "shares must add up to 1, got {text:?} (sum {})",
        train + val + test
    );
    Ok([train, val, test])
}
