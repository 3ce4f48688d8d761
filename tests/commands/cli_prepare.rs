//! `hrcast synth` and `hrcast prepare` end to end, and every kind of bad input they must refuse
//! with one clear message, a non-zero exit where nothing usable remains, no panic and no
//! half-written output.

use crate::common;

use common::{WORKOUTS, hrcast};

use hrcast::dataset::Split;
use hrcast::features::FEATURE_NAMES;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts a failure with a message containing each of `needles`, and no panic.
fn assert_fails_with(out: &Output, needles: &[&str]) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// One FitRec line of 40 samples 5 s apart, with the given heart-rate literal at sample 3.
fn fitrec_line(id: i64, hr_at_3: &str) -> String {
    let ts: Vec<String> = (0..40)
        .map(|k| (1_500_000_000 + 5 * k).to_string())
        .collect();
    let hr: Vec<String> = (0..40)
        .map(|k| {
            if k == 3 {
                hr_at_3.to_string()
            } else {
                (120 + k).to_string()
            }
        })
        .collect();
    let alt: Vec<String> = (0..40).map(|k| format!("{}.5", 100 + k)).collect();
    let speed: Vec<String> = (0..40).map(|_| "10.0".to_string()).collect();
    format!(
        "{{'id': {id}, 'userId': 3, 'gender': 'female', 'sport': 'run', 'timestamp': [{}], 'heart_rate': [{}], 'altitude': [{}], 'speed': [{}]}}",
        ts.join(", "),
        hr.join(", "),
        alt.join(", "),
        speed.join(", ")
    )
}

#[test]
fn synth_then_prepare_writes_the_spec_files() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let processed = dir.path().join("processed");
    let out = hrcast(&[
        "synth",
        "--out",
        raw.to_str().unwrap(),
        "--users",
        "6",
        "--workouts-per-user",
        "3",
        "--seed",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = hrcast(&[
        "prepare",
        "--input",
        raw.to_str().unwrap(),
        WORKOUTS,
        "--out",
        processed.to_str().unwrap(),
        "--seq-len",
        "200",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("read 8 files: 25 workouts, 25 kept, 0 skipped"),
        "{stdout}"
    );

    let mut split_of_workout: HashMap<i64, usize> = HashMap::new();
    let mut split_of_user: HashMap<i64, HashSet<usize>> = HashMap::new();
    let mut windows = 0;
    for (s, name) in ["train", "val", "test"].iter().enumerate() {
        let split = Split::read(&processed.join(format!("{name}.safetensors"))).unwrap();
        assert_eq!(split.seq_len, 200);
        assert_eq!(split.interval_s, 5.0);
        assert_eq!(split.features.len(), split.n * 200 * FEATURE_NAMES.len());
        assert_eq!(split.mask.len(), split.n * 200);
        windows += split.n;
        for i in 0..split.n {
            let len = split.length[i] as usize;
            assert!((1..=200).contains(&len));
            let mask = &split.mask[i * 200..(i + 1) * 200];
            let hr = &split.heart_rate[i * 200..(i + 1) * 200];
            assert!(mask[..len].contains(&1.0), "a window without a valid step");
            for t in 0..200 {
                assert!(mask[t] == 0.0 || mask[t] == 1.0);
                if mask[t] == 1.0 {
                    assert!(
                        (30.0..=240.0).contains(&hr[t]),
                        "valid heart rate {}",
                        hr[t]
                    );
                }
                if t >= len {
                    assert_eq!((mask[t], hr[t]), (0.0, 0.0), "padding");
                    let row = &split.features[(i * 200 + t) * 11..(i * 200 + t + 1) * 11];
                    assert!(row.iter().all(|v| *v == 0.0), "padding features");
                }
            }
            // Only a workout's last window is shorter than seq_len.
            let w = split.workout_id[i];
            if let Some(prev) = split_of_workout.insert(w, s) {
                assert_eq!(prev, s, "workout {w} in two splits");
            }
            split_of_user.entry(split.user_id[i]).or_default().insert(s);
        }
    }
    assert!(windows > 25);
    assert_eq!(split_of_workout.len(), 25);
    for (user, splits) in split_of_user {
        assert_eq!(
            splits.len(),
            1,
            "user {user} in several splits with --split-by user"
        );
    }
}

#[test]
fn split_by_time_keeps_each_users_later_workouts_for_val_and_test() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    // Synthetic ids rise with time within a user (user * 100000 + workout number).
    std::fs::write(raw.join("w.json"), hrcast::synth::generate(3, 10, 7)).unwrap();
    let options = hrcast::prepare::PrepareOptions {
        inputs: vec![raw],
        history: Vec::new(),
        out: dir.path().join("p"),
        seq_len: 100,
        whole_workouts: false,
        interval_s: 5.0,
        split: [0.6, 0.2, 0.2],
        split_by: hrcast::prepare::SplitBy::Time,
        seed: 0,
        profile: Default::default(),
        threads: None,
    };
    let summary = hrcast::prepare::prepare(&options).unwrap();
    assert!(summary.splits.iter().all(|s| s.0 > 0), "{summary}");
    let splits: Vec<Split> = ["train", "val", "test"]
        .iter()
        .map(|n| Split::read(&options.out.join(format!("{n}.safetensors"))).unwrap())
        .collect();
    for user in 1..=3i64 {
        let ids = |s: &Split| -> Vec<i64> {
            (0..s.n)
                .filter(|&i| s.user_id[i] == user)
                .map(|i| s.workout_id[i])
                .collect()
        };
        let (train, val, test) = (ids(&splits[0]), ids(&splits[1]), ids(&splits[2]));
        assert!(
            !train.is_empty() && !val.is_empty() && !test.is_empty(),
            "user {user}"
        );
        assert!(
            train.iter().max() < val.iter().min(),
            "user {user}: train after val"
        );
        assert!(
            val.iter().max() < test.iter().min(),
            "user {user}: val after test"
        );
    }
}

#[test]
fn whole_workouts_make_one_window_per_workout() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::write(raw.join("w.json"), hrcast::synth::generate(3, 4, 7)).unwrap();
    let out = dir.path().join("p");
    let args = [
        "hrcast",
        "prepare",
        "--input",
        raw.to_str().unwrap(),
        "--out",
    ];
    let cli = hrcast::cli::Cli::try_parse_from(
        args.iter()
            .chain(&[out.to_str().unwrap(), "--whole-workouts"]),
    );
    let Ok(hrcast::cli::Cli {
        command: hrcast::cli::Command::Prepare(options),
    }) = cli
    else {
        panic!("--whole-workouts does not parse");
    };
    let summary = hrcast::prepare::prepare(&options).unwrap();
    let loaded =
        hrcast::workouts::load(std::slice::from_ref(&raw), 5.0, Default::default()).unwrap();
    let longest = hrcast::workouts::longest(&loaded.prepared);
    assert!(
        longest > 500,
        "the test needs a workout longer than the default window"
    );
    let mut ids = BTreeSet::new();
    for name in ["train", "val", "test"] {
        let split = Split::read(&out.join(format!("{name}.safetensors"))).unwrap();
        assert_eq!(split.seq_len, longest, "{name}");
        for w in 0..split.n {
            assert!(ids.insert(split.workout_id[w]), "a workout in two windows");
        }
    }
    assert_eq!(ids.len(), loaded.prepared.len(), "{summary}");
    // It replaces --seq-len, so the two together are refused.
    let both = hrcast::cli::Cli::try_parse_from(args.iter().chain(&[
        "o",
        "--whole-workouts",
        "--seq-len",
        "50",
    ]));
    assert!(both.unwrap_err().to_string().contains("--seq-len"));
}

#[test]
fn synth_is_deterministic_for_a_seed() {
    let a = hrcast::synth::generate(2, 2, 42);
    assert_eq!(a, hrcast::synth::generate(2, 2, 42));
    assert_ne!(a, hrcast::synth::generate(2, 2, 43));
    assert_eq!(a.lines().count(), 4);
}

#[test]
fn synthetic_heart_rate_follows_effort() {
    // Heart rate must carry information the features can explain: within workouts, faster
    // steps (rolling speed over a minute) have a higher heart rate on average.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.json"), hrcast::synth::generate(4, 4, 3)).unwrap();
    let workouts = hrcast::data::read_inputs(&[dir.path().to_path_buf()])
        .unwrap()
        .workouts;
    assert_eq!(workouts.len(), 16);
    let mut positive = 0;
    for w in &workouts {
        let seq = hrcast::features::resample(w, 5.0).unwrap();
        let pairs: Vec<(f64, f64)> = (0..seq.len())
            .filter(|&k| seq.valid[k])
            .map(|k| {
                (
                    f64::from(seq.features[k * 11 + 8]),
                    f64::from(seq.heart_rate[k]),
                )
            })
            .collect();
        let n = pairs.len() as f64;
        let (mx, my) = pairs
            .iter()
            .fold((0.0, 0.0), |a, p| (a.0 + p.0 / n, a.1 + p.1 / n));
        let cov: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if cov > 0.0 {
            positive += 1;
        }
        let (lo, hi) = pairs
            .iter()
            .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.1), a.1.max(p.1)));
        assert!(lo >= 40.0 && hi <= 215.0, "heart rate range {lo}..{hi}");
    }
    assert!(
        positive >= 12,
        "only {positive} of 16 workouts have heart rate rising with speed"
    );
}

#[test]
fn a_truncated_fit_file_is_skipped_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(Path::new(WORKOUTS).join("sweat/2020-06-01-16-52-40.fit")).unwrap();
    let bad = dir.path().join("cut.fit");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let out_dir = dir.path().join("out");
    // Alone: no usable workout remains, so the run fails and writes nothing.
    let out = hrcast(&[
        "prepare",
        "--input",
        bad.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_fails_with(
        &out,
        &["no usable workout in ", "cut.fit", "truncated or corrupt"],
    );
    assert!(files_in(&out_dir).is_empty(), "output left behind");
    // With a good file: a warning naming it, and the run goes on.
    let good = Path::new(WORKOUTS).join("fitparser/hrv-activity.fit");
    let out = hrcast(&[
        "prepare",
        "--input",
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("warning: skipped") && text(&out.stderr).contains("cut.fit")
    );
    assert_eq!(files_in(&out_dir).len(), 3);
}

#[test]
fn an_empty_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.tcx");
    std::fs::write(&empty, "").unwrap();
    let out = hrcast(&[
        "prepare",
        "--input",
        empty.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert_fails_with(&out, &["empty.tcx", "the file is empty"]);
    assert!(!dir.path().join("o").exists());
}

#[test]
fn a_gpx_without_heart_rate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let gpx = std::fs::read_to_string(Path::new(WORKOUTS).join("gpx/garmin-activity.gpx")).unwrap();
    let without = common::without_elements(&gpx, "ns3:hr");
    assert!(!without.contains("ns3:hr"));
    let file = dir.path().join("nohr.gpx");
    std::fs::write(&file, without).unwrap();
    let out = hrcast(&[
        "prepare",
        "--input",
        file.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert_fails_with(&out, &["nohr.gpx", "no heart rate"]);
}

#[test]
fn a_json_line_that_does_not_parse_is_skipped_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fitrec.json");
    std::fs::write(
        &file,
        format!("{}\n{{'id': 2, 'userId': [oops\n", fitrec_line(1, "123")),
    )
    .unwrap();
    let out = hrcast(&[
        "prepare",
        "--input",
        file.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("fitrec.json:2: not a FitRec workout line"),
        "{err}"
    );
    assert!(text(&out.stdout).contains("1 kept, 1 skipped"));
    // A file where no line parses is refused.
    std::fs::write(&file, "{'id': 2, 'userId': [oops\n").unwrap();
    let out = hrcast(&[
        "prepare",
        "--input",
        file.to_str().unwrap(),
        "--out",
        dir.path().join("p").to_str().unwrap(),
    ]);
    assert_fails_with(&out, &["no usable workout in ", "fitrec.json"]);
    assert!(!dir.path().join("p").exists());
}

#[test]
fn nan_values_are_ignored_with_a_warning_naming_file_line_and_channel() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nan.json");
    std::fs::write(&file, fitrec_line(9, "NaN") + "\n").unwrap();
    let out = hrcast(&[
        "prepare",
        "--input",
        file.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
        "--split",
        "1,0,0",
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("nan.json:1") && err.contains("heart_rate: 1 value") && err.contains("NaN"),
        "{err}"
    );
    let train = Split::read(&dir.path().join("o/train.safetensors")).unwrap();
    assert_eq!(train.n, 1);
    // Sample 3 lies between two valid samples 5 s apart: interpolated, not lost.
    assert!(
        train
            .heart_rate
            .iter()
            .take(40)
            .all(|hr| hr.is_finite() && *hr > 0.0)
    );
}

#[test]
fn an_unknown_feature_name_is_refused() {
    let out = hrcast(&["train", "--features", "speed,heartbeat"]);
    assert_fails_with(&out, &["--features", "unknown feature \"heartbeat\""]);
    let out = hrcast(&["ablate", "--sets", "baseline,nonsense"]);
    assert_fails_with(&out, &["unknown feature \"nonsense\""]);
}

#[test]
fn a_folder_without_workouts_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "no workouts here").unwrap();
    let out = hrcast(&[
        "prepare",
        "--input",
        dir.path().to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert_fails_with(&out, &["no workout files"]);
    let missing = dir.path().join("missing");
    let out = hrcast(&["prepare", "--input", missing.to_str().unwrap()]);
    assert_fails_with(&out, &["missing", "cannot read"]);
}

#[test]
fn impossible_flag_values_name_the_flag() {
    let out = hrcast(&["prepare", "--input", WORKOUTS, "--split", "0.8,0.3,0.1"]);
    assert_fails_with(&out, &["--split", "add up to 1"]);
    for bad in [
        "--interval=-5",
        "--interval=0",
        "--interval=fast",
        "--interval=1e6",
    ] {
        let out = hrcast(&["prepare", "--input", WORKOUTS, bad]);
        assert_fails_with(&out, &["--interval", "seconds from 0.1 to 3600"]);
    }
    let out = hrcast(&["prepare", "--input", WORKOUTS, "--seq-len", "2000000"]);
    assert_fails_with(&out, &["--seq-len"]);
    let out = hrcast(&["train", "--hidden_size", "0"]);
    assert_fails_with(&out, &["--hidden-size"]);
}

#[test]
fn bench_prints_one_json_object_with_the_counted_figures() {
    let out = hrcast(&[
        "bench",
        "--device",
        "cpu",
        "--hidden-size",
        "8",
        "--seq-len",
        "20",
        "--batch-size",
        "2",
        "--steps",
        "2",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in [
        "device",
        "adapter",
        "backend",
        "model",
        "batch_size",
        "seq_len",
        "hidden_size",
        "num_layers",
        "ms_per_step",
        "timesteps_per_s",
        "gflops",
        "gemm_gflops",
        "dispatches_per_step",
        "submits_per_step",
        "readbacks_per_step",
        "eval_ms_per_batch",
    ] {
        assert!(report.get(key).is_some(), "missing {key}: {stdout}");
    }
    assert_eq!(report["device"], "cpu");
    assert_eq!(report["seq_len"], 20);
    assert!(report["ms_per_step"].as_f64().unwrap() > 0.0);
    assert!(report["gemm_gflops"].as_f64().unwrap() > 0.0);
}
