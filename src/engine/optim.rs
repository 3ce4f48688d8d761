//! The optimizer both engines run: its configuration, its state (which checkpoints store) and
//! the CPU implementation of gradient clipping and Adam, exactly as PyTorch's `clip_grad_norm_` and
//! `torch.optim.Adam` (L2 weight decay added to the gradient, not AdamW):
//!
//! ```text
//! total = sqrt(Σ over all tensors of ‖grad‖²);  coef = min(1, max_norm / (total + 1e-6));  grad *= coef
//! g = grad + weight_decay p
//! m = β1 m + (1 - β1) g;   v = β2 v + (1 - β2) g²
//! p -= (lr / (1 - β1^t)) m / (sqrt(v) / sqrt(1 - β2^t) + eps)
//! ```
//!
//! The GPU engine runs the same update in `shaders/adam.wgsl`, with the step-dependent factors
//! of [`AdamConfig::step_size`] and [`AdamConfig::bias2_sqrt`] computed here.

use super::scalar::Scalar;
use crate::model::Params;

/// Added to the norm before dividing, as PyTorch does (`CLIP_EPS` in adam.wgsl).
pub const CLIP_EPS: f64 = 1e-6;
/// PyTorch's default β1.
pub const BETA1: f64 = 0.9;
/// PyTorch's default β2.
pub const BETA2: f64 = 0.999;
/// PyTorch's default ε.
pub const EPS: f64 = 1e-8;

/// Scales all gradients so that their global L2 norm is at most `max_norm`; returns the norm
/// before clipping. PyTorch multiplies even when the coefficient is 1, and so does this.
pub fn clip_grad_norm<T: Scalar>(grads: &mut [Vec<T>], max_norm: f64) -> T {
    let total = grads
        .iter()
        .flatten()
        .fold(T::zero(), |s, &g| s + g * g)
        .sqrt();
    let coef = (T::of(max_norm) / (total + T::of(CLIP_EPS))).min(T::one());
    for g in grads.iter_mut().flatten() {
        *g = *g * coef;
    }
    total
}

/// Adam's hyper-parameters.
#[derive(Debug, Clone, Copy)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
}

impl AdamConfig {
    /// PyTorch's defaults (β 0.9/0.999, ε 1e-8) with this learning rate and weight decay.
    pub fn new(lr: f64, weight_decay: f64) -> Self {
        AdamConfig {
            lr,
            beta1: BETA1,
            beta2: BETA2,
            eps: EPS,
            weight_decay,
        }
    }

    /// `lr / (1 - β1^t)`: the step size of step `t` (counting from 1), first-moment bias
    /// correction included.
    pub fn step_size(&self, t: u64) -> f64 {
        self.lr / (1.0 - self.beta1.powi(t as i32))
    }

    /// `sqrt(1 - β2^t)`: the second moment's bias correction of step `t`.
    pub fn bias2_sqrt(&self, t: u64) -> f64 {
        (1.0 - self.beta2.powi(t as i32)).sqrt()
    }
}

/// Adam's moments and step count.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamState<T> {
    /// Steps taken.
    pub step: u64,
    /// First moments (`exp_avg`), one per parameter tensor.
    pub exp_avg: Vec<Vec<T>>,
    /// Second moments (`exp_avg_sq`).
    pub exp_avg_sq: Vec<Vec<T>>,
}

impl<T: Scalar> AdamState<T> {
    /// Zero moments for parameters of these sizes.
    pub fn new(sizes: impl IntoIterator<Item = usize>) -> Self {
        let zeros: Vec<Vec<T>> = sizes.into_iter().map(|n| vec![T::zero(); n]).collect();
        AdamState {
            step: 0,
            exp_avg: zeros.clone(),
            exp_avg_sq: zeros,
        }
    }

    /// Zero moments for `params` (a run that starts its optimizer afresh).
    pub fn for_params(params: &Params<T>) -> Self {
        Self::new(params.values.iter().map(Vec::len))
    }

    /// One Adam step on `params` with gradients `grads`.
    pub fn step(&mut self, config: &AdamConfig, params: &mut [Vec<T>], grads: &[Vec<T>]) {
        self.step += 1;
        let (b1, b2) = (T::of(config.beta1), T::of(config.beta2));
        let step_size = T::of(config.step_size(self.step));
        let bias2_sqrt = T::of(config.bias2_sqrt(self.step));
        let (wd, eps) = (T::of(config.weight_decay), T::of(config.eps));
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (m, v) = (&mut self.exp_avg[i], &mut self.exp_avg_sq[i]);
            for j in 0..p.len() {
                let g = g[j] + wd * p[j];
                m[j] = b1 * m[j] + (T::one() - b1) * g;
                v[j] = b2 * v[j] + (T::one() - b2) * g * g;
                p[j] = p[j] - step_size * m[j] / (v[j].sqrt() / bias2_sqrt + eps);
            }
        }
    }
}
