//! `hrcast prepare`: raw workouts in, the processed train/val/test files of SPEC §5 out.
//!
//! Each workout is resampled and turned into features ([`crate::features::resample`]), then cut
//! into consecutive windows of `seq_len` steps; the last window is padded with zeros and masked.
//! Workouts, never windows, are assigned to splits, so no workout leaks into two splits:
//! - by user: users are shuffled with the seed and given to train, val and test in turn until
//!   each split holds its share of windows (a user's windows all land in one split);
//! - by time: within each user, workouts in chronological order fill train, then val, then test
//!   (the model is tested on each person's later workouts).

use crate::atomic;
use crate::data::{self, Skipped, Workout};
use crate::dataset::Split;
use crate::features::{self, NUM_FEATURES, Sequence};
use anyhow::{Result, bail, ensure};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A workout needs at least this many steps with a valid heart rate to be kept.
pub const MIN_VALID_STEPS: usize = 10;
/// The names of the three splits, in file order.
pub const SPLIT_NAMES: [&str; 3] = ["train", "val", "test"];

/// How workouts are assigned to splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitBy {
    /// Each person's workouts all go to one split.
    User,
    /// Each person's earlier workouts train, later ones validate and test.
    Time,
}

/// What `hrcast prepare` does.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// Files or folders to read.
    pub inputs: Vec<PathBuf>,
    /// Folder for train/val/test.safetensors.
    pub out: PathBuf,
    /// Steps per window.
    pub seq_len: usize,
    /// Grid interval in seconds.
    pub interval_s: f64,
    /// Shares of train, val and test (sum 1).
    pub split: [f64; 3],
    /// How workouts are assigned to splits.
    pub split_by: SplitBy,
    /// Seed of the user shuffle.
    pub seed: u64,
}

/// Parses `--split`: three non-negative shares that add up to 1, the first above 0.
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
            .all(|s| s.is_finite() && *s >= 0.0)
            && train > 0.0,
        "shares must be non-negative and the train share above 0, got {text:?}"
    );
    ensure!(
        (train + val + test - 1.0).abs() < 1e-6,
        "shares must add up to 1, got {text:?} (sum {})",
        train + val + test
    );
    Ok([train, val, test])
}

/// What a prepare run did, printed at its end.
#[derive(Debug, Default)]
pub struct Summary {
    /// Workout files looked at.
    pub files: usize,
    /// Workouts read from them.
    pub workouts_read: usize,
    /// Workouts kept.
    pub workouts_kept: usize,
    /// Files, lines and workouts passed over, with the reason.
    pub skipped: Vec<Skipped>,
    /// Windows, workouts and hours of valid heart rate per split.
    pub splits: [(usize, usize, f64); 3],
    /// The files written.
    pub written: Vec<PathBuf>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "read {} files: {} workouts, {} kept, {} skipped",
            self.files,
            self.workouts_read,
            self.workouts_kept,
            self.skipped.len()
        )?;
        for (name, (windows, workouts, hours)) in SPLIT_NAMES.iter().zip(&self.splits) {
            writeln!(
                f,
                "  {name:<5} {windows:>6} windows from {workouts:>5} workouts, {hours:>8.2} h of heart rate"
            )?;
        }
        for path in &self.written {
            writeln!(f, "wrote {}", path.display())?;
        }
        Ok(())
    }
}

/// One kept workout, ready to be windowed.
struct Prepared {
    workout: Workout,
    sequence: Sequence,
}

impl Prepared {
    fn windows(&self, seq_len: usize) -> usize {
        self.sequence.len().div_ceil(seq_len)
    }
}

/// Assigns each workout a split (0 train, 1 val, 2 test). Groups are filled in order: a group
/// goes to the split whose cumulative share contains the middle of the group's windows.
fn assign(groups: &[Vec<usize>], windows: &[usize], split: [f64; 3], out: &mut [usize]) {
    let total: usize = groups.iter().flatten().map(|&w| windows[w]).sum();
    let mut before = 0usize;
    for group in groups {
        let size: usize = group.iter().map(|&w| windows[w]).sum();
        let middle = (before as f64 + size as f64 / 2.0) / total.max(1) as f64;
        let index = if middle < split[0] {
            0
        } else if middle < split[0] + split[1] {
            1
        } else {
            2
        };
        for &w in group {
            out[w] = index;
        }
        before += size;
    }
}

fn split_workouts(prepared: &[Prepared], options: &PrepareOptions) -> Vec<usize> {
    let windows: Vec<usize> = prepared
        .iter()
        .map(|p| p.windows(options.seq_len))
        .collect();
    let mut by_user: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, p) in prepared.iter().enumerate() {
        by_user.entry(p.workout.user_id).or_default().push(i);
    }
    let mut out = vec![0; prepared.len()];
    match options.split_by {
        SplitBy::User => {
            let mut groups: Vec<Vec<usize>> = by_user.into_values().collect();
            groups.shuffle(&mut StdRng::seed_from_u64(options.seed));
            assign(&groups, &windows, options.split, &mut out);
        }
        SplitBy::Time => {
            for mut workouts in by_user.into_values() {
                workouts.sort_by(|&a, &b| {
                    prepared[a]
                        .workout
                        .start_time()
                        .total_cmp(&prepared[b].workout.start_time())
                });
                let groups: Vec<Vec<usize>> = workouts.into_iter().map(|w| vec![w]).collect();
                assign(&groups, &windows, options.split, &mut out);
            }
        }
    }
    out
}

/// Appends a workout's windows to a split: consecutive windows of `seq_len` steps, the last one
/// padded with zeros and masked. A window without any valid heart rate teaches nothing and is
/// left out.
fn push_windows(split: &mut Split, p: &Prepared) {
    let t = split.seq_len;
    let seq = &p.sequence;
    for start in (0..seq.len()).step_by(t) {
        let end = (start + t).min(seq.len());
        if !seq.valid[start..end].contains(&true) {
            continue;
        }
        let pad = t - (end - start);
        split
            .features
            .extend_from_slice(&seq.features[start * NUM_FEATURES..end * NUM_FEATURES]);
        split
            .features
            .extend(std::iter::repeat_n(0.0, pad * NUM_FEATURES));
        split
            .heart_rate
            .extend_from_slice(&seq.heart_rate[start..end]);
        split.heart_rate.extend(std::iter::repeat_n(0.0, pad));
        split.mask.extend(
            seq.valid[start..end]
                .iter()
                .map(|&v| if v { 1.0 } else { 0.0 }),
        );
        split.mask.extend(std::iter::repeat_n(0.0, pad));
        split.length.push((end - start) as i64);
        split.user_id.push(p.workout.user_id);
        split.workout_id.push(p.workout.workout_id);
        split.n += 1;
    }
}

/// Runs `hrcast prepare`. Skipped inputs are reported in the summary; it fails when no workout
/// is usable, and writes the three files together or none of them.
pub fn prepare(options: &PrepareOptions) -> Result<Summary> {
    ensure!(options.seq_len > 0, "--seq-len must be at least 1");
    ensure!(
        options.interval_s.is_finite() && options.interval_s > 0.0,
        "--interval must be a positive number of seconds"
    );
    let read = data::read_inputs(&options.inputs)?;
    let mut summary = Summary {
        files: read.files,
        workouts_read: read.workouts.len(),
        skipped: read.skipped,
        ..Summary::default()
    };
    let mut prepared = Vec::new();
    for workout in read.workouts {
        match features::resample(&workout, options.interval_s) {
            Ok(sequence) if sequence.valid_steps() >= MIN_VALID_STEPS => {
                prepared.push(Prepared { workout, sequence })
            }
            Ok(sequence) => summary.skipped.push(Skipped {
                source: workout.source,
                reason: format!(
                    "too short: {} steps with a valid heart rate, at least {MIN_VALID_STEPS} needed",
                    sequence.valid_steps()
                ),
            }),
            Err(err) => summary.skipped.push(Skipped {
                source: workout.source,
                reason: format!("{err:#}"),
            }),
        }
    }
    if prepared.is_empty() {
        let reasons: Vec<String> = summary.skipped.iter().map(|s| format!("\n  {s}")).collect();
        bail!(
            "nothing usable: all {} workouts in {} files were skipped:{}",
            summary.workouts_read,
            summary.files,
            reasons.concat()
        );
    }
    summary.workouts_kept = prepared.len();

    let assignment = split_workouts(&prepared, options);
    let source = options
        .inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut splits: Vec<Split> = (0..3)
        .map(|_| Split::empty(options.seq_len, options.interval_s, &source))
        .collect();
    for (p, &s) in prepared.iter().zip(&assignment) {
        push_windows(&mut splits[s], p);
        summary.splits[s].1 += 1;
    }
    let mut files = Vec::new();
    for (i, split) in splits.iter().enumerate() {
        summary.splits[i].0 = split.n;
        summary.splits[i].2 = split.valid_steps() as f64 * options.interval_s / 3600.0;
        let path = options.out.join(format!("{}.safetensors", SPLIT_NAMES[i]));
        files.push((path, split.to_bytes()?));
    }
    atomic::write_all(&files)?;
    summary.written = files.into_iter().map(|(p, _)| p).collect();
    Ok(summary)
}
