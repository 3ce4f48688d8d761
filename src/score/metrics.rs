//! MAE, RMSE and R² of predicted heart rates against the recorded ones, over valid steps: the
//! one place these figures are computed (`hrcast evaluate`, `hrcast crossval`).
//!
//! - MAE = mean |ŷ - y|, RMSE = sqrt(mean (ŷ - y)²), in bpm;
//! - R² = 1 - SS_res / SS_tot, SS_tot about the mean of these steps' y (NaN when every y is the
//!   same).
//!
//! Steps of one workout are not independent, so how far an MAE can be trusted depends on how
//! many workouts it pools: [`MaeInterval`] is a 95 % interval of the MAE by bootstrap over
//! workouts, and [`too_few`] says when a figure pools too little to mean much.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

/// Bootstrap resamples of [`MaeInterval::over_workouts`].
pub const BOOTSTRAP_RESAMPLES: usize = 2000;
/// An evaluation over fewer workouts than this is flagged ([`too_few`]).
pub const MIN_WORKOUTS: usize = 5;
/// An evaluation over fewer valid minutes than this is flagged ([`too_few`]).
pub const MIN_MINUTES: f64 = 60.0;

/// A 95 % interval of the MAE: the 2.5th and 97.5th percentiles of the MAE of
/// [`BOOTSTRAP_RESAMPLES`] resamples of the workouts, drawn with replacement (each resample's
/// MAE pools its workouts' steps).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MaeInterval {
    /// Lower end, bpm.
    pub low: f64,
    /// Upper end, bpm.
    pub high: f64,
    /// Workouts resampled.
    pub workouts: usize,
}

impl MaeInterval {
    /// The interval from each workout's sum of absolute errors and count of valid steps;
    /// `None` with fewer than two workouts with a step (nothing to resample).
    pub fn over_workouts(per_workout: &[(f64, usize)]) -> Option<MaeInterval> {
        let per_workout: Vec<(f64, usize)> =
            per_workout.iter().copied().filter(|w| w.1 > 0).collect();
        let n = per_workout.len();
        if n < 2 {
            return None;
        }
        let mut rng = StdRng::seed_from_u64(0);
        let mut maes: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
            .map(|_| {
                let (abs, steps) = (0..n).fold((0.0, 0), |(a, c), _| {
                    let (wa, wc) = per_workout[rng.random_range(0..n)];
                    (a + wa, c + wc)
                });
                abs / steps as f64
            })
            .collect();
        maes.sort_by(f64::total_cmp);
        let at = |q: f64| maes[((q * BOOTSTRAP_RESAMPLES as f64) as usize).min(maes.len() - 1)];
        Some(MaeInterval {
            low: at(0.025),
            high: at(0.975),
            workouts: n,
        })
    }
}

/// A warning where `workouts` workouts of `minutes` valid minutes are too few for a figure
/// to mean much (fewer than [`MIN_WORKOUTS`] or [`MIN_MINUTES`]); `None` where enough.
pub fn too_few(workouts: usize, minutes: f64) -> Option<String> {
    (workouts < MIN_WORKOUTS || minutes < MIN_MINUTES).then(|| {
        format!(
            "only {workouts} workout{} and {minutes:.0} valid minutes: too few for these figures to \
             mean much (at least {MIN_WORKOUTS} workouts and {MIN_MINUTES:.0} minutes); read the \
             MAE's interval",
            if workouts == 1 { "" } else { "s" }
        )
    })
}

/// MAE, RMSE and R² of some valid steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    /// Mean absolute error, bpm.
    pub mae: f64,
    /// Root mean squared error, bpm.
    pub rmse: f64,
    /// 1 - SS_res / SS_tot, about the mean of these steps' heart rate.
    pub r2: f64,
    /// Valid steps.
    pub n_steps: usize,
}

impl Scores {
    /// The scores of `(actual, predicted)` pairs, bpm (all zero for none).
    pub fn of(pairs: &[(f32, f32)]) -> Scores {
        let n = pairs.len();
        if n == 0 {
            return Scores::default();
        }
        let mean = pairs.iter().map(|p| f64::from(p.0)).sum::<f64>() / n as f64;
        let (mut abs, mut sq, mut tot) = (0.0, 0.0, 0.0);
        for &(y, p) in pairs {
            let e = f64::from(p) - f64::from(y);
            abs += e.abs();
            sq += e * e;
            tot += (f64::from(y) - mean).powi(2);
        }
        Scores {
            mae: abs / n as f64,
            rmse: (sq / n as f64).sqrt(),
            r2: if tot > 0.0 { 1.0 - sq / tot } else { f64::NAN },
            n_steps: n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_their_definitions() {
        let s = Scores::of(&[(100.0, 110.0), (120.0, 120.0), (140.0, 134.0)]);
        assert_eq!(s.n_steps, 3);
        assert!((s.mae - 16.0 / 3.0).abs() < 1e-12);
        assert!((s.rmse - (136.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((s.r2 - (1.0 - 136.0 / 800.0)).abs() < 1e-12);
        assert!(Scores::of(&[(90.0, 91.0), (90.0, 89.0)]).r2.is_nan());
        assert_eq!(Scores::of(&[]), Scores::default());
    }

    #[test]
    fn the_interval_spans_the_workouts_and_narrows_with_more_of_them() {
        // Workouts of MAE 5 and 15 bpm, as many steps each: the pooled MAE is 10.
        let few = [(50.0, 10), (150.0, 10)];
        let i = MaeInterval::over_workouts(&few).unwrap();
        assert_eq!((i.low, i.high, i.workouts), (5.0, 15.0, 2));
        let many: Vec<(f64, usize)> = few.iter().copied().cycle().take(40).collect();
        let j = MaeInterval::over_workouts(&many).unwrap();
        assert!(
            5.0 < j.low && j.low < 10.0 && 10.0 < j.high && j.high < 15.0,
            "{j:?}"
        );
        assert_eq!(MaeInterval::over_workouts(&[(30.0, 3), (0.0, 0)]), None);
        assert_eq!(MaeInterval::over_workouts(&[]), None);
    }

    #[test]
    fn few_workouts_or_minutes_are_flagged() {
        assert!(too_few(1, 600.0).unwrap().contains("only 1 workout and"));
        assert!(too_few(10, 30.0).is_some());
        assert_eq!(too_few(MIN_WORKOUTS, MIN_MINUTES), None);
    }
}
