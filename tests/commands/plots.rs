//! The plots and names a person reads: real workouts prepared, a tiny model trained and
//! evaluated; every PNG decodes at its size, and people and workouts go by their folder and file
//! names.

use crate::common::{WORKOUTS, hrcast_in, png_size, succeeded};
use hrcast::dataset::Split;
use std::path::Path;

/// The folders of the test workouts: one person each.
const PEOPLE: [&str; 5] = ["fitparser", "gpx", "sweat", "tcx", "workoutizer"];

/// Runs hrcast in `dir` with `args` and returns its stdout; fails the test when it fails.
fn run(dir: &Path, args: &[&str]) -> String {
    succeeded(&hrcast_in(dir, args))
}

#[test]
fn plots_decode_and_name_people_and_workouts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let prepare = [
        "prepare",
        "--input",
        WORKOUTS,
        "--out",
        "p",
        "--seq-len",
        "100",
    ];
    run(d, &prepare);
    let test = Split::read(&d.join("p/test.safetensors")).unwrap();
    for row in 0..test.n {
        let (person, workout) = (test.person_name(row), test.workout_name(row));
        assert!(PEOPLE.contains(&person.as_str()), "{person}");
        assert!(workout.starts_with(&format!("{person}/")), "{workout}");
        let file = Path::new(WORKOUTS).join(&workout);
        assert!(file.is_file(), "{workout} names its file");
    }
    let train = [
        "train",
        "--data",
        "p",
        "--epochs",
        "2",
        "--hidden-size",
        "4",
        "--num-layers",
        "1",
        "--device",
        "cpu",
    ];
    run(d, &train);
    let evaluate = [
        "evaluate",
        "--checkpoint",
        "checkpoints/last.safetensors",
        "--data",
        "p/test.safetensors",
        "--device",
        "cpu",
    ];
    run(d, &evaluate);

    let per_user = std::fs::read_to_string(d.join("results/per_user.csv")).unwrap();
    let mut lines = per_user.lines();
    assert_eq!(lines.next(), Some("user_id,person,n_steps,mae"));
    for line in lines {
        let person = line.split(',').nth(1).unwrap();
        assert!(PEOPLE.contains(&person), "{line}");
    }
    let shown = test.n.min(6);
    for (png, size) in [
        ("training_curves.png", (1800, 550)),
        ("scatter.png", (900, 550)),
        ("error_by_timestep.png", (900, 550)),
        (
            "sample_predictions.png",
            (900 * shown.min(3) as u32, 550 * shown.div_ceil(3) as u32),
        ),
    ] {
        assert_eq!(png_size(&d.join("results").join(png)), size, "{png}");
    }
}
