//! Person-level inputs (`resting_hr`, `max_hr`): read from FIT files and hrcast's synthetic
//! FitRec lines, shared among one person's files, filled in from `--resting-hr` / `--max-hr`,
//! kept in the processed file's `person` tensor, z-scored into the batch (unknown = training
//! mean), and used by a model trained with `--features ...,person` in `train`, `evaluate` and
//! `predict`.

use crate::common;

use common::WORKOUTS;

use common::{fails_with, hrcast_in as hrcast, succeeded as ok};
use hrcast::data::{self, Gender, NUM_PERSON_INPUTS, Profile, Workout, read_file};
use hrcast::dataset::Split;
use hrcast::features::{INPUT_NAMES, NUM_FEATURES, parse_feature_list};
use std::path::{Path, PathBuf};

fn profile(resting_hr: Option<f64>, max_hr: Option<f64>) -> Profile {
    Profile { resting_hr, max_hr }
}

#[test]
fn fit_files_give_the_profile_the_device_was_set_up_with() {
    // The values as the devices recorded them (user_profile, zones_target, time_in_zone); a file
    // without any of those messages has none. The session's own maximal heart rate is never
    // taken: it is this workout's, measured from the heart rate to predict.
    let expected = [
        ("fitparser/hrv-activity.fit", profile(None, Some(185.0))),
        ("fitparser/sample_mulitple_header.fit", profile(None, None)),
        ("sweat/2020-06-01-16-52-40.fit", profile(None, Some(185.0))),
        (
            "sweat/6449921903_ACTIVITY.fit",
            profile(Some(49.0), Some(193.0)),
        ),
        (
            "workoutizer/2019-09-14-17-22-05.fit",
            profile(None, Some(191.0)),
        ),
    ];
    for (file, want) in expected {
        let workouts = read_file(&Path::new(WORKOUTS).join(file), &mut Vec::new()).unwrap();
        assert_eq!(workouts[0].profile, want, "{file}");
    }
}

#[test]
fn unbelievable_or_contradicting_values_count_as_unknown() {
    assert_eq!(
        profile(Some(20.0), Some(300.0)).checked(),
        profile(None, None)
    );
    assert_eq!(
        profile(Some(180.0), Some(170.0)).checked(),
        profile(None, None)
    );
    assert_eq!(
        profile(Some(f64::NAN), Some(190.0)).checked(),
        profile(None, Some(190.0))
    );
    // A fallback fills in what is missing and never replaces what is known.
    assert_eq!(
        profile(Some(50.0), None).or(profile(Some(60.0), Some(190.0))),
        profile(Some(50.0), Some(190.0))
    );
}

fn workout(user_id: i64, start: f64, profile: Profile) -> Workout {
    Workout {
        source: format!("{user_id}@{start}"),
        workout_id: start as i64,
        user_id,
        person: format!("user {user_id}"),
        gender: Gender::Unknown,
        sport: "run".into(),
        profile,
        samples: vec![data::Sample {
            time_s: start,
            ..Default::default()
        }],
    }
}

#[test]
fn a_persons_files_share_their_profile_nearest_in_time_first() {
    let day = 86_400.0;
    let mut workouts = vec![
        workout(1, 10.0 * day, profile(None, None)),
        workout(1, 1.0 * day, profile(Some(60.0), Some(180.0))),
        workout(1, 8.0 * day, profile(Some(55.0), None)),
        workout(1, 2.0 * day, profile(None, None)),
        workout(2, 3.0 * day, profile(None, None)),
        workout(1, 9.0 * day, profile(Some(52.0), Some(185.0))),
    ];
    data::share_profiles(&mut workouts);
    let got: Vec<Profile> = workouts.iter().map(|w| w.profile).collect();
    assert_eq!(
        got,
        [
            profile(Some(52.0), Some(185.0)), // day 10: day 9 is nearest
            profile(Some(60.0), Some(180.0)), // its own
            profile(Some(55.0), Some(185.0)), // its own resting; day 9's maximal
            profile(Some(60.0), Some(180.0)), // day 2: day 1 is nearest
            profile(None, None),              // another person: nothing to share
            profile(Some(52.0), Some(185.0)), // its own
        ]
    );
}

#[test]
fn the_person_set_adds_both_inputs_after_the_features() {
    let bounded = parse_feature_list("bounded").unwrap();
    let with_person = parse_feature_list("bounded,person").unwrap();
    assert_eq!(with_person.len(), bounded.len() + 2);
    assert_eq!(&with_person[..bounded.len()], &bounded[..]);
    assert_eq!(
        &with_person[bounded.len()..],
        &[NUM_FEATURES, NUM_FEATURES + 1]
    );
    assert_eq!(INPUT_NAMES[NUM_FEATURES], "resting_hr");
    assert_eq!(INPUT_NAMES[NUM_FEATURES + 1], "max_hr");
    assert_eq!(
        parse_feature_list("max_hr,speed").unwrap(),
        [0, NUM_FEATURES + 1]
    );
    // `all` stays the PyTorch tool's 11 features.
    assert_eq!(
        parse_feature_list("all").unwrap(),
        (0..NUM_FEATURES).collect::<Vec<_>>()
    );
    let err = parse_feature_list("heartrate_rest")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("resting_hr") && err.contains("person"),
        "{err}"
    );
}

/// A split of two one-step windows: person values (60, 180) and unknown.
fn two_windows() -> Split {
    let mut split = Split::empty(1, 5.0, "test");
    split.n = 2;
    split.features = vec![1.0; 2 * NUM_FEATURES];
    split.heart_rate = vec![120.0, 140.0];
    split.mask = vec![1.0, 1.0];
    split.length = vec![1, 1];
    split.user_id = vec![1, 2];
    split.workout_id = vec![1, 2];
    split.person = vec![f32::NAN; 2 * NUM_PERSON_INPUTS];
    split.person[..2].copy_from_slice(&[60.0, 180.0]);
    split
}

#[test]
fn unknown_person_values_are_the_training_mean_in_a_batch() {
    let mut split = two_windows();
    split.person[NUM_PERSON_INPUTS] = 70.0; // the second window knows its resting heart rate only
    let features = parse_feature_list("speed,person").unwrap();
    let norm = split.normalization(&features);
    // Statistics over the windows that know a value.
    assert_eq!(norm.feature_mean[1], 65.0);
    assert_eq!(norm.feature_std[1], 5.0);
    assert_eq!(norm.feature_mean[2], 180.0);
    assert_eq!(norm.feature_std[2], 1.0, "a constant input is divided by 1");
    let batch = split.batch(&[0, 1], &features, &norm);
    assert_eq!(batch.inputs, 3);
    assert_eq!(&batch.x[1..3], &[-1.0, 0.0]);
    assert_eq!(&batch.x[4..6], &[1.0, 0.0], "unknown max_hr is the mean");
}

#[test]
fn the_person_tensor_is_stored_read_back_and_checked() {
    let split = two_windows();
    let bytes = split.to_bytes().unwrap();
    let back = Split::from_bytes(&bytes).unwrap();
    assert_eq!(back.person[..2], [60.0, 180.0]);
    assert!(back.person[2..].iter().all(|v| v.is_nan()));

    // Nobody's values known: no person tensor is written.
    let mut unknown = split.clone();
    unknown.person = vec![f32::NAN; 2 * NUM_PERSON_INPUTS];
    let unknown_bytes = unknown.to_bytes().unwrap();
    let st = safetensors::SafeTensors::deserialize(&unknown_bytes).unwrap();
    assert!(st.tensor("person").is_err());
    assert_eq!(Split::from_bytes(&unknown_bytes).unwrap(), unknown);

    // A file written before the person tensor existed reads as every value unknown.
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let without: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != "person")
        .collect();
    let old = safetensors::serialize(without, header.metadata().clone()).unwrap();
    let old = Split::from_bytes(&old).unwrap();
    assert_eq!(old.person.len(), 2 * NUM_PERSON_INPUTS);
    assert!(old.person.iter().all(|v| v.is_nan()));

    // A value that is no heart rate is refused, naming the tensor and the input.
    let mut bad = split.clone();
    bad.person[1] = 400.0;
    let err = format!(
        "{:#}",
        Split::from_bytes(&bad.to_bytes().unwrap()).unwrap_err()
    );
    assert!(
        err.contains("\"person\"") && err.contains("max_hr") && err.contains("window 0"),
        "{err}"
    );
}

/// Synthetic people (with their profiles), prepared into `dir/p`.
fn synth_and_prepare(dir: &Path) -> [Split; 3] {
    ok(&hrcast(
        dir,
        &[
            "synth",
            "--out",
            "raw",
            "--users",
            "6",
            "--workouts-per-user",
            "2",
            "--seed",
            "3",
        ],
    ));
    let args = [
        "prepare",
        "--input",
        "raw",
        "--out",
        "p",
        "--seq-len",
        "200",
    ];
    ok(&hrcast(dir, &args));
    ["train", "val", "test"].map(|s| Split::read(&dir.join(format!("p/{s}.safetensors"))).unwrap())
}

#[test]
fn synthetic_people_carry_their_profile_into_the_processed_files() {
    let dir = tempfile::tempdir().unwrap();
    let splits = synth_and_prepare(dir.path());
    let raw = std::fs::read_to_string(dir.path().join("raw/endomondoHR_proper.json")).unwrap();
    for split in &splits {
        for w in 0..split.n {
            let row = &split.person[w * NUM_PERSON_INPUTS..];
            let (rest, max) = (row[0], row[1]);
            assert!(rest >= 40.0 && rest < max && max <= 240.0, "{rest} {max}");
            // The values of the line of that person.
            let key = format!("'userId': {}, 'gender': '", split.user_id[w]);
            let line = raw.lines().find(|l| l.contains(&key)).unwrap();
            assert!(
                line.contains(&format!(
                    "'restingHeartRate': {rest}, 'maxHeartRate': {max}"
                )),
                "window {w}: {rest} {max} not in its person's line"
            );
        }
    }
}

#[test]
fn the_command_line_fills_in_only_what_the_files_lack_and_refuses_nonsense() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sweat: PathBuf = Path::new(WORKOUTS).join("sweat");
    let sweat = sweat.to_str().unwrap();
    let gpx: PathBuf = Path::new(WORKOUTS).join("gpx");
    let gpx = gpx.to_str().unwrap();
    ok(&hrcast(
        d,
        &[
            "prepare",
            "--input",
            sweat,
            gpx,
            "--out",
            "p",
            "--split",
            "1,0,0",
            "--seq-len",
            "100000",
            "--resting-hr",
            "62",
            "--max-hr",
            "178",
        ],
    ));
    let split = Split::read(&d.join("p/train.safetensors")).unwrap();
    let mut rows: Vec<(f32, f32)> = (0..split.n)
        .map(|w| {
            let row = &split.person[w * NUM_PERSON_INPUTS..];
            (row[0], row[1])
        })
        .collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // The sweat folder is one person: its two FIT files share 49 / 193 (one records both, the
    // other a maximal heart rate of 185 of its own). The GPX file records nothing: the flags.
    assert_eq!(rows, [(49.0, 185.0), (49.0, 193.0), (62.0, 178.0)]);

    for (flags, needle) in [
        (
            ["--resting-hr", "80", "--max-hr", "70"],
            "--resting-hr 80 is not below --max-hr 70",
        ),
        (["--resting-hr", "10", "--max-hr", "170"], "--resting-hr 10"),
        (["--resting-hr", "50", "--max-hr", "NaN"], "--max-hr NaN"),
    ] {
        let mut args = vec!["prepare", "--input", gpx, "--out", "q"];
        args.extend(flags);
        fails_with(&hrcast(d, &args), &[needle]);
        assert!(!d.join("q").exists(), "nothing written for {flags:?}");
    }
}

/// `predict` of the test GPX file (which records no profile) with `dir`'s best model into
/// `out`, with `flags`.
fn predict_gpx(dir: &Path, out: &str, flags: &[&str]) -> std::process::Output {
    let gpx = Path::new(WORKOUTS).join("gpx/garmin-activity.gpx");
    let mut args = vec![
        "predict",
        "--checkpoint",
        "checkpoints/best_model.safetensors",
        "--input",
        gpx.to_str().unwrap(),
        "--out",
        out,
        "--device",
        "cpu",
    ];
    args.extend(flags);
    hrcast(dir, &args)
}

#[test]
fn a_model_with_person_inputs_trains_evaluates_and_predicts_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_and_prepare(d);
    let train = hrcast(
        d,
        &[
            "train",
            "--data",
            "p",
            "--features",
            "bounded,person",
            "--hidden-size",
            "8",
            "--num-layers",
            "1",
            "--epochs",
            "3",
            "--batch-size",
            "4",
            "--device",
            "cpu",
        ],
    );
    ok(&train);
    assert!(
        !String::from_utf8_lossy(&train.stderr).contains("learns nothing"),
        "every synthetic window knows its person"
    );
    let ck = hrcast::checkpoint::Checkpoint::load(&d.join("checkpoints/best_model.safetensors"))
        .unwrap();
    let names = &ck.config.features;
    assert_eq!(ck.config.input_size, 11);
    assert_eq!(&names[names.len() - 2..], ["resting_hr", "max_hr"]);
    ok(&hrcast(
        d,
        &[
            "evaluate",
            "--checkpoint",
            "checkpoints/best_model.safetensors",
            "--data",
            "p/test.safetensors",
            "--device",
            "cpu",
        ],
    ));

    // predict: the GPX file records no profile, so the flags decide, and they matter.
    let predict = |out: &str, flags: &[&str]| -> Vec<f64> {
        ok(&predict_gpx(d, out, flags));
        std::fs::read_to_string(d.join(out))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
            .collect()
    };
    let unknown = predict("unknown.csv", &[]);
    // The person inputs the file does not record and no flag gives are named, with their flags.
    let warning = |flags: &[&str]| {
        let out = predict_gpx(d, "warned.csv", flags);
        ok(&out);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let both = warning(&[]);
    assert!(
        both.contains("inputs resting_hr and max_hr are unknown")
            && both.contains("--resting-hr and --max-hr"),
        "{both}"
    );
    let one = warning(&["--max-hr", "190"]);
    assert!(
        one.contains("input resting_hr is unknown") && !one.contains("max_hr"),
        "{one}"
    );
    assert!(!warning(&["--resting-hr", "50", "--max-hr", "190"]).contains("unknown"));
    let mean = predict(
        "mean.csv",
        &[
            "--resting-hr",
            &ck.normalization.feature_mean[9].to_string(),
            "--max-hr",
            &ck.normalization.feature_mean[10].to_string(),
        ],
    );
    let fit = predict("fit.csv", &["--resting-hr", "40", "--max-hr", "200"]);
    assert_eq!(unknown.len(), fit.len());
    let biggest = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    };
    // Unknown values are the training mean (to the CSV's 2 decimals and the mean's printing).
    assert!(
        biggest(&unknown, &mean) < 0.02,
        "{}",
        biggest(&unknown, &mean)
    );
    assert!(
        biggest(&unknown, &fit) > 0.01,
        "the person inputs change nothing"
    );
}

#[test]
fn training_on_person_inputs_nobody_gave_warns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The test workouts' TCX and GPX files record no profile.
    let tcx = Path::new(WORKOUTS).join("tcx");
    let gpx = Path::new(WORKOUTS).join("gpx");
    let prepare = [
        "prepare",
        "--out",
        "p",
        "--split",
        "0.5,0.5,0",
        "--split-by",
        "user",
        "--seq-len",
        "50",
        "--input",
        tcx.to_str().unwrap(),
        gpx.to_str().unwrap(),
    ];
    ok(&hrcast(d, &prepare));
    let out = hrcast(
        d,
        &[
            "train",
            "--data",
            "p",
            "--features",
            "baseline,max_hr",
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
        err.contains("warning: person input max_hr: known in 0 of")
            && err.contains("learns nothing from it"),
        "{err}"
    );
    // A flag for an input the model does not take is said to change nothing.
    let out = predict_gpx(d, "p.csv", &["--resting-hr", "50", "--max-hr", "190"]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: --resting-hr is ignored"), "{err}");
    assert!(!err.contains("--max-hr is ignored"), "{err}");
}

#[test]
fn a_fitrec_profile_that_is_not_a_number_is_unknown_not_a_lost_workout() {
    let line = |rest: &str, max: &str| {
        format!(
            "{{'id': 1, 'userId': 2, 'restingHeartRate': {rest}, 'maxHeartRate': {max}, \
             'timestamp': [0, 5, 10], 'heart_rate': [100, 110, 120]}}\n"
        )
    };
    for (rest, max, want) in [
        ("48", "191.5", profile(Some(48.0), Some(191.5))),
        ("'fast'", "[1, 2]", profile(None, None)),
        ("null", "{'bpm': 180}", profile(None, None)),
        ("NaN", "1e400", profile(None, None)),
        ("300", "170", profile(None, Some(170.0))),
    ] {
        let mut skipped = Vec::new();
        let text = line(rest, max);
        let workouts = data::read_bytes(
            data::Format::FitRec,
            text.as_bytes(),
            "t.json",
            &mut skipped,
        )
        .unwrap();
        assert!(skipped.is_empty(), "{rest} {max}: {skipped:?}");
        assert_eq!(workouts[0].profile, want, "{rest} {max}");
    }
}
