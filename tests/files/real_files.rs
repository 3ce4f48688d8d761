//! Real files from real people: faults that real device files and folders have, each ending in a
//! clear message or a sensible result, never a crash, a hang, lost data or silent garbage.
//! The workouts in tests/data/reliability are real ones with one fault each (README there).

use crate::common::{WORKOUTS, hrcast_command, hrcast_in as hrcast, output_within};

use hrcast::dataset::Split;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const FAULTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reliability");

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        stdout(out),
        stderr(out)
    );
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
    stdout(out) + &stderr(out)
}

fn fails_with(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure: {}\n{err}",
        stdout(out)
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
}

fn fault(name: &str) -> String {
    format!("{FAULTS}/{name}")
}

/// A model small enough that an epoch of the test data takes milliseconds, on the CPU engine.
const TINY_MODEL: [&str; 6] = ["--hidden-size", "4", "--num-layers", "1", "--device", "cpu"];

/// `hrcast train` of [`TINY_MODEL`] with `extra` flags, in `dir`.
fn train_tiny(dir: &Path, extra: &[&str]) -> Output {
    let args: Vec<&str> = ["train"]
        .iter()
        .chain(&TINY_MODEL)
        .chain(extra)
        .copied()
        .collect();
    hrcast(dir, &args)
}

/// `hrcast prepare` of the seven test workouts into `out`, windows of 100 steps.
fn prepare_workouts(dir: &Path, out: &str) {
    ok(&hrcast(
        dir,
        &[
            "prepare",
            "--input",
            WORKOUTS,
            "--out",
            out,
            "--seq-len",
            "100",
        ],
    ));
}

fn read_split(dir: &Path, name: &str) -> Split {
    Split::read(&dir.join(format!("{name}.safetensors"))).unwrap()
}

/// Prepares one file as a training set and returns its windows and what hrcast said.
fn prepare_one(dir: &Path, file: &str) -> (Split, String) {
    let out = hrcast(
        dir,
        &["prepare", "--input", file, "--out", "p", "--split", "1,0,0"],
    );
    let said = ok(&out);
    (read_split(&dir.join("p"), "train"), said)
}

/// Every feature and heart rate is a finite number; most steps of the workouts are valid (the
/// faults above left 99.8 % of the steps masked).
fn assert_sane(split: &Split) {
    assert!(split.n > 0);
    assert!(split.features.iter().all(|v| v.is_finite()));
    assert!(split.heart_rate.iter().all(|v| v.is_finite()));
    let steps: i64 = split.length.iter().sum();
    let valid = split.valid_steps() as f64 / steps as f64;
    assert!(valid > 0.5, "only {valid} of the steps are valid");
}

#[test]
fn a_clock_not_yet_set_drops_the_record_and_keeps_the_workout() {
    let dir = tempfile::tempdir().unwrap();
    let (split, said) = prepare_one(dir.path(), &fault("R1_clock_not_set.fit"));
    assert!(
        said.contains("R1_clock_not_set.fit") && said.contains("1990-01-01"),
        "{said}"
    );
    assert_sane(&split);
}

#[test]
fn one_time_stamped_in_2100_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (split, said) = prepare_one(dir.path(), &fault("R2_one_time_2100.tcx"));
    assert!(said.contains("2100-"), "{said}");
    assert_sane(&split);
    // The run lasts 1,231 s: 247 steps of 5 s, not a grid up to 2100.
    assert_eq!(split.length.iter().sum::<i64>(), 247);
}

#[test]
fn a_timestamp_of_1e19_is_dropped_and_milliseconds_are_read_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (huge, said) = prepare_one(dir.path(), &fault("R3_ts_1e19.json"));
    assert!(said.contains("R3_ts_1e19.json:1"), "{said}");
    assert_sane(&huge);
    let (ms, said) = prepare_one(dir.path(), &fault("R3b_ts_in_ms.json"));
    assert!(said.contains("milliseconds"), "{said}");
    assert_sane(&ms);
    assert_eq!(ms.length, huge.length, "the same workout in other units");
}

#[test]
fn a_value_beyond_f32_is_ignored_with_a_warning_and_predictions_are_finite() {
    let dir = tempfile::tempdir().unwrap();
    let file = fault("R4_ele_1e39.gpx");
    let (split, said) = prepare_one(dir.path(), &file);
    assert!(
        said.contains("altitude: 1 value") && said.contains("first: 1e39 in record 0"),
        "{said}"
    );
    assert_sane(&split);
    // A checkpoint trained on it predicts finite numbers for the same file.
    ok(&hrcast(
        dir.path(),
        &[
            "prepare",
            "--input",
            &file,
            WORKOUTS,
            "--out",
            "q",
            "--seq-len",
            "100",
        ],
    ));
    ok(&train_tiny(dir.path(), &["--data", "q", "--epochs", "1"]));
    ok(&hrcast(
        dir.path(),
        &[
            "predict",
            "--checkpoint",
            "checkpoints/last.safetensors",
            "--input",
            &file,
            "--out",
            "pred.csv",
            "--device",
            "cpu",
        ],
    ));
    let csv = std::fs::read_to_string(dir.path().join("pred.csv")).unwrap();
    assert!(csv.lines().count() > 100);
    for line in csv.lines().skip(1) {
        let predicted: f64 = line.rsplit(',').next().unwrap().parse().unwrap();
        assert!(
            predicted.is_finite() && (20.0..260.0).contains(&predicted),
            "{line}"
        );
    }
}

/// A folder of good files plus one with a faulty clock: every file is used.
#[test]
fn one_faulty_file_does_not_stop_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("mine");
    std::fs::create_dir_all(&folder).unwrap();
    for name in [
        "sweat/6449921903_ACTIVITY.fit",
        "sweat/2020-06-01-16-52-40.fit",
    ] {
        let to = folder.join(name.replace('/', "_"));
        std::fs::copy(format!("{WORKOUTS}/{name}"), to).unwrap();
    }
    std::fs::copy(fault("R1_clock_not_set.fit"), folder.join("zz.fit")).unwrap();
    let said = ok(&hrcast(
        dir.path(),
        &["prepare", "--input", "mine", "--out", "p"],
    ));
    assert!(said.contains("read 3 files: 3 workouts, 3 kept"), "{said}");
}

/// The most common real case: one person's own folder, with default flags, gives a usable
/// train/val/test, and trains and evaluates with default flags too.
#[test]
fn one_persons_folder_prepares_trains_and_evaluates_with_default_flags() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("my_workouts");
    std::fs::create_dir_all(&folder).unwrap();
    for entry in walk(Path::new(WORKOUTS)) {
        let name = entry
            .strip_prefix(WORKOUTS)
            .unwrap()
            .to_string_lossy()
            .replace('/', "_");
        std::fs::copy(&entry, folder.join(name)).unwrap();
    }
    let said = ok(&hrcast(
        dir.path(),
        &[
            "prepare",
            "--input",
            "my_workouts",
            "--out",
            "DATA/processed",
        ],
    ));
    assert!(said.contains("1 person for 3 non-zero shares"), "{said}");
    for name in ["train", "val", "test"] {
        assert!(
            read_split(&dir.path().join("DATA/processed"), name).n > 0,
            "{name}: {said}"
        );
    }
    let said = ok(&hrcast(
        dir.path(),
        &[
            "train",
            "--epochs",
            "1",
            "--hidden-size",
            "4",
            "--num-layers",
            "1",
        ],
    ));
    assert!(said.contains("DATA/processed"), "{said}");
    ok(&hrcast(
        dir.path(),
        &[
            "evaluate",
            "--checkpoint",
            "checkpoints/best_model.safetensors",
        ],
    ));
    assert!(dir.path().join("results/metrics.json").exists());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if hrcast::data::Format::of(&path).is_some() {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn an_evaluation_only_set_and_raw_files_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    prepare_workouts(dir.path(), "p");
    ok(&train_tiny(dir.path(), &["--data", "p", "--epochs", "1"]));
    let said = ok(&hrcast(
        dir.path(),
        &[
            "prepare",
            "--input",
            &fault("R2_one_time_2100.tcx"),
            "--out",
            "e",
            "--split",
            "0,0,1",
            "--seq-len",
            "100",
        ],
    ));
    assert!(read_split(&dir.path().join("e"), "test").n > 0, "{said}");
    let evaluate = |out: &str, data: &[&str]| {
        let args = [
            &["evaluate", "--checkpoint", "checkpoints/last.safetensors"][..],
            data,
            &["--out", out, "--device", "cpu"],
        ]
        .concat();
        ok(&hrcast(dir.path(), &args));
    };
    let raw = fault("R2_one_time_2100.tcx");
    evaluate("r1", &["--data", "e/test.safetensors"]);
    // The same file evaluated raw, prepared in memory with the checkpoint's grid and windows.
    evaluate("r2", &["--input", &raw]);
    let metrics = |d: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(d).join("metrics.json")).unwrap(),
        )
        .unwrap()
    };
    let (a, b) = (metrics("r1"), metrics("r2"));
    assert_eq!(a["n_steps"], b["n_steps"]);
    assert!((a["mae"].as_f64().unwrap() - b["mae"].as_f64().unwrap()).abs() < 1e-9);
    assert!(b["sequences"].as_str().unwrap().starts_with("windows of"));

    // Whole workouts: the same steps, each workout one sequence, as `predict` runs the file.
    evaluate("r3", &["--input", &raw, "--whole-workouts"]);
    let whole = metrics("r3");
    assert_eq!(whole["n_steps"], b["n_steps"]);
    assert_eq!(whole["sequences"], "whole workouts");
    ok(&hrcast(
        dir.path(),
        &[
            "predict",
            "--checkpoint",
            "checkpoints/last.safetensors",
            "--input",
            &raw,
            "--out",
            "p.csv",
            "--device",
            "cpu",
        ],
    ));
    let csv = std::fs::read_to_string(dir.path().join("p.csv")).unwrap();
    let errors: Vec<f64> = csv
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let actual: f64 = f[1].parse().ok()?;
            Some((f[2].parse::<f64>().unwrap() - actual).abs())
        })
        .collect();
    assert_eq!(errors.len() as u64, whole["n_steps"].as_u64().unwrap());
    let predict_mae = errors.iter().sum::<f64>() / errors.len() as f64;
    // The CSV rounds to 0.01 bpm.
    assert!((predict_mae - whole["mae"].as_f64().unwrap()).abs() < 0.01);

    // Processed files hold windows already.
    let refused = hrcast(
        dir.path(),
        &[
            "evaluate",
            "--checkpoint",
            "checkpoints/last.safetensors",
            "--whole-workouts",
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--input"));
}

#[test]
fn the_same_name_in_two_peoples_folders_gets_two_ids() {
    let dir = tempfile::tempdir().unwrap();
    for (person, file) in [
        ("alice", "sweat/6449921903_ACTIVITY.fit"),
        ("bob", "sweat/2020-06-01-16-52-40.fit"),
    ] {
        let rides = dir.path().join("in").join(person).join("rides");
        std::fs::create_dir_all(&rides).unwrap();
        std::fs::copy(format!("{WORKOUTS}/{file}"), rides.join("activity.fit")).unwrap();
    }
    let read = hrcast::data::read_inputs(&[dir.path().join("in")]).unwrap();
    assert_eq!(read.workouts.len(), 2);
    let (a, b) = (&read.workouts[0], &read.workouts[1]);
    assert_ne!(a.workout_id, b.workout_id);
    assert_ne!(a.user_id, b.user_id, "alice and bob are two people");
}

#[cfg(unix)]
#[test]
fn a_link_loop_reads_each_file_once_and_a_fifo_is_skipped_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("in");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(
        format!("{WORKOUTS}/sweat/6449921903_ACTIVITY.fit"),
        folder.join("a.fit"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&folder, folder.join("loop")).unwrap();
    std::os::unix::fs::symlink(folder.join("a.fit"), folder.join("same.fit")).unwrap();
    let fifo = folder.join("w.fit");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = output_within(
        &mut hrcast_command(
            dir.path(),
            &["prepare", "--input", "in", "--out", "p", "--split", "1,0,0"],
        ),
        Duration::from_secs(30),
    );
    let said = ok(&out);
    assert!(said.contains("read 1 files: 1 workouts"), "{said}");
    assert!(
        said.contains("w.fit") && said.contains("not a regular file"),
        "{said}"
    );
    // Given directly, the FIFO is refused, not waited on.
    let out = output_within(
        &mut hrcast_command(
            dir.path(),
            &["prepare", "--input", "in/w.fit", "--out", "q"],
        ),
        Duration::from_secs(30),
    );
    fails_with(&out, &["w.fit", "not a regular file"]);
}

/// `train` with no data makes the synthetic set in a folder of its own: a user's file with
/// FitRec's own name in DATA/raw stays as it was, and is not trained on.
#[test]
fn the_default_synthetic_set_never_touches_the_users_files() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("DATA/raw");
    std::fs::create_dir_all(&raw).unwrap();
    let mine = b"my own real data, not to be overwritten\n";
    std::fs::write(raw.join("endomondoHR_proper.json"), mine).unwrap();
    let said = ok(&train_tiny(dir.path(), &["--epochs", "1"]));
    assert!(said.contains("DATA/synthetic"), "{said}");
    assert_eq!(
        std::fs::read(raw.join("endomondoHR_proper.json")).unwrap(),
        mine
    );
    assert!(!dir.path().join("DATA/processed").exists());
    // The README's main command: evaluate finds the test split of the same data by itself.
    let said = ok(&hrcast(
        dir.path(),
        &[
            "evaluate",
            "--checkpoint",
            "checkpoints/best_model.safetensors",
            "--device",
            "cpu",
        ],
    ));
    assert!(said.contains("MAE"), "{said}");
    let metrics = std::fs::read_to_string(dir.path().join("results/metrics.json")).unwrap();
    assert!(
        metrics.contains("DATA/synthetic/processed/test.safetensors"),
        "{metrics}"
    );
    // A --data that does not exist is an error naming it.
    let out = hrcast(
        dir.path(),
        &["train", "--data", "DATA/procesed", "--device", "cpu"],
    );
    fails_with(&out, &["--data DATA/procesed", "no such folder"]);
}

/// Train and val of two prepare runs (a run killed between its renames) are refused.
#[test]
fn splits_of_two_prepare_runs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    prepare_workouts(dir.path(), "a");
    ok(&hrcast(
        dir.path(),
        &[
            "prepare",
            "--input",
            WORKOUTS,
            "--out",
            "b",
            "--seq-len",
            "120",
        ],
    ));
    std::fs::copy(
        dir.path().join("b/val.safetensors"),
        dir.path().join("a/val.safetensors"),
    )
    .unwrap();
    let out = hrcast(dir.path(), &["train", "--data", "a", "--device", "cpu"]);
    fails_with(&out, &["--data a", "val.safetensors", "prepare"]);
    // A temporary file of a killed run is cleaned up by the next write, and never read.
    std::fs::write(
        dir.path().join("b/train.safetensors.tmp-999999999"),
        b"half",
    )
    .unwrap();
    ok(&hrcast(
        dir.path(),
        &[
            "prepare",
            "--input",
            WORKOUTS,
            "--out",
            "b",
            "--seq-len",
            "120",
        ],
    ));
    assert!(
        !dir.path()
            .join("b/train.safetensors.tmp-999999999")
            .exists()
    );
}

/// A diverging run ends with an error and never names a best model it did not write; a run
/// no better than the training mean says so.
#[test]
fn training_results_are_honest() {
    let dir = tempfile::tempdir().unwrap();
    prepare_workouts(dir.path(), "p");
    let run = |extra: &[&str]| -> Output {
        let args: Vec<&str> = ["--data", "p"].iter().chain(extra).copied().collect();
        train_tiny(dir.path(), &args)
    };
    // Steps of 1e3 overshoot every minimum: a model worse than the mean, said loudly.
    let said = ok(&run(&[
        "--epochs",
        "2",
        "--lr",
        "1e3",
        "--grad-clip",
        "0",
        "--checkpoints",
        "c1",
    ]));
    assert!(
        said.contains("WARNING") && said.contains("no better than predicting the training mean"),
        "{said}"
    );
    // Steps of 1e30 overflow f32: the loss is not finite, which is an error, and no best model
    // is named or written.
    let out = run(&[
        "--epochs",
        "2",
        "--lr",
        "1e30",
        "--grad-clip",
        "0",
        "--checkpoints",
        "c2",
    ]);
    fails_with(&out, &["diverged", "--lr", "no model was saved"]);
    assert!(!stdout(&out).contains("done:"));
    assert!(!dir.path().join("c2/best_model.safetensors").exists());
}

/// A resumed run continues only from a training state that keeps descending.
#[test]
fn a_tampered_training_state_is_refused_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    prepare_workouts(dir.path(), "p");
    ok(&train_tiny(dir.path(), &["--data", "p", "--epochs", "1"]));
    let last = dir.path().join("checkpoints/last.safetensors");
    let good = hrcast::checkpoint::Checkpoint::load(&last).unwrap();
    for (from, to, needle) in [
        ("\"factor\":0.5", "\"factor\":-1.0", "scheduler's factor"),
        ("\"lr\":0.0005", "\"lr\":-1.0", "lr"),
    ] {
        let mut ck = good.clone();
        let state = ck.train_state.clone().unwrap();
        assert!(state.contains(from), "{state}");
        ck.train_state = Some(state.replace(from, to));
        ck.save(&dir.path().join("tampered.safetensors")).unwrap();
        let resumed = train_tiny(
            dir.path(),
            &[
                "--data",
                "p",
                "--resume",
                "tampered.safetensors",
                "--epochs",
                "2",
            ],
        );
        fails_with(&resumed, &["--resume", needle]);
    }
}

/// One track point without a time, or with a value that is not a number, costs that point or
/// value, not the workout.
#[test]
fn one_bad_track_point_costs_the_point_not_the_workout() {
    let dir = tempfile::tempdir().unwrap();
    let tcx =
        std::fs::read_to_string(format!("{WORKOUTS}/tcx/20210119_run_garmin_fenix6.tcx")).unwrap();
    let first_time = tcx.find("<Time>").unwrap();
    let end = tcx[first_time..].find("</Time>").unwrap() + first_time + "</Time>".len();
    let mut broken = format!("{}{}", &tcx[..first_time], &tcx[end..]);
    let second_point = broken.find("<Time>").unwrap();
    let hr = broken[second_point..].find("<Value>").unwrap() + second_point + "<Value>".len();
    broken.insert_str(hr, "abc");
    std::fs::write(dir.path().join("broken.tcx"), broken).unwrap();
    let (split, said) = prepare_one(dir.path(), "broken.tcx");
    assert!(
        said.contains("1 records without a usable timestamp dropped"),
        "{said}"
    );
    assert!(
        said.contains("heart_rate: 1 value") && said.contains("NaN"),
        "{said}"
    );
    assert_sane(&split);
}
