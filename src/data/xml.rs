//! TCX and GPX files: XML track points, read with `quick-xml`.
//!
//! Both formats are a list of track points (`Trackpoint` in TCX, also in a course; `trkpt` in
//! GPX, else the route points `rtept` of a planned route) whose children carry the channels. [`track_points`] flattens each point into `path -> text` pairs (paths of
//! local names below the point, namespaces dropped), and the two readers map the paths they know:
//!
//! | channel | TCX path | GPX path |
//! | --- | --- | --- |
//! | time | `Time` | `time` |
//! | heart rate | `HeartRateBpm/Value` | `extensions/TrackPointExtension/hr` |
//! | speed (m/s) | `Extensions/TPX/Speed` | `extensions/TrackPointExtension/speed` |
//! | distance (m) | `DistanceMeters` | — (from positions) |
//! | altitude (m) | `AltitudeMeters` | `ele` |
//! | position | `Position/LatitudeDegrees`, `Position/LongitudeDegrees` | `lat`, `lon` attributes |

use super::{PointTimes, Sample};
use anyhow::{Result, anyhow, bail};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::collections::HashMap;

/// km/h per m/s.
const KMH_PER_MS: f64 = 3.6;
/// The most elements below a track point that a path the readers map has (the table above has
/// at most 3); text deeper down is not kept.
const MAX_PATH_DEPTH: usize = 3;

/// One track point: its attributes and the text of its descendants, by path below it.
#[derive(Debug, Default)]
struct Point {
    fields: HashMap<String, String>,
}

impl Point {
    /// The number at `path`: `None` where the point has none, NaN where its text is not a
    /// number (cleaning then removes the value and says so, keeping the point's other channels).
    fn number(&self, path: &str) -> Option<f64> {
        self.fields
            .get(path)
            .map(|text| text.parse::<f64>().unwrap_or(f64::NAN))
    }

    /// The time at `path` in Unix seconds: NaN where the point has none or its text is not an
    /// RFC 3339 time (cleaning then drops the point and says so; one bad point does not cost
    /// the workout).
    fn time(&self, path: &str) -> f64 {
        self.fields
            .get(path)
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
            .map_or(f64::NAN, |time| time.timestamp_millis() as f64 / 1000.0)
    }
}

/// What the walk over a document found: the track points, and for the elements outside them,
/// the first text and attributes seen by local name (`name`, `name@attribute`).
#[derive(Debug, Default)]
struct Document {
    points: Vec<Point>,
    outside: HashMap<String, String>,
}

fn local_name(element: &BytesStart) -> String {
    element.local_name().as_ref().to_string()
}

/// Records the attributes of `element` (the first of each name wins). Duplicate names are not
/// checked: quick-xml's check compares each attribute with all before it, quadratic in their
/// number, and a corrupt file may carry thousands on one element.
fn attributes(element: &BytesStart, prefix: &str, into: &mut HashMap<String, String>) {
    for attr in element.attributes().with_checks(false).flatten() {
        let key = attr.key.local_name().as_ref().to_string();
        let value = attr.value.to_string();
        into.entry(format!("{prefix}{key}")).or_insert(value);
    }
}

/// Walks the document, collecting every element named `point` (by local name).
fn track_points(bytes: &[u8], point: &str) -> Result<Document> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut doc = Document::default();
    let mut stack: Vec<String> = Vec::new();
    // Depth of the stack at which the current point's element sits, while inside a point.
    let mut point_depth: Option<usize> = None;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|err| anyhow!("not valid XML at byte {}: {err}", reader.error_position()))?;
        match event {
            Event::Start(element) => {
                let name = local_name(&element);
                if point_depth.is_none() && name == point {
                    point_depth = Some(stack.len());
                    let mut p = Point::default();
                    attributes(&element, "", &mut p.fields);
                    doc.points.push(p);
                } else if point_depth.is_none() {
                    attributes(&element, &format!("{name}@"), &mut doc.outside);
                }
                stack.push(name);
            }
            Event::Empty(element) => {
                let name = local_name(&element);
                if point_depth.is_none() && name == point {
                    let mut p = Point::default();
                    attributes(&element, "", &mut p.fields);
                    doc.points.push(p);
                }
            }
            Event::Text(text) => {
                let text = text.xml10_content().trim().to_string();
                match (point_depth, stack.last()) {
                    // Text deeper than any known path is ignored: keeping it would cost the
                    // sum of the depths (quadratic in a file of nested elements).
                    (Some(depth), _) if stack.len().saturating_sub(depth + 1) <= MAX_PATH_DEPTH => {
                        let path = stack[depth + 1..].join("/");
                        if let Some(p) = doc.points.last_mut() {
                            p.fields.entry(path).or_insert(text);
                        }
                    }
                    (Some(_), _) => {}
                    (None, Some(name)) => {
                        doc.outside.entry(name.clone()).or_insert(text);
                    }
                    (None, None) => {}
                }
            }
            Event::End(_) => {
                stack.pop();
                if point_depth == Some(stack.len()) {
                    point_depth = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if let Some(open) = stack.last() {
        bail!("the XML ends inside <{open}>: the file is truncated");
    }
    Ok(doc)
}

/// Refuses, where `times` requires them, a file none of whose points (elements `point`) has a
/// time (at `path`): it is not a recording.
fn ensure_some_time(samples: &[Sample], times: PointTimes, point: &str, path: &str) -> Result<()> {
    if times == PointTimes::Required && samples.iter().all(|s| s.time_s.is_nan()) {
        bail!(
            "no <{point}> has a <{path}> holding an RFC 3339 time (a planned route: \
             `hrcast predict` times it with --pace or --speed)"
        );
    }
    Ok(())
}

/// Reads a TCX file into its sport and samples. A point without a usable time gets time NaN and
/// a value that is not a number gets NaN, for [`super::clean`] to drop and report; a file
/// without any time is refused where `times` requires them.
pub fn read_tcx(bytes: &[u8], times: PointTimes) -> Result<(String, Vec<Sample>)> {
    let doc = track_points(bytes, "Trackpoint")?;
    if doc.points.is_empty() {
        bail!("the TCX file has no <Trackpoint>");
    }
    let samples: Vec<Sample> = doc
        .points
        .iter()
        .map(|p| Sample {
            time_s: p.time("Time"),
            heart_rate: p.number("HeartRateBpm/Value"),
            speed_kmh: p.number("Extensions/TPX/Speed").map(|v| v * KMH_PER_MS),
            distance_m: p.number("DistanceMeters"),
            altitude_m: p.number("AltitudeMeters"),
            latitude: p.number("Position/LatitudeDegrees"),
            longitude: p.number("Position/LongitudeDegrees"),
        })
        .collect();
    ensure_some_time(&samples, times, "Trackpoint", "Time")?;
    let sport = doc
        .outside
        .get("Activity@Sport")
        .cloned()
        .unwrap_or_default();
    Ok((sport, samples))
}

/// Reads a GPX file into its sport and samples: its track points, else its route points (bad
/// times and values, and `times`, as in [`read_tcx`]).
pub fn read_gpx(bytes: &[u8], times: PointTimes) -> Result<(String, Vec<Sample>)> {
    let mut point = "trkpt";
    let mut doc = track_points(bytes, point)?;
    if doc.points.is_empty() {
        point = "rtept";
        doc = track_points(bytes, point)?;
    }
    if doc.points.is_empty() {
        bail!("the GPX file has no <trkpt> or <rtept>");
    }
    let samples: Vec<Sample> = doc
        .points
        .iter()
        .map(|p| Sample {
            time_s: p.time("time"),
            heart_rate: p.number("extensions/TrackPointExtension/hr"),
            speed_kmh: p
                .number("extensions/TrackPointExtension/speed")
                .map(|v| v * KMH_PER_MS),
            distance_m: None,
            altitude_m: p.number("ele"),
            latitude: p.number("lat"),
            longitude: p.number("lon"),
        })
        .collect();
    ensure_some_time(&samples, times, point, "time")?;
    let sport = doc.outside.get("type").cloned().unwrap_or_default();
    Ok((sport, samples))
}
