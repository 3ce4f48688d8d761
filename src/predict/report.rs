//! What `hrcast predict` shows of a predicted workout besides the CSV: the [`Summary`] it
//! prints (duration, distance, mean and peak predicted heart rate, time in each zone) and the
//! PNG ([`chart`]) of the predicted curve with the route's elevation.

use super::PredictedWorkout;
use crate::evaluate::{ACTUAL, PREDICTED, ZONE_BOUNDS, zone};
use crate::plot::{Chart, Mark, Series};
use plotters::style::RGBColor;
use std::fmt;

/// Number of heart-rate zones ([`ZONE_BOUNDS`] cut them).
const ZONES: usize = ZONE_BOUNDS.len() + 1;
/// The colour of the elevation panel.
const ELEVATION: RGBColor = RGBColor(44, 160, 44);
/// The colour of the zone bounds.
const ZONE_LINES: RGBColor = RGBColor(150, 150, 150);

/// The time a predicted workout spends in each heart-rate zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Zones {
    /// The maximal heart rate the zones are fractions of, bpm.
    pub max_hr: f64,
    /// Seconds in each zone, from the lowest.
    pub seconds: [f64; ZONES],
}

/// A predicted workout in a few numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Seconds from the first predicted step to the last (of the pieces predicted, end to end).
    pub duration_s: f64,
    /// Distance covered, km.
    pub distance_km: f64,
    /// Mean predicted heart rate, bpm.
    pub mean_bpm: f64,
    /// Peak predicted heart rate, bpm.
    pub peak_bpm: f64,
    /// Time in each zone of the predicted heart rate, where the maximal heart rate is known.
    pub zones: Option<Zones>,
}

impl Summary {
    /// The summary of `predicted` (steps of `interval_s` seconds), its zones those of `max_hr`.
    /// Each step but the last stands for the `interval_s` up to the next one, in its zone.
    pub fn of(predicted: &PredictedWorkout, interval_s: f64, max_hr: Option<f64>) -> Summary {
        let bpm: Vec<f64> = predicted
            .steps
            .iter()
            .map(|s| f64::from(s.predicted))
            .collect();
        let spans = bpm.len().saturating_sub(1);
        let zones = max_hr.map(|max_hr| {
            let mut seconds = [0.0; ZONES];
            for &hr in &bpm[..spans] {
                seconds[zone(hr, max_hr)] += interval_s;
            }
            Zones { max_hr, seconds }
        });
        Summary {
            duration_s: spans as f64 * interval_s,
            distance_km: predicted.steps.last().map_or(0.0, |s| s.distance_km),
            mean_bpm: bpm.iter().sum::<f64>() / bpm.len().max(1) as f64,
            peak_bpm: bpm.iter().copied().fold(f64::NAN, f64::max),
            zones,
        }
    }
}

/// The summary's lines, each indented by two spaces.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  duration {}, distance {:.2} km",
            clock(self.duration_s),
            self.distance_km
        )?;
        writeln!(
            f,
            "  predicted heart rate: mean {:.1} bpm, peak {:.1} bpm",
            self.mean_bpm, self.peak_bpm
        )?;
        match &self.zones {
            Some(zones) => {
                let times: Vec<String> = (zones.seconds.iter().enumerate())
                    .map(|(z, &s)| format!("{} {}", zone_label(z), clock(s)))
                    .collect();
                write!(
                    f,
                    "  time in zones of the maximal heart rate, {:.0} bpm: {}",
                    zones.max_hr,
                    times.join(", ")
                )
            }
            None => write!(
                f,
                "  time in zones: unknown, the maximal heart rate is not known (give --max-hr)"
            ),
        }
    }
}

/// A zone's name: the fractions of the maximal heart rate it spans (`60-70%`).
fn zone_label(z: usize) -> String {
    let percent = |b: f64| (b * 100.0).round();
    match z {
        0 => format!("below {}%", percent(ZONE_BOUNDS[0])),
        _ if z == ZONES - 1 => format!("from {}%", percent(ZONE_BOUNDS[z - 1])),
        _ => format!(
            "{}-{}%",
            percent(ZONE_BOUNDS[z - 1]),
            percent(ZONE_BOUNDS[z])
        ),
    }
}

/// Seconds as `m:ss`, or `h:mm:ss` from an hour, rounded to the second.
pub fn clock(seconds: f64) -> String {
    let total = seconds.round().max(0.0) as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The charts of `predicted`, named `name`: the predicted heart rate (and the recorded one,
/// where known; the zone bounds of `summary`, where known) against minutes, and below it the
/// elevation where the workout has one.
pub fn chart<'a>(
    name: &str,
    predicted: &PredictedWorkout,
    summary: &Summary,
    has_elevation: bool,
) -> Vec<Chart<'a>> {
    let minutes = |t: f64| t / 60.0;
    let line = |value: &dyn Fn(&super::Step) -> f64| -> Vec<(f64, f64)> {
        (predicted.steps.iter())
            .map(|s| (minutes(s.time_s), value(s)))
            .collect()
    };
    let mut series = vec![Series {
        label: "predicted",
        points: line(&|s| f64::from(s.predicted)),
        color: PREDICTED,
        mark: Mark::Line,
    }];
    if predicted.steps.iter().any(|s| s.actual.is_some()) {
        series.insert(
            0,
            Series {
                label: "recorded",
                points: line(&|s| s.actual.map_or(f64::NAN, f64::from)),
                color: ACTUAL,
                mark: Mark::Line,
            },
        );
    }
    if let Some(zones) = &summary.zones {
        let end = minutes(summary.duration_s);
        let points = ZONE_BOUNDS.iter().flat_map(|b| {
            let hr = b * zones.max_hr;
            [(0.0, hr), (end, hr), (end, f64::NAN)]
        });
        series.push(Series {
            label: "zone bounds",
            points: points.collect(),
            color: ZONE_LINES,
            mark: Mark::Line,
        });
    }
    let mut charts = vec![Chart {
        title: format!(
            "{name}: predicted heart rate, mean {:.0}, peak {:.0} bpm",
            summary.mean_bpm, summary.peak_bpm
        ),
        x_label: "minutes",
        y_label: "heart rate (bpm)",
        series,
        markers: Vec::new(),
        notes: Vec::new(),
    }];
    if has_elevation {
        charts.push(Chart {
            title: format!("elevation along {:.2} km", summary.distance_km),
            x_label: "minutes",
            y_label: "elevation (m)",
            series: vec![Series {
                label: "elevation",
                points: line(&|s| f64::from(s.altitude_m)),
                color: ELEVATION,
                mark: Mark::Line,
            }],
            markers: Vec::new(),
            notes: Vec::new(),
        });
    }
    charts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_as_minutes_and_hours() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(65.4), "1:05");
        assert_eq!(clock(3599.6), "1:00:00");
        assert_eq!(clock(3725.0), "1:02:05");
    }

    #[test]
    fn each_step_but_the_last_counts_in_its_zone() {
        let step = |k: usize, predicted: f32| super::super::Step {
            time_s: 5.0 * k as f64,
            actual: None,
            predicted,
            altitude_m: 0.0,
            distance_km: 0.1 * k as f64,
        };
        let hr = [100.0, 150.0, 150.0, 180.0, 120.0];
        let steps = hr.iter().enumerate().map(|(k, &p)| step(k, p)).collect();
        let summary = Summary::of(&PredictedWorkout { steps }, 5.0, Some(200.0));
        assert_eq!(summary.duration_s, 20.0);
        assert!((summary.distance_km - 0.4).abs() < 1e-12);
        assert_eq!(summary.mean_bpm, 140.0);
        assert_eq!(summary.peak_bpm, 180.0);
        let zones = summary.zones.unwrap();
        assert_eq!(
            zones.seconds,
            [5.0, 0.0, 10.0, 0.0, 5.0],
            "the last step (120) is none"
        );
        assert!(
            Summary::of(&PredictedWorkout { steps: Vec::new() }, 5.0, None)
                .to_string()
                .contains("give --max-hr")
        );
    }

    #[test]
    fn zones_are_named_by_their_fractions() {
        let names: Vec<String> = (0..ZONES).map(zone_label).collect();
        assert_eq!(
            names,
            ["below 60%", "60-70%", "70-80%", "80-90%", "from 90%"]
        );
    }
}
