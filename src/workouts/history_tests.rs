//! Unit tests of the history inputs: values against sums done by hand on a tiny person, no
//! look at the workout itself or later ones, deterministic truncation.

use super::*;
use crate::data::{Gender, Profile, Sample, Workout};
use crate::features::Sequence;

const DAY: f64 = 86_400.0;
const STEP_S: f64 = 5.0;

/// A workout of person `user` starting at `start_s`, its steps' (speed, heart rate) as given,
/// every step valid.
fn workout(user: i64, id: i64, sport: &str, start_s: f64, steps: &[(f64, f64)]) -> Prepared {
    let samples = (0..steps.len())
        .map(|k| Sample {
            time_s: start_s + k as f64 * STEP_S,
            ..Sample::default()
        })
        .collect();
    let mut features = vec![0.0; steps.len() * NUM_FEATURES];
    for (k, (speed, _)) in steps.iter().enumerate() {
        features[k * NUM_FEATURES + SPEED_FEATURE] = *speed as f32;
    }
    Prepared::new(
        Workout {
            source: format!("w{id}"),
            workout_id: id,
            user_id: user,
            person: format!("user {user}"),
            gender: Gender::Unknown,
            sport: sport.into(),
            profile: Profile::default(),
            samples,
        },
        Sequence {
            features,
            heart_rate: steps.iter().map(|s| s.1 as f32).collect(),
            valid: vec![true; steps.len()],
        },
    )
}

/// A run: speed 5 to 8 km/h, heart rate 100 + 10 per km/h above 5 (slope 10 bpm per km/h).
fn run_steps() -> Vec<(f64, f64)> {
    (0..40)
        .map(|k| ((5 + k % 4) as f64, (100 + 10 * (k % 4)) as f64))
        .collect()
}

/// A ride: speed 20 or 22 km/h, heart rate 140.
fn ride_steps() -> Vec<(f64, f64)> {
    (0..40)
        .map(|k| ((20 + 2 * (k % 2)) as f64, 140.0))
        .collect()
}

/// Least-squares slope of `y` against `x`, the textbook way.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

/// The tiny person: a run on day 0, a ride on day 2, a run on day 5.
fn tiny_person() -> Vec<Prepared> {
    vec![
        workout(1, 10, "running", 0.0, &run_steps()),
        workout(1, 11, "cycling", 2.0 * DAY, &ride_steps()),
        workout(1, 12, "Run", 5.0 * DAY, &run_steps()),
    ]
}

fn all(_: usize) -> Truncation {
    Truncation::None
}

fn close(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what} unknown, expected {want}"));
    assert!((got - want).abs() < 1e-9, "{what}: {got}, expected {want}");
}

#[test]
fn statistics_by_hand() {
    let h = histories(&tiny_person(), &[], &all);
    // The first workout has no history: every value unknown but the count, 0.
    assert_eq!(h[0].0, [None, None, None, None, None, Some(0.0), None]);
    // The ride: the first run is its history.
    let [mean, sport, low, high, per_speed, count, days] = h[1].0;
    close(mean, 115.0, "mean");
    assert_eq!(sport, None, "no earlier ride");
    close(low, 100.0, "5th percentile");
    close(high, 130.0, "95th percentile");
    close(per_speed, 10.0, "slope of the run (too few ride steps)");
    close(count, 2f64.ln(), "one workout");
    close(days, (1.0 + (2.0 * DAY - 39.0 * STEP_S) / DAY).ln(), "days");
    // The second run: both earlier workouts.
    let [mean, sport, low, high, per_speed, count, days] = h[2].0;
    close(mean, (115.0 * 40.0 + 140.0 * 40.0) / 80.0, "mean");
    close(sport, 115.0, "mean of the earlier run");
    close(low, 100.0, "5th percentile: rank 4 of 80");
    close(high, 140.0, "95th percentile: rank 76 of 80");
    let both: Vec<(f64, f64)> = run_steps().into_iter().chain(ride_steps()).collect();
    let want = slope(&both);
    assert!(
        (per_speed.unwrap() - want).abs() < 1e-6,
        "{per_speed:?} {want}"
    );
    close(count, 3f64.ln(), "two workouts");
    close(days, (1.0 + (3.0 * DAY - 39.0 * STEP_S) / DAY).ln(), "days");
}

#[test]
fn later_workouts_and_the_workout_itself_never_count() {
    let before = histories(&tiny_person(), &[], &all);
    // A later workout with a wildly different heart rate, and an earlier piece of the last run's
    // own recording (same workout id), change nothing of the earlier histories.
    let mut person = tiny_person();
    let wild: Vec<(f64, f64)> = (0..40).map(|k| (f64::from(k), 230.0)).collect();
    person.push(workout(1, 13, "running", 9.0 * DAY, &wild));
    person.push(workout(1, 12, "running", 4.9 * DAY, &wild));
    // Another person's workouts are no one's history here.
    person.push(workout(2, 20, "running", 1.0 * DAY, &wild));
    let after = histories(&person, &[], &all);
    assert_eq!(after[..3], before[..]);
    // The wild workout's own history is the four before it (the piece among them), not itself.
    close(after[3].0[5], 5f64.ln(), "four earlier workouts");
    close(after[4].0[5], 3f64.ln(), "the piece: two earlier workouts");
    assert_eq!(after[5].0[5], Some(0.0), "person 2 has no history");
}

#[test]
fn extra_workouts_are_history_only() {
    let person = tiny_person();
    // The ride given as history only (and a copy of the first run, left out: it starts when
    // the first run does).
    let targets = [
        workout(1, 10, "running", 0.0, &run_steps()),
        workout(1, 12, "Run", 5.0 * DAY, &run_steps()),
    ];
    let extra = [
        workout(1, 11, "cycling", 2.0 * DAY, &ride_steps()),
        workout(1, 99, "running", 0.0, &run_steps()),
    ];
    let h = histories(&targets, &extra, &all);
    assert_eq!(
        h,
        [
            histories(&person, &[], &all)[0],
            histories(&person, &[], &all)[2]
        ]
    );
}

#[test]
fn truncation_is_deterministic_and_covers_none_one_and_many() {
    let mut person: Vec<Prepared> = (0..40)
        .map(|i| workout(3, 300 + i, "running", i as f64 * DAY, &run_steps()))
        .collect();
    let random = |_: usize| Truncation::Random { seed: 7 };
    let h = histories(&person, &[], &random);
    let counts: Vec<usize> = h
        .iter()
        .map(|h| h.0[5].unwrap().exp_m1().round() as usize)
        .collect();
    for (i, &k) in counts.iter().enumerate() {
        assert!(k <= i, "workout {i} kept {k} earlier workouts");
        assert_eq!(h[i].0[0].is_some(), k > 0);
        if k > 0 {
            // The latest earlier workout is always kept: the day before.
            close(h[i].0[6], (1.0 + (DAY - 39.0 * STEP_S) / DAY).ln(), "days");
        }
    }
    assert!(counts.iter().skip(1).any(|&k| k == 0), "{counts:?}");
    assert!(counts.contains(&1), "{counts:?}");
    assert!(counts.iter().any(|&k| k > 10), "{counts:?}");
    // Another order, the same histories; another seed, others.
    person.reverse();
    let mut reversed = histories(&person, &[], &random);
    reversed.reverse();
    assert_eq!(reversed, h);
    person.reverse();
    let other = histories(&person, &[], &|_| Truncation::Random { seed: 8 });
    assert_ne!(other, h);
    // Without truncation every workout keeps all.
    let full = histories(&person, &[], &all);
    for (i, h) in full.iter().enumerate() {
        close(h.0[5], (i as f64).ln_1p(), "all earlier workouts");
    }
}

#[test]
fn percentiles_use_nearest_rank_on_whole_bpm() {
    let mut steps = Steps::default();
    for hr in [100.4, 100.6, 102.0, 150.0] {
        let p = workout(1, 1, "run", 0.0, &[(0.0, hr)]);
        steps.add_workout(&WorkoutSteps::of(&p.sequence), 1);
    }
    assert_eq!(steps.percentile(0.05), Some(100.0));
    assert_eq!(steps.percentile(0.5), Some(101.0));
    assert_eq!(steps.percentile(0.95), Some(150.0));
    assert_eq!(Steps::default().percentile(0.5), None);
    assert_eq!(HR_BINS as f64, 240.0 - HR_BIN_LOW + 1.0);
}

#[test]
fn slope_needs_moving_steps_and_speed_variance() {
    // Constant speed: no slope; standing still: no moving steps.
    let flat: Vec<(f64, f64)> = (0..100).map(|k| (10.0, 100.0 + f64::from(k % 3))).collect();
    let standing: Vec<(f64, f64)> = (0..100).map(|k| (0.5 * f64::from(k % 2), 100.0)).collect();
    for steps in [flat, standing] {
        let person = [
            workout(1, 1, "run", 0.0, &steps),
            workout(1, 2, "run", DAY, &steps),
        ];
        assert_eq!(histories(&person, &[], &all)[1].0[4], None);
    }
}

#[test]
fn bins_beyond_16_bits_are_kept_whole() {
    assert!(matches!(Bins::of(&[1, 65_535]), Bins::Narrow(_)));
    let wide = WorkoutSteps {
        count: 70_001,
        hr_sum: 0.0,
        first_bin: 10,
        bins: Bins::of(&[70_000, 1]),
        moving: [0.0; 5],
    };
    assert!(matches!(wide.bins, Bins::Wide(_)));
    let mut steps = Steps::default();
    steps.add_workout(&wide, 1);
    assert_eq!(
        (steps.bins[10], steps.bins[11], steps.count),
        (70_000, 1, 70_001)
    );
    steps.add_workout(&wide, -1);
    assert_eq!((steps.bins[10], steps.count), (0, 0));
}
