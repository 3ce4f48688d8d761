//! The two passes of prepare, so that memory holds a batch of workouts, not the inputs:
//! - the first reads, cleans and resamples the workouts ([`workouts::scan`]), keeps a few
//!   hundred bytes of each ([`Kept`]: what the split and the histories need) and appends its
//!   sequence to a [`Spill`] file;
//! - between them, the splits, the histories, the window length and the size of each file are
//!   decided ([`Plan`]);
//! - the second reads the sequences back in the same order, cuts them into windows and writes
//!   each window into its split's file ([`SplitWriter`]), whose header was written first.

use super::options::PrepareOptions;
use super::spill::Spill;
use super::split::{SplitItem, split_workouts};
use crate::data::{Found, NUM_PERSON_INPUTS, Sport};
use crate::dataset::{MAX_SEQ_LEN, Split, SplitWriter};
use crate::workouts::{
    self, HistoryItem, Piece, Scanned, Truncation, histories_of, longest_of, person_values,
    push_sequence, window_ranges,
};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::path::PathBuf;

/// What the first pass keeps of a workout (or piece of one) kept.
pub struct Kept {
    /// The index of the workout it comes from, among those read.
    raw: usize,
    /// What the split needs of it.
    split: SplitItem,
    /// Its name (`person/file`).
    name: String,
    /// Its sport.
    sport: Sport,
    /// Steps with a valid heart rate.
    valid_steps: usize,
    /// Windows it is cut into (those with a valid step), at the window length of
    /// [`count_length`].
    windows: usize,
    /// What it brings to histories.
    history: HistoryItem,
}

/// The window length at which the first pass counts windows: `--seq-len`, or for
/// `--whole-workouts` [`MAX_SEQ_LEN`], which counts them right too (each workout one window
/// where the longest is shorter, and windows of that length where it is not).
fn count_length(options: &PrepareOptions) -> usize {
    if options.whole_workouts {
        MAX_SEQ_LEN
    } else {
        options.seq_len as usize
    }
}

/// What the first pass made of the inputs.
pub struct FirstPass {
    /// The workouts kept, in input order.
    pub kept: Vec<Kept>,
    /// What was read, passed over and cleaned; each workout's profile.
    pub scanned: Scanned,
    /// The sequences of `kept`, in the same order.
    spill: Spill,
}

/// A progress bar on the terminal (none in a log or a pipe) of `len` units, drawn by `template`.
fn progress_bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

/// Reads, cleans and resamples the workouts of the files `found` (the inputs), keeping what the
/// split and histories need of each and spilling its sequence into the output folder.
pub fn first_pass(found: Found, options: &PrepareOptions) -> Result<FirstPass> {
    let fallback = options.profile.profile()?;
    let mut spill = Spill::create(&options.out)?;
    let total = found
        .files
        .iter()
        .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
        .sum();
    let bar = progress_bar(
        total,
        "prepare: reading [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {elapsed} eta {eta}",
    );
    let t = count_length(options);
    let mut kept = Vec::new();
    let scanned = workouts::scan(
        found,
        options.interval_s,
        fallback,
        &|bytes| bar.inc(bytes),
        &mut |piece: Piece| {
            let w = &piece.workout;
            kept.push(Kept {
                raw: piece.raw,
                split: SplitItem {
                    user_id: w.user_id,
                    workout_id: w.workout_id,
                    start: w.start_time(),
                    steps: piece.sequence.len(),
                },
                name: w.name(),
                sport: w.sport_class(),
                valid_steps: piece.sequence.valid_steps(),
                windows: window_ranges(&piece.sequence, t).count(),
                history: HistoryItem::new(w, &piece.sequence),
            });
            spill.push(&piece.sequence)
        },
    )?;
    bar.finish_and_clear();
    Ok(FirstPass {
        kept,
        scanned,
        spill,
    })
}

/// What is decided between the passes.
pub struct Plan {
    /// The split (0 train, 1 val, 2 test) of each workout kept.
    pub splits: Vec<usize>,
    /// How the splits were made, where it differs from what was asked.
    pub note: Option<String>,
    /// The person-level inputs of each workout kept, as the files store them.
    persons: Vec<[f32; NUM_PERSON_INPUTS]>,
    /// Each split without its windows: window length, interval, source, set id and the names
    /// of its workouts.
    pub files: [Split; 3],
    /// The windows of each split.
    pub windows: [usize; 3],
}

/// Decides the splits, the histories (from the workouts kept and `history`, those of `--history`)
/// and the window length, and what each file will hold.
pub fn plan(
    first: &FirstPass,
    history: &[&HistoryItem],
    like: &Split,
    options: &PrepareOptions,
) -> Plan {
    let items: Vec<SplitItem> = first.kept.iter().map(|k| k.split).collect();
    let (splits, note) = split_workouts(&items, options);
    let truncation = |i: usize| match splits[i] {
        0 => Truncation::Random { seed: options.seed },
        _ => Truncation::None,
    };
    let targets: Vec<&HistoryItem> = first.kept.iter().map(|k| &k.history).collect();
    let histories = histories_of(&targets, history, &truncation);
    let persons: Vec<[f32; NUM_PERSON_INPUTS]> = first
        .kept
        .iter()
        .zip(&histories)
        .map(|(k, h)| {
            let profile = first.scanned.profiles[k.raw];
            Split::person_values(&person_values(profile, h, k.sport))
        })
        .collect();
    let seq_len = if options.whole_workouts {
        longest_of(first.kept.iter().map(|k| k.split.steps))
    } else {
        options.seq_len as usize
    };
    let mut files: [Split; 3] = std::array::from_fn(|_| Split {
        seq_len,
        ..like.clone()
    });
    let mut windows = [0; 3];
    for (k, &s) in first.kept.iter().zip(&splits) {
        if k.windows > 0 {
            windows[s] += k.windows;
            let id = k.split.workout_id;
            files[s].names.entry(id).or_insert_with(|| k.name.clone());
        }
    }
    Plan {
        splits,
        note,
        persons,
        files,
        windows,
    }
}

impl Plan {
    /// Whether some window of split `s` knows a person value (the file then holds `person`).
    fn knows_person(&self, first: &FirstPass, s: usize) -> bool {
        first
            .kept
            .iter()
            .zip(&self.splits)
            .zip(&self.persons)
            .any(|((k, &split), row)| {
                split == s && k.windows > 0 && row.iter().any(|v| !v.is_nan())
            })
    }

    /// Workouts, windows and hours of valid heart rate of each split at `interval_s`.
    pub fn counts(&self, first: &FirstPass, interval_s: f64) -> [(usize, usize, f64); 3] {
        let mut counts = [(0, 0, 0usize); 3];
        for (k, &s) in first.kept.iter().zip(&self.splits) {
            counts[s].1 += 1;
            counts[s].2 += k.valid_steps;
        }
        std::array::from_fn(|s| {
            let (_, workouts, valid) = counts[s];
            (
                self.windows[s],
                workouts,
                valid as f64 * interval_s / 3600.0,
            )
        })
    }
}

/// Writes the windows of every workout kept into `files` (the temporary files of `paths`, one
/// per split) as `plan` says: each file's header, then the sequences read back from the spill
/// and cut into windows.
pub fn second_pass(
    first: FirstPass,
    plan: &Plan,
    files: Vec<File>,
    paths: &[PathBuf],
) -> Result<()> {
    let mut writers = Vec::new();
    for (s, (file, path)) in files.into_iter().zip(paths).enumerate() {
        let person = plan.knows_person(&first, s);
        let like = &plan.files[s];
        writers.push(SplitWriter::create(
            file,
            path,
            like,
            plan.windows[s],
            person,
        )?);
    }
    let bar = progress_bar(
        first.kept.len() as u64,
        "prepare: writing [{bar:30}] {pos}/{len} workouts {elapsed} eta {eta}",
    );
    let mut spilled = first.spill.read_back()?;
    for ((k, &s), person) in first.kept.iter().zip(&plan.splits).zip(&plan.persons) {
        let sequence = spilled.next(k.split.steps)?;
        let mut windows = Split::empty(plan.files[s].seq_len, 0.0, "");
        let values = person.map(|v| (!v.is_nan()).then_some(f64::from(v)));
        let ids = (k.split.user_id, k.split.workout_id);
        push_sequence(&mut windows, &sequence, ids, &k.name, &values);
        writers[s].append(&windows)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    for writer in writers {
        writer.finish()?;
    }
    Ok(())
}
