//! Real recorded workouts (tests/data/workouts, MIT-licensed, see its README): each parses to
//! the record count, duration and channels that MANIFEST.tsv lists, with plausible values, and
//! resamples into finite features.

use hrcast::data::{self, Sample};
use hrcast::features::{self, NUM_FEATURES};
use std::path::{Path, PathBuf};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/workouts");

/// One MANIFEST.tsv row: the file and what its package says it holds.
struct Expected {
    file: PathBuf,
    records: usize,
    duration_s: f64,
    /// Share of records with heart rate, speed, distance, altitude, position.
    shares: [f64; 5],
}

fn manifest() -> Vec<Expected> {
    let text = std::fs::read_to_string(Path::new(DIR).join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let num = |name: &str| cells[col(name)].parse::<f64>().unwrap();
            Expected {
                file: Path::new(DIR).join(cells[col("file")]),
                records: num("records") as usize,
                duration_s: num("duration_s"),
                shares: ["hr", "speed", "distance", "altitude", "position"].map(num),
            }
        })
        .collect()
}

fn share(samples: &[Sample], has: impl Fn(&Sample) -> bool) -> f64 {
    samples.iter().filter(|s| has(s)).count() as f64 / samples.len() as f64
}

#[test]
fn every_real_workout_matches_its_manifest_row() {
    let rows = manifest();
    assert_eq!(rows.len(), 7, "the test set holds 7 workouts");
    for row in rows {
        let name = row.file.display().to_string();
        let mut skipped = Vec::new();
        let workouts =
            data::read_file(&row.file, &mut skipped).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert!(skipped.is_empty(), "{name}");
        assert_eq!(workouts.len(), 1, "{name}");
        let w = &workouts[0];
        assert_eq!(w.samples.len(), row.records, "{name}: record count");
        let duration = w.samples.last().unwrap().time_s - w.samples[0].time_s;
        assert!(
            (duration - row.duration_s).abs() <= 1.0,
            "{name}: duration {duration} s"
        );
        // The channels are present in the shares the manifest lists (2 points of slack for
        // rounding and for fields that a decoder reports as invalid).
        let got = [
            share(&w.samples, |s| s.heart_rate.is_some()),
            share(&w.samples, |s| s.speed_kmh.is_some()),
            share(&w.samples, |s| s.distance_m.is_some()),
            share(&w.samples, |s| s.altitude_m.is_some()),
            share(&w.samples, |s| {
                s.latitude.is_some() && s.longitude.is_some()
            }),
        ];
        for ((channel, got), want) in ["hr", "speed", "distance", "altitude", "position"]
            .iter()
            .zip(got)
            .zip(row.shares)
        {
            // GPX has no speed or distance elements: hrcast derives them from positions.
            assert!(
                (got - want).abs() <= 0.02,
                "{name}: share of {channel} is {got}, manifest {want}"
            );
        }
        // Plausible physical ranges.
        for s in &w.samples {
            if let Some(hr) = s.heart_rate {
                assert!((0.0..=255.0).contains(&hr), "{name}: heart rate {hr}");
            }
            if let Some(v) = s.speed_kmh {
                assert!((0.0..=120.0).contains(&v), "{name}: speed {v} km/h");
            }
            if let Some(a) = s.altitude_m {
                assert!((-500.0..=5000.0).contains(&a), "{name}: altitude {a} m");
            }
            if let (Some(lat), Some(lon)) = (s.latitude, s.longitude) {
                assert!(
                    lat.abs() <= 90.0 && lon.abs() <= 180.0,
                    "{name}: position out of range"
                );
            }
        }
        let valid_hr = w
            .samples
            .iter()
            .filter_map(|s| s.heart_rate)
            .filter(|hr| data::HEART_RATE_VALID_BPM.contains(hr));
        let mean_hr = {
            let v: Vec<f64> = valid_hr.collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        assert!(
            (60.0..=200.0).contains(&mean_hr),
            "{name}: mean heart rate {mean_hr}"
        );

        // Resampled at 5 s: one step per 5 s of recording, finite features, distance rising.
        let seq = features::resample(w, 5.0).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(seq.len(), (duration / 5.0).floor() as usize + 1, "{name}");
        assert_eq!(seq.features.len(), seq.len() * NUM_FEATURES);
        assert!(
            seq.features.iter().all(|v| v.is_finite()),
            "{name}: non-finite feature"
        );
        let distance: Vec<f32> = seq.features.chunks(NUM_FEATURES).map(|r| r[10]).collect();
        assert!(
            distance.windows(2).all(|d| d[1] >= d[0] - 1e-3),
            "{name}: distance decreases"
        );
        assert!(
            seq.valid_steps() * 2 > seq.len(),
            "{name}: most steps should carry heart rate"
        );
    }
}

#[test]
fn a_gpx_run_gets_speed_and_distance_from_its_positions() {
    let path = Path::new(DIR).join("gpx/garmin-activity.gpx");
    let w = &data::read_file(&path, &mut Vec::new()).unwrap()[0];
    assert_eq!(w.sport, "running");
    let seq = features::resample(w, 5.0).unwrap();
    let rows: Vec<&[f32]> = seq.features.chunks(NUM_FEATURES).collect();
    let km = rows.last().unwrap()[10];
    let minutes = rows.last().unwrap()[9];
    // A run: a plausible total distance and a mean pace between 3 and 15 km/h.
    let mean_kmh = km / (minutes / 60.0);
    assert!(
        km > 1.0 && (3.0..15.0).contains(&mean_kmh),
        "{km} km in {minutes} min"
    );
    let mean_speed = rows.iter().map(|r| r[0]).sum::<f32>() / rows.len() as f32;
    assert!(
        (mean_speed - mean_kmh).abs() < 0.15 * mean_kmh,
        "speed feature {mean_speed} vs {mean_kmh}"
    );
}
