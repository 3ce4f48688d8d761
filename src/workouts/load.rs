//! Reading the inputs into [`Prepared`] workouts: every workout read, cleaned and resampled at
//! one grid interval, and what was passed over or cleaned, with the reason.

use super::Prepared;
use crate::data::{self, Profile, Skipped};
use crate::features;
use anyhow::{Result, bail, ensure};
use std::path::PathBuf;

/// A workout needs at least this many steps with a valid heart rate to be kept.
pub const MIN_VALID_STEPS: usize = 10;
/// The finest grid `--interval` accepts, seconds.
pub const MIN_INTERVAL_S: f64 = 0.1;
/// The coarsest grid `--interval` accepts, seconds.
pub const MAX_INTERVAL_S: f64 = 3600.0;

/// Parses `--interval`: seconds from [`MIN_INTERVAL_S`] to [`MAX_INTERVAL_S`].
pub fn grid_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&v) => Ok(v),
        _ => Err(format!(
            "expected a number of seconds from {MIN_INTERVAL_S} to {MAX_INTERVAL_S}, got {text:?}"
        )),
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
    /// Workouts that only serve as the history of the people of `prepared` (`prepare
    /// --history`, [`load_history`]), resampled.
    pub history: Vec<Prepared>,
}

impl Loaded {
    /// Resamples a cleaned piece of a workout at `interval_s` and keeps it, or passes it over
    /// with the reason (no usable grid, fewer than [`MIN_VALID_STEPS`] valid steps).
    fn keep(&mut self, piece: data::Workout, interval_s: f64) {
        match features::resample(&piece, interval_s) {
            Ok(sequence) if sequence.valid_steps() >= MIN_VALID_STEPS => {
                self.prepared.push(Prepared::new(piece, sequence))
            }
            Ok(sequence) => self.skipped.push(Skipped {
                source: piece.source,
                reason: format!(
                    "too short: {} steps with a valid heart rate, at least {MIN_VALID_STEPS} needed",
                    sequence.valid_steps()
                ),
            }),
            Err(err) => self.skipped.push(Skipped {
                source: piece.source,
                reason: format!("{err:#}"),
            }),
        }
    }
}

/// Reads, cleans and resamples every workout in `inputs` at `interval_s`; a workout whose file
/// records no resting or maximal heart rate takes `fallback`'s. A workout that cannot be used is
/// passed over with its reason; it fails only when no workout is usable.
pub fn load(inputs: &[PathBuf], interval_s: f64, fallback: Profile) -> Result<Loaded> {
    check_interval(interval_s)?;
    let loaded = clean_and_resample(data::read_inputs(inputs)?, interval_s, fallback);
    nothing_usable("--input", inputs, &loaded)?;
    Ok(loaded)
}

/// Reads, cleans and resamples the workouts of `history` (`prepare --history`), which only
/// serve as earlier workouts of the people of `inputs` ([`data::read_history`] says who is
/// who), at `interval_s`: the workouts kept are in [`Loaded::prepared`] of the result. Fails
/// when none is usable.
pub fn load_history(history: &[PathBuf], inputs: &[PathBuf], interval_s: f64) -> Result<Loaded> {
    check_interval(interval_s)?;
    let read = data::read_history(history, inputs)?;
    let loaded = clean_and_resample(read, interval_s, Profile::default());
    nothing_usable("--history", history, &loaded)?;
    Ok(loaded)
}

/// Checks `--interval`.
fn check_interval(interval_s: f64) -> Result<()> {
    ensure!(
        interval_s.is_finite() && (MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&interval_s),
        "--interval must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S} seconds, got {interval_s}"
    );
    Ok(())
}

/// Cleans and resamples the workouts read at `interval_s`, each taking `fallback`'s heart
/// rates where its file records none.
fn clean_and_resample(read: data::ReadResult, interval_s: f64, fallback: Profile) -> Loaded {
    let mut loaded = Loaded {
        prepared: Vec::new(),
        files: read.files,
        workouts_read: read.workouts.len(),
        skipped: read.skipped,
        cleaned: Vec::new(),
        history: Vec::new(),
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
            loaded.keep(piece, interval_s);
        }
    }
    loaded
}

/// Fails, naming `flag` and `paths` and why each workout was skipped, where `loaded` kept none:
/// "no usable workout in FILE: REASON" where one thing was skipped, else how many files and
/// workouts were read and each reason on a line of its own.
fn nothing_usable(flag: &str, paths: &[PathBuf], loaded: &Loaded) -> Result<()> {
    if !loaded.prepared.is_empty() {
        return Ok(());
    }
    let inputs = describe_inputs(paths);
    if let [only] = loaded.skipped.as_slice() {
        bail!("{flag} {inputs}: no usable workout in {only}");
    }
    let reasons: Vec<String> = loaded.skipped.iter().map(|s| format!("\n  {s}")).collect();
    bail!(
        "{flag} {inputs}: no usable workout in {} ({} read); skipped:{}",
        counted(loaded.files, "file"),
        counted(loaded.workouts_read, "workout"),
        reasons.concat()
    )
}

/// "1 file", "2 files".
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
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
