//! `hrcast people`: each person's workouts summarized per sport.

use crate::common::{WORKOUTS, hrcast, succeeded};
use hrcast::data::Profile;
use hrcast::people;
use hrcast::workouts;
use std::path::PathBuf;

/// One row per person and sport, each summary the figures of that person's workouts of that
/// sport: the mean heart rate over their valid steps, computed here again from the sequences.
#[test]
fn one_row_per_person_and_sport_with_the_mean_of_their_valid_steps() {
    let loaded = workouts::load(&[PathBuf::from(WORKOUTS)], 5.0, Profile::default()).unwrap();
    let rows = people::people(&loaded.prepared);
    let persons: Vec<&str> = rows.iter().map(|r| r.person.as_str()).collect();
    for folder in ["fitparser", "gpx", "sweat", "tcx", "workoutizer"] {
        assert!(persons.contains(&folder), "{persons:?}");
    }
    for r in &rows {
        let theirs: Vec<&workouts::Prepared> = (loaded.prepared.iter())
            .filter(|p| p.workout.sport_class() == r.sport && p.workout.source.contains(&r.person))
            .collect();
        assert_eq!(r.summary.workouts, theirs.len(), "{r:?}");
        let valid: Vec<f64> = (theirs.iter())
            .flat_map(|p| {
                let s = &p.sequence;
                (0..s.len())
                    .filter(|&k| s.valid[k])
                    .map(|k| f64::from(s.heart_rate[k]))
            })
            .collect();
        assert_eq!(r.summary.steps as usize, valid.len(), "{r:?}");
        let mean = valid.iter().sum::<f64>() / valid.len() as f64;
        assert!((r.summary.mean_hr.unwrap() - mean).abs() < 1e-6, "{r:?}");
        let (low, high) = (r.summary.hr_low.unwrap(), r.summary.hr_high.unwrap());
        assert!(low <= mean && mean <= high, "{r:?}");
    }
}

/// The command prints both tables and writes the CSV.
#[test]
fn prints_the_people_and_their_spread_and_writes_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    let out = hrcast(&[
        "people",
        "--input",
        WORKOUTS,
        "--out",
        csv.to_str().unwrap(),
    ]);
    let stdout = succeeded(&out);
    assert!(stdout.contains("| person | sport | workouts"), "{stdout}");
    assert!(
        stdout.contains("| sport | people | mean heart rate"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert!(lines[0].starts_with("person,sport,workouts"), "{written}");
    // The rows of a table: the lines after its header and rule, up to the first other line.
    let rows_after = |header: &str| {
        (stdout.lines().skip_while(|l| !l.starts_with(header)))
            .skip(2)
            .take_while(|l| l.starts_with("| "))
            .count()
    };
    assert_eq!(
        lines.len() - 1,
        rows_after("| person |"),
        "{stdout}\n{written}"
    );
    assert!(rows_after("| sport |") >= 2, "runs and rides: {stdout}");
}
