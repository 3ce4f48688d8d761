//! Cleaning a workout as a device recorded it, before it is resampled.
//!
//! Real files carry records that no model should see: a first record stamped 1990 because the
//! device clock was not yet set, one point stamped in 2100, timestamps in milliseconds, a clock
//! that jumps back or forward, an altitude of 1e39. [`clean`] keeps what can be trusted and
//! says, in one note per kind of fault, what it dropped:
//!
//! 1. Timestamps that look like milliseconds (the median above [`MILLISECONDS_ABOVE`], which in
//!    seconds would be after the year 5000) are divided by 1000.
//! 2. A channel value that is not a finite number, not finite as f32 (the model's precision), or
//!    outside its physical range ([`RANGES`]) is removed from its record; the record's other
//!    channels stay. Heart rates outside 30-240 bpm are kept here and masked later as dropouts.
//! 3. Records are walked in recording order. A record at or before the previous one is dropped;
//!    a jump of more than [`SPLIT_GAP_S`] (forwards or backwards) starts a new piece: a clock
//!    jump or a long pause. Pieces of fewer than [`MIN_PIECE_RECORDS`] records are dropped (a
//!    lone record stamped far from the rest), the others become workouts of their own with the
//!    same ids, in time order.
//!
//! Memory stays proportional to the records kept: nothing here, or in the resampling after it,
//! allocates over a gap between records.

use super::{Sample, Workout};

/// A jump between consecutive records longer than this (seconds) splits the workout.
pub const SPLIT_GAP_S: f64 = 30.0 * 60.0;
/// A piece needs at least this many records to be kept.
pub const MIN_PIECE_RECORDS: usize = 2;
/// A median timestamp above this (Unix seconds; the year 5138) means milliseconds.
pub const MILLISECONDS_ABOVE: f64 = 1e11;
/// The fastest speed taken as real, km/h: faster than any bicycle on a road or a skier
/// downhill is a sensor fault.
pub const MAX_SPEED_KMH: f64 = 300.0;
/// Milliseconds per second.
const MS_PER_S: f64 = 1000.0;

/// A channel's name and the physical range of its values.
struct Range {
    name: &'static str,
    unit: &'static str,
    min: f64,
    max: f64,
}

/// The physical range of each channel, in the order of [`channels`].
const RANGES: [Range; 6] = [
    // Dropouts (below 30 or above 240 bpm) are masked later; this only removes nonsense.
    Range {
        name: "heart_rate",
        unit: "bpm",
        min: 0.0,
        max: 1000.0,
    },
    Range {
        name: "speed",
        unit: "km/h",
        min: 0.0,
        max: MAX_SPEED_KMH,
    },
    // Once around the Earth is more than any workout covers.
    Range {
        name: "distance",
        unit: "m",
        min: 0.0,
        max: 40_075_000.0,
    },
    // From the shore of the Dead Sea (-430 m) to above Everest (8,849 m).
    Range {
        name: "altitude",
        unit: "m",
        min: -500.0,
        max: 9_000.0,
    },
    Range {
        name: "latitude",
        unit: "degrees",
        min: -90.0,
        max: 90.0,
    },
    Range {
        name: "longitude",
        unit: "degrees",
        min: -180.0,
        max: 180.0,
    },
];

/// The optional channels of a sample, in the order of [`RANGES`].
fn channels(s: &mut Sample) -> [&mut Option<f64>; 6] {
    [
        &mut s.heart_rate,
        &mut s.speed_kmh,
        &mut s.distance_m,
        &mut s.altitude_m,
        &mut s.latitude,
        &mut s.longitude,
    ]
}

/// Whether a value is a finite number that stays finite as f32.
pub fn finite_as_f32(v: f64) -> bool {
    v.is_finite() && (v as f32).is_finite()
}

/// What [`clean`] made of one workout.
#[derive(Debug, Clone)]
pub struct Cleaned {
    /// The usable pieces, in time order (one, unless the workout had a long gap or clock jump).
    pub pieces: Vec<Workout>,
    /// One line per kind of fault found, for a warning naming the workout.
    pub notes: Vec<String>,
}

/// Cleans one workout (see the module documentation).
pub fn clean(workout: &Workout) -> Cleaned {
    let mut notes = Vec::new();
    let mut samples = workout.samples.clone();

    let non_finite_time = samples.iter().filter(|s| !s.time_s.is_finite()).count();
    if non_finite_time > 0 {
        samples.retain(|s| s.time_s.is_finite());
        notes.push(format!(
            "{non_finite_time} records without a usable timestamp dropped"
        ));
    }
    if let Some(median) = median_time(&samples)
        && median.abs() > MILLISECONDS_ABOVE
        && (median / MS_PER_S).abs() <= MILLISECONDS_ABOVE
    {
        for s in &mut samples {
            s.time_s /= MS_PER_S;
        }
        notes.push("timestamps are in milliseconds, not seconds: read as milliseconds".into());
    }

    for (c, range) in RANGES.iter().enumerate() {
        let (mut removed, mut first) = (0usize, None);
        for (i, s) in samples.iter_mut().enumerate() {
            let Some(value) = channels(s).into_iter().nth(c) else {
                continue;
            };
            if let Some(v) = *value
                && !(finite_as_f32(v) && (range.min..=range.max).contains(&v))
            {
                *value = None;
                removed += 1;
                first.get_or_insert((i, v));
            }
        }
        if let Some((i, v)) = first {
            notes.push(format!(
                "{}: {removed} value{} outside {} to {} {} or not a finite number ignored \
                 (first: {} in record {i})",
                range.name,
                if removed == 1 { "" } else { "s" },
                range.min,
                range.max,
                range.unit,
                readable(v)
            ));
        }
    }

    let (pieces, out_of_order) = split_pieces(samples);
    if out_of_order > 0 {
        notes.push(format!(
            "{out_of_order} records stamped at or before the record before them dropped"
        ));
    }
    let total = pieces.len();
    let (kept, dropped): (Vec<Vec<Sample>>, Vec<Vec<Sample>>) = pieces
        .into_iter()
        .partition(|p| p.len() >= MIN_PIECE_RECORDS);
    if !dropped.is_empty() {
        let records: usize = dropped.iter().map(Vec::len).sum();
        let when: Vec<String> = dropped
            .iter()
            .take(3)
            .map(|p| describe_time(p[0].time_s))
            .collect();
        notes.push(format!(
            "{records} record{} stamped more than {} min apart from the others dropped \
             (a clock not yet set or a jump; at {})",
            if records == 1 { "" } else { "s" },
            SPLIT_GAP_S / 60.0,
            when.join(", ")
        ));
    }
    if kept.len() > 1 {
        notes.push(format!(
            "split into {} parts at gaps of more than {} min ({} pieces before dropping)",
            kept.len(),
            SPLIT_GAP_S / 60.0,
            total
        ));
    }
    let mut pieces: Vec<Workout> = kept
        .into_iter()
        .map(|samples| Workout {
            samples,
            ..workout_without_samples(workout)
        })
        .collect();
    pieces.sort_by(|a, b| a.start_time().total_cmp(&b.start_time()));
    Cleaned { pieces, notes }
}

/// A copy of a workout's identity with no samples.
fn workout_without_samples(w: &Workout) -> Workout {
    Workout {
        source: w.source.clone(),
        workout_id: w.workout_id,
        user_id: w.user_id,
        person: w.person.clone(),
        gender: w.gender,
        sport: w.sport.clone(),
        profile: w.profile,
        samples: Vec::new(),
    }
}

/// The median of the finite timestamps.
fn median_time(samples: &[Sample]) -> Option<f64> {
    let mut times: Vec<f64> = samples.iter().map(|s| s.time_s).collect();
    if times.is_empty() {
        return None;
    }
    let middle = times.len() / 2;
    let (_, median, _) = times.select_nth_unstable_by(middle, f64::total_cmp);
    Some(*median)
}

/// Walks the records in recording order into pieces: a record at or before the previous one
/// is dropped unless the clock jumped back by more than [`SPLIT_GAP_S`]; such a jump, or one
/// forwards, starts a new piece. Returns the pieces and the number of records dropped.
fn split_pieces(samples: Vec<Sample>) -> (Vec<Vec<Sample>>, usize) {
    let mut pieces: Vec<Vec<Sample>> = Vec::new();
    let mut dropped = 0;
    for s in samples {
        let previous = pieces.last().and_then(|p| p.last()).map(|p| p.time_s);
        match previous {
            Some(t) if (s.time_s - t).abs() > SPLIT_GAP_S => pieces.push(vec![s]),
            Some(t) if s.time_s <= t => dropped += 1,
            Some(_) => pieces.last_mut().expect("a previous record").push(s),
            None => pieces.push(vec![s]),
        }
    }
    (pieces, dropped)
}

/// A number as a person reads it: 1e39 rather than forty digits.
fn readable(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-3..1e7).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// A Unix time as a UTC date and time, or the number where it is out of chrono's range.
fn describe_time(t: f64) -> String {
    chrono::DateTime::from_timestamp(t as i64, 0).map_or_else(
        || format!("{t} s"),
        |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Gender;

    fn workout(times: &[f64]) -> Workout {
        Workout {
            source: "w".into(),
            workout_id: 1,
            user_id: 2,
            person: "p".into(),
            gender: Gender::Unknown,
            profile: Default::default(),
            sport: String::new(),
            samples: times
                .iter()
                .map(|&time_s| Sample {
                    time_s,
                    heart_rate: Some(120.0),
                    ..Sample::default()
                })
                .collect(),
        }
    }

    fn times(w: &Workout) -> Vec<f64> {
        w.samples.iter().map(|s| s.time_s).collect()
    }

    const T0: f64 = 1.6e9;

    #[test]
    fn a_lone_record_far_from_the_others_is_dropped() {
        let c = clean(&workout(&[631_152_000.0, T0, T0 + 1.0, T0 + 2.0, 4.1e9]));
        assert_eq!(c.pieces.len(), 1);
        assert_eq!(times(&c.pieces[0]), vec![T0, T0 + 1.0, T0 + 2.0]);
        assert!(
            c.notes.iter().any(|n| n.contains("1990-01-01")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn a_clock_jump_splits_and_backwards_records_are_dropped() {
        let c = clean(&workout(&[
            T0,
            T0 + 1.0,
            T0 + 0.5,
            T0 + 2.0,
            T0 + 1e6,
            T0 + 1e6 + 1.0,
        ]));
        assert_eq!(c.pieces.len(), 2);
        assert_eq!(times(&c.pieces[0]), vec![T0, T0 + 1.0, T0 + 2.0]);
        assert_eq!(times(&c.pieces[1]), vec![T0 + 1e6, T0 + 1e6 + 1.0]);
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("1 records stamped at or before"))
        );
        assert!(c.notes.iter().any(|n| n.contains("split into 2 parts")));
    }

    #[test]
    fn milliseconds_are_read_as_such() {
        let c = clean(&workout(&[T0 * 1000.0, T0 * 1000.0 + 1000.0]));
        assert_eq!(times(&c.pieces[0]), vec![T0, T0 + 1.0]);
        assert!(c.notes[0].contains("milliseconds"));
    }

    #[test]
    fn values_beyond_f32_or_physics_are_removed_from_their_record() {
        let mut w = workout(&[T0, T0 + 1.0, T0 + 2.0]);
        w.samples[0].altitude_m = Some(1e39);
        w.samples[1].altitude_m = Some(100.0);
        w.samples[2].speed_kmh = Some(f64::NAN);
        let c = clean(&w);
        let s = &c.pieces[0].samples;
        assert_eq!((s[0].altitude_m, s[1].altitude_m), (None, Some(100.0)));
        assert_eq!(s[2].speed_kmh, None);
        assert_eq!(s[2].heart_rate, Some(120.0));
        assert!(
            c.notes.iter().any(|n| n.starts_with("altitude: 1 value")),
            "{:?}",
            c.notes
        );
        assert!(
            c.notes.iter().any(|n| n.starts_with("speed: 1 value")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn a_clean_workout_is_left_alone() {
        let w = workout(&[T0, T0 + 1.0, T0 + 2.0]);
        let c = clean(&w);
        assert!(c.notes.is_empty());
        assert_eq!(c.pieces[0].samples, w.samples);
    }
}
