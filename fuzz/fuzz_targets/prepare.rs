//! Fuzzes a whole `hrcast prepare` run on one input file.
//!
//! The input is written to a temporary folder as one workout file whose extension is picked
//! from its first non-blank byte, so that the real workouts serve as seeds unchanged: `{` is
//! FitRec JSON lines (`.jsonl`), `<` is XML (`.gpx` when the input mentions `<gpx`, else
//! `.tcx`), anything else is FIT (`.fit`).
#![no_main]

use hrcast::prepare::{PrepareOptions, SplitBy, prepare};
use libfuzzer_sys::fuzz_target;

/// The extension a file of these bytes gets.
fn extension(bytes: &[u8]) -> &'static str {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => "jsonl",
        Some(b'<') if bytes.windows(4).any(|w| w == b"<gpx") => "gpx",
        Some(b'<') => "tcx",
        _ => "fit",
    }
}

/// Writes `bytes` as a workout file and runs `prepare` on it; errors are fine.
fn run(bytes: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let input = dir.path().join(format!("workout.{}", extension(bytes)));
    std::fs::write(&input, bytes).expect("the input file is written");
    let options = PrepareOptions {
        inputs: vec![input],
        history: Vec::new(),
        out: dir.path().join("out"),
        seq_len: 32,
        whole_workouts: false,
        interval_s: 5.0,
        split: [0.8, 0.1, 0.1],
        split_by: SplitBy::User,
        seed: 0,
        profile: Default::default(),
    };
    let _ = prepare(&options);
}

/// Rust's default panic hook instead of libfuzzer-sys's abort-on-every-panic one, so that a
/// panic the FIT reader catches (and turns into an error) is not a crash; see common.rs.
fn init() {
    let _ = std::panic::take_hook();
}

fuzz_target!(init: init(), |bytes: &[u8]| run(bytes));
