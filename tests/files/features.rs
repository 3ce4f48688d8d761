//! The feature definitions of docs/model.md against values computed by hand.

use hrcast::data::{Gender, Sample, Workout};
use hrcast::features::{NUM_FEATURES, resample};

fn workout(samples: Vec<Sample>, gender: Gender) -> Workout {
    Workout {
        source: "hand-made".into(),
        workout_id: 1,
        user_id: 1,
        person: "hand".into(),
        gender,
        sport: "run".into(),
        profile: Default::default(),
        samples,
    }
}

/// Speed k km/h and altitude 2k m at second k, heart rate 100 + k/4.
fn ramp(seconds: usize) -> Vec<Sample> {
    (0..=seconds)
        .map(|k| Sample {
            time_s: 1_000.0 + k as f64,
            heart_rate: Some(100.0 + k as f64 / 4.0),
            speed_kmh: Some(k as f64),
            altitude_m: Some(2.0 * k as f64),
            ..Sample::default()
        })
        .collect()
}

fn close(got: f32, want: f64, what: &str) {
    assert!(
        (f64::from(got) - want).abs() < 1e-4 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

#[test]
fn features_of_a_ramp_at_one_second() {
    let seq = resample(&workout(ramp(70), Gender::Male), 1.0).unwrap();
    assert_eq!(seq.len(), 71);
    let row = |k: usize| &seq.features[k * NUM_FEATURES..(k + 1) * NUM_FEATURES];

    let r = row(40);
    close(r[0], 40.0, "speed");
    close(r[1], 80.0, "altitude");
    close(r[2], 1.0, "gender male");
    close(r[3], 38.0, "speed_lag_2");
    close(r[4], 20.0, "altitude_lag_30");
    close(r[5], 1.0, "speed_derivative (km/h per s)");
    close(r[6], 2.0, "altitude_derivative (m per s)");
    close(r[7], 35.5, "rolling_speed_10 = mean(31..=40)");
    close(r[8], 20.0, "rolling_speed_60 = mean(0..=40)");
    close(r[9], 40.0 / 60.0, "time_elapsed (min)");
    // Without a distance channel or positions, distance integrates speed: sum(1..=40)/3.6 m.
    close(r[10], 820.0 / 3.6 / 1000.0, "distance (km)");

    let r = row(65);
    close(r[8], 35.5, "rolling_speed_60 = mean(6..=65)");
    close(r[4], 70.0, "altitude_lag_30");

    // At the start, references before the first step repeat the first value.
    let r = row(1);
    close(r[3], 0.0, "speed_lag_2 at step 1");
    close(r[4], 0.0, "altitude_lag_30 at step 1");
    close(r[7], 0.5, "rolling_speed_10 at step 1");
    let r = row(0);
    close(r[5], 0.0, "speed_derivative at step 0");
    close(r[6], 0.0, "altitude_derivative at step 0");
    assert_eq!(seq.heart_rate[40], 110.0);
    assert!(seq.valid.iter().all(|v| *v));
}

#[test]
fn resampling_to_five_seconds_interpolates_and_steps_in_grid_units() {
    let seq = resample(&workout(ramp(70), Gender::Female), 5.0).unwrap();
    assert_eq!(seq.len(), 15);
    let row = |k: usize| &seq.features[k * NUM_FEATURES..(k + 1) * NUM_FEATURES];
    let r = row(8); // 40 s
    close(r[0], 40.0, "speed");
    close(r[2], 0.0, "gender female");
    close(r[3], 30.0, "speed_lag_2 is two grid steps = 10 s earlier");
    close(r[5], 1.0, "speed_derivative is per second, not per step");
    close(
        r[7],
        20.0,
        "rolling_speed_10 = mean of the 9 steps 0, 5, .., 40",
    );
    close(r[9], 40.0 / 60.0, "time_elapsed");
}

#[test]
fn unknown_gender_is_one_half() {
    let seq = resample(&workout(ramp(20), Gender::Unknown), 1.0).unwrap();
    close(seq.features[2], 0.5, "gender unknown");
}

#[test]
fn dropouts_and_pauses_are_masked_and_pauses_have_zero_speed() {
    let mut samples = ramp(200);
    samples[50].heart_rate = Some(20.0); // strap lost contact: below 30 bpm
    samples[51].heart_rate = Some(250.0); // spike: above 240 bpm
    samples.retain(|s| !(100.0..160.0).contains(&(s.time_s - 1_000.0))); // a 61 s pause
    let seq = resample(&workout(samples, Gender::Male), 1.0).unwrap();
    assert_eq!(seq.len(), 201);
    // Interpolation across the removed samples (49 -> 52: 3 s gap, within the limit).
    assert!(seq.valid[50] && seq.valid[51]);
    close(
        seq.heart_rate[50],
        112.5,
        "heart rate interpolated over the dropout",
    );
    // The pause: heart rate unknown, speed zero, altitude interpolated across.
    for k in 100..160 {
        assert!(!seq.valid[k], "step {k} inside the pause must be masked");
        assert_eq!(seq.heart_rate[k], 0.0);
        assert_eq!(seq.features[k * NUM_FEATURES], 0.0, "speed in the pause");
    }
    close(
        seq.features[130 * NUM_FEATURES + 1],
        260.0,
        "altitude across the pause",
    );
    assert!(seq.valid[99], "last step before the pause");
    assert!(
        seq.valid[160],
        "first step after the pause: {:?}",
        &seq.valid[155..165]
    );
}

#[test]
fn speed_comes_from_distance_then_from_positions() {
    // 10 m per second recorded as distance only: 36 km/h.
    let by_distance: Vec<Sample> = (0..=60)
        .map(|k| Sample {
            time_s: k as f64,
            heart_rate: Some(120.0),
            distance_m: Some(10.0 * k as f64),
            ..Sample::default()
        })
        .collect();
    let seq = resample(&workout(by_distance, Gender::Male), 1.0).unwrap();
    for k in [0, 1, 30, 60] {
        close(seq.features[k * NUM_FEATURES], 36.0, "speed from distance");
    }
    close(seq.features[60 * NUM_FEATURES + 10], 0.6, "distance km");

    // Positions along a meridian, 1e-4 degrees (11.12 m) per second: 40.03 km/h.
    let by_position: Vec<Sample> = (0..=60)
        .map(|k| Sample {
            time_s: k as f64,
            heart_rate: Some(120.0),
            latitude: Some(45.0 + 1e-4 * k as f64),
            longitude: Some(7.0),
            ..Sample::default()
        })
        .collect();
    let seq = resample(&workout(by_position, Gender::Male), 1.0).unwrap();
    let metres_per_s = 6_371_000.0 * 1e-4_f64.to_radians();
    close(
        seq.features[30 * NUM_FEATURES],
        metres_per_s * 3.6,
        "speed from positions",
    );
    close(
        seq.features[60 * NUM_FEATURES + 10],
        metres_per_s * 60.0 / 1000.0,
        "distance from positions",
    );
}

#[test]
fn a_workout_without_valid_heart_rate_or_with_nan_is_refused() {
    let mut samples = ramp(30);
    for s in &mut samples {
        s.heart_rate = Some(0.0);
    }
    let err = resample(&workout(samples, Gender::Male), 1.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no heart rate"), "{err}");

    let mut samples = ramp(30);
    samples[7].altitude_m = Some(f64::NAN);
    let err = resample(&workout(samples, Gender::Male), 1.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("altitude of sample 7 is NaN"), "{err}");
}
