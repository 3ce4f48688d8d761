//! Reading inputs of any size ([`scan`]): the files found are read a batch at a time (a FitRec
//! file line by line), and the workouts of a batch read, cleaned and resampled on rayon's threads
//! while the next batch is read; the pieces kept are handed over in input order, so that what
//! is made of them is the same on any number of threads. Memory holds a batch, not the inputs.

use super::MIN_VALID_STEPS;
use crate::data::fitrec::{self, Lines};
use crate::data::{self, Format, Found, FoundFile, Profile, ProfileAt, Skipped, Workout};
use crate::features::{self, Sequence};
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::fs::File;
use std::io::BufReader;

/// A batch ends once its units hold this many bytes of input...
const BATCH_BYTES: u64 = 8 << 20;
/// ... or this many units.
const BATCH_UNITS: usize = 128;

/// A workout (or a piece of one split at a clock jump or long pause) kept: cleaned, resampled,
/// with enough valid steps.
pub struct Piece {
    /// The index of the workout it comes from, among those read (see [`Scanned::profiles`]).
    pub raw: usize,
    /// The piece as cleaned; its profile is what its file records ([`Scanned::profiles`] holds
    /// the person's).
    pub workout: Workout,
    /// Its features on the grid.
    pub sequence: Sequence,
}

/// What [`scan`] read, besides the pieces it handed over.
#[derive(Debug, Default)]
pub struct Scanned {
    /// Workout files looked at.
    pub files: usize,
    /// Workouts read from them.
    pub workouts_read: usize,
    /// Files, lines and workouts passed over, with the reason: those of reading first, then
    /// those of cleaning and resampling.
    pub skipped: Vec<Skipped>,
    /// Workouts kept after cleaning, with what was dropped from them.
    pub cleaned: Vec<Skipped>,
    /// The profile of each workout read: its file's, else that of the person's workout nearest
    /// in time ([`data::share_profiles`]), else the fallback.
    pub profiles: Vec<Profile>,
}

/// One thing to read: a whole file, or a line of a FitRec file.
enum Unit {
    /// A FIT, TCX or GPX file.
    File(FoundFile),
    /// A line of a FitRec file, `source` naming it (`file:line`).
    Line { source: String, text: Vec<u8> },
    /// The end of the FitRec file `source`, `empty` where it held nothing but whitespace.
    End { source: String, empty: bool },
    /// A file that could not be read (on), and why.
    Unreadable(Skipped),
}

/// The inputs' files as a stream of [`Unit`]s, each with its size in bytes.
struct Units {
    files: std::vec::IntoIter<FoundFile>,
    /// The FitRec file being read line by line, and its name.
    lines: Option<(String, Lines<BufReader<File>>)>,
}

impl Units {
    /// The next unit and its bytes, `None` at the end.
    fn next_unit(&mut self) -> Option<(Unit, u64)> {
        if let Some((source, lines)) = &mut self.lines {
            let unit = match lines.next_line() {
                Ok(Some((number, text))) => {
                    let bytes = text.len() as u64 + 1;
                    let source = format!("{source}:{number}");
                    return Some((Unit::Line { source, text }, bytes));
                }
                Ok(None) => Unit::End {
                    source: source.clone(),
                    empty: lines.empty(),
                },
                Err(err) => Unit::Unreadable(Skipped {
                    source: source.clone(),
                    reason: format!("cannot read the file: {err}"),
                }),
            };
            self.lines = None;
            return Some((unit, 0));
        }
        let file = self.files.next()?;
        let source = file.path.display().to_string();
        if Format::of(&file.path) != Some(Format::FitRec) {
            let bytes = std::fs::metadata(&file.path).map_or(0, |m| m.len());
            return Some((Unit::File(file), bytes));
        }
        match data::open_regular(&file.path).context("cannot read the file") {
            Ok((opened, _)) => {
                self.lines = Some((source, Lines::new(BufReader::new(opened))));
                self.next_unit()
            }
            Err(err) => Some((
                Unit::Unreadable(Skipped {
                    source,
                    reason: format!("{err:#}"),
                }),
                0,
            )),
        }
    }

    /// The next batch of units ([`BATCH_BYTES`], [`BATCH_UNITS`]) with their bytes; empty at
    /// the end.
    fn next_batch(&mut self) -> Vec<(Unit, u64)> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        while bytes < BATCH_BYTES && batch.len() < BATCH_UNITS {
            let Some((unit, size)) = self.next_unit() else {
                break;
            };
            bytes += size;
            batch.push((unit, size));
        }
        batch
    }
}

/// What reading, cleaning and resampling one unit gave.
#[derive(Default)]
struct Outcome {
    /// Passed over while reading.
    read_skipped: Vec<Skipped>,
    /// The workouts read, as sharing profiles needs them.
    read: Vec<ProfileAt>,
    /// What cleaning dropped from workouts kept.
    cleaned: Vec<Skipped>,
    /// Passed over while cleaning and resampling.
    clean_skipped: Vec<Skipped>,
    /// The pieces kept, each with the index of its workout in `read`.
    pieces: Vec<(usize, Workout, Sequence)>,
    /// For a FitRec line: whether it was a workout.
    line_read: Option<bool>,
}

impl Outcome {
    /// Reads, cleans and resamples one unit at `interval_s`.
    fn of(unit: &Unit, interval_s: f64) -> Outcome {
        let mut out = Outcome::default();
        match unit {
            Unit::File(file) => {
                match data::read_person_file(
                    &file.path,
                    &file.person,
                    data::PointTimes::Required,
                    &mut out.read_skipped,
                ) {
                    Ok(workouts) => out.clean(workouts, interval_s),
                    Err(err) => out.read_skipped.push(Skipped {
                        source: file.path.display().to_string(),
                        reason: format!("{err:#}"),
                    }),
                }
            }
            Unit::Line { source, text } => match fitrec::read_line(text, source.clone()) {
                Ok(workout) => {
                    out.line_read = Some(true);
                    out.clean(vec![workout], interval_s);
                }
                Err(skip) => {
                    out.line_read = Some(false);
                    out.read_skipped.push(skip);
                }
            },
            Unit::End { .. } | Unit::Unreadable(_) => {}
        }
        out
    }

    /// Cleans `workouts` and resamples their pieces at `interval_s`, keeping those with at
    /// least [`MIN_VALID_STEPS`] valid steps.
    fn clean(&mut self, workouts: Vec<Workout>, interval_s: f64) {
        for workout in workouts {
            let raw = self.read.len();
            self.read.push(ProfileAt::of(&workout));
            let cleaned = data::clean(&workout);
            if !cleaned.notes.is_empty() {
                self.cleaned.push(Skipped {
                    source: workout.source.clone(),
                    reason: cleaned.notes.join("; "),
                });
            }
            if cleaned.pieces.is_empty() {
                self.clean_skipped.push(Skipped {
                    source: workout.source,
                    reason: "no usable records left after cleaning".into(),
                });
                continue;
            }
            for piece in cleaned.pieces {
                match features::resample(&piece, interval_s) {
                    Ok(sequence) if sequence.valid_steps() >= MIN_VALID_STEPS => {
                        self.pieces.push((raw, piece, sequence));
                    }
                    Ok(sequence) => self.clean_skipped.push(Skipped {
                        source: piece.source,
                        reason: format!(
                            "too short: {} steps with a valid heart rate, at least \
                             {MIN_VALID_STEPS} needed",
                            sequence.valid_steps()
                        ),
                    }),
                    Err(err) => self.clean_skipped.push(Skipped {
                        source: piece.source,
                        reason: format!("{err:#}"),
                    }),
                }
            }
        }
    }
}

/// What the outcomes so far add up to, in input order.
#[derive(Default)]
struct Tally {
    scanned: Scanned,
    /// Passed over while cleaning and resampling (after those of reading, at the end).
    clean_skipped: Vec<Skipped>,
    /// The workouts read, as sharing profiles needs them.
    read: Vec<ProfileAt>,
    /// Lines of the FitRec file being read that were workouts, and that were not.
    lines: (usize, usize),
}

impl Tally {
    /// Adds the outcome of `unit`, handing its pieces to `keep`.
    fn add(
        &mut self,
        unit: &Unit,
        outcome: Outcome,
        keep: &mut dyn FnMut(Piece) -> Result<()>,
    ) -> Result<()> {
        match unit {
            Unit::File(_) => self.scanned.files += 1,
            Unit::End { source, empty } => {
                self.scanned.files += 1;
                if self.lines.0 == 0 {
                    let reason = if *empty {
                        data::EMPTY_FILE.to_string()
                    } else {
                        fitrec::no_workout(self.lines.1)
                    };
                    let source = source.clone();
                    self.scanned.skipped.push(Skipped { source, reason });
                }
                self.lines = (0, 0);
            }
            Unit::Unreadable(skip) => {
                self.scanned.files += 1;
                self.scanned.skipped.push(skip.clone());
                self.lines = (0, 0);
            }
            Unit::Line { .. } => {}
        }
        match outcome.line_read {
            Some(true) => self.lines.0 += 1,
            Some(false) => self.lines.1 += 1,
            None => {}
        }
        let first = self.read.len();
        self.scanned.skipped.extend(outcome.read_skipped);
        self.read.extend(outcome.read);
        self.scanned.cleaned.extend(outcome.cleaned);
        self.clean_skipped.extend(outcome.clean_skipped);
        for (raw, workout, sequence) in outcome.pieces {
            let raw = first + raw;
            keep(Piece {
                raw,
                workout,
                sequence,
            })?;
        }
        Ok(())
    }

    /// The total: skips of cleaning after those of reading, the profiles shared and completed
    /// by `fallback`.
    fn finish(mut self, fallback: Profile) -> Scanned {
        self.scanned.skipped.append(&mut self.clean_skipped);
        data::share_profiles_at(&mut self.read);
        self.scanned.workouts_read = self.read.len();
        self.scanned.profiles = self.read.iter().map(|r| r.profile.or(fallback)).collect();
        self.scanned
    }
}

/// Reads the workouts of the files `found`, cleans them and resamples them at `interval_s`,
/// and hands each piece kept to `keep`, in input order; `progress` hears of the bytes read as
/// they are. A workout whose file records no resting or maximal heart rate takes that of the
/// person's workout nearest in time, else `fallback`'s ([`Scanned::profiles`]). Fails only where
/// `keep` does.
pub fn scan(
    found: Found,
    interval_s: f64,
    fallback: Profile,
    progress: &dyn Fn(u64),
    keep: &mut dyn FnMut(Piece) -> Result<()>,
) -> Result<Scanned> {
    let mut tally = Tally::default();
    tally.scanned.skipped = found.skipped;
    let mut units = Units {
        files: found.files.into_iter(),
        lines: None,
    };
    let mut batch = units.next_batch();
    while !batch.is_empty() {
        let (outcomes, next) = rayon::join(
            || {
                batch
                    .par_iter()
                    .map(|(unit, _)| Outcome::of(unit, interval_s))
                    .collect::<Vec<_>>()
            },
            || units.next_batch(),
        );
        for ((unit, bytes), outcome) in batch.iter().zip(outcomes) {
            tally.add(unit, outcome, keep)?;
            progress(*bytes);
        }
        batch = next;
    }
    Ok(tally.finish(fallback))
}
