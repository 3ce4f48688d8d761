//! FitRec/Endomondo JSON lines (`endomondoHR_proper.json`).
//!
//! One workout per line, written as a Python-dict literal (single quotes), which JSON5 reads:
//! `{'id': 1, 'userId': 7, 'gender': 'male', 'sport': 'run', 'timestamp': [...],
//! 'altitude': [...], 'heart_rate': [...], 'latitude': [...], 'longitude': [...], 'speed': [...]}`.
//! `speed` (km/h) is optional; without it speed is derived from the positions. hrcast's
//! synthetic files add the person's `'restingHeartRate'` and `'maxHeartRate'` (bpm), which
//! FitRec's own files lack; both are optional.

use super::{Gender, Profile, Sample, Skipped, Workout};
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
    #[serde(default)]
    resting_heart_rate: Optional,
    #[serde(default)]
    max_heart_rate: Optional,
}

/// An optional number that is not worth losing the workout over: anything but a number (a
/// string, a list, null) reads as absent.
#[derive(Debug, Default, Deserialize)]
#[serde(from = "AnyValue")]
struct Optional(Option<f64>);

/// Any JSON5 value, as [`Optional`] reads it.
#[derive(Deserialize)]
#[serde(untagged)]
enum AnyValue {
    Number(f64),
    Other(serde::de::IgnoredAny),
}

impl From<AnyValue> for Optional {
    fn from(value: AnyValue) -> Optional {
        match value {
            AnyValue::Number(v) => Optional(Some(v)),
            AnyValue::Other(_) => Optional(None),
        }
    }
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
            person: format!("user {}", self.user_id),
            gender,
            sport: self.sport,
            profile: Profile {
                resting_hr: self.resting_heart_rate.0,
                max_hr: self.max_heart_rate.0,
            }
            .checked(),
            samples,
        })
    }
}

/// The deepest nesting of arrays and objects a line may have. A workout line nests two deep
/// (the object and its arrays); json5 recurses once per level, for keys it ignores too, so a
/// corrupt line of a million `[` would overflow the stack (an abort, not an error).
const MAX_NESTING: usize = 32;

/// The deepest nesting of arrays and objects in a JSON5 text. Brackets inside strings and
/// comments do not count; strings and comments end where json5 ends them (a backslash escapes
/// the next character; `//` runs to a line terminator, `/*` to the next `*/`).
fn nesting_depth(text: &str) -> usize {
    let mut chars = text.chars().peekable();
    let (mut depth, mut deepest) = (0usize, 0usize);
    while let Some(c) = chars.next() {
        match c {
            '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            '\'' | '"' => {
                while let Some(s) = chars.next() {
                    if s == '\\' {
                        chars.next();
                    } else if s == c {
                        break;
                    }
                }
            }
            '/' => match chars.peek() {
                Some('/') => {
                    for s in chars.by_ref() {
                        if matches!(s, '\n' | '\r' | '\u{2028}' | '\u{2029}') {
                            break;
                        }
                    }
                }
                Some('*') => {
                    chars.next();
                    let mut previous = ' ';
                    for s in chars.by_ref() {
                        if previous == '*' && s == '/' {
                            break;
                        }
                        previous = s;
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    deepest
}

/// Parses one line into a workout.
fn parse_line(line: &str, source: String) -> Result<Workout> {
    let depth = nesting_depth(line);
    if depth > MAX_NESTING {
        bail!("arrays or objects nested {depth} deep (a workout line nests 2)");
    }
    json5::from_str::<Line>(line)?.into_workout(source)
}

/// Reads one line (without its line ending) of a FitRec file into a workout; `source` names it
/// (`file:line`). A line that is not a workout is passed over with the reason.
pub fn read_line(line: &[u8], source: String) -> Result<Workout, Skipped> {
    let parsed = match std::str::from_utf8(line) {
        Ok(text) => parse_line(text, source.clone()),
        Err(_) => Err(anyhow::anyhow!("not UTF-8 text")),
    };
    parsed.map_err(|err| Skipped {
        source,
        reason: format!("not a FitRec workout line: {err:#}"),
    })
}

/// Why a FitRec file gave no workout, where `bad` of its lines were not workouts.
pub fn no_workout(bad: usize) -> String {
    format!("none of its {bad} lines is a FitRec workout")
}

/// Whether a line is blank (whitespace only), so neither a workout nor a bad line.
fn blank(line: &[u8]) -> bool {
    std::str::from_utf8(line).is_ok_and(|text| text.trim().is_empty())
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
        if blank(line.as_bytes()) {
            continue;
        }
        match read_line(line.as_bytes(), format!("{source}:{}", index + 1)) {
            Ok(workout) => workouts.push(workout),
            Err(skip) => {
                bad += 1;
                skipped.push(skip);
            }
        }
    }
    if workouts.is_empty() {
        bail!(no_workout(bad));
    }
    Ok(workouts)
}

/// The lines of a FitRec file read one at a time, as [`read`] splits them (at `\n`, a `\r`
/// before it dropped), blank ones passed over: a file of any size in the memory of one line.
pub struct Lines<R> {
    reader: R,
    /// Lines read so far, blank ones included.
    count: usize,
    /// Whether every byte read so far is ASCII whitespace (the file is empty so far).
    empty: bool,
}

impl<R: std::io::BufRead> Lines<R> {
    /// The lines of `reader`.
    pub fn new(reader: R) -> Lines<R> {
        Lines {
            reader,
            count: 0,
            empty: true,
        }
    }

    /// The next line that is not blank, with its number (from 1), or `None` at the end.
    pub fn next_line(&mut self) -> std::io::Result<Option<(usize, Vec<u8>)>> {
        loop {
            let mut line = Vec::new();
            if self.reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(None);
            }
            self.count += 1;
            self.empty &= line.iter().all(u8::is_ascii_whitespace);
            if line.ends_with(b"\n") {
                line.pop();
                if line.ends_with(b"\r") {
                    line.pop();
                }
            }
            if !blank(&line) {
                return Ok(Some((self.count, line)));
            }
        }
    }

    /// Whether the lines read so far hold nothing but ASCII whitespace (an empty file, once
    /// every line is read).
    pub fn empty(&self) -> bool {
        self.empty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_depth_skips_strings_and_comments() {
        assert_eq!(nesting_depth("{'a': [1, 2], 'b': [[3]]}"), 3);
        assert_eq!(nesting_depth("{'a': '[[[[', \"b\": \"\\\"[[[\"}"), 1);
        assert_eq!(nesting_depth("{/* [[[[ */ 'a': 1 // [[[["), 1);
        assert_eq!(nesting_depth("{'a': ']]]]', 'b': [[[1]]]}"), 4);
        assert_eq!(nesting_depth("/*/ [[ */ ["), 1);
    }

    #[test]
    fn a_line_names_its_person_by_user_id_and_its_workout_by_line() {
        let line = "{'id': 1, 'userId': 2, 'timestamp': [0, 1], 'heart_rate': [100, 101]}";
        let workouts = read(line.as_bytes(), "in/endomondo.json", &mut Vec::new()).unwrap();
        assert_eq!(workouts[0].person, "user 2");
        assert_eq!(workouts[0].name(), "user 2/endomondo.json:1");
    }

    #[test]
    fn a_deeply_nested_line_is_an_error_not_a_stack_overflow() {
        let good = "{'id': 1, 'userId': 2, 'timestamp': [0, 1], 'heart_rate': [100, 101]}";
        let deep = format!(
            "{{'id': 1, 'userId': 2, 'x': {}, 'timestamp': [0], 'heart_rate': [100]}}",
            "[".repeat(1_000_000)
        );
        let text = format!("{good}\n{deep}\n");
        let mut skipped = Vec::new();
        let workouts = read(text.as_bytes(), "f", &mut skipped).unwrap();
        assert_eq!(workouts.len(), 1);
        assert_eq!(skipped.len(), 1);
        assert!(
            skipped[0].reason.contains("nested"),
            "{}",
            skipped[0].reason
        );
    }
}
