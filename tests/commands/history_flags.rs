//! `--history` of `predict`, `evaluate` and `calibrate`: a person's earlier workouts as the
//! history inputs of a model trained with `--features ...,history,sport`; a later workout
//! never counts, and a model without history inputs does not change.

use crate::common::{fails_with, hrcast_in as hrcast, succeeded as ok};
use hrcast::data::read_file;
use std::path::Path;

/// Synthetic people (4, six workouts each) in `dir/raw`, prepared into `dir/p`; one person's
/// workouts, one file each in start order, in `dir/early` (the first two), `dir/target.json`
/// (the third) and `dir/late` (the rest).
fn people(dir: &Path) {
    let raw = dir.join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let text = hrcast::synth::generate(4, 6, 11);
    std::fs::write(raw.join("w.json"), &text).unwrap();
    ok(&hrcast(
        dir,
        &[
            "prepare",
            "--input",
            "raw",
            "--out",
            "p",
            "--seq-len",
            "100",
        ],
    ));
    let one = dir.join("one");
    std::fs::create_dir_all(&one).unwrap();
    let user = text
        .lines()
        .next()
        .unwrap()
        .split("'userId': ")
        .nth(1)
        .unwrap();
    let user = user.split(',').next().unwrap();
    let mut files: Vec<(f64, String)> = text
        .lines()
        .filter(|l| l.contains(&format!("'userId': {user},")))
        .enumerate()
        .map(|(i, line)| {
            let path = one.join(format!("w{i}.json"));
            std::fs::write(&path, format!("{line}\n")).unwrap();
            let start = read_file(&path, &mut Vec::new()).unwrap()[0].start_time();
            (start, line.to_string())
        })
        .collect();
    assert_eq!(files.len(), 6);
    files.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (i, (_, line)) in files.iter().enumerate() {
        let folder = match i {
            0 | 1 => "early",
            2 => ".",
            _ => "late",
        };
        let name = if i == 2 {
            "target".into()
        } else {
            format!("w{i}")
        };
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        std::fs::write(
            dir.join(folder).join(format!("{name}.json")),
            format!("{line}\n"),
        )
        .unwrap();
    }
}

/// Trains a tiny model on `dir/p` with `features`, into `dir/<name>`.
fn train(dir: &Path, features: &str, name: &str) -> String {
    train_with(dir, features, name, &[])
}

/// [`train`] with more flags; returns what it printed.
fn train_with(dir: &Path, features: &str, name: &str, flags: &[&str]) -> String {
    let mut args = vec![
        "train",
        "--data",
        "p",
        "--features",
        features,
        "--hidden-size",
        "8",
        "--num-layers",
        "1",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--checkpoints",
        name,
    ];
    args.extend(flags);
    ok(&hrcast(dir, &args))
}

/// `predict` of `dir/target.json` with the model in `dir/<model>` into `dir/<out>` with
/// `flags`: the predictions and stderr.
fn predict(dir: &Path, model: &str, out: &str, flags: &[&str]) -> (Vec<String>, String) {
    let checkpoint = format!("{model}/best_model.safetensors");
    let mut args = vec![
        "predict",
        "--checkpoint",
        &checkpoint,
        "--input",
        "target.json",
        "--out",
        out,
        "--device",
        "cpu",
    ];
    args.extend(flags);
    let run = hrcast(dir, &args);
    ok(&run);
    let csv = std::fs::read_to_string(dir.join(out)).unwrap();
    let predicted = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect();
    (predicted, String::from_utf8_lossy(&run.stderr).into_owned())
}

#[test]
fn predict_takes_the_earlier_workouts_of_history_and_nothing_later() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    people(d);
    train(d, "all,history,sport", "h");
    let (alone, err) = predict(d, "h", "alone.csv", &[]);
    assert!(
        err.contains("know no earlier workout") && err.contains("--history"),
        "{err}"
    );
    let (early, err) = predict(d, "h", "early.csv", &["--history", "early"]);
    assert!(!err.contains("know no earlier workout"), "{err}");
    assert_eq!(alone.len(), early.len());
    assert_ne!(alone, early, "the earlier workouts change nothing");
    // Only later workouts: the history is the newcomer's, to the last digit.
    let (late, _) = predict(d, "h", "late.csv", &["--history", "late"]);
    assert_eq!(alone, late, "a later workout leaked into the history");
    // The earlier ones among the later ones, and the workout itself: as the earlier ones.
    let (both, _) = predict(
        d,
        "h",
        "both.csv",
        &["--history", "late", "early", "target.json"],
    );
    assert_eq!(early, both);

    // evaluate --input with --history; a --history that does not exist is named.
    let evaluate = |history: &str, out: &str| {
        hrcast(
            d,
            &[
                "evaluate",
                "--checkpoint",
                "h/best_model.safetensors",
                "--input",
                "target.json",
                "--history",
                history,
                "--out",
                out,
                "--device",
                "cpu",
            ],
        )
    };
    ok(&evaluate("early", "e1"));
    let on_data = [
        "evaluate",
        "--checkpoint",
        "h/best_model.safetensors",
        "--data",
        "p/test.safetensors",
        "--history",
        "early",
    ];
    fails_with(&hrcast(d, &on_data), &["--history needs --input"]);
    fails_with(&evaluate("nowhere", "e2"), &["--history nowhere"]);
    let metrics = |out: &str| std::fs::read_to_string(d.join(out).join("metrics.json")).unwrap();
    ok(&evaluate("late", "e3"));
    assert_ne!(metrics("e1"), metrics("e3"));

    // calibrate: the workouts of --input are each other's history, with --history's.
    let calibrate = |history: &str, out: &str| {
        hrcast(
            d,
            &[
                "calibrate",
                "--checkpoint",
                "h/best_model.safetensors",
                "--input",
                "target.json",
                "late",
                "--history",
                history,
                "--epochs",
                "1",
                "--out",
                out,
                "--device",
                "cpu",
            ],
        )
    };
    ok(&calibrate("early", "c1"));
    fails_with(&calibrate("nowhere", "c2"), &["--history nowhere"]);
}

/// `train --hr-level history`: the checkpoint measures its output from each person's level in
/// their history, which `predict --history` then sets (nothing later leaks into it either).
#[test]
fn a_model_measured_from_the_persons_level_takes_it_from_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    people(d);
    let said = train_with(d, "all,history,sport", "level", &["--hr-level", "history"]);
    assert!(said.contains("measured from each person's level"), "{said}");
    let ck = hrcast::checkpoint::Checkpoint::load(&d.join("level/best_model.safetensors"));
    assert_eq!(
        ck.unwrap().normalization.hr_level,
        hrcast::model::HrLevel::History
    );
    let (alone, _) = predict(d, "level", "alone.csv", &[]);
    let (early, _) = predict(d, "level", "early.csv", &["--history", "early"]);
    let (late, _) = predict(d, "level", "late.csv", &["--history", "late"]);
    assert_ne!(alone, early, "the earlier workouts' level changes nothing");
    assert_eq!(alone, late, "a later workout leaked into the level");
}

#[test]
fn training_on_a_history_nobody_has_says_where_histories_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    people(d);
    // The person's first workout trains, the second validates: no window has an earlier one.
    let prepare = [
        "prepare",
        "--input",
        "early",
        "--out",
        "q",
        "--split",
        "0.5,0.5,0",
        "--split-by",
        "time",
        "--seq-len",
        "50",
    ];
    ok(&hrcast(d, &prepare));
    let out = hrcast(
        d,
        &[
            "train",
            "--data",
            "q",
            "--features",
            "baseline,history",
            "--hidden-size",
            "4",
            "--num-layers",
            "1",
            "--epochs",
            "1",
            "--device",
            "cpu",
        ],
    );
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("person input history_mean_hr: known in 0 of")
            && err.contains("prepare --history")
            && !err.contains("--resting-hr"),
        "{err}"
    );
}

#[test]
fn a_model_without_history_inputs_ignores_history() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    people(d);
    train(d, "bounded", "b");
    let (alone, err) = predict(d, "b", "alone.csv", &[]);
    assert!(!err.contains("--history"), "{err}");
    let (early, err) = predict(d, "b", "early.csv", &["--history", "early"]);
    assert_eq!(alone, early);
    assert!(err.contains("warning: --history is ignored"), "{err}");
}

/// `(actual, predicted)` of every row of `dir/<out>/predictions.csv`.
fn evaluated(dir: &Path, out: &str) -> Vec<(f64, f64)> {
    let csv = std::fs::read_to_string(dir.join(out).join("predictions.csv")).unwrap();
    csv.lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<f64> = l.split(',').map(|c| c.parse().unwrap()).collect();
            (cols[4], cols[5])
        })
        .collect()
}

/// `evaluate --offset` and `predict --offset`: each workout's predictions shifted by the
/// model's mean error on the same person's earlier workouts (here the two of `--history`), as
/// the unshifted predictions of those workouts give it; a first workout is not shifted;
/// `--offset` needs `--input` (evaluate) and `--history` (predict).
#[test]
fn offset_shifts_by_the_mean_error_on_earlier_workouts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    people(d);
    train(d, "all", "m");
    let evaluate = |extra: &[&str], out: &str| {
        let mut args = vec![
            "evaluate",
            "--checkpoint",
            "m/best_model.safetensors",
            "--out",
            out,
            "--device",
            "cpu",
        ];
        args.extend(extra);
        ok(&hrcast(d, &args))
    };
    evaluate(&["--input", "early"], "earlier");
    evaluate(&["--input", "target.json"], "plain");
    let printed = evaluate(
        &["--input", "target.json", "--history", "early", "--offset"],
        "shifted",
    );
    assert!(
        printed.contains("offset: 1 of 1 workouts shifted"),
        "{printed}"
    );
    let earlier = evaluated(d, "earlier");
    let mean_error = earlier.iter().map(|(y, p)| y - p).sum::<f64>() / earlier.len() as f64;
    let (plain, shifted) = (evaluated(d, "plain"), evaluated(d, "shifted"));
    assert_eq!(plain.len(), shifted.len());
    for ((y, p), (y2, p2)) in plain.iter().zip(&shifted) {
        assert_eq!(y, y2);
        assert!(
            (p2 - p - mean_error).abs() < 0.02,
            "{p} + {mean_error} vs {p2}"
        );
    }
    // The earlier of the two early workouts has none before it: only the later one moves.
    let printed = evaluate(&["--input", "early", "--offset"], "first");
    assert!(
        printed.contains("offset: 1 of 2 workouts shifted"),
        "{printed}"
    );
    let on_data = [
        "evaluate",
        "--checkpoint",
        "m/best_model.safetensors",
        "--data",
        "p",
        "--offset",
    ];
    fails_with(&hrcast(d, &on_data), &["--offset"]);

    // predict: the same shift, said in the output.
    let (plain, _) = predict(d, "m", "plain.csv", &[]);
    let args = ["--history", "early", "--offset"];
    let (shifted, _) = predict(d, "m", "shifted.csv", &args);
    for (p, p2) in plain.iter().zip(&shifted) {
        let (p, p2): (f64, f64) = (p.parse().unwrap(), p2.parse().unwrap());
        assert!(
            (p2 - p - mean_error).abs() < 0.02,
            "{p} + {mean_error} vs {p2}"
        );
    }
    let checkpoint = "m/best_model.safetensors";
    let run = hrcast(
        d,
        &[
            "predict",
            "--checkpoint",
            checkpoint,
            "--input",
            "target.json",
            "--out",
            "o.csv",
            "--history",
            "early",
            "--offset",
        ],
    );
    let printed = ok(&run);
    let said: f64 = printed
        .split("offset: ")
        .nth(1)
        .and_then(|rest| rest.split(" bpm").next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no offset said: {printed}"));
    assert!((said - mean_error).abs() < 0.02, "{said} vs {mean_error}");
    let alone = [
        "predict",
        "--checkpoint",
        checkpoint,
        "--input",
        "target.json",
        "--offset",
    ];
    fails_with(&hrcast(d, &alone), &["--history"]);
}
