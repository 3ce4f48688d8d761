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
//!
//! Some devices (COROS among them) define fields whose size is no multiple of their type's, a
//! 1-byte `uint32`: the decoder reads them as raw bytes (hrcast's patch of fitparser records
//! them rather than printing a line each). Where such a field is one hrcast reads, its values are
//! ignored and the file gets one note; elsewhere nothing changes and nothing is said.

use super::{Profile, Sample};
use anyhow::{Result, anyhow};
use fitparser::de::{OddSizeField, take_odd_size_fields};
use fitparser::profile::MesgNum;
use fitparser::{FitDataRecord, Value};
use std::collections::{BTreeMap, HashSet};

/// Degrees per semicircle: FIT stores positions as 2^31 semicircles per 180 degrees.
const DEGREES_PER_SEMICIRCLE: f64 = 180.0 / 2_147_483_648.0;
/// km/h per m/s.
const KMH_PER_MS: f64 = 3.6;

/// The fields hrcast reads, each a list of names tried in order.
const TIMESTAMP: &[&str] = &["timestamp"];
const HEART_RATE: &[&str] = &["heart_rate"];
const SPEED: &[&str] = &["enhanced_speed", "speed"];
const DISTANCE: &[&str] = &["distance"];
const ALTITUDE: &[&str] = &["enhanced_altitude", "altitude"];
const LATITUDE: &[&str] = &["position_lat"];
const LONGITUDE: &[&str] = &["position_long"];
const SPORT: &[&str] = &["sport"];
const RESTING_HR: &[&str] = &["resting_heart_rate"];
const MAX_HR: &[&str] = &["default_max_heart_rate", "max_heart_rate"];

/// The fields hrcast reads from messages of `kind`.
fn fields_read(kind: MesgNum) -> &'static [&'static [&'static str]] {
    match kind {
        MesgNum::Record => &[
            TIMESTAMP, HEART_RATE, SPEED, DISTANCE, ALTITUDE, LATITUDE, LONGITUDE,
        ],
        MesgNum::Sport | MesgNum::Session => &[SPORT],
        MesgNum::UserProfile | MesgNum::ZonesTarget | MesgNum::TimeInZone => &[RESTING_HR, MAX_HR],
        _ => &[],
    }
}

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

/// A decoded FIT file.
struct Decoded {
    /// The messages, in file order.
    records: Vec<FitDataRecord>,
    /// The fields defined with a size that is no multiple of their type's, read as raw bytes.
    odd_size: Vec<OddSizeField>,
}

/// Runs fitparser on `bytes`, turning a panic inside it into an error. fitparser 0.11 has
/// arithmetic that overflows on some corrupt files (a few stray bytes after the file's CRC, the
/// first of them below their count, underflow while it computes how many header bytes are
/// missing): a panic in builds with overflow checks, where the decoder's error would do.
fn decode(bytes: &[u8]) -> Result<Decoded> {
    // What an earlier decode on this thread left (one that failed half way) is not this file's.
    take_odd_size_fields();
    let records = std::panic::catch_unwind(|| fitparser::from_bytes(bytes))
        .map_err(|_| anyhow!("not a valid FIT file: the FIT decoder failed on it (corrupt?)"))?
        .map_err(|err| anyhow!("not a valid FIT file (truncated or corrupt?): {err}"))?;
    Ok(Decoded {
        records,
        odd_size: take_odd_size_fields(),
    })
}

/// The fields hrcast reads that the file defines with an odd size, as (message number, field
/// number), each with a description for the note: their raw bytes are no value.
fn odd_size_fields_read(decoded: &Decoded) -> BTreeMap<(u16, u8), String> {
    let mut found = BTreeMap::new();
    if decoded.odd_size.is_empty() {
        return found;
    }
    let odd: HashSet<(u16, u8)> = decoded
        .odd_size
        .iter()
        .map(|f| (f.global_message_number, f.field_definition_number))
        .collect();
    for record in &decoded.records {
        let kind = record.kind();
        let names = fields_read(kind);
        for f in record.fields() {
            let key = (kind.as_u16(), f.number());
            if odd.contains(&key) && names.iter().any(|n| n.contains(&f.name())) {
                let def = decoded
                    .odd_size
                    .iter()
                    .find(|d| (d.global_message_number, d.field_definition_number) == key);
                let what = def.map_or(String::new(), |d| {
                    let unit = if d.size == 1 { "byte" } else { "bytes" };
                    format!(" ({} {unit} for a {})", d.size, d.base_type)
                });
                found
                    .entry(key)
                    .or_insert_with(|| format!("{kind} {}{what}", f.name()));
            }
        }
    }
    found
}

/// The value of the first of `names` that the message carries, unless the file defines that
/// field with an odd size (`ignored`).
fn field(record: &FitDataRecord, names: &[&str], ignored: &HashSet<(u16, u8)>) -> Option<f64> {
    let kind = record.kind().as_u16();
    names.iter().find_map(|name| {
        record
            .fields()
            .iter()
            .find(|f| f.name() == *name && !ignored.contains(&(kind, f.number())))
            .and_then(|f| number(f.value()))
    })
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
    /// What was passed over in the file, for a warning: fields hrcast reads that the file defines
    /// with a size no multiple of their type's (`None` where there are none).
    pub note: Option<String>,
}

/// Decodes a FIT file into its sport, samples and person profile.
pub fn read(bytes: &[u8]) -> Result<FitWorkout> {
    let decoded = decode(bytes)?;
    let odd_read = odd_size_fields_read(&decoded);
    let ignored: HashSet<(u16, u8)> = odd_read.keys().copied().collect();
    let field = |record: &FitDataRecord, names: &[&str]| field(record, names, &ignored);
    let mut sports: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    let mut profile = Profile::default();
    for record in &decoded.records {
        match record.kind() {
            MesgNum::Record => {
                let Some(time_s) = field(record, TIMESTAMP) else {
                    continue;
                };
                let degrees = |v: f64| v * DEGREES_PER_SEMICIRCLE;
                samples.push(Sample {
                    time_s,
                    heart_rate: field(record, HEART_RATE),
                    speed_kmh: field(record, SPEED).map(|v| v * KMH_PER_MS),
                    distance_m: field(record, DISTANCE),
                    altitude_m: field(record, ALTITUDE),
                    latitude: field(record, LATITUDE).map(degrees),
                    longitude: field(record, LONGITUDE).map(degrees),
                });
            }
            MesgNum::Sport | MesgNum::Session => {
                let kind = record.kind().as_u16();
                let sport = record
                    .fields()
                    .iter()
                    .find(|f| SPORT.contains(&f.name()) && !ignored.contains(&(kind, f.number())));
                if let Some(sport) = sport.map(|f| f.value().to_string())
                    && !sports.contains(&sport)
                {
                    sports.push(sport);
                }
            }
            MesgNum::UserProfile | MesgNum::ZonesTarget | MesgNum::TimeInZone => {
                let found = Profile {
                    resting_hr: field(record, RESTING_HR),
                    max_hr: field(record, MAX_HR),
                };
                profile = profile.or(found.checked());
            }
            _ => {}
        }
    }
    if samples.is_empty() {
        return Err(anyhow!("the FIT file has no timestamped record messages"));
    }
    let note = (!odd_read.is_empty()).then(|| {
        let fields: Vec<String> = odd_read.into_values().collect();
        format!(
            "{} of its fields defined with a size that is no multiple of their type's, read as \
             raw bytes, ignored: {}",
            fields.len(),
            fields.join(", ")
        )
    });
    Ok(FitWorkout {
        sport: sports.join("/"),
        samples,
        profile,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIT: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/workouts/sweat/2020-06-01-16-52-40.fit"
    ));

    /// A COROS PACE 2 run (tests/data/brands/coros): one definition of a 1-byte uint32 field.
    const COROS: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/brands/coros/448700156267757569.fit"
    ));

    #[test]
    fn odd_size_fields_are_recorded_by_the_patched_decoder_and_passed_over_where_unread() {
        // The patched fitparser (vendor/fitparser) records the field instead of printing it.
        let decoded = decode(COROS).unwrap();
        let event_data = OddSizeField {
            global_message_number: MesgNum::Event.as_u16(),
            field_definition_number: 3,
            size: 1,
            base_type: fitparser::profile::field_types::FitBaseType::Uint32,
        };
        assert_eq!(decoded.odd_size, [event_data]);
        // `event.data` is no field hrcast reads: the workout is whole and there is no note.
        assert!(odd_size_fields_read(&decoded).is_empty());
        let coros = read(COROS).unwrap();
        assert_eq!((coros.samples.len(), coros.note), (1525, None));
        // The record is per call: a second file on this thread does not inherit the first's.
        assert!(decode(FIT).unwrap().odd_size.is_empty());
    }

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
