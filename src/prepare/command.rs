//! The `prepare` command: the inputs read in two passes (passes.rs), the three files written
//! together, and the summary printed.

use super::options::PrepareOptions;
use super::passes::{first_pass, plan, second_pass};
use crate::atomic;
use crate::data::{self, Skipped};
use crate::dataset::Split;
use crate::workouts::{self, HistoryItem};
use anyhow::{Context, Result, ensure};
use std::fmt;
use std::path::PathBuf;
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

/// [`prepare`] on the threads of the rayon pool it runs in: the first pass over the inputs,
/// the plan, the second pass into the three files (see passes.rs).
fn prepare_here(options: &PrepareOptions) -> Result<Summary> {
    workouts::check_interval(options.interval_s)?;
    let mut first = first_pass(data::find_inputs(&options.inputs)?, options)?;
    let scanned = &first.scanned;
    let read = workouts::Read {
        files: scanned.files,
        workouts: scanned.workouts_read,
        skipped: &scanned.skipped,
    };
    workouts::nothing_usable("--input", &options.inputs, first.kept.len(), &read)?;
    let mut summary = Summary {
        files: scanned.files,
        workouts_read: scanned.workouts_read,
        workouts_kept: first.kept.len(),
        ..Summary::default()
    };
    summary.skipped = std::mem::take(&mut first.scanned.skipped);
    summary.cleaned = std::mem::take(&mut first.scanned.cleaned);
    let mut history = Vec::new();
    if !options.history.is_empty() {
        let loaded = workouts::load_history(&options.history, &options.inputs, options.interval_s)?;
        summary.skipped.extend(loaded.skipped);
        summary.cleaned.extend(loaded.cleaned);
        history = loaded.prepared.iter().map(HistoryItem::of).collect();
    }
    summary.history_kept = history.len();
    let source = workouts::describe_inputs(&options.inputs);
    let like = Split::empty(1, options.interval_s, &source).with_set_id(&new_set_id(&source));
    let plan = plan(&first, &history.iter().collect::<Vec<_>>(), &like, options);
    summary.split_note = plan.note.clone();
    summary.splits = plan.counts(&first, options.interval_s);
    let paths: Vec<PathBuf> = SPLIT_NAMES
        .iter()
        .map(|name| options.out.join(format!("{name}.safetensors")))
        .collect();
    let (staged, files) = atomic::Staged::create(&paths)?;
    second_pass(first, &plan, files, &paths)?;
    staged.commit()?;
    summary.written = paths;
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
