//! A planned route: points without times (a GPX route, a TCX course, the track a route planner
//! wrote), or a recorded one to run at another pace, timed from a steady speed (`--pace` or
//! `--speed`).

use crate::data::{MAX_SPEED_KMH, Sample, Workout, distance_along};
use anyhow::{Result, ensure};

/// Seconds per hour.
const S_PER_H: f64 = 3600.0;
/// The longest a timed route may take, in hours: longer than a 100-mile race, short enough that
/// a route with a position far off (a hostile file) cannot ask for an endless grid.
pub const MAX_ROUTE_H: f64 = 48.0;

/// `--pace` and `--speed`: the steady speed that times the points of a planned route.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PaceArgs {
    /// Pace per km as MM:SS (e.g. 5:30): each point of --input gets the time at which this
    /// pace reaches it along the route (a route without times needs it; the times a file
    /// records are replaced).
    #[arg(long = "pace", value_name = "MM:SS", value_parser = pace_kmh, conflicts_with = "speed_kmh")]
    pub pace_kmh: Option<f64>,
    /// Speed in km/h: as --pace.
    #[arg(long = "speed", value_name = "KMH", value_parser = speed_kmh)]
    pub speed_kmh: Option<f64>,
}

impl PaceArgs {
    /// The speed (km/h) that `--pace` or `--speed` gives, if either was given.
    pub fn speed(&self) -> Option<f64> {
        self.pace_kmh.or(self.speed_kmh)
    }
}

/// Parses `--pace`: minutes and seconds per km (`5:30`), as a speed in km/h, at most
/// [`MAX_SPEED_KMH`].
fn pace_kmh(text: &str) -> Result<f64, String> {
    let refused = || format!("expected a pace per km as MM:SS (e.g. 5:30), got {text:?}");
    let (minutes, seconds) = text.trim().split_once(':').ok_or_else(refused)?;
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !(digits(minutes) && digits(seconds) && seconds.len() == 2) {
        return Err(refused());
    }
    let minutes: f64 = minutes.parse().map_err(|_| refused())?;
    let seconds: f64 = seconds.parse().map_err(|_| refused())?;
    if seconds >= 60.0 {
        return Err(refused());
    }
    let kmh = S_PER_H / (minutes * 60.0 + seconds);
    if !(kmh.is_finite() && kmh <= MAX_SPEED_KMH) {
        return Err(format!(
            "the pace {text} is faster than {MAX_SPEED_KMH} km/h, faster than anything on a route"
        ));
    }
    Ok(kmh)
}

/// Parses `--speed`: km/h, above 0 and at most [`MAX_SPEED_KMH`].
fn speed_kmh(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= MAX_SPEED_KMH => Ok(v),
        _ => Err(format!(
            "expected a speed in km/h above 0 and at most {MAX_SPEED_KMH}, got {text:?}"
        )),
    }
}

/// Whether any sample of `workout` has a time.
pub fn has_times(workout: &Workout) -> bool {
    workout.samples.iter().any(|s| s.time_s.is_finite())
}

/// Times `workout` as a steady `speed_kmh` along its positions: each point with a position gets
/// the time this speed reaches it, from the time of the first point that has one (else
/// `start_s`, Unix seconds), and points are added between them every `step_s` seconds or less
/// (a gap between records longer than a few seconds reads as a pause). Speed is `speed_kmh`,
/// distance that along the positions, altitude and position interpolated linearly; a recorded
/// heart rate is dropped (it belongs to another pace). Points without a position (or with one
/// not on Earth), and those at the distance of the one before (which would share its time), are
/// left out.
///
/// Fails where fewer than two points have distinct positions, or where the route would take
/// longer than [`MAX_ROUTE_H`].
pub fn retime(workout: &mut Workout, speed_kmh: f64, start_s: f64, step_s: f64) -> Result<()> {
    for s in &mut workout.samples {
        if !on_earth(s) {
            (s.latitude, s.longitude) = (None, None);
        }
    }
    let along = distance_along(&workout.samples);
    let total_m = along.last().map_or(0.0, |&(_, d)| d);
    ensure!(
        total_m > 0.0,
        "fewer than two points with distinct positions (lat, lon): no route to time"
    );
    let m_per_s = speed_kmh * 1000.0 / S_PER_H;
    let hours = total_m / m_per_s / S_PER_H;
    ensure!(
        hours <= MAX_ROUTE_H,
        "the route ({:.0} km) takes {hours:.0} h at {speed_kmh:.1} km/h, more than the {MAX_ROUTE_H} h \
         predict times",
        total_m / 1000.0
    );
    let start = workout
        .samples
        .iter()
        .map(|s| s.time_s)
        .find(|t| t.is_finite())
        .unwrap_or(start_s);
    let at = |sample: &Sample, distance_m: f64| Sample {
        time_s: start + distance_m / m_per_s,
        heart_rate: None,
        speed_kmh: Some(speed_kmh),
        distance_m: Some(distance_m),
        ..*sample
    };
    let (first, _) = along[0];
    let mut samples = vec![at(&workout.samples[first], 0.0)];
    for pair in along.windows(2) {
        let [(i0, d0), (i1, d1)] = [pair[0], pair[1]];
        if d1 <= d0 {
            continue;
        }
        let (a, b) = (&workout.samples[i0], &workout.samples[i1]);
        let pieces = ((d1 - d0) / m_per_s / step_s).ceil().max(1.0) as usize;
        for k in 1..=pieces {
            let f = k as f64 / pieces as f64;
            samples.push(at(&between(a, b, f), d0 + f * (d1 - d0)));
        }
    }
    workout.samples = samples;
    Ok(())
}

/// Whether a sample's position is one on Earth: latitude and longitude finite and in range
/// (a value that is not is no position).
fn on_earth(s: &Sample) -> bool {
    let within = |v: Option<f64>, limit: f64| v.is_some_and(|v| v.abs() <= limit);
    within(s.latitude, 90.0) && within(s.longitude, 180.0)
}

/// The point a share `f` of the way from `a` to `b`: altitude and position interpolated
/// linearly where both have them, else those of the nearer one.
fn between(a: &Sample, b: &Sample, f: f64) -> Sample {
    let mix = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => Some(x + f * (y - x)),
        _ if f < 0.5 => x,
        _ => y,
    };
    Sample {
        altitude_m: mix(a.altitude_m, b.altitude_m),
        latitude: mix(a.latitude, b.latitude),
        longitude: mix(a.longitude, b.longitude),
        ..*b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Gender, Profile};

    fn route(points: &[(f64, f64, Option<f64>)]) -> Workout {
        Workout {
            source: "route.gpx".into(),
            workout_id: 1,
            user_id: 1,
            person: "p".into(),
            gender: Gender::Unknown,
            sport: String::new(),
            profile: Profile::default(),
            samples: points
                .iter()
                .map(|&(lat, lon, ele)| Sample {
                    time_s: f64::NAN,
                    heart_rate: Some(150.0),
                    altitude_m: ele,
                    latitude: Some(lat),
                    longitude: Some(lon),
                    ..Sample::default()
                })
                .collect(),
        }
    }

    #[test]
    fn paces_are_minutes_and_seconds_per_km() {
        assert_eq!(pace_kmh("5:00"), Ok(12.0));
        assert_eq!(pace_kmh("4:30"), Ok(3600.0 / 270.0));
        assert_eq!(pace_kmh("12:05"), Ok(3600.0 / 725.0));
        for bad in [
            "5", "5:60", "5:5", "-5:00", "a:00", "0:00", "0:11", "5:00:00", "",
        ] {
            assert!(pace_kmh(bad).is_err(), "{bad}");
        }
        assert_eq!(speed_kmh("12"), Ok(12.0));
        for bad in ["0", "-3", "301", "NaN", "fast"] {
            assert!(speed_kmh(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_route_is_timed_by_its_distance_at_the_pace() {
        // Two segments of about 1.11 km north, and one point repeated (no time of its own).
        let mut w = route(&[
            (45.0, 7.0, Some(100.0)),
            (45.01, 7.0, Some(200.0)),
            (45.01, 7.0, Some(200.0)),
            (45.02, 7.0, None),
        ]);
        retime(&mut w, 12.0, 1000.0, 5.0).unwrap();
        let s = &w.samples;
        assert_eq!(s[0].time_s, 1000.0, "starts at the start given");
        let last = s.last().unwrap();
        let metres = last.distance_m.unwrap();
        assert!((metres - 2223.9).abs() < 1.0, "{metres}");
        assert!((last.time_s - 1000.0 - metres / 1000.0 * 300.0).abs() < 1e-6);
        assert!(s.windows(2).all(|p| p[1].time_s > p[0].time_s));
        assert!(
            s.windows(2)
                .all(|p| p[1].time_s - p[0].time_s <= 5.0 + 1e-9)
        );
        assert!(s.iter().all(|p| p.heart_rate.is_none()));
        assert!(s.iter().all(|p| p.speed_kmh == Some(12.0)));
        let middle = &s[s.len() / 4];
        let expected = 100.0 + 100.0 * middle.distance_m.unwrap() / (metres / 2.0);
        assert!(
            (middle.altitude_m.unwrap() - expected).abs() < 0.5,
            "{middle:?}"
        );
    }

    #[test]
    fn a_recorded_start_is_kept_and_a_route_needs_two_positions() {
        let mut w = route(&[(45.0, 7.0, None), (45.01, 7.0, None)]);
        w.samples[0].time_s = 5000.0;
        retime(&mut w, 10.0, 0.0, 5.0).unwrap();
        assert_eq!(w.samples[0].time_s, 5000.0);
        let mut one = route(&[(45.0, 7.0, None), (45.0, 7.0, None)]);
        let err = retime(&mut one, 10.0, 0.0, 5.0).unwrap_err();
        assert!(err.to_string().contains("no route to time"), "{err}");
        let mut odd = route(&[(45.0, 7.0, None), (f64::NAN, 7.0, None), (45.01, 7.0, None)]);
        odd.samples.push(Sample {
            latitude: Some(1e39),
            ..odd.samples[0]
        });
        retime(&mut odd, 10.0, 0.0, 5.0).unwrap();
        let metres = odd.samples.last().unwrap().distance_m.unwrap();
        assert!(
            (metres - 1111.95).abs() < 0.1,
            "{metres}: positions off Earth are none"
        );
        let mut far = route(&[(45.0, 7.0, None), (-45.0, 7.0, None)]);
        let err = retime(&mut far, 10.0, 0.0, 5.0).unwrap_err();
        assert!(err.to_string().contains("more than the 48 h"), "{err}");
    }
}
