//! FIT files (Garmin's binary activity format), decoded by the `fitparser` crate.
//!
//! A workout is the sequence of `record` messages: timestamp, heart_rate, enhanced_speed or
//! speed (m/s), distance (m), enhanced_altitude or altitude (m), position_lat/position_long
//! (semicircles). The sport comes from the `sport` or `session` messages.
//!
//! The person's resting and maximal heart rate, as the device was set up with them, come from
//! the `user_profile` message (`resting_heart_rate`, `default_max_heart_rate`), the
//! `zones_target` message (`max_heart_rate`) or the `time_in_zone` message
//! (`resting_heart_rate`, `max_heart_rate`), the first one found of each. Never from the
//! `session` or `lap` messages: their maximal heart rate is this workout's, measured from the
//! very heart rate the model predicts.

use super::{Profile, Sample};
use anyhow::{Result, anyhow};
use fitparser::profile::MesgNum;
use fitparser::{FitDataRecord, Value};

/// Degrees per semicircle: FIT stores positions as 2^31 semicircles per 180 degrees.
const DEGREES_PER_SEMICIRCLE: f64 = 180.0 / 2_147_483_648.0;
/// km/h per m/s.
const KMH_PER_MS: f64 = 3.6;

/// A numeric field value as f64 (`None` for strings, arrays and invalid values).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Timestamp(t) => Some(t.timestamp_millis() as f64 / 1000.0),
        Value::Byte(v) | Value::Enum(v) | Value::UInt8(v) | Value::UInt8z(v) => Some(f64::from(*v)),
        Value::SInt8(v) => Some(f64::from(*v)),
        Value::SInt16(v) => Some(f64::from(*v)),
        Value::UInt16(v) | Value::UInt16z(v) => Some(f64::from(*v)),
        Value::SInt32(v) => Some(f64::from(*v)),
        Value::UInt32(v) | Value::UInt32z(v) => Some(f64::from(*v)),
        Value::Float32(v) => Some(f64::from(*v)),
        Value::Float64(v) => Some(*v),
        Value::SInt64(v) => Some(*v as f64),
        Value::UInt64(v) | Value::UInt64z(v) => Some(*v as f64),
        _ => None,
    }
}

/// The value of the first of `names` that the message carries.
fn field(record: &FitDataRecord, names: &[&str]) -> Option<f64> {
    names.iter().find_map(|name| {
        record
            .fields()
            .iter()
            .find(|f| f.name() == *name)
            .and_then(|f| number(f.value()))
    })
}

/// Runs fitparser on `bytes`, turning a panic inside it into an error. fitparser 0.11 has
/// arithmetic that overflows on some corrupt files (a few stray bytes after the file's CRC, the
/// first of them below their count, underflow while it computes how many header bytes are
/// missing): a panic in builds with overflow checks, where the decoder's error would do.
fn decode(bytes: &[u8]) -> Result<Vec<FitDataRecord>> {
    std::panic::catch_unwind(|| fitparser::from_bytes(bytes))
        .map_err(|_| anyhow!("not a valid FIT file: the FIT decoder failed on it (corrupt?)"))?
        .map_err(|err| anyhow!("not a valid FIT file (truncated or corrupt?): {err}"))
}

/// What a FIT file holds for hrcast.
#[derive(Debug)]
pub struct FitWorkout {
    /// The sports the file names, joined by `/`.
    pub sport: String,
    /// The records, in file order.
    pub samples: Vec<Sample>,
    /// The person's resting and maximal heart rate, where the file records them (checked with
    /// [`Profile::checked`]).
    pub profile: Profile,
}

/// Decodes a FIT file into its sport, samples and person profile.
pub fn read(bytes: &[u8]) -> Result<FitWorkout> {
    let records = decode(bytes)?;
    let mut sports: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    let mut profile = Profile::default();
    for record in &records {
        match record.kind() {
            MesgNum::Record => {
                let Some(time_s) = field(record, &["timestamp"]) else {
                    continue;
                };
                samples.push(Sample {
                    time_s,
                    heart_rate: field(record, &["heart_rate"]),
                    speed_kmh: field(record, &["enhanced_speed", "speed"]).map(|v| v * KMH_PER_MS),
                    distance_m: field(record, &["distance"]),
                    altitude_m: field(record, &["enhanced_altitude", "altitude"]),
                    latitude: field(record, &["position_lat"]).map(|v| v * DEGREES_PER_SEMICIRCLE),
                    longitude: field(record, &["position_long"])
                        .map(|v| v * DEGREES_PER_SEMICIRCLE),
                });
            }
            MesgNum::Sport | MesgNum::Session => {
                let sport = record.fields().iter().find(|f| f.name() == "sport");
                if let Some(sport) = sport.map(|f| f.value().to_string())
                    && !sports.contains(&sport)
                {
                    sports.push(sport);
                }
            }
            MesgNum::UserProfile | MesgNum::ZonesTarget | MesgNum::TimeInZone => {
                let found = Profile {
                    resting_hr: field(record, &["resting_heart_rate"]),
                    max_hr: field(record, &["default_max_heart_rate", "max_heart_rate"]),
                };
                profile = profile.or(found.checked());
            }
            _ => {}
        }
    }
    if samples.is_empty() {
        return Err(anyhow!("the FIT file has no timestamped record messages"));
    }
    Ok(FitWorkout {
        sport: sports.join("/"),
        samples,
        profile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIT: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/workouts/sweat/2020-06-01-16-52-40.fit"
    ));

    #[test]
    fn stray_bytes_after_the_file_are_an_error_not_a_panic() {
        assert!(read(FIT).is_ok());
        // Found by fuzzing: a header size below the number of bytes left made fitparser
        // subtract past zero.
        let mut bytes = FIT.to_vec();
        bytes.extend_from_slice(&[0, 1, 2, 3, 4]);
        let err = read(&bytes).unwrap_err().to_string();
        assert!(err.contains("not a valid FIT file"), "{err}");
    }
}
