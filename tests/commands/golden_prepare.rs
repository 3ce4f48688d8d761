//! `hrcast prepare` against outputs made by the prepare of commit 2beee31 (before prepare
//! streamed; tests/data/golden/README.md says how): the same windows, values, split, summary and
//! warnings, on one thread and on two, and the same bytes on both.

use crate::common::{WORKOUTS, hrcast_in, succeeded};
use hrcast::prepare::SPLIT_NAMES;
use std::path::Path;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden");

/// Copies the files of folder `from`, and of its folders, into `to`.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_folder(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A new folder holding the golden inputs: `raw/` (synth's 6 people x 3 workouts of seed 5 and
/// `extra.jsonl`: a workout split at a clock jump, a broken line, timestamps in milliseconds)
/// and `workouts/` (a copy of tests/data/workouts).
fn golden_inputs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let synth = [
        "synth",
        "--out",
        "raw",
        "--users",
        "6",
        "--workouts-per-user",
        "3",
        "--seed",
        "5",
    ];
    succeeded(&hrcast_in(dir.path(), &synth));
    std::fs::copy(
        Path::new(GOLDEN).join("extra.jsonl"),
        dir.path().join("raw/extra.jsonl"),
    )
    .unwrap();
    copy_folder(Path::new(WORKOUTS), &dir.path().join("workouts"));
    dir
}

/// The bytes of a data file with its set id (random per run) turned into zeros.
fn without_set_id(mut bytes: Vec<u8>) -> Vec<u8> {
    let key = b"\"set_id\":\"";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("a set id")
        + key.len();
    let end = at + bytes[at..].iter().position(|&b| b == b'"').unwrap();
    bytes[at..end].fill(b'0');
    bytes
}

/// A data file's header as JSON, without its set id, and its tensor bytes.
fn header_and_data(bytes: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let metadata = header["__metadata__"].as_object_mut().unwrap();
    assert!(metadata.remove("set_id").is_some(), "a set id");
    (header, bytes[8 + n..].to_vec())
}

/// Prepares the golden inputs with `args` on one thread and on two, and compares each run with
/// the golden output `case` (its files, summary and warnings), and the runs' bytes.
fn prepare_matches_golden(case: &str, args: &[&str]) {
    let dir = golden_inputs();
    let golden = Path::new(GOLDEN).join(case);
    let mut runs = Vec::new();
    for threads in ["1", "2"] {
        let out_dir = format!("threads-{threads}/{case}");
        let mut command = vec!["prepare", "--input", "raw", "workouts", "--out", &out_dir];
        command.extend(args);
        command.extend(["--threads", threads]);
        let out = hrcast_in(dir.path(), &command);
        let stdout = succeeded(&out).replace(&format!("threads-{threads}/"), "");
        let read = |name: &str| std::fs::read_to_string(golden.join(name)).unwrap();
        assert_eq!(stdout, read("stdout.txt"), "{case}, {threads} threads");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr, read("stderr.txt"), "{case}, {threads} threads");
        let mut files = Vec::new();
        for name in SPLIT_NAMES {
            let file = format!("{name}.safetensors");
            let bytes = std::fs::read(dir.path().join(&out_dir).join(&file)).unwrap();
            let want = std::fs::read(golden.join(&file)).unwrap();
            let (got_header, got_data) = header_and_data(&bytes);
            let (want_header, want_data) = header_and_data(&want);
            assert_eq!(got_header, want_header, "{case}/{file}, {threads} threads");
            assert!(
                got_data == want_data,
                "{case}/{file}, {threads} threads: data"
            );
            files.push(without_set_id(bytes));
        }
        runs.push(files);
    }
    assert!(runs[0] == runs[1], "{case}: other bytes on two threads");
}

#[test]
fn prepare_cuts_the_windows_of_the_golden_output() {
    prepare_matches_golden("windows", &["--seq-len", "40", "--interval", "20"]);
}

#[test]
fn prepare_makes_the_whole_workouts_of_the_golden_output() {
    prepare_matches_golden(
        "whole",
        &["--whole-workouts", "--interval", "60", "--split-by", "time"],
    );
}
