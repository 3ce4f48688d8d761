//! The `prepare` command: loaded workouts cut into windows and split ([`make_splits`], in
//! memory), the three files written together ([`write_splits`]), and the summary printed.

use super::options::PrepareOptions;
use super::split::split_workouts;
use crate::atomic;
use crate::data::{self, Skipped};
use crate::dataset::Split;
use crate::workouts::{self, Loaded, Truncation, fill_histories, longest, push_windows};
use anyhow::{Context, Result, ensure};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The names of the three splits, in file order.
pub const SPLIT_NAMES: [&str; 3] = ["train", "val", "test"];

/// What a prepare run did, printed at its end.
#[derive(Debug, Default)]
pub struct Summary {
    /// Workout files looked at.
    pub files: usize,
    /// Workouts read from them.
    pub workouts_read: usize,
    /// Workouts (or pieces of workouts split at a clock jump or long pause) kept.
    pub workouts_kept: usize,
    /// Workouts kept from `--history`, which serve as earlier workouts only.
    pub history_kept: usize,
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
        if self.history_kept > 0 {
            writeln!(
                f,
                "{} workouts of --history serve as earlier workouts only",
                self.history_kept
            )?;
        }
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

/// The three splits (train, val, test) of `loaded`'s workouts as `options` ask, with the same
/// `set_id`, and the summary of the run (without the files written). Each workout's history
/// comes from the person's other workouts and `loaded.history`: all of it for validation and
/// testing, cut at random (seeded by `--seed`) for training.
pub fn make_splits(loaded: Loaded, options: &PrepareOptions) -> (Summary, [Split; 3]) {
    let mut prepared = loaded.prepared;
    let mut summary = Summary {
        files: loaded.files,
        workouts_read: loaded.workouts_read,
        workouts_kept: prepared.len(),
        history_kept: loaded.history.len(),
        skipped: loaded.skipped,
        cleaned: loaded.cleaned,
        ..Summary::default()
    };
    let (assignment, note) = split_workouts(&prepared, options);
    summary.split_note = note;
    let truncation = |i: usize| match assignment[i] {
        0 => Truncation::Random { seed: options.seed },
        _ => Truncation::None,
    };
    fill_histories(&mut prepared, &loaded.history, &truncation);
    let source = workouts::describe_inputs(&options.inputs);
    let set_id = new_set_id(&source);
    let seq_len = if options.whole_workouts {
        longest(&prepared)
    } else {
        options.seq_len as usize
    };
    let mut splits: [Split; 3] = std::array::from_fn(|_| {
        let mut split = Split::empty(seq_len, options.interval_s, &source);
        split.set_id = set_id.clone();
        split
    });
    for (p, &s) in prepared.iter().zip(&assignment) {
        push_windows(&mut splits[s], p);
        summary.splits[s].1 += 1;
    }
    for (counts, split) in summary.splits.iter_mut().zip(&splits) {
        counts.0 = split.n;
        counts.2 = split.valid_steps() as f64 * options.interval_s / 3600.0;
    }
    (summary, splits)
}

/// Writes the three splits into `out` as `train.safetensors`, `val.safetensors` and
/// `test.safetensors`, all of them or none; the paths written.
pub fn write_splits(splits: &[Split; 3], out: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for (name, split) in SPLIT_NAMES.iter().zip(splits) {
        let path = out.join(format!("{name}.safetensors"));
        files.push((path, split.to_bytes()?));
    }
    atomic::write_all(&files)?;
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// Runs `hrcast prepare`. Skipped inputs are reported in the summary; it fails when no workout
/// is usable, and writes the three files together or none of them.
pub fn prepare(options: &PrepareOptions) -> Result<Summary> {
    ensure!(options.seq_len > 0, "--seq-len must be at least 1");
    match options.threads {
        Some(threads) => rayon::ThreadPoolBuilder::new()
            .num_threads(threads as usize)
            .build()
            .with_context(|| format!("--threads {threads}"))?
            .install(|| prepare_here(options)),
        None => prepare_here(options),
    }
}

/// [`prepare`] on the threads of the rayon pool it runs in.
fn prepare_here(options: &PrepareOptions) -> Result<Summary> {
    let mut loaded = workouts::load(
        &options.inputs,
        options.interval_s,
        options.profile.profile()?,
    )?;
    if !options.history.is_empty() {
        let history =
            workouts::load_history(&options.history, &options.inputs, options.interval_s)?;
        loaded.skipped.extend(history.skipped);
        loaded.cleaned.extend(history.cleaned);
        loaded.history = history.prepared;
    }
    let (mut summary, splits) = make_splits(loaded, options);
    summary.written = write_splits(&splits, &options.out)?;
    Ok(summary)
}

/// Runs `hrcast prepare` from the command line: prepares, then prints the warnings (inputs
/// cleaned or skipped, a split left empty) and the summary.
pub fn run(options: &PrepareOptions) -> Result<ExitCode> {
    let summary = prepare(options)?;
    workouts::warn(&summary.cleaned, &summary.skipped);
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
