//! The history and sport person-level inputs end to end: the sport classes of real files,
//! `prepare` never giving a window its own or a later workout as history, `prepare --history`,
//! and processed files written before these inputs.

use crate::common::{WORKOUTS, hrcast_in as hrcast, succeeded};
use hrcast::data::{NUM_PERSON_INPUTS, PERSON_INPUT_NAMES, Sport, read_file};
use hrcast::dataset::Split;
use hrcast::prepare::{PrepareOptions, SplitBy, prepare};
use hrcast::workouts::{self, Prepared};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The column of person-level input `name`.
fn column(name: &str) -> usize {
    PERSON_INPUT_NAMES.iter().position(|n| *n == name).unwrap()
}

/// Person input `name` of window `w`.
fn value(split: &Split, w: usize, name: &str) -> f32 {
    split.person[w * NUM_PERSON_INPUTS + column(name)]
}

#[test]
fn real_files_name_their_sport() {
    let expected = [
        ("fitparser/hrv-activity.fit", Sport::Ride),
        ("fitparser/sample_mulitple_header.fit", Sport::Ride),
        ("gpx/garmin-activity.gpx", Sport::Run),
        ("tcx/20210119_run_garmin_fenix6.tcx", Sport::Run),
        ("sweat/2020-06-01-16-52-40.fit", Sport::Ride),
        ("sweat/6449921903_ACTIVITY.fit", Sport::Ride),
        ("workoutizer/2019-09-14-17-22-05.fit", Sport::Run),
    ];
    for (file, sport) in expected {
        let read = read_file(&Path::new(WORKOUTS).join(file), &mut Vec::new()).unwrap();
        assert_eq!(read[0].sport_class(), sport, "{file}: {:?}", read[0].sport);
    }
}

/// Prepares `inputs` (split by time, windows of 50 steps) into `out`; the three splits.
fn prepare_splits(inputs: Vec<PathBuf>, out: &Path, seed: u64) -> Vec<Split> {
    let options = PrepareOptions {
        inputs,
        history: Vec::new(),
        out: out.to_path_buf(),
        seq_len: 50,
        whole_workouts: false,
        interval_s: 5.0,
        split: [0.5, 0.25, 0.25],
        split_by: SplitBy::Time,
        seed,
        profile: Default::default(),
        threads: None,
    };
    prepare(&options).unwrap();
    ["train", "val", "test"]
        .iter()
        .map(|name| Split::read(&out.join(format!("{name}.safetensors"))).unwrap())
        .collect()
}

/// For each workout id, how many workouts of the same person (other ids) started before it.
fn earlier_counts(prepared: &[Prepared]) -> HashMap<i64, usize> {
    let start = |id: i64| {
        prepared
            .iter()
            .filter(|p| p.workout.workout_id == id)
            .map(|p| p.workout.start_time())
            .fold(f64::INFINITY, f64::min)
    };
    let mut counts = HashMap::new();
    for p in prepared {
        let (id, user) = (p.workout.workout_id, p.workout.user_id);
        let earlier = prepared
            .iter()
            .filter(|q| q.workout.user_id == user && q.workout.workout_id != id)
            .filter(|q| q.workout.start_time() < start(id))
            .count();
        counts.insert(id, earlier);
    }
    counts
}

/// Checks every window's `history_workouts` against the workouts that started before its own:
/// never more; exactly as many in validation and test.
fn check_counts(splits: &[Split], counts: &HashMap<i64, usize>) {
    for (s, split) in splits.iter().enumerate() {
        for w in 0..split.n {
            let earlier = counts[&split.workout_id[w]] as f64;
            let got = f64::from(value(split, w, "history_workouts"));
            assert!(
                got <= earlier.ln_1p() + 1e-5,
                "split {s}, window {w}: {got} for {earlier} earlier workouts"
            );
            if s > 0 {
                assert!(
                    (got - earlier.ln_1p()).abs() < 1e-5,
                    "split {s}, window {w}"
                );
            }
            let known = !value(split, w, "history_mean_hr").is_nan();
            assert_eq!(
                known,
                got > 0.0,
                "split {s}, window {w}: a history knows its mean"
            );
        }
    }
}

#[test]
fn prepare_never_shows_a_window_its_own_or_a_later_workout() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = vec![PathBuf::from(WORKOUTS)];
    let splits = prepare_splits(inputs.clone(), &dir.path().join("real"), 0);
    let loaded = workouts::load(&inputs, 5.0, Default::default()).unwrap();
    check_counts(&splits, &earlier_counts(&loaded.prepared));
    // Synthetic people with ten workouts each: every sport known, runs and rides.
    let raw = dir.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::write(raw.join("w.json"), hrcast::synth::generate(3, 10, 7)).unwrap();
    let synthetic = prepare_splits(vec![raw.clone()], &dir.path().join("synth"), 3);
    let loaded = workouts::load(&[raw], 5.0, Default::default()).unwrap();
    check_counts(&synthetic, &earlier_counts(&loaded.prepared));
    let train = &synthetic[0];
    let one_hot: Vec<f32> = (0..train.n)
        .map(|w| value(train, w, "sport_run") + value(train, w, "sport_ride"))
        .collect();
    assert!(
        one_hot.iter().all(|&v| v == 1.0),
        "every synthetic workout runs or rides"
    );
    let histories: Vec<f32> = (0..train.n)
        .map(|w| value(train, w, "history_workouts"))
        .collect();
    assert!(
        histories.contains(&0.0),
        "training sees windows without history"
    );
    assert!(
        histories.iter().any(|&v| v > 1.0),
        "and with several earlier workouts"
    );
}

#[test]
fn history_folders_are_the_same_people_as_input_folders() {
    let dir = tempfile::tempdir().unwrap();
    let sweat = Path::new(WORKOUTS).join("sweat");
    let mut files: Vec<(f64, PathBuf)> = ["2020-06-01-16-52-40.fit", "6449921903_ACTIVITY.fit"]
        .iter()
        .map(|name| {
            let path = sweat.join(name);
            let w = read_file(&path, &mut Vec::new()).unwrap().remove(0);
            (w.start_time(), path)
        })
        .collect();
    files.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (folder, (_, file)) in ["hist", "in"].iter().zip(&files) {
        let person = dir.path().join(folder).join("sweat");
        std::fs::create_dir_all(&person).unwrap();
        std::fs::copy(file, person.join(file.file_name().unwrap())).unwrap();
    }
    let prepare_with = |input: &str, out: &str, history: &[&str]| -> Split {
        let mut args = vec![
            "prepare", "--input", input, "--out", out, "--split", "0,0,1",
        ];
        if !history.is_empty() {
            args.push("--history");
            args.extend(history);
        }
        let stdout = succeeded(&hrcast(dir.path(), &args));
        if !history.is_empty() {
            assert!(stdout.contains("1 workouts of --history"), "{stdout}");
        }
        Split::read(&dir.path().join(out).join("test.safetensors")).unwrap()
    };
    let alone = prepare_with("in", "alone", &[]);
    let with = prepare_with("in", "with", &["hist"]);
    assert!(alone.n > 0 && alone.n == with.n);
    for w in 0..with.n {
        assert_eq!(value(&alone, w, "history_workouts"), 0.0);
        assert!(value(&alone, w, "history_mean_hr").is_nan());
        assert!((value(&with, w, "history_workouts") - 2f32.ln()).abs() < 1e-6);
        let mean = value(&with, w, "history_mean_hr");
        assert!((60.0..200.0).contains(&mean), "{mean}");
        assert_eq!(value(&with, w, "sport_ride"), 1.0);
    }
    // The later workout as history of the earlier one counts for nothing, and so does a
    // workout given both as input and as history.
    for (input, history) in [("hist", "in"), ("in", "in")] {
        let out = format!("{input}-{history}");
        let split = prepare_with(input, &out, &[history]);
        assert!((0..split.n).all(|w| value(&split, w, "history_workouts") == 0.0));
    }
}

/// The safetensors bytes of `split` with its `person` tensor cut to its first `columns` columns.
fn with_person_columns(split: &Split, columns: usize) -> Vec<u8> {
    use safetensors::{Dtype, tensor::TensorView};
    let bytes = split.to_bytes().unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let narrow: Vec<f32> = split
        .person
        .chunks(NUM_PERSON_INPUTS)
        .flat_map(|row| row[..columns].to_vec())
        .collect();
    let mut views: Vec<(String, TensorView)> = tensors
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != "person")
        .collect();
    views.push((
        "person".into(),
        TensorView::new(
            Dtype::F32,
            vec![split.n, columns],
            bytemuck::cast_slice(&narrow),
        )
        .unwrap(),
    ));
    safetensors::serialize(views, header.metadata().clone()).unwrap()
}

#[test]
fn files_written_before_the_history_inputs_read_as_unknown_history_and_sport() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::write(raw.join("w.json"), hrcast::synth::generate(2, 4, 3)).unwrap();
    let split = &prepare_splits(vec![raw], &dir.path().join("p"), 0)[0];
    let old = Split::from_bytes(&with_person_columns(split, 2)).unwrap();
    assert_eq!(old.n, split.n);
    for w in 0..old.n {
        let row = &old.person[w * NUM_PERSON_INPUTS..(w + 1) * NUM_PERSON_INPUTS];
        let new = &split.person[w * NUM_PERSON_INPUTS..(w + 1) * NUM_PERSON_INPUTS];
        assert_eq!(row[..2], new[..2]);
        assert!(row[2..].iter().all(|v| v.is_nan()), "{row:?}");
    }
    // Neither another width nor an unbelievable sport value is read.
    let error = format!(
        "{:#}",
        Split::from_bytes(&with_person_columns(split, 5)).unwrap_err()
    );
    assert!(error.contains("person has shape"), "{error}");
    let mut odd = split.clone();
    odd.person[column("sport_run")] = 2.0;
    let error = format!(
        "{:#}",
        Split::from_bytes(&odd.to_bytes().unwrap()).unwrap_err()
    );
    assert!(error.contains("\"sport_run\""), "{error}");
}
