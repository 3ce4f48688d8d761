//! `hrcast prepare`: raw workouts in, the processed train/val/test files out.
//!
//! Each workout is cleaned ([`crate::data::clean`]: implausible timestamps and values dropped,
//! split at clock jumps and long pauses), resampled and turned into features
//! ([`crate::features::resample`]), then cut into consecutive windows of `seq_len` steps; the
//! last window is padded with zeros and masked. Workouts, never windows, are assigned to splits,
//! so no workout leaks into two splits:
//! - by user: users are shuffled with the seed and given to train, val and test in turn until
//!   each split holds its share of windows (a user's windows all land in one split). Where there
//!   are fewer people than non-zero shares (one person's own folder), each person's workouts are
//!   split by time instead, and the summary says so;
//! - by time: within each user, workouts in chronological order fill train, then val, then test
//!   (the model is tested on each person's later workouts).
//!
//! Every non-zero share gets at least one group (user or workout) when there are enough groups.
//! A train share of 0 (`--split 0,0,1`) prepares an evaluation-only set. The three files of one
//! run carry the same `set_id`, so that a reader can refuse a train file beside the val file of
//! another run (a run killed between its renames).

use crate::atomic;
use crate::data::{self, Profile, Skipped, Workout};
use crate::dataset::Split;
use crate::features::{self, NUM_FEATURES, Sequence};
use anyhow::{Result, bail, ensure};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

pub mod default_data;

/// A workout needs at least this many steps with a valid heart rate to be kept.
pub const MIN_VALID_STEPS: usize = 10;
/// The finest grid `--interval` accepts, seconds.
pub const MIN_INTERVAL_S: f64 = 0.1;
/// The coarsest grid `--interval` accepts, seconds.
pub const MAX_INTERVAL_S: f64 = 3600.0;
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

/// What `hrcast prepare` does: its command-line options.
#[derive(Debug, Clone, clap::Args)]
pub struct PrepareOptions {
    /// Workout files or folders (FIT, TCX, GPX, FitRec JSON lines).
    #[arg(long = "input", value_name = "INPUT", num_args = 1.., required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "DATA/processed")]
    pub out: PathBuf,
    /// Steps per window.
    #[arg(long, alias = "seq_len", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=crate::dataset::MAX_SEQ_LEN as i64))]
    pub seq_len: u32,
    /// Each workout one window, as long as the longest workout, instead of windows of --seq-len
    /// steps: training then carries the state through whole workouts (backpropagation through
    /// all of each) instead of restarting it from zero every window.
    #[arg(long, alias = "whole_workouts", conflicts_with = "seq_len")]
    pub whole_workouts: bool,
    /// Grid interval in seconds (0.1 to 3600).
    #[arg(long = "interval", value_name = "INTERVAL", default_value_t = 5.0, value_parser = grid_seconds)]
    pub interval_s: f64,
    /// Shares of train, val and test.
    #[arg(long, default_value = "0.8,0.1,0.1", value_parser = parse_split)]
    pub split: [f64; 3],
    /// How workouts are assigned to splits.
    #[arg(long, alias = "split_by", value_enum, default_value_t = SplitBy::User)]
    pub split_by: SplitBy,
    /// Seed of the user shuffle.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The person's heart rates, where the files do not record them.
    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// Parses `--interval`: seconds from [`MIN_INTERVAL_S`] to [`MAX_INTERVAL_S`].
pub fn grid_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&v) => Ok(v),
        _ => Err(format!(
            "expected a number of seconds from {MIN_INTERVAL_S} to {MAX_INTERVAL_S}, got {text:?}"
        )),
    }
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

/// What a prepare run did, printed at its end.
#[derive(Debug, Default)]
pub struct Summary {
    /// Workout files looked at.
    pub files: usize,
    /// Workouts read from them.
    pub workouts_read: usize,
    /// Workouts (or pieces of workouts split at a clock jump or long pause) kept.
    pub workouts_kept: usize,
    /// Files, lines and workouts passed over, with the reason.
    pub skipped: Vec<Skipped>,
    /// Workouts kept after cleaning, with what was dropped from them.
    pub cleaned: Vec<Skipped>,
    /// How the splits were made, where it differs from what was asked.
    pub split_note: Option<String>,
    /// Windows, workouts and hours of valid heart rate per split.
    pub splits: [(usize, usize, f64); 3],
    /// The files written.
    pub written: Vec<PathBuf>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "read {} files: {} workouts, {} kept{}, {} skipped, {} cleaned",
            self.files,
            self.workouts_read,
            self.workouts_kept,
            if self.workouts_kept > self.workouts_read {
                " (workouts split at a clock jump or long pause count once per piece)"
            } else {
                ""
            },
            self.skipped.len(),
            self.cleaned.len()
        )?;
        if let Some(note) = &self.split_note {
            writeln!(f, "{note}")?;
        }
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
pub struct Prepared {
    /// The workout (or piece of one) as cleaned.
    pub workout: Workout,
    /// Its features on the grid.
    pub sequence: Sequence,
}

impl Prepared {
    fn windows(&self, seq_len: usize) -> usize {
        self.sequence.len().div_ceil(seq_len)
    }
}

/// The split (0 train, 1 val, 2 test) of each group of chronologically ordered `sizes`
/// (windows): a group goes to the split whose cumulative share contains the middle of the
/// group's windows, so earlier groups train and later ones validate and test. With `every_share`
/// and at least as many groups as non-zero shares, the boundaries are moved so that every
/// non-zero share gets at least one group. A share of 0 never gets one.
fn assign_in_order(sizes: &[usize], split: [f64; 3], every_share: bool) -> Vec<usize> {
    let n = sizes.len();
    let total: usize = sizes.iter().sum();
    let mut before = 0usize;
    let (mut b1, mut b2) = (0, 0);
    for &size in sizes {
        let middle = (before as f64 + size as f64 / 2.0) / total.max(1) as f64;
        b1 += usize::from(middle < split[0]);
        b2 += usize::from(middle < split[0] + split[1]);
        before += size;
    }
    let [t, v, s] = split.map(|share| usize::from(share > 0.0));
    if every_share && n >= t + v + s {
        b1 = b1.clamp(t, n - v - s);
        b2 = b2.clamp(b1 + v, n - s);
    }
    if t == 0 {
        b1 = 0;
    }
    if v == 0 {
        b2 = b1;
    }
    if s == 0 {
        b2 = n;
    }
    (0..n)
        .map(|i| usize::from(i >= b1) + usize::from(i >= b2))
        .collect()
}

/// The split of each group of `sizes` (windows; people, in shuffled order): the largest groups
/// first, each to the split furthest below its share of the windows, so that groups of very
/// different sizes still fill the shares. Then, where a non-zero share got no group and there
/// are enough groups, it takes the smallest group of the split holding the most groups.
fn assign_by_size(sizes: &[usize], split: [f64; 3]) -> Vec<usize> {
    let total = sizes.iter().sum::<usize>() as f64;
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&g| std::cmp::Reverse(sizes[g]));
    let mut filled = [0usize; 3];
    let mut out = vec![0; sizes.len()];
    for g in order {
        let deficit = |s: usize| split[s] * total - filled[s] as f64;
        let to = (0..3)
            .filter(|&s| split[s] > 0.0)
            .max_by(|&a, &b| deficit(a).total_cmp(&deficit(b)).then(b.cmp(&a)))
            .unwrap_or(0);
        out[g] = to;
        filled[to] += sizes[g];
    }
    for empty in (0..3).filter(|&s| split[s] > 0.0) {
        let count = |s: usize| out.iter().filter(|&&o| o == s).count();
        if count(empty) > 0 {
            continue;
        }
        let fullest = (0..3).max_by_key(|&s| count(s)).unwrap_or(0);
        if count(fullest) < 2 {
            continue;
        }
        let smallest = (0..sizes.len())
            .filter(|&g| out[g] == fullest)
            .min_by_key(|&g| sizes[g]);
        if let Some(g) = smallest {
            out[g] = empty;
        }
    }
    out
}

/// Gives every workout of each group the split of its group.
fn place(groups: &[Vec<usize>], splits: &[usize], out: &mut [usize]) {
    for (group, &split) in groups.iter().zip(splits) {
        for &w in group {
            out[w] = split;
        }
    }
}

/// The split of each workout, and a note where the split differs from what was asked.
fn split_workouts(prepared: &[Prepared], options: &PrepareOptions) -> (Vec<usize>, Option<String>) {
    let windows: Vec<usize> = prepared
        .iter()
        .map(|p| p.windows(options.seq_len as usize))
        .collect();
    let mut by_user: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, p) in prepared.iter().enumerate() {
        by_user.entry(p.workout.user_id).or_default().push(i);
    }
    let group_sizes = |groups: &[Vec<usize>]| -> Vec<usize> {
        groups
            .iter()
            .map(|g| g.iter().map(|&w| windows[w]).sum())
            .collect()
    };
    let shares = options.split.iter().filter(|s| **s > 0.0).count();
    let mut out = vec![0; prepared.len()];
    let mut note = None;
    let by_time = match options.split_by {
        SplitBy::Time => true,
        SplitBy::User if by_user.len() < shares => {
            note = Some(format!(
                "{} {} for {shares} non-zero shares: each person's workouts are split by time \
                 instead (earlier ones train, later ones validate and test)",
                by_user.len(),
                if by_user.len() == 1 {
                    "person"
                } else {
                    "people"
                }
            ));
            true
        }
        SplitBy::User => false,
    };
    if by_time {
        // Earlier workouts of each person train, later ones validate and test; pieces of one
        // workout (split at a clock jump) stay together. Where that leaves a non-zero share
        // empty, each person's boundaries move so that every share gets a workout.
        let people: Vec<Vec<Vec<usize>>> = by_user
            .into_values()
            .map(|workouts| {
                let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
                for &w in &workouts {
                    groups
                        .entry(prepared[w].workout.workout_id)
                        .or_default()
                        .push(w);
                }
                let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
                groups.sort_by(|a, b| {
                    let start = |g: &Vec<usize>| prepared[g[0]].workout.start_time();
                    start(a).total_cmp(&start(b))
                });
                groups
            })
            .collect();
        for every_share in [false, true] {
            for groups in &people {
                let splits = assign_in_order(&group_sizes(groups), options.split, every_share);
                place(groups, &splits, &mut out);
            }
            let served = (0..3).all(|s| options.split[s] == 0.0 || out.contains(&s));
            if served {
                break;
            }
        }
    } else {
        let mut groups: Vec<Vec<usize>> = by_user.into_values().collect();
        groups.shuffle(&mut StdRng::seed_from_u64(options.seed));
        let splits = assign_by_size(&group_sizes(&groups), options.split);
        place(&groups, &splits, &mut out);
    }
    (out, note)
}

/// Appends a workout's windows to a split: consecutive windows of `seq_len` steps, the last one
/// padded with zeros and masked. A window without any valid heart rate teaches nothing and is
/// left out.
pub fn push_windows(split: &mut Split, p: &Prepared) {
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
        split.person.extend(Split::person_row(&p.workout.profile));
        split.n += 1;
    }
}

/// What [`load`] made of the inputs: the usable workouts and what was passed over or cleaned.
pub struct Loaded {
    /// The workouts kept, resampled.
    pub prepared: Vec<Prepared>,
    /// Workout files looked at.
    pub files: usize,
    /// Workouts read from them.
    pub workouts_read: usize,
    /// Files, lines and workouts passed over, with the reason.
    pub skipped: Vec<Skipped>,
    /// Workouts kept after cleaning, with what was dropped from them.
    pub cleaned: Vec<Skipped>,
}

/// `--resting-hr` and `--max-hr`: the person's heart rates where their files do not record them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProfileArgs {
    /// The person's resting heart rate (bpm), for workouts whose file does not record one (a FIT
    /// file's user profile does); a model with the `resting_hr` input uses it.
    #[arg(long, alias = "resting_hr", value_name = "BPM")]
    pub resting_hr: Option<f64>,
    /// The person's maximal heart rate (bpm), for workouts whose file does not record one; a
    /// model with the `max_hr` input uses it.
    #[arg(long, alias = "max_hr", value_name = "BPM")]
    pub max_hr: Option<f64>,
}

impl ProfileArgs {
    /// The profile the flags give, refused where a value is not a believable heart rate or the
    /// resting one is not below the maximal one.
    pub fn profile(&self) -> Result<Profile> {
        let range = &data::HEART_RATE_VALID_BPM;
        for (flag, value, _) in self.flags() {
            if let Some(v) = value {
                ensure!(
                    range.contains(&v),
                    "{flag} {v}: a heart rate must be from {} to {} bpm",
                    range.start(),
                    range.end()
                );
            }
        }
        if let (Some(rest), Some(max)) = (self.resting_hr, self.max_hr) {
            ensure!(
                rest < max,
                "--resting-hr {rest} is not below --max-hr {max}"
            );
        }
        Ok(self.given())
    }

    /// The values as given, unchecked.
    fn given(&self) -> Profile {
        Profile {
            resting_hr: self.resting_hr,
            max_hr: self.max_hr,
        }
    }

    /// Each flag, its value and the person-level input it gives, in the order of
    /// [`features::PERSON_INPUT_NAMES`] (the flag is the input's name in kebab case).
    fn flags(&self) -> impl Iterator<Item = (String, Option<f64>, &'static str)> {
        features::PERSON_INPUT_NAMES
            .into_iter()
            .zip(self.given().values())
            .map(|(input, value)| (format!("--{}", input.replace('_', "-")), value, input))
    }

    /// Warns on stderr where a flag was given for a model (its input names `inputs`) that does
    /// not take that input: the value changes nothing.
    pub fn warn_unused(&self, inputs: &[String]) {
        for (flag, value, input) in self.flags() {
            if value.is_some() && !inputs.iter().any(|name| name == input) {
                eprintln!(
                    "warning: {flag} is ignored: the checkpoint's model does not take the \
                     {input} input (train with --features ...,person)"
                );
            }
        }
    }
}

/// Reads, cleans and resamples every workout in `inputs` at `interval_s`; a workout whose file
/// records no resting or maximal heart rate takes `fallback`'s. A workout that cannot be used is
/// passed over with its reason; it fails only when no workout is usable.
pub fn load(inputs: &[PathBuf], interval_s: f64, fallback: Profile) -> Result<Loaded> {
    ensure!(
        interval_s.is_finite() && (MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&interval_s),
        "--interval must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S} seconds, got {interval_s}"
    );
    let read = data::read_inputs(inputs)?;
    let mut loaded = Loaded {
        prepared: Vec::new(),
        files: read.files,
        workouts_read: read.workouts.len(),
        skipped: read.skipped,
        cleaned: Vec::new(),
    };
    for mut workout in read.workouts {
        workout.profile = workout.profile.or(fallback);
        let cleaned = data::clean(&workout);
        if !cleaned.notes.is_empty() {
            loaded.cleaned.push(Skipped {
                source: workout.source.clone(),
                reason: cleaned.notes.join("; "),
            });
        }
        if cleaned.pieces.is_empty() {
            loaded.skipped.push(Skipped {
                source: workout.source,
                reason: "no usable records left after cleaning".into(),
            });
            continue;
        }
        for piece in cleaned.pieces {
            match features::resample(&piece, interval_s) {
                Ok(sequence) if sequence.valid_steps() >= MIN_VALID_STEPS => {
                    loaded.prepared.push(Prepared {
                        workout: piece,
                        sequence,
                    })
                }
                Ok(sequence) => loaded.skipped.push(Skipped {
                    source: piece.source,
                    reason: format!(
                        "too short: {} steps with a valid heart rate, at least {MIN_VALID_STEPS} needed",
                        sequence.valid_steps()
                    ),
                }),
                Err(err) => loaded.skipped.push(Skipped {
                    source: piece.source,
                    reason: format!("{err:#}"),
                }),
            }
        }
    }
    if loaded.prepared.is_empty() {
        let reasons: Vec<String> = loaded.skipped.iter().map(|s| format!("\n  {s}")).collect();
        bail!(
            "--input {}: nothing usable: all {} workouts in {} files were skipped:{}",
            describe_inputs(inputs),
            loaded.workouts_read,
            loaded.files,
            reasons.concat()
        );
    }
    Ok(loaded)
}

/// The inputs as one line, for a data file's `source` and for messages.
pub fn describe_inputs(inputs: &[PathBuf]) -> String {
    inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints, on stderr, what cleaning dropped from the workouts kept and what was skipped, one
/// warning each.
pub fn warn(cleaned: &[Skipped], skipped: &[Skipped]) {
    for note in cleaned {
        eprintln!("warning: {note}");
    }
    for skip in skipped {
        eprintln!("warning: skipped {skip}");
    }
}

/// All the windows of `prepared` in one split (evaluation of raw files).
pub fn windows(prepared: &[Prepared], seq_len: usize, interval_s: f64, source: &str) -> Split {
    let mut split = Split::empty(seq_len, interval_s, source);
    for p in prepared {
        push_windows(&mut split, p);
    }
    split
}

/// An identifier shared by the three files of one prepare run.
fn new_set_id(source: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:016x}",
        data::stable_id(&format!("{nanos}/{}/{source}", std::process::id()))
    )
}

/// Runs `hrcast prepare`. Skipped inputs are reported in the summary; it fails when no workout
/// is usable, and writes the three files together or none of them.
pub fn prepare(options: &PrepareOptions) -> Result<Summary> {
    ensure!(options.seq_len > 0, "--seq-len must be at least 1");
    let loaded = load(
        &options.inputs,
        options.interval_s,
        options.profile.profile()?,
    )?;
    let prepared = loaded.prepared;
    let mut summary = Summary {
        files: loaded.files,
        workouts_read: loaded.workouts_read,
        workouts_kept: prepared.len(),
        skipped: loaded.skipped,
        cleaned: loaded.cleaned,
        ..Summary::default()
    };

    let (assignment, note) = split_workouts(&prepared, options);
    summary.split_note = note;
    let source = describe_inputs(&options.inputs);
    let set_id = new_set_id(&source);
    let seq_len = if options.whole_workouts {
        longest(&prepared)
    } else {
        options.seq_len as usize
    };
    let mut splits: Vec<Split> = (0..3)
        .map(|_| {
            let mut split = Split::empty(seq_len, options.interval_s, &source);
            split.set_id = set_id.clone();
            split
        })
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

/// The window length that holds each of `prepared` whole: its longest workout's steps (at
/// least 1, at most [`crate::dataset::MAX_SEQ_LEN`]).
pub fn longest(prepared: &[Prepared]) -> usize {
    let steps = prepared.iter().map(|p| p.sequence.len()).max();
    steps.unwrap_or(1).clamp(1, crate::dataset::MAX_SEQ_LEN)
}

/// Runs `hrcast prepare` from the command line: prepares, then prints the warnings (inputs
/// cleaned or skipped, a split left empty) and the summary.
pub fn run(options: &PrepareOptions) -> Result<ExitCode> {
    let summary = prepare(options)?;
    warn(&summary.cleaned, &summary.skipped);
    for ((name, (windows, _, _)), share) in
        SPLIT_NAMES.iter().zip(&summary.splits).zip(options.split)
    {
        if *windows == 0 && share > 0.0 {
            eprintln!("warning: the {name} split is empty (too few workouts)");
        }
    }
    print!("{summary}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::{assign_by_size, assign_in_order};

    fn count(out: &[usize], split: usize) -> usize {
        out.iter().filter(|&&s| s == split).count()
    }

    #[test]
    fn in_order_every_non_zero_share_gets_a_group_when_there_are_enough() {
        let shares = [0.8, 0.1, 0.1];
        assert_eq!(
            assign_in_order(&[5; 6], shares, false),
            vec![0, 0, 0, 0, 0, 2]
        );
        assert_eq!(
            assign_in_order(&[5; 6], shares, true),
            vec![0, 0, 0, 0, 1, 2]
        );
        assert_eq!(assign_in_order(&[1; 3], shares, true), vec![0, 1, 2]);
        assert_eq!(assign_in_order(&[1; 2], shares, true), vec![0, 0]);
        assert_eq!(count(&assign_in_order(&[1; 20], shares, true), 0), 16);
    }

    #[test]
    fn a_share_of_zero_gets_nothing() {
        for every in [false, true] {
            assert_eq!(assign_in_order(&[1; 4], [0.0, 0.0, 1.0], every), vec![2; 4]);
            assert_eq!(
                assign_in_order(&[1; 4], [0.5, 0.0, 0.5], every),
                vec![0, 0, 2, 2]
            );
            assert_eq!(assign_in_order(&[3], [1.0, 0.0, 0.0], every), vec![0]);
        }
        assert_eq!(assign_by_size(&[4, 1, 1], [0.0, 0.0, 1.0]), vec![2; 3]);
        assert_eq!(assign_by_size(&[], [0.8, 0.1, 0.1]), Vec::<usize>::new());
    }

    #[test]
    fn by_size_fills_the_shares_with_groups_of_very_different_sizes() {
        // One big person among small ones trains; the small ones validate and test.
        let out = assign_by_size(&[10, 184, 4, 3, 2, 3, 2], [0.8, 0.1, 0.1]);
        assert_eq!(out[1], 0);
        assert!(count(&out, 1) > 0 && count(&out, 2) > 0, "{out:?}");
        // Equal people: 16 / 2 / 2 of 20.
        let out = assign_by_size(&[5; 20], [0.8, 0.1, 0.1]);
        assert_eq!([count(&out, 0), count(&out, 1), count(&out, 2)], [16, 2, 2]);
        // Four equal people for 0.8 / 0.1 / 0.1: the test share still gets one.
        let out = assign_by_size(&[50; 4], [0.8, 0.1, 0.1]);
        assert_eq!([count(&out, 0), count(&out, 1), count(&out, 2)], [2, 1, 1]);
    }
}
