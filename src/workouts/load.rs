//! Reading the inputs into [`Prepared`] workouts: every workout read, cleaned and resampled at
//! one grid interval, and what was passed over or cleaned, with the reason.

use super::Prepared;
use super::scan::scan;
use crate::data::{self, Profile, Skipped};
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

/// Reads, cleans and resamples every workout in `inputs` at `interval_s`; a workout whose file
/// records no resting or maximal heart rate takes `fallback`'s. A workout that cannot be used is
/// passed over with its reason; it fails only when no workout is usable.
pub fn load(inputs: &[PathBuf], interval_s: f64, fallback: Profile) -> Result<Loaded> {
    check_interval(interval_s)?;
    let loaded = load_found(data::find_inputs(inputs)?, interval_s, fallback)?;
    nothing_usable("--input", inputs, loaded.prepared.len(), &loaded.read())?;
    Ok(loaded)
}

/// Reads, cleans and resamples the workouts of `history` (`prepare --history`), which only
/// serve as earlier workouts of the people of `inputs` ([`data::find_history`] says who is
/// who), at `interval_s`: the workouts kept are in [`Loaded::prepared`] of the result. Fails
/// when none is usable.
pub fn load_history(history: &[PathBuf], inputs: &[PathBuf], interval_s: f64) -> Result<Loaded> {
    check_interval(interval_s)?;
    let found = data::find_history(history, inputs)?;
    let loaded = load_found(found, interval_s, Profile::default())?;
    nothing_usable("--history", history, loaded.prepared.len(), &loaded.read())?;
    Ok(loaded)
}

/// Checks `--interval`.
pub fn check_interval(interval_s: f64) -> Result<()> {
    ensure!(
        interval_s.is_finite() && (MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&interval_s),
        "--interval must be between {MIN_INTERVAL_S} and {MAX_INTERVAL_S} seconds, got {interval_s}"
    );
    Ok(())
}

/// The workouts of the files `found`, read, cleaned and resampled at `interval_s` ([`scan`]),
/// all in memory.
fn load_found(found: data::Found, interval_s: f64, fallback: Profile) -> Result<Loaded> {
    let mut prepared = Vec::new();
    let mut raws = Vec::new();
    let scanned = scan(found, interval_s, fallback, &|_| {}, &mut |piece| {
        raws.push(piece.raw);
        prepared.push(Prepared::new(piece.workout, piece.sequence));
        Ok(())
    })?;
    for (p, raw) in prepared.iter_mut().zip(raws) {
        p.workout.profile = scanned.profiles[raw];
    }
    Ok(Loaded {
        prepared,
        files: scanned.files,
        workouts_read: scanned.workouts_read,
        skipped: scanned.skipped,
        cleaned: scanned.cleaned,
        history: Vec::new(),
    })
}

impl Loaded {
    /// What was read, for [`nothing_usable`].
    fn read(&self) -> Read<'_> {
        Read {
            files: self.files,
            workouts: self.workouts_read,
            skipped: &self.skipped,
        }
    }
}

/// What reading inputs found, for [`nothing_usable`].
pub struct Read<'a> {
    /// Workout files looked at.
    pub files: usize,
    /// Workouts read from them.
    pub workouts: usize,
    /// What was passed over, with the reason.
    pub skipped: &'a [Skipped],
}

/// Fails, naming `flag` and `paths` and why each workout was skipped, where `kept` is 0:
/// "no usable workout in FILE: REASON" where one thing was skipped, else how many files and
/// workouts were read and each reason on a line of its own.
pub fn nothing_usable(flag: &str, paths: &[PathBuf], kept: usize, loaded: &Read) -> Result<()> {
    if kept > 0 {
        return Ok(());
    }
    let inputs = describe_inputs(paths);
    if let [only] = loaded.skipped {
        bail!("{flag} {inputs}: no usable workout in {only}");
    }
    let reasons: Vec<String> = loaded.skipped.iter().map(|s| format!("\n  {s}")).collect();
    bail!(
        "{flag} {inputs}: no usable workout in {} ({} read); skipped:{}",
        counted(loaded.files, "file"),
        counted(loaded.workouts, "workout"),
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
