//! `hrcast crossval` on the real test workouts (five people, one per package folder): every
//! fold tests people its model never trained or validated on, every valid step of every person
//! is predicted once per way of running (windows, whole workouts), the pooled and per-person
//! figures agree with each other, what does not apply is refused, and no data file is written
//! (the folds' splits stay in memory).

use clap::Parser;
use hrcast::cli::{Cli, Command};
use hrcast::crossval::{self, CrossvalOptions, HeldOut, Report, Workouts};
use hrcast::dataset::Split;
use hrcast::train::Splits;
use hrcast::workouts;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::WORKOUTS;

/// The command line `hrcast ARGS`, parsed.
fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    Ok(Cli::try_parse_from(["hrcast"].iter().chain(args))?.command)
}

/// The options of `hrcast crossval ARGS`, parsed as the command line would.
fn options(args: &[&str]) -> Result<CrossvalOptions, clap::Error> {
    match parse(&[&["crossval"], args].concat())? {
        Command::Crossval(options) => Ok(options),
        other => panic!("parsed as {other:?}"),
    }
}

/// A small, fast configuration: one layer of 4 units, 1 epoch, windows of 50 steps.
fn small(results: &Path, extra: &[&str]) -> CrossvalOptions {
    let mut args = vec![
        "--input",
        WORKOUTS,
        "--seq-len",
        "50",
        "--hidden-size",
        "4",
        "--num-layers",
        "1",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--results",
        results.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    options(&args).expect("valid flags")
}

fn users(split: &Split) -> BTreeSet<i64> {
    split.user_id.iter().copied().collect()
}

/// Each fold of `report`'s splits and held-out people, built again from `options` as crossval
/// built them in memory.
fn folds(options: &CrossvalOptions, report: &Report) -> Vec<(Splits, BTreeSet<i64>)> {
    let config = options.config().unwrap();
    let workouts = Workouts::load(&options.inputs, &config).unwrap();
    report
        .folds
        .iter()
        .enumerate()
        .map(|(k, fold)| {
            let data = workouts
                .fold(
                    k + 1,
                    &HeldOut::People(fold.people.clone()),
                    config.val_share,
                )
                .unwrap();
            let tested = data.test.iter().map(|p| p.workout.user_id).collect();
            (data.splits, tested)
        })
        .collect()
}

/// The `.safetensors` files under `dir` that are not checkpoints (best_model, last).
fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(data_files(&path));
        } else if path.extension().is_some_and(|e| e == "safetensors")
            && !["best_model.safetensors", "last.safetensors"]
                .iter()
                .any(|name| path.ends_with(name))
        {
            found.push(path);
        }
    }
    found
}

/// The training windows of fold 1 of `options`' cross-validation, written to `path` (as
/// `--add-train` reads them).
fn write_fold_1_training(options: &CrossvalOptions, report: &Report, path: &Path) -> Split {
    let train = folds(options, report).swap_remove(0).0.train;
    std::fs::write(path, train.to_bytes().unwrap()).unwrap();
    train
}

#[test]
fn every_fold_tests_unseen_people_and_every_step_is_scored_once() {
    let dir = tempfile::tempdir().unwrap();
    let options = small(dir.path(), &["--folds", "3"]);
    let report = crossval::crossval(&options).unwrap();

    let loaded = workouts::load(&[PathBuf::from(WORKOUTS)], 5.0, Default::default()).unwrap();
    let everyone: BTreeSet<i64> = loaded.prepared.iter().map(|p| p.workout.user_id).collect();
    let valid_steps: usize = loaded
        .prepared
        .iter()
        .map(|p| p.sequence.valid_steps())
        .sum();
    assert_eq!(everyone.len(), 5, "one person per package folder");

    // The folds partition the people; each fold's splits keep its people out of training.
    assert_eq!(report.folds.len(), 3);
    let mut seen = BTreeSet::new();
    for ((k, fold), (splits, tested)) in report
        .folds
        .iter()
        .enumerate()
        .zip(folds(&options, &report))
    {
        let held: BTreeSet<i64> = fold.people.iter().copied().collect();
        let named: BTreeSet<&str> = (report.people.iter())
            .filter(|p| held.contains(&p.user_id))
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            fold.names
                .iter()
                .map(String::as_str)
                .collect::<BTreeSet<_>>(),
            named,
            "fold {k} names its people"
        );
        assert!(!held.is_empty(), "fold {k} tests nobody");
        assert!(seen.is_disjoint(&held), "a person tested twice");
        seen.extend(&held);
        let (train, val) = (&splits.train, &splits.val);
        assert!(
            users(train).is_disjoint(&held),
            "fold {k} trains on a tested person"
        );
        assert!(
            users(val).is_disjoint(&held),
            "fold {k} validates on a tested person"
        );
        assert_eq!(tested, held, "fold {k} tests exactly its people");
        assert!(train.n > 0 && val.n > 0);
        assert_eq!(fold.train_windows, train.n);
        assert!(
            fold.test.windows.n_steps > 0 && fold.test.windows.n_steps == fold.test.whole.n_steps
        );
    }
    assert_eq!(seen, everyone);

    // Every valid step once per way; the pooled MAE is the steps' mean over all people.
    let pooled = &report.pooled;
    assert_eq!(pooled.windows.n_steps, valid_steps);
    assert_eq!(pooled.whole.n_steps, valid_steps);
    assert_eq!(report.people.len(), 5);
    for pick in [|p: &crossval::Both| p.windows, |p: &crossval::Both| p.whole] {
        let (sum, n) = report.people.iter().fold((0.0, 0), |(s, n), person| {
            let scores = pick(&person.test);
            (s + scores.mae * scores.n_steps as f64, n + scores.n_steps)
        });
        assert_eq!(n, valid_steps);
        let mae = pick(pooled).mae;
        assert!(
            (sum / n as f64 - mae).abs() < 1e-9 * mae,
            "pooled MAE {mae}"
        );
        assert!(pick(pooled).rmse >= mae && pick(pooled).r2 <= 1.0);
    }
    assert!(report.pooled_mean_baseline_mae > 0.0);
    let mean_windows: f64 = report
        .people
        .iter()
        .map(|p| p.test.windows.mae)
        .sum::<f64>()
        / 5.0;
    assert!((report.mean_person_mae[0] - mean_windows).abs() < 1e-12);
    for file in [
        "crossval.json",
        "crossval.md",
        "per_person.csv",
        "folds.csv",
        "per_person_mae.png",
        "scatter.png",
    ] {
        let path = dir.path().join("crossval").join(file);
        assert!(
            path.metadata().map(|m| m.len() > 0).unwrap_or(false),
            "{file}"
        );
    }
    let csv = std::fs::read_to_string(dir.path().join("crossval/per_person.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6, "a header and one line per person");
    assert!(
        csv.contains(",sweat,") && csv.contains(",gpx,"),
        "folders name the people"
    );
    assert!(
        !dir.path().join("crossval/fold-1/data").exists(),
        "the folds' data stay in memory"
    );
    assert_eq!(data_files(dir.path()), Vec::<PathBuf>::new());
    assert!(
        dir.path()
            .join("crossval/fold-1/checkpoints/best_model.safetensors")
            .exists()
    );
}

/// With the history inputs, every held-out window falls in one bucket of the person's earlier
/// workouts (the buckets' steps add up to the pooled windows'), and withholding the history
/// changes the predictions; a model without the history inputs predicts the same either way.
#[test]
fn held_out_windows_by_earlier_workouts_with_and_without_their_history() {
    let dir = tempfile::tempdir().unwrap();
    for (features, takes_history) in [("all,history,sport", true), ("all", false)] {
        let results = dir.path().join(features.replace(',', "_"));
        let report = crossval::crossval(&small(&results, &["--features", features])).unwrap();
        let steps: usize = report
            .by_history
            .iter()
            .map(|h| h.with_history.n_steps)
            .sum();
        assert_eq!(steps, report.pooled.windows.n_steps, "{features}");
        assert_eq!(report.by_history[0].earlier_workouts, "0");
        assert!(report.by_history.len() >= 2, "{:?}", report.by_history);
        let same = (report.by_history.iter()).all(|h| h.with_history.mae == h.withheld.mae);
        assert_eq!(same, !takes_history, "{features}: {:?}", report.by_history);
        for h in &report.by_history {
            assert_eq!(h.level.n_steps, h.with_history.n_steps);
            assert_eq!(h.offset.n_steps, h.with_history.n_steps);
            assert_eq!(h.history_offset.n_steps, h.with_history.n_steps);
            assert!(h.level.mae.is_finite() && h.level.mae > 0.0, "{h:?}");
            // Fine-tuning needs `--calibrate`.
            assert_eq!(h.fine_tuned.n_steps, 0, "{h:?}");
        }
        // A first workout has no earlier error to shift by; a later one has.
        let (none, one) = (&report.by_history[0], &report.by_history[1]);
        assert_eq!(none.offset.mae, none.withheld.mae, "{none:?}");
        assert_eq!(none.history_offset.mae, none.with_history.mae, "{none:?}");
        assert_ne!(one.offset.mae, one.withheld.mae, "{one:?}");
        assert_ne!(one.history_offset.mae, one.with_history.mae, "{one:?}");
        if !takes_history {
            assert_eq!(one.history_offset.mae, one.offset.mae, "{one:?}");
        }
        // Without earlier workouts the level is the training mean, whatever the model.
        let first = &report.by_history[0].level;
        assert!(
            (first.mae - report.pooled_mean_baseline_mae).abs() < 40.0,
            "{first:?}"
        );
        let md = std::fs::read_to_string(results.join("crossval/crossval.md")).unwrap();
        assert!(
            md.contains("| earlier workouts | with history | withheld | offset | history + offset | fine-tuned"),
            "{md}"
        );
    }
}

#[test]
fn more_folds_than_people_gives_one_person_per_fold_and_extra_training_windows_join() {
    let dir = tempfile::tempdir().unwrap();
    // The first run's fold-1 training windows, added to every fold of a second run.
    let options = small(dir.path(), &["--folds", "9"]);
    let first = crossval::crossval(&options).unwrap();
    assert_eq!(first.folds.len(), 5);
    assert!(first.folds.iter().all(|f| f.people.len() == 1));
    let copy = dir.path().join("extra.safetensors");
    let extra_windows = write_fold_1_training(&options, &first, &copy).n;
    let second = dir.path().join("second");
    let with_extra = crossval::crossval(&small(
        &second,
        &["--folds", "9", "--add-train", copy.to_str().unwrap()],
    ))
    .unwrap();
    for (a, b) in first.folds.iter().zip(&with_extra.folds) {
        assert_eq!(b.train_windows, a.train_windows + extra_windows);
    }
}

#[test]
fn whole_workout_training_has_one_window_per_workout_and_scores_the_same_steps() {
    let dir = tempfile::tempdir().unwrap();
    let options = small(dir.path(), &["--folds", "9"]);
    let windows = crossval::crossval(&options).unwrap();
    let extra = dir.path().join("extra.safetensors");
    let extra_windows = write_fold_1_training(&options, &windows, &extra);
    let second = dir.path().join("whole");
    let args = [
        "--folds",
        "9",
        "--whole-workouts",
        "--length-buckets",
        "--add-train",
        extra.to_str().unwrap(),
    ];
    let whole_options = small(&second, &args);
    let whole = crossval::crossval(&whole_options).unwrap();
    let whole_folds = folds(&whole_options, &whole);

    let loaded = workouts::load(&[PathBuf::from(WORKOUTS)], 5.0, Default::default()).unwrap();
    let longest = workouts::longest(&loaded.prepared);
    assert!(longest > 50, "the test needs workouts longer than a window");
    assert_eq!(windows.training, "windows of 50 steps");
    assert_eq!(
        whole.training,
        format!("whole workouts (up to {longest} steps)")
    );
    let md = std::fs::read_to_string(second.join("crossval/crossval.md")).unwrap();
    assert!(md.contains("trained on whole workouts"), "{md}");
    for (k, (a, b)) in windows.folds.iter().zip(&whole.folds).enumerate() {
        // The same people held out, and every held-out step scored both ways as before.
        assert_eq!(a.people, b.people);
        assert_eq!(a.test.windows.n_steps, b.test.windows.n_steps);
        assert_eq!(a.test.whole.n_steps, b.test.whole.n_steps);
        let splits = &whole_folds[k].0;
        for (name, split) in [("train", &splits.train), ("val", &splits.val)] {
            assert_eq!(split.seq_len, longest, "{name}");
            // Each of this fold's workouts is one window: no workout id repeats among the
            // windows that come from --input (the padded --add-train ones follow them).
            let own = if name == "train" {
                split.n - extra_windows.n
            } else {
                split.n
            };
            let ids: BTreeSet<i64> = split.workout_id[..own].iter().copied().collect();
            assert_eq!(ids.len(), own, "fold {k} {name}: a workout in two windows");
        }
        let train = &splits.train;
        assert_eq!(b.train_windows, train.n);
        // `--length-buckets` reaches every fold's training; the windows run trains as before.
        let log = |root: &Path| -> String {
            let fold = root.join(format!("crossval/fold-{}", k + 1));
            let entries = std::fs::read_dir(&fold).unwrap().map(|e| e.unwrap().path());
            let logs: Vec<PathBuf> = entries
                .filter(|p| p.extension().is_some_and(|e| e == "log"))
                .collect();
            assert_eq!(logs.len(), 1, "{}", fold.display());
            std::fs::read_to_string(&logs[0]).unwrap()
        };
        assert!(log(&second).contains("(length buckets)"), "fold {k}");
        assert!(!log(dir.path()).contains("(length buckets)"), "fold {k}");
        // --add-train's windows, padded to the whole-workout length, keep their steps.
        let tail = train.n - extra_windows.n;
        for w in 0..extra_windows.n {
            let t = extra_windows.seq_len;
            let at = (tail + w) * longest;
            assert_eq!(
                train.heart_rate[at..at + t],
                extra_windows.heart_rate[w * t..(w + 1) * t]
            );
            assert!(train.mask[at + t..at + longest].iter().all(|&m| m == 0.0));
        }
    }
}

/// One person's workouts: crossval walks forward in time. Each fold trains on the recordings
/// before the ones it tests, the cuts cover every recording from the second on once, and the
/// figures are pooled over them.
#[test]
fn one_person_walks_forward_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("one.json");
    std::fs::write(&raw, hrcast::synth::generate(1, 6, 3)).unwrap();
    let mut opts = small(dir.path(), &["--folds", "3"]);
    opts.inputs = vec![raw];
    let config = opts.config().unwrap();
    let workouts = Workouts::load(&opts.inputs, &config).unwrap();
    let folds = workouts.deal(3, 50).unwrap();
    assert_eq!(folds.len(), 3);
    let mut tested = 0;
    for (k, held_out) in folds.iter().enumerate() {
        let fold = workouts.fold(k + 1, held_out, config.val_share).unwrap();
        let trained: Vec<f64> = (workouts.prepared.iter().zip(&workouts.recording_start))
            .filter(|(p, _)| !fold.test.iter().any(|t| std::ptr::eq(*t, *p)))
            .map(|(_, &s)| s)
            .collect();
        let first_tested = (fold.test.iter())
            .map(|t| t.workout.start_time())
            .fold(f64::INFINITY, f64::min);
        let trained_before = trained.iter().filter(|&&s| s < first_tested).count();
        // Every recording before the tested ones trains or validates, and nothing after.
        assert_eq!(
            fold.workouts[0] + fold.workouts[1],
            trained_before,
            "fold {k}"
        );
        assert!(fold.workouts[0] >= 1 && !fold.test.is_empty(), "fold {k}");
        tested += fold.test.len();
    }
    assert_eq!(
        tested,
        workouts.prepared.len() - 1,
        "the first recording only trains"
    );
    let report = crossval::crossval(&opts).unwrap();
    assert_eq!(report.folds.len(), 3);
    let steps: usize = report.folds.iter().map(|f| f.test.windows.n_steps).sum();
    assert_eq!(steps, report.pooled.windows.n_steps);
    // The pooled MAE's interval resamples the tested workouts.
    let interval = report.pooled_mae_interval.unwrap();
    assert_eq!(interval.workouts, tested);
    let mae = report.pooled.windows.mae;
    assert!(
        interval.low <= mae && mae <= interval.high,
        "{interval:?} {mae}"
    );
    assert_eq!(report.too_few.is_some(), tested < 5, "{:?}", report.too_few);
    let md = crossval::tables(&report);
    assert!(md.contains("The mean of the folds' MAE"), "{md}");
}

#[test]
fn what_does_not_apply_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = options(&["--input", WORKOUTS, "--folds", "1"]).unwrap_err();
    assert!(err.to_string().contains("--folds"), "{err}");
    let err = crossval::crossval(&small(dir.path(), &["--data", "DATA/processed"])).unwrap_err();
    assert!(format!("{err:#}").contains("--data"), "{err:#}");
    let one_person = format!("{WORKOUTS}/gpx");
    let mut opts = small(dir.path(), &[]);
    opts.inputs = vec![PathBuf::from(one_person)];
    let err = crossval::crossval(&opts).unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("at least 2 people, or one person with 2 workouts"),
        "{err}"
    );
    let mut opts = small(dir.path(), &[]);
    opts.add_train = Some(dir.path().join("missing.safetensors"));
    let err = crossval::crossval(&opts).unwrap_err();
    assert!(format!("{err:#}").contains("--add-train"), "{err:#}");
}

#[test]
fn calibration_fine_tunes_on_earlier_workouts_and_tests_both_models_on_the_later() {
    let dir = tempfile::tempdir().unwrap();
    let report = crossval::crossval(&small(
        dir.path(),
        &["--folds", "5", "--calibrate", "--calibrate-epochs", "2"],
    ))
    .unwrap();
    // sweat and fitparser have two workouts each: one calibrates, one tests.
    assert_eq!(report.calibration.len(), 2, "{:?}", report.calibration);
    let (mut before, mut after) = (0, 0);
    for c in &report.calibration {
        assert_eq!((c.calibration_workouts, c.test_workouts), (1, 1));
        assert!(c.before.whole.n_steps > 0);
        assert_eq!(c.before.whole.n_steps, c.after.whole.n_steps);
        assert_eq!(c.before.windows.n_steps, c.after.windows.n_steps);
        assert_eq!(c.before.whole.n_steps, c.offset.whole.n_steps);
        // A one-epoch model is far from these people's levels: the shift must move the MAE.
        assert_ne!(c.offset.whole.mae, c.before.whole.mae);
        // The later workout is one of the person's, so fewer steps than all of theirs.
        let person = report
            .people
            .iter()
            .find(|p| p.user_id == c.user_id)
            .unwrap();
        assert!(c.before.whole.n_steps < person.test.whole.n_steps);
        let model = dir.path().join(format!(
            "crossval/fold-{}/calibration-{}/best_model.safetensors",
            c.fold, c.user_id
        ));
        assert!(model.exists(), "{}", model.display());
        before += c.before.whole.n_steps;
        after += c.after.whole.n_steps;
    }
    let [pooled_before, pooled_after, pooled_offset] = report.calibration_pooled.unwrap();
    assert_eq!(pooled_before.whole.n_steps, before);
    assert_eq!(pooled_after.whole.n_steps, after);
    assert_eq!(pooled_offset.whole.n_steps, before);
    let md = std::fs::read_to_string(dir.path().join("crossval/crossval.md")).unwrap();
    assert!(
        md.contains("pooled, fine-tuned") && md.contains("pooled, offset"),
        "{md}"
    );
    // By earlier workouts: the second workouts of both people, each predicted by a model
    // fine-tuned on their first.
    let one = &report.by_history[1];
    assert_eq!(one.earlier_workouts, "1");
    assert_eq!(one.fine_tuned.n_steps, one.with_history.n_steps, "{one:?}");
    assert_eq!(one.fine_tuned.n_steps, pooled_before.windows.n_steps);
    assert_eq!(report.by_history[0].fine_tuned.n_steps, 0);
    for c in &report.calibration {
        let first = format!("crossval/fold-{}/calibration-{}-first-1", c.fold, c.user_id);
        assert!(
            dir.path()
                .join(&first)
                .join("best_model.safetensors")
                .exists(),
            "{first}"
        );
    }
    // Checkpoints only: neither the folds' nor the calibrations' windows are written.
    assert_eq!(data_files(dir.path()), Vec::<PathBuf>::new());
    for c in &report.calibration {
        let person = dir.path().join(format!(
            "crossval/fold-{}/calibration-{}",
            c.fold, c.user_id
        ));
        assert!(!person.join("data").exists(), "{}", person.display());
    }
}

/// The error of parsing `hrcast calibrate ARGS`.
fn calibrate_options_error(args: &[&str]) -> String {
    parse(&[&["calibrate"], args].concat())
        .unwrap_err()
        .to_string()
}

/// `hrcast calibrate`: a model trained on other people, fine-tuned on one person's workouts.
#[test]
fn calibrate_fine_tunes_a_model_on_one_persons_workouts() {
    let dir = tempfile::tempdir().unwrap();
    // The base model: fold 1 of a small cross-validation, which never saw fitparser's person.
    let report = crossval::crossval(&small(dir.path(), &["--folds", "5"])).unwrap();
    let fold = report
        .people
        .iter()
        .find(|p| p.name == "fitparser")
        .unwrap()
        .fold;
    let base = dir.path().join(format!(
        "crossval/fold-{fold}/checkpoints/best_model.safetensors"
    ));
    let out = dir.path().join("calibrated");
    let calibrate_options = |args: &[&str]| match parse(&[&["calibrate"], args].concat()) {
        Ok(Command::Calibrate(options)) => options,
        other => panic!("parsed as {other:?}"),
    };
    let person = format!("{WORKOUTS}/fitparser");
    let (base_s, out_s) = (base.to_str().unwrap(), out.to_str().unwrap());
    let args = [
        "--checkpoint",
        base_s,
        "--input",
        &person,
        "--out",
        out_s,
        "--epochs",
        "3",
        "--device",
        "cpu",
    ];
    let options = calibrate_options(&args);
    assert_eq!(
        calibrate_options(&args[..4]).epochs,
        30,
        "the cross-validated default"
    );
    let calibration = hrcast::calibrate::calibrate(&options).unwrap();
    let best = calibration.best.clone();
    assert_eq!(best, out.join("best_model.safetensors"));
    // fitparser's person has two recordings: the earlier fine-tunes, the later scores both
    // models on the same steps.
    assert_eq!(calibration.workouts, [1, 1]);
    let [before_scores, after_scores] = calibration.before_after.as_ref().unwrap();
    assert!(before_scores.n_steps > 0);
    assert_eq!(before_scores.n_steps, after_scores.n_steps);
    assert_ne!(before_scores.mae, after_scores.mae);
    let printed = hrcast::calibrate::report(&calibration);
    assert!(
        printed.contains("| before (the checkpoint) |") && printed.contains("note: only 1 workout"),
        "{printed}"
    );
    // Nothing held out: every recording fine-tunes, nothing is scored.
    let mut all = options.clone();
    all.hold_out = 0.0;
    all.out = dir.path().join("calibrated-all");
    let everything = hrcast::calibrate::calibrate(&all).unwrap();
    assert_eq!(
        (everything.workouts, everything.before_after.is_none()),
        ([2, 0], true)
    );
    let err = calibrate_options_error(&[&args[..], &["--hold-out", "1"]].concat());
    assert!(err.contains("--hold-out"), "{err}");
    let (before, after) = (
        hrcast::checkpoint::Checkpoint::load(&base).unwrap(),
        hrcast::checkpoint::Checkpoint::load(&best).unwrap(),
    );
    assert_eq!(before.config.features, after.config.features);
    assert_eq!(
        before.normalization, after.normalization,
        "kept from the base model"
    );
    assert_ne!(before.params.values, after.params.values, "fine-tuned");
    assert!(out.join("last.safetensors").exists());
    assert!(
        !out.join("data").exists() && data_files(&out).is_empty(),
        "the windows stay in memory"
    );

    // What cannot be calibrated is refused, naming the flag.
    let mut missing = options.clone();
    missing.checkpoint = dir.path().join("none.safetensors");
    let err = hrcast::calibrate::calibrate(&missing).unwrap_err();
    assert!(format!("{err:#}").contains("--checkpoint"), "{err:#}");
    let mut empty = options.clone();
    let nothing = dir.path().join("nothing");
    std::fs::create_dir_all(&nothing).unwrap();
    empty.inputs = vec![nothing];
    let err = hrcast::calibrate::calibrate(&empty).unwrap_err();
    assert!(format!("{err:#}").contains("--input"), "{err:#}");
}
