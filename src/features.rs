//! From a raw workout to the model's input: a uniform time grid and the 11 features
//! (docs/model.md).
//!
//! Resampling ([`resample`]): the grid starts at the first sample and steps by `interval_s`.
//! Each channel is interpolated linearly between the two recorded samples around a grid time.
//! A gap between recorded samples longer than [`max_gap_s`] is a pause or a sensor loss: heart
//! rate there is unknown (masked) and speed is zero, while distance and altitude are interpolated
//! across it. Heart-rate samples outside [`crate::data::HEART_RATE_VALID_BPM`] are dropouts and
//! are removed before interpolation, so they end up masked too.
//!
//! Speed comes from the device's speed channel; else from differences of its distance channel
//! (at most [`MAX_SPEED_KMH`]: a GPS jump is not a sprint);
//! else from the distance along its positions (haversine); else it is zero. Distance comes from
//! the distance channel, else positions, else the integral of speed.
//!
//! Features at grid step `k` (Δ = `interval_s`, `v` speed, `a` altitude; a reference before the
//! start repeats the first value, and a rolling mean at the start averages the steps it has):
//!
//! | # | name | value |
//! | --- | --- | --- |
//! | 1 | `speed` | `v[k]` km/h |
//! | 2 | `altitude` | `a[k]` m |
//! | 3 | `gender` | 1 male, 0 female, 0.5 unknown |
//! | 4 | `speed_lag_2` | `v[max(k-2, 0)]` |
//! | 5 | `altitude_lag_30` | `a[max(k-30, 0)]` |
//! | 6 | `speed_derivative` | `(v[k] - v[k-1]) / Δ`, 0 at `k = 0` |
//! | 7 | `altitude_derivative` | `(a[k] - a[k-1]) / Δ`, 0 at `k = 0` |
//! | 8 | `rolling_speed_10` | mean of `v[max(k-9, 0)..=k]` |
//! | 9 | `rolling_speed_60` | mean of `v[max(k-59, 0)..=k]` |
//! | 10 | `time_elapsed` | `k Δ / 60` minutes |
//! | 11 | `distance` | km since the first step |

use crate::data::{
    HEART_RATE_VALID_BPM, HISTORY_INPUT_NAMES, MAX_SPEED_KMH, NUM_PERSON_INPUTS,
    PERSON_INPUT_NAMES, PROFILE_INPUT_NAMES, SPORT_INPUT_NAMES, Sample, Workout, concat_names,
    distance_along, finite_as_f32,
};
use anyhow::{Result, bail};

/// The 11 features, in checkpoint order.
pub const FEATURE_NAMES: [&str; 11] = [
    "speed",
    "altitude",
    "gender",
    "speed_lag_2",
    "altitude_lag_30",
    "speed_derivative",
    "altitude_derivative",
    "rolling_speed_10",
    "rolling_speed_60",
    "time_elapsed",
    "distance",
];

/// Number of features in a processed data file.
pub const NUM_FEATURES: usize = FEATURE_NAMES.len();

/// Every input a model can take, in checkpoint order: the 11 features, then the person-level
/// inputs ([`PERSON_INPUT_NAMES`]). An input's index is its position here.
pub const INPUT_NAMES: [&str; NUM_FEATURES + NUM_PERSON_INPUTS] =
    concat_names(FEATURE_NAMES, PERSON_INPUT_NAMES);

/// The `person` set of `--features`: the person's resting and maximal heart rate
/// ([`PROFILE_INPUT_NAMES`]), added to another set (e.g. `bounded,person`). Not one of
/// [`FEATURE_SETS`], which `ablate` trains alone.
pub const PERSON_SET: &str = "person";

/// The `history` set of `--features`: the summaries of the person's earlier workouts
/// ([`HISTORY_INPUT_NAMES`]), added to another set (e.g. `bounded,person,history`).
pub const HISTORY_SET: &str = "history";

/// The `sport` set of `--features`: the workout's sport, one-hot ([`SPORT_INPUT_NAMES`]),
/// added to another set.
pub const SPORT_SET: &str = "sport";

/// The sets of person-level inputs that `--features` adds to a set of [`FEATURE_SETS`], with
/// their members.
pub const PERSON_SETS: [(&str, &[&str]); 3] = [
    (PERSON_SET, &PROFILE_INPUT_NAMES),
    (HISTORY_SET, &HISTORY_INPUT_NAMES),
    (SPORT_SET, &SPORT_INPUT_NAMES),
];

/// The position of the `speed` feature (km/h) in [`FEATURE_NAMES`].
pub const SPEED_FEATURE: usize = 0;
/// The position of the `altitude` feature (m) in [`FEATURE_NAMES`].
pub const ALTITUDE_FEATURE: usize = 1;
/// The position of the `distance` feature (km since the first step) in [`FEATURE_NAMES`].
pub const DISTANCE_FEATURE: usize = NUM_FEATURES - 1;

/// The named feature sets of `--features` and `ablate`, in the order `ablate` trains them.
/// `bounded` is `all` without `time_elapsed` and `distance`, whose values grow through a
/// workout without bound: on a long ride they leave the range training saw (cross-validation
/// across people on real workouts: docs/model.md).
pub const FEATURE_SETS: [(&str, &[&str]); 6] = [
    ("baseline", &["speed", "altitude", "gender"]),
    (
        "lags",
        &[
            "speed",
            "altitude",
            "gender",
            "speed_lag_2",
            "altitude_lag_30",
        ],
    ),
    (
        "derivatives",
        &["speed", "altitude", "gender", "speed_derivative"],
    ),
    (
        "rolling",
        &["speed", "altitude", "gender", "rolling_speed_10"],
    ),
    ("all", &FEATURE_NAMES),
    ("bounded", BOUNDED),
];

/// The `bounded` set: every feature but the last two of [`FEATURE_NAMES`], `time_elapsed` and
/// `distance`.
const BOUNDED: &[&str] = FEATURE_NAMES.split_at(NUM_FEATURES - 2).0;

/// Steps back for `speed_lag_2`.
const SPEED_LAG_STEPS: usize = 2;
/// Steps back for `altitude_lag_30`.
const ALTITUDE_LAG_STEPS: usize = 30;
/// Window of `rolling_speed_10`, in steps.
const ROLLING_SHORT_STEPS: usize = 10;
/// Window of `rolling_speed_60`, in steps.
const ROLLING_LONG_STEPS: usize = 60;
/// km/h per m/s.
const KMH_PER_MS: f64 = 3.6;
/// A workout's grid may have at most this many steps per record kept, plus
/// [`MAX_STEPS_SLACK`]: memory stays proportional to the records, never to a time span (a
/// timestamp decades off would otherwise ask for gigabytes). Devices record every 1 to 8 s, so
/// even a 1 s grid over "smart" recording stays far below.
pub const MAX_STEPS_PER_RECORD: usize = 64;
/// Grid steps allowed beyond [`MAX_STEPS_PER_RECORD`] per record (a pause in a short workout).
pub const MAX_STEPS_SLACK: usize = 10_000;
/// A channel counts as recorded when at least this share of samples carries it.
const CHANNEL_PRESENT_SHARE: f64 = 0.5;

/// Parses a `--features` value: `all`, a set name, or a comma list of input and set names
/// ([`INPUT_NAMES`], [`FEATURE_SETS`], [`PERSON_SETS`]). Returns indices into [`INPUT_NAMES`] in
/// checkpoint order, without repeats.
pub fn parse_feature_list(spec: &str) -> Result<Vec<usize>> {
    let mut chosen = [false; INPUT_NAMES.len()];
    for name in spec.split(',').map(str::trim) {
        let members = match FEATURE_SETS
            .iter()
            .chain(&PERSON_SETS)
            .find(|(set, _)| *set == name)
        {
            Some((_, members)) => *members,
            None => std::slice::from_ref(&name),
        };
        for member in members {
            let Some(index) = feature_index(member) else {
                bail!(
                    "unknown feature {name:?}: features are {} and sets are {}",
                    INPUT_NAMES.join(", "),
                    set_names().join(", ")
                );
            };
            chosen[index] = true;
        }
    }
    Ok((0..INPUT_NAMES.len()).filter(|&i| chosen[i]).collect())
}

/// The names of the sets `--features` takes: [`FEATURE_SETS`]' then [`PERSON_SETS`]'.
fn set_names() -> Vec<&'static str> {
    FEATURE_SETS
        .iter()
        .chain(&PERSON_SETS)
        .map(|(set, _)| *set)
        .collect()
}

/// The help of `--features`, naming every set and input it takes.
pub fn features_help() -> String {
    let (sets, person_sets) = (set_names(), PERSON_SETS.map(|(set, _)| set));
    format!(
        "The model's inputs: a feature set ({}), or a comma list of sets and input names ({}), \
         where {} add person-level inputs to a set (e.g. bounded,{}) [default: all]",
        sets[..FEATURE_SETS.len()].join(", "),
        INPUT_NAMES.join(", "),
        person_sets.join(", "),
        person_sets.join(",")
    )
}

/// A `--features` value: indices into [`INPUT_NAMES`], in checkpoint order (see
/// [`parse_feature_list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureList(pub Vec<usize>);

impl std::str::FromStr for FeatureList {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        parse_feature_list(text)
            .map(FeatureList)
            .map_err(|e| e.to_string())
    }
}

/// Indices in the data files of a checkpoint's features (its configuration's `features`).
pub fn feature_indices(names: &[String]) -> Result<Vec<usize>> {
    parse_feature_list(&names.join(","))
}

/// The names of inputs given by index into [`INPUT_NAMES`].
pub fn feature_names(indices: &[usize]) -> Vec<String> {
    indices
        .iter()
        .map(|&i| INPUT_NAMES[i].to_string())
        .collect()
}

/// The position of an input in [`INPUT_NAMES`].
pub fn feature_index(name: &str) -> Option<usize> {
    INPUT_NAMES.iter().position(|n| *n == name)
}

/// The longest gap between recorded samples (seconds) that is interpolated across for heart
/// rate and speed; a longer gap is a pause or a sensor loss. Devices that record "smart" leave
/// gaps of up to 8 s, FitRec about 10 s.
pub fn max_gap_s(interval_s: f64) -> f64 {
    (3.0 * interval_s).max(30.0)
}

/// A workout on a uniform grid: features, heart rate and which steps carry a valid heart rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    /// `[steps, NUM_FEATURES]`, row-major, raw units.
    pub features: Vec<f32>,
    /// Heart rate in bpm, 0 where not valid.
    pub heart_rate: Vec<f32>,
    /// Whether the step carries a valid heart rate.
    pub valid: Vec<bool>,
}

impl Sequence {
    /// Number of grid steps.
    pub fn len(&self) -> usize {
        self.heart_rate.len()
    }

    /// Whether the sequence has no steps.
    pub fn is_empty(&self) -> bool {
        self.heart_rate.is_empty()
    }

    /// Number of steps with a valid heart rate.
    pub fn valid_steps(&self) -> usize {
        self.valid.iter().filter(|v| **v).count()
    }
}

/// Linear interpolation of `points` (time, value; sorted by time) at each grid time. A grid time
/// outside the points, or inside a gap longer than `max_gap`, gets `None`.
fn interpolate(points: &[(f64, f64)], grid: &[f64], max_gap: f64) -> Vec<Option<f64>> {
    let mut j = 0;
    grid.iter()
        .map(|&t| {
            while j + 1 < points.len() && points[j + 1].0 <= t {
                j += 1;
            }
            let (t0, v0) = *points.get(j)?;
            if t == t0 {
                return Some(v0);
            }
            let (t1, v1) = *points.get(j + 1)?;
            (t0 < t && t1 - t0 <= max_gap).then(|| v0 + (v1 - v0) * (t - t0) / (t1 - t0))
        })
        .collect()
}

/// Interpolation without a gap limit, holding the first and last values outside the points.
fn interpolate_held(points: &[(f64, f64)], grid: &[f64]) -> Vec<f64> {
    let first = points.first().map_or(0.0, |p| p.1);
    let last = points.last().map_or(0.0, |p| p.1);
    interpolate(points, grid, f64::INFINITY)
        .into_iter()
        .zip(grid)
        .map(|(v, &t)| {
            v.unwrap_or(if points.is_empty() || t < points[0].0 {
                first
            } else {
                last
            })
        })
        .collect()
}

/// Cumulative distance along the recorded positions, as (time, metres) points.
fn distance_from_positions(samples: &[Sample]) -> Vec<(f64, f64)> {
    distance_along(samples)
        .into_iter()
        .map(|(i, metres)| (samples[i].time_s, metres))
        .collect()
}

/// The (time, value) points of one channel.
fn channel(samples: &[Sample], get: impl Fn(&Sample) -> Option<f64>) -> Vec<(f64, f64)> {
    samples
        .iter()
        .filter_map(|s| get(s).map(|v| (s.time_s, v)))
        .collect()
}

/// Resamples a workout onto a grid of `interval_s` seconds and derives its features, for
/// training and evaluation: a workout without any valid heart rate teaches nothing and is
/// refused.
pub fn resample(workout: &Workout, interval_s: f64) -> Result<Sequence> {
    let sequence = resample_any(workout, interval_s)?;
    if sequence.valid_steps() == 0 {
        bail!("no heart rate: the workout records no heart-rate value between 30 and 240 bpm");
    }
    Ok(sequence)
}

/// [`resample`] without the need for heart rate, for prediction: a workout recorded without a
/// heart-rate strap (or a piece of one whose strap dropped out) still has its features, and every
/// step is simply invalid.
pub fn resample_any(workout: &Workout, interval_s: f64) -> Result<Sequence> {
    let samples = time_ordered(workout)?;
    let grid = grid(&samples, interval_s)?;
    let channels = Channels::on_grid(&samples, &grid, interval_s);
    let features = feature_rows(&channels, workout.gender.feature_value(), interval_s)?;
    let heart_rate = &channels.heart_rate;
    Ok(Sequence {
        features,
        heart_rate: heart_rate
            .iter()
            .map(|hr| hr.unwrap_or(0.0) as f32)
            .collect(),
        valid: heart_rate.iter().map(Option::is_some).collect(),
    })
}

/// The workout's samples in time order, one per timestamp (the first of those recorded at the
/// same time); refused where a value is not finite or there is no sample.
fn time_ordered(workout: &Workout) -> Result<Vec<Sample>> {
    workout.check_finite()?;
    let mut samples = workout.samples.clone();
    samples.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    samples.dedup_by(|b, a| a.time_s == b.time_s);
    if samples.is_empty() {
        bail!("the workout has no samples");
    }
    Ok(samples)
}

/// The grid's times: from the first sample to the last, every `interval_s` seconds. Refused where
/// it would have more than [`MAX_STEPS_PER_RECORD`] steps per sample plus [`MAX_STEPS_SLACK`].
fn grid(samples: &[Sample], interval_s: f64) -> Result<Vec<f64>> {
    let start = samples.first().map_or(0.0, |s| s.time_s);
    let duration = samples.last().map_or(0.0, |s| s.time_s) - start;
    let grid_steps = (duration / interval_s).floor() + 1.0;
    let most = MAX_STEPS_PER_RECORD * samples.len() + MAX_STEPS_SLACK;
    if !grid_steps.is_finite() || grid_steps > most as f64 {
        bail!(
            "{} records spread over {:.0} s would need {grid_steps} grid steps of {interval_s} s \
             (at most {most} for this many records): the timestamps are implausible \
             (a clock jump?) or the records too sparse",
            samples.len(),
            duration
        );
    }
    let steps = grid_steps as usize;
    Ok((0..steps).map(|k| start + k as f64 * interval_s).collect())
}

/// The recorded channels on the grid, from which the features are derived.
struct Channels {
    /// Heart rate, bpm; `None` where unknown (a dropout, or a gap longer than [`max_gap_s`]).
    heart_rate: Vec<Option<f64>>,
    /// Speed, km/h.
    speed: Vec<f64>,
    /// Altitude, m.
    altitude: Vec<f64>,
    /// Distance since the start of the recording, m.
    distance_m: Vec<f64>,
}

impl Channels {
    /// Interpolates each channel of `samples` (in time order) onto `grid`, a grid of
    /// `interval_s` seconds, deriving speed and distance from each other or from the positions
    /// where the device did not record them (see the module documentation).
    fn on_grid(samples: &[Sample], grid: &[f64], interval_s: f64) -> Channels {
        let max_gap = max_gap_s(interval_s);
        let present = |points: &Vec<(f64, f64)>| {
            !points.is_empty()
                && points.len() as f64 >= CHANNEL_PRESENT_SHARE * samples.len() as f64
        };
        let heart_rate = interpolate(
            &channel(samples, |s| {
                s.heart_rate.filter(|hr| HEART_RATE_VALID_BPM.contains(hr))
            }),
            grid,
            max_gap,
        );
        let altitude = interpolate_held(&channel(samples, |s| s.altitude_m), grid);
        let recorded_distance = channel(samples, |s| s.distance_m);
        let position_distance = distance_from_positions(samples);
        let distance_points = if present(&recorded_distance) {
            Some(recorded_distance)
        } else if present(&position_distance) {
            Some(position_distance)
        } else {
            None
        };
        let recorded_speed = channel(samples, |s| s.speed_kmh);
        let distance_m: Option<Vec<f64>> = distance_points.map(|p| interpolate_held(&p, grid));
        let speed: Vec<f64> = if present(&recorded_speed) {
            interpolate(&recorded_speed, grid, max_gap)
                .into_iter()
                .map(|v| v.unwrap_or(0.0).max(0.0))
                .collect()
        } else if let Some(d) = &distance_m {
            speed_from_distance(d, interval_s)
        } else {
            vec![0.0; grid.len()]
        };
        let distance_m = distance_m.unwrap_or_else(|| distance_from_speed(&speed, interval_s));
        Channels {
            heart_rate,
            speed,
            altitude,
            distance_m,
        }
    }
}

/// Speed (km/h) from the differences of a distance (m) on a grid of `interval_s` seconds: the
/// step before each step, the step after the first; at most [`MAX_SPEED_KMH`].
fn speed_from_distance(d: &[f64], interval_s: f64) -> Vec<f64> {
    let steps = d.len();
    (0..steps)
        .map(|k| {
            let (a, b) = if k == 0 {
                (0, 1.min(steps - 1))
            } else {
                (k - 1, k)
            };
            ((d[b] - d[a]) / interval_s * KMH_PER_MS).clamp(0.0, MAX_SPEED_KMH)
        })
        .collect()
}

/// Distance (m) as the integral of speed (km/h) on a grid of `interval_s` seconds, 0 at the first
/// step.
fn distance_from_speed(speed: &[f64], interval_s: f64) -> Vec<f64> {
    let mut total = 0.0;
    speed
        .iter()
        .enumerate()
        .map(|(k, v)| {
            if k > 0 {
                total += v / KMH_PER_MS * interval_s;
            }
            total
        })
        .collect()
}

/// The 11 features of every grid step, row after row (the table of the module documentation);
/// refused where one is not a finite f32.
fn feature_rows(channels: &Channels, gender: f64, interval_s: f64) -> Result<Vec<f32>> {
    let Channels {
        speed,
        altitude,
        distance_m,
        ..
    } = channels;
    let steps = speed.len();
    let rolling = |k: usize, window: usize| {
        let from = (k + 1).saturating_sub(window);
        speed[from..=k].iter().sum::<f64>() / (k + 1 - from) as f64
    };
    let mut features = Vec::with_capacity(steps * NUM_FEATURES);
    for k in 0..steps {
        let prev = k.saturating_sub(1);
        let row = [
            speed[k],
            altitude[k],
            gender,
            speed[k.saturating_sub(SPEED_LAG_STEPS)],
            altitude[k.saturating_sub(ALTITUDE_LAG_STEPS)],
            (speed[k] - speed[prev]) / interval_s,
            (altitude[k] - altitude[prev]) / interval_s,
            rolling(k, ROLLING_SHORT_STEPS),
            rolling(k, ROLLING_LONG_STEPS),
            k as f64 * interval_s / 60.0,
            (distance_m[k] - distance_m[0]) / 1000.0,
        ];
        if let Some(f) = row.iter().position(|&v| !finite_as_f32(v)) {
            bail!(
                "feature {} is {} at step {k}, not a finite f32 (a value far outside its range)",
                FEATURE_NAMES[f],
                row[f]
            );
        }
        features.extend(row.iter().map(|&v| v as f32));
    }
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_respects_gaps() {
        let points = [(0.0, 0.0), (10.0, 10.0), (100.0, 0.0)];
        let grid = [0.0, 5.0, 10.0, 50.0, 100.0, 105.0];
        let got = interpolate(&points, &grid, 30.0);
        assert_eq!(
            got,
            vec![Some(0.0), Some(5.0), Some(10.0), None, Some(0.0), None]
        );
        let held = interpolate_held(&points, &[-1.0, 55.0, 200.0]);
        assert_eq!(held, vec![0.0, 5.0, 0.0]);
    }

    #[test]
    fn feature_lists() {
        assert_eq!(
            parse_feature_list("all").unwrap(),
            (0..11).collect::<Vec<_>>()
        );
        assert_eq!(parse_feature_list("baseline").unwrap(), vec![0, 1, 2]);
        assert_eq!(
            parse_feature_list("bounded").unwrap(),
            (0..9).collect::<Vec<_>>(),
            "all but time_elapsed and distance"
        );
        assert_eq!(parse_feature_list("lags").unwrap(), vec![0, 1, 2, 3, 4]);
        assert_eq!(
            parse_feature_list("distance, speed,speed").unwrap(),
            vec![0, 10]
        );
        let err = parse_feature_list("speed,heartbeat")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"heartbeat\""), "{err}");
        assert!(err.contains("history, sport"), "{err}");
    }

    #[test]
    fn person_level_sets() {
        assert_eq!(
            parse_feature_list("baseline,person").unwrap(),
            [0, 1, 2, 11, 12]
        );
        assert_eq!(
            parse_feature_list("speed,history").unwrap(),
            [0, 13, 14, 15, 16, 17, 18, 19]
        );
        assert_eq!(parse_feature_list("sport,speed").unwrap(), [0, 20, 21]);
        assert_eq!(INPUT_NAMES[20], "sport_run");
        assert_eq!(INPUT_NAMES.len(), NUM_FEATURES + NUM_PERSON_INPUTS);
    }
}
