//! Learning-rate schedule: `ReduceLROnPlateau` exactly as PyTorch's (mode `min`, relative
//! threshold, no cooldown, minimum learning rate 0, eps 1e-8).
//!
//! After each epoch with validation loss `v`: if `v < best (1 - threshold)` it is the new best and
//! the count of bad epochs resets, else the count rises; when it exceeds `patience`, the learning
//! rate is multiplied by `factor` and the count resets.

use serde::{Deserialize, Serialize};

/// PyTorch's default relative improvement threshold.
pub const PLATEAU_THRESHOLD: f64 = 1e-4;
/// A reduction smaller than this is not applied (PyTorch's `eps`).
const MIN_LR_CHANGE: f64 = 1e-8;

/// The scheduler's state (saved in checkpoints so that `--resume` continues it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReduceLrOnPlateau {
    /// Multiplier applied to the learning rate on a plateau.
    pub factor: f64,
    /// Bad epochs tolerated before a reduction.
    pub patience: u32,
    /// Best validation loss so far (infinite before the first epoch; `null` in JSON then).
    #[serde(with = "infinity_as_null")]
    pub best: f64,
    /// Epochs since the last improvement.
    pub bad_epochs: u32,
}

impl ReduceLrOnPlateau {
    /// A fresh scheduler.
    pub fn new(factor: f64, patience: u32) -> Self {
        ReduceLrOnPlateau {
            factor,
            patience,
            best: f64::INFINITY,
            bad_epochs: 0,
        }
    }

    /// Takes one epoch's validation loss and returns the learning rate to use next.
    pub fn step(&mut self, val_loss: f64, lr: f64) -> f64 {
        if val_loss < self.best * (1.0 - PLATEAU_THRESHOLD) {
            self.best = val_loss;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.bad_epochs > self.patience {
            self.bad_epochs = 0;
            let reduced = lr * self.factor;
            if lr - reduced > MIN_LR_CHANGE {
                return reduced;
            }
        }
        lr
    }
}

/// Serde for a "best loss so far" that is +∞ until the first validation: JSON has no infinity,
/// so it is written as `null` and `null` is read back as +∞ (a run stopped before its first
/// epoch ended saves such a state, and `--resume` must read it).
pub mod infinity_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes +∞ as `null`, any other value as itself.
    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if *value == f64::INFINITY {
            serializer.serialize_none()
        } else {
            serializer.serialize_f64(*value)
        }
    }

    /// Reads `null` as +∞.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::INFINITY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_after_patience_bad_epochs_with_a_relative_threshold() {
        let mut s = ReduceLrOnPlateau::new(0.5, 2);
        let mut lr = 1e-3;
        // 0.99995 is not below 1.0 * (1 - 1e-4): not an improvement.
        let losses = [1.0, 0.99995, 1.2, 1.0, 0.5, 0.6, 0.6, 0.6, 0.6];
        let mut lrs = Vec::new();
        for v in losses {
            lr = s.step(v, lr);
            lrs.push(lr);
        }
        assert_eq!(
            lrs,
            [1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4]
        );
        assert_eq!(s.best, 0.5);
    }

    #[test]
    fn stops_reducing_below_eps() {
        let mut s = ReduceLrOnPlateau::new(0.5, 0);
        assert_eq!(s.step(1.0, 1e-8), 1e-8);
        assert_eq!(s.step(1.0, 1e-8), 1e-8, "a change of 5e-9 is below eps");
    }

    #[test]
    fn an_infinite_best_survives_json() {
        let fresh = ReduceLrOnPlateau::new(0.5, 3);
        let json = serde_json::to_string(&fresh).unwrap();
        assert!(json.contains("\"best\":null"), "{json}");
        let back: ReduceLrOnPlateau = serde_json::from_str(&json).unwrap();
        assert_eq!(back, fresh);
        let mut seen = fresh;
        seen.step(0.25, 1e-3);
        let back: ReduceLrOnPlateau =
            serde_json::from_str(&serde_json::to_string(&seen).unwrap()).unwrap();
        assert_eq!(back.best, 0.25);
    }
}
