//! MAE, RMSE and R² of predicted heart rates against the recorded ones, over valid steps: the
//! one place these figures are computed (`hrcast evaluate`, `hrcast crossval`).
//!
//! - MAE = mean |ŷ - y|, RMSE = sqrt(mean (ŷ - y)²), in bpm;
//! - R² = 1 - SS_res / SS_tot, SS_tot about the mean of these steps' y (NaN when every y is the
//!   same).

use serde::Serialize;

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
}
