//! Distance along a workout's positions (great-circle, haversine): what the features take for
//! distance where a file records none, and what a planned route is timed by.

use super::Sample;

/// Mean Earth radius for the haversine distance, in metres.
const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// Great-circle distance in metres between two positions in degrees.
pub fn haversine_m(lat0: f64, lon0: f64, lat1: f64, lon1: f64) -> f64 {
    let (p0, p1) = (lat0.to_radians(), lat1.to_radians());
    let dp = p1 - p0;
    let dl = (lon1 - lon0).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p0.cos() * p1.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The cumulative distance along the positions of `samples`, in their order, at each sample
/// that has a position: (index of the sample, metres from the first sample with a position).
pub fn distance_along(samples: &[Sample]) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    let mut total = 0.0;
    let mut previous: Option<(f64, f64)> = None;
    for (i, s) in samples.iter().enumerate() {
        if let (Some(lat), Some(lon)) = (s.latitude, s.longitude) {
            if let Some((plat, plon)) = previous {
                total += haversine_m(plat, plon, lat, lon);
            }
            previous = Some((lat, lon));
            out.push((i, total));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_of_one_degree_of_latitude() {
        let d = haversine_m(45.0, 7.0, 46.0, 7.0);
        assert!((d - 111_194.9).abs() < 1.0, "{d}");
    }

    #[test]
    fn distance_is_summed_over_the_samples_with_a_position() {
        let at = |lat: Option<f64>| Sample {
            latitude: lat,
            longitude: lat.map(|_| 7.0),
            ..Sample::default()
        };
        let samples = [at(None), at(Some(45.0)), at(None), at(Some(46.0))];
        let along = distance_along(&samples);
        assert_eq!(along.len(), 2);
        assert_eq!(along[0], (1, 0.0));
        assert_eq!(along[1].0, 3);
        assert!((along[1].1 - 111_194.9).abs() < 1.0, "{along:?}");
    }
}
