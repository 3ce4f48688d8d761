//! The model (docs/model.md), independent of the engine that runs it: configuration, parameters in
//! PyTorch's state_dict order and initialisation, and the input normalization.
//!
//! Per layer `l` and direction (`""`, `"_reverse"`), with `G` = 4 (LSTM: i, f, g, o) or 3 (GRU:
//! r, z, n) gates, `H` hidden units and `I_l` inputs (the features for layer 0, `H × directions`
//! above): `weight_ih_l{l}` `[G H, I_l]`, `weight_hh_l{l}` `[G H, H]`, `bias_ih_l{l}` `[G H]`,
//! `bias_hh_l{l}` `[G H]`; then the head `head.weight` `[1, H × directions]`, `head.bias` `[1]`.

use crate::features::NUM_FEATURES;
use num_traits::Float;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// The recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// Long short-term memory, gates i, f, g, o.
    Lstm,
    /// Gated recurrent unit, gates r, z, n.
    Gru,
}

impl Cell {
    /// Gates per hidden unit.
    pub fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// The module name in state_dict names.
    pub fn module(self) -> &'static str {
        match self {
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }
}

/// The architecture (the `config` of a checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The recurrent cell.
    pub model: Cell,
    /// Features per step.
    pub input_size: usize,
    /// Hidden units per layer and direction.
    pub hidden_size: usize,
    /// Recurrent layers.
    pub num_layers: usize,
    /// Inverted dropout between recurrent layers (training only).
    pub dropout: f64,
    /// Whether each layer also runs backwards in time.
    pub bidirectional: bool,
    /// Names of the input features, in order.
    pub features: Vec<String>,
}

impl ModelConfig {
    /// 2 for bidirectional layers, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Inputs of layer `l`.
    pub fn layer_input(&self, l: usize) -> usize {
        if l == 0 {
            self.input_size
        } else {
            self.hidden_size * self.directions()
        }
    }

    /// Names and shapes of the parameters, in state_dict order.
    pub fn param_layout(&self) -> Vec<(String, Vec<usize>)> {
        let (m, g, h) = (self.model.module(), self.model.gates(), self.hidden_size);
        let mut out = Vec::new();
        for l in 0..self.num_layers {
            for suffix in &["", "_reverse"][..self.directions()] {
                out.push((
                    format!("{m}.weight_ih_l{l}{suffix}"),
                    vec![g * h, self.layer_input(l)],
                ));
                out.push((format!("{m}.weight_hh_l{l}{suffix}"), vec![g * h, h]));
                out.push((format!("{m}.bias_ih_l{l}{suffix}"), vec![g * h]));
                out.push((format!("{m}.bias_hh_l{l}{suffix}"), vec![g * h]));
            }
        }
        out.push(("head.weight".into(), vec![1, h * self.directions()]));
        out.push(("head.bias".into(), vec![1]));
        out
    }

    /// Number of trainable numbers.
    pub fn param_count(&self) -> usize {
        self.param_layout()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }
}

/// The parameters of a model, in state_dict order.
#[derive(Debug, Clone, PartialEq)]
pub struct Params<T> {
    /// State_dict names.
    pub names: Vec<String>,
    /// Shapes.
    pub shapes: Vec<Vec<usize>>,
    /// Values, row-major.
    pub values: Vec<Vec<T>>,
}

impl<T: Float> Params<T> {
    /// Zeros in the layout of `config`.
    pub fn zeros(config: &ModelConfig) -> Self {
        let layout = config.param_layout();
        Params {
            values: layout
                .iter()
                .map(|(_, s)| vec![T::zero(); s.iter().product()])
                .collect(),
            names: layout.iter().map(|(n, _)| n.clone()).collect(),
            shapes: layout.into_iter().map(|(_, s)| s).collect(),
        }
    }

    /// PyTorch's initialisation: every recurrent tensor U(-1/√H, 1/√H); the head's weight and
    /// bias U(-1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5, and its bias rule).
    pub fn init(config: &ModelConfig, seed: u64) -> Self {
        let mut params = Self::zeros(config);
        let mut rng = StdRng::seed_from_u64(seed);
        let rnn_bound = 1.0 / (config.hidden_size as f64).sqrt();
        let head_bound = 1.0 / ((config.hidden_size * config.directions()) as f64).sqrt();
        for (name, values) in params.names.iter().zip(&mut params.values) {
            let bound = if name.starts_with("head.") {
                head_bound
            } else {
                rnn_bound
            };
            for v in values.iter_mut() {
                *v = T::from(rng.random_range(-bound..bound)).expect("representable");
            }
        }
        params
    }

    /// The index of a parameter by state_dict name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The values of a parameter by state_dict name.
    pub fn get(&self, name: &str) -> &[T] {
        &self.values[self
            .index(name)
            .unwrap_or_else(|| panic!("no parameter {name}"))]
    }
}

/// Z-scoring statistics of the training split (the `normalization` of a checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Mean of each input feature over valid training steps.
    pub feature_mean: Vec<f64>,
    /// Standard deviation of each input feature (1 where a feature is constant).
    pub feature_std: Vec<f64>,
    /// Mean heart rate, bpm.
    pub hr_mean: f64,
    /// Standard deviation of heart rate, bpm.
    pub hr_std: f64,
}

impl Normalization {
    /// Z-scores the selected inputs of one raw step into `out` (one value per selected input):
    /// `raw` holds the step's [`NUM_FEATURES`] features and `person` its person-level inputs
    /// ([`crate::features::INPUT_NAMES`] indexes both, in that order). An unknown person value
    /// (NaN) becomes the training mean, a z-score of 0.
    pub fn features(&self, raw: &[f32], person: &[f32], features: &[usize], out: &mut [f32]) {
        for (j, &f) in features.iter().enumerate() {
            let value = match f.checked_sub(NUM_FEATURES) {
                None => raw[f],
                Some(p) => person[p],
            };
            out[j] = if value.is_nan() {
                0.0
            } else {
                ((f64::from(value) - self.feature_mean[j]) / self.feature_std[j]) as f32
            };
        }
    }

    /// Z-scores a heart rate.
    pub fn heart_rate(&self, bpm: f32) -> f32 {
        ((f64::from(bpm) - self.hr_mean) / self.hr_std) as f32
    }

    /// A z-scored heart rate back in bpm.
    pub fn bpm(&self, z: f32) -> f32 {
        (f64::from(z) * self.hr_std + self.hr_mean) as f32
    }
}

/// A batch the engines train on, batch-first and already normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<T> {
    /// Sequences.
    pub batch: usize,
    /// Steps per sequence.
    pub steps: usize,
    /// Features per step.
    pub inputs: usize,
    /// `[batch, steps, inputs]` z-scored features.
    pub x: Vec<T>,
    /// `[batch, steps]` z-scored heart rate.
    pub y: Vec<T>,
    /// `[batch, steps]` 1 on valid steps.
    pub mask: Vec<T>,
    /// Valid prefix length per sequence (where a bidirectional layer's reverse pass starts).
    pub lengths: Vec<usize>,
}
