//! FitRec/Endomondo JSON lines (`endomondoHR_proper.json`).
//!
//! One workout per line, written as a Python-dict literal (single quotes), which JSON5 reads:
//! `{'id': 1, 'userId': 7, 'gender': 'male', 'sport': 'run', 'timestamp': [...],
//! 'altitude': [...], 'heart_rate': [...], 'latitude': [...], 'longitude': [...], 'speed': [...]}`.
//! `speed` (km/h) is optional; without it speed is derived from the positions.

use super::{Gender, Sample, Skipped, Workout};
use anyhow::{Result, bail};
use serde::Deserialize;

/// One line of the file, as serde reads it; unknown keys are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    id: i64,
    user_id: i64,
    #[serde(default)]
    gender: String,
    #[serde(default)]
    sport: String,
    timestamp: Vec<f64>,
    #[serde(rename = "heart_rate")]
    heart_rate: Vec<f64>,
    #[serde(default)]
    altitude: Option<Vec<f64>>,
    #[serde(default)]
    latitude: Option<Vec<f64>>,
    #[serde(default)]
    longitude: Option<Vec<f64>>,
    #[serde(default)]
    speed: Option<Vec<f64>>,
}

impl Line {
    fn into_workout(self, source: String) -> Result<Workout> {
        let n = self.timestamp.len();
        let channels = [
            ("heart_rate", Some(&self.heart_rate)),
            ("altitude", self.altitude.as_ref()),
            ("latitude", self.latitude.as_ref()),
            ("longitude", self.longitude.as_ref()),
            ("speed", self.speed.as_ref()),
        ];
        for (name, values) in channels {
            if let Some(values) = values.filter(|v| v.len() != n) {
                bail!(
                    "'{name}' has {} values but 'timestamp' has {n}",
                    values.len()
                );
            }
        }
        let at = |values: &Option<Vec<f64>>, i: usize| values.as_ref().map(|v| v[i]);
        let samples = (0..n)
            .map(|i| Sample {
                time_s: self.timestamp[i],
                heart_rate: Some(self.heart_rate[i]),
                speed_kmh: at(&self.speed, i),
                distance_m: None,
                altitude_m: at(&self.altitude, i),
                latitude: at(&self.latitude, i),
                longitude: at(&self.longitude, i),
            })
            .collect();
        let gender = match self.gender.as_str() {
            "male" => Gender::Male,
            "female" => Gender::Female,
            _ => Gender::Unknown,
        };
        Ok(Workout {
            source,
            workout_id: self.id,
            user_id: self.user_id,
            gender,
            sport: self.sport,
            samples,
        })
    }
}

/// Reads every line of a FitRec file. A line that does not parse is reported in `skipped` and
/// the others are kept; a file where no line parses is an error.
pub fn read(bytes: &[u8], source: &str, skipped: &mut Vec<Skipped>) -> Result<Vec<Workout>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        bail!("not UTF-8 text, so not FitRec JSON lines");
    };
    let mut workouts = Vec::new();
    let mut bad = 0;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_source = format!("{source}:{}", index + 1);
        let parsed = json5::from_str::<Line>(line)
            .map_err(anyhow::Error::from)
            .and_then(|l| l.into_workout(line_source.clone()));
        match parsed {
            Ok(workout) => workouts.push(workout),
            Err(err) => {
                bad += 1;
                skipped.push(Skipped {
                    source: line_source,
                    reason: format!("not a FitRec workout line: {err:#}"),
                });
            }
        }
    }
    if workouts.is_empty() {
        bail!("none of its {bad} lines is a FitRec workout");
    }
    Ok(workouts)
}
