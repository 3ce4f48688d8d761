//! The model (docs/model.md), independent of the engine that runs it: configuration, parameters in
//! PyTorch's state_dict order ([`ParamLayout`]: each tensor's index, name and shape, the one
//! description the engines and checkpoints use) and initialisation, and the input normalization.
//!
//! Per layer `l` and direction (`""`, `"_reverse"`), with `G` = 4 (LSTM: i, f, g, o) or 3 (GRU:
//! r, z, n) gates, `H` hidden units and `I_l` inputs (the features for layer 0, `H × directions`
//! above): `weight_ih_l{l}` `[G H, I_l]`, `weight_hh_l{l}` `[G H, H]`, `bias_ih_l{l}` `[G H]`,
//! `bias_hh_l{l}` `[G H]`; then the head `head.weight` `[1, H × directions]`, `head.bias` `[1]`.

use crate::data::PERSON_INPUT_NAMES;
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

    /// Names and shapes of the parameters, in state_dict order ([`ParamLayout::tensors`]).
    pub fn param_layout(&self) -> Vec<(String, Vec<usize>)> {
        ParamLayout::new(self).tensors().collect()
    }

    /// Number of trainable numbers.
    pub fn param_count(&self) -> usize {
        self.param_layout()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }
}

/// Where one layer-direction's tensors are: their indices in state_dict order
/// ([`ParamLayout::layer`]), or, mapped ([`DirectionParams::map`]), where they start in a flat
/// buffer of every parameter (the GPU engine's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectionParams {
    /// `weight_ih` `[G H, I_l]`.
    pub w_ih: usize,
    /// `weight_hh` `[G H, H]`.
    pub w_hh: usize,
    /// `bias_ih` `[G H]`.
    pub b_ih: usize,
    /// `bias_hh` `[G H]`.
    pub b_hh: usize,
}

impl DirectionParams {
    /// Each position through `f` (an index to an offset, say).
    pub fn map(self, f: impl Fn(usize) -> usize) -> DirectionParams {
        DirectionParams {
            w_ih: f(self.w_ih),
            w_hh: f(self.w_hh),
            b_ih: f(self.b_ih),
            b_hh: f(self.b_hh),
        }
    }
}

/// Where the head's tensors are, as [`DirectionParams`] for a layer-direction's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadParams {
    /// `head.weight` `[1, H × directions]`.
    pub weight: usize,
    /// `head.bias` `[1]`.
    pub bias: usize,
}

impl HeadParams {
    /// Each position through `f`.
    pub fn map(self, f: impl Fn(usize) -> usize) -> HeadParams {
        HeadParams {
            weight: f(self.weight),
            bias: f(self.bias),
        }
    }
}

/// The parameters' layout (see the module header): every tensor's index in state_dict order,
/// its name and its shape. The one description of the parameters: the engines find a tensor
/// through [`ParamLayout::layer`] and [`ParamLayout::head`], and [`Params`] and checkpoints
/// list them through [`ParamLayout::tensors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamLayout {
    /// The cell (the state_dict module of the recurrent tensors).
    cell: Cell,
    /// Layers.
    layers: usize,
    /// Directions per layer.
    directions: usize,
    /// `H`.
    hidden: usize,
    /// Inputs of layer 0.
    input_size: usize,
    /// `G H`, the rows of every recurrent tensor.
    gate_rows: usize,
    /// `H × directions`, the inputs of every layer above the first and of the head.
    width: usize,
}

impl ParamLayout {
    /// Tensors per layer and direction: `weight_ih, weight_hh, bias_ih, bias_hh`.
    const PER_DIRECTION: usize = 4;

    /// The layout of `config`'s parameters; `None` where its sizes (`G H`, `H × directions`) do
    /// not fit in a `usize` (a checkpoint's configuration may ask for that).
    pub fn checked(config: &ModelConfig) -> Option<ParamLayout> {
        Some(ParamLayout {
            cell: config.model,
            layers: config.num_layers,
            directions: config.directions(),
            hidden: config.hidden_size,
            input_size: config.input_size,
            gate_rows: config.model.gates().checked_mul(config.hidden_size)?,
            width: config.hidden_size.checked_mul(config.directions())?,
        })
    }

    /// The layout of `config`'s parameters (whose sizes fit in a `usize`, as those of every
    /// model built or loaded do).
    pub fn new(config: &ModelConfig) -> ParamLayout {
        Self::checked(config).expect("the model's sizes fit in a usize")
    }

    /// Layer `l`, direction `d` (0 forward, 1 reverse).
    pub fn layer(&self, l: usize, d: usize) -> DirectionParams {
        let first = Self::PER_DIRECTION * (l * self.directions + d);
        DirectionParams {
            w_ih: first,
            w_hh: first + 1,
            b_ih: first + 2,
            b_hh: first + 3,
        }
    }

    /// The head, after every layer.
    pub fn head(&self) -> HeadParams {
        let first = Self::PER_DIRECTION * self.layers * self.directions;
        HeadParams {
            weight: first,
            bias: first + 1,
        }
    }

    /// Names and shapes of the tensors in state_dict order, one at a time (a checkpoint checks
    /// each against its file before the next is built).
    pub fn tensors(&self) -> impl Iterator<Item = (String, Vec<usize>)> + '_ {
        (0..self.layers)
            .flat_map(move |l| (0..self.directions).flat_map(move |d| self.direction_tensors(l, d)))
            .chain(self.head_tensors())
    }

    /// Names and shapes of layer `l`'s tensors in direction `d`, in state_dict order.
    fn direction_tensors(&self, l: usize, d: usize) -> [(String, Vec<usize>); 4] {
        let (m, suffix) = (self.cell.module(), ["", "_reverse"][d]);
        let inputs = if l == 0 { self.input_size } else { self.width };
        let (gh, h) = (self.gate_rows, self.hidden);
        [
            (format!("{m}.weight_ih_l{l}{suffix}"), vec![gh, inputs]),
            (format!("{m}.weight_hh_l{l}{suffix}"), vec![gh, h]),
            (format!("{m}.bias_ih_l{l}{suffix}"), vec![gh]),
            (format!("{m}.bias_hh_l{l}{suffix}"), vec![gh]),
        ]
    }

    /// Names and shapes of the head's tensors.
    fn head_tensors(&self) -> [(String, Vec<usize>); 2] {
        [
            ("head.weight".into(), vec![1, self.width]),
            ("head.bias".into(), vec![1]),
        ]
    }

    /// The number of parameters, without overflow (`None` where it does not fit in a `usize`)
    /// and without listing every layer (a checkpoint's configuration may ask for more than a
    /// computer holds).
    pub fn checked_count(&self) -> Option<usize> {
        let sum = |tensors: &[(String, Vec<usize>)]| {
            tensors.iter().try_fold(0usize, |sum, (_, shape)| {
                sum.checked_add(shape.iter().try_fold(1usize, |n, &s| n.checked_mul(s))?)
            })
        };
        // Every layer above the first has the shapes of layer 1.
        let layer = |l: usize| sum(&self.direction_tensors(l, 0))?.checked_mul(self.directions);
        let upper = self.layers.checked_sub(1)?;
        let upper = if upper == 0 {
            0
        } else {
            layer(1)?.checked_mul(upper)?
        };
        layer(0)?
            .checked_add(upper)?
            .checked_add(sum(&self.head_tensors())?)
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

/// The person-level input of the same sport's mean heart rate in a person's history.
const HISTORY_SPORT_HR: &str = "history_sport_hr";
/// The person-level input of the mean heart rate in a person's history.
const HISTORY_MEAN_HR: &str = "history_mean_hr";

/// The index of person-level input `name` in [`PERSON_INPUT_NAMES`].
fn person_input(name: &str) -> usize {
    PERSON_INPUT_NAMES
        .iter()
        .position(|&n| n == name)
        .expect("a person-level input")
}

/// The heart rate a model's output is measured from: `bpm = level + hr_std · z`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum HrLevel {
    /// The training split's mean heart rate, for every window (the PyTorch tool's).
    #[default]
    TrainingMean,
    /// The window's person's own level where their history knows it: the mean heart rate of
    /// their earlier workouts of the same sport (`history_sport_hr`), else of all their earlier
    /// workouts (`history_mean_hr`), else the training mean. The model learns the person's
    /// departure from their own level instead of the level itself.
    History,
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
    /// What the output is measured from (absent in checkpoints before it: the training mean).
    #[serde(default)]
    pub hr_level: HrLevel,
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

    /// The heart rate (bpm) a window's output is measured from, for a window whose
    /// person-level inputs are `person` (in the order of [`PERSON_INPUT_NAMES`], NaN where
    /// unknown): see [`HrLevel`].
    pub fn level(&self, person: &[f32]) -> f64 {
        match self.hr_level {
            HrLevel::TrainingMean => self.hr_mean,
            HrLevel::History => [HISTORY_SPORT_HR, HISTORY_MEAN_HR]
                .iter()
                .map(|&name| person[person_input(name)])
                .find(|v| v.is_finite())
                .map_or(self.hr_mean, f64::from),
        }
    }

    /// Z-scores a heart rate of a window whose person-level inputs are `person`.
    pub fn heart_rate(&self, bpm: f32, person: &[f32]) -> f32 {
        ((f64::from(bpm) - self.level(person)) / self.hr_std) as f32
    }

    /// A z-scored heart rate of a window whose person-level inputs are `person` back in bpm.
    pub fn bpm(&self, z: f32, person: &[f32]) -> f32 {
        (f64::from(z) * self.hr_std + self.level(person)) as f32
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(model: Cell, num_layers: usize, bidirectional: bool) -> ModelConfig {
        ModelConfig {
            model,
            input_size: 5,
            hidden_size: 7,
            num_layers,
            dropout: 0.0,
            bidirectional,
            features: Vec::new(),
        }
    }

    #[test]
    fn layout_positions_name_their_tensors_and_count_them() {
        for (cell, bidirectional) in [(Cell::Lstm, true), (Cell::Gru, false), (Cell::Gru, true)] {
            let config = config(cell, 3, bidirectional);
            let layout = ParamLayout::new(&config);
            let names: Vec<String> = layout.tensors().map(|(name, _)| name).collect();
            let m = cell.module();
            for l in 0..3 {
                for (d, suffix) in ["", "_reverse"][..config.directions()].iter().enumerate() {
                    let p = layout.layer(l, d);
                    assert_eq!(names[p.w_ih], format!("{m}.weight_ih_l{l}{suffix}"));
                    assert_eq!(names[p.w_hh], format!("{m}.weight_hh_l{l}{suffix}"));
                    assert_eq!(names[p.b_ih], format!("{m}.bias_ih_l{l}{suffix}"));
                    assert_eq!(names[p.b_hh], format!("{m}.bias_hh_l{l}{suffix}"));
                }
            }
            let head = layout.head();
            assert_eq!(names[head.weight], "head.weight");
            assert_eq!(
                (head.bias, names[head.bias].as_str()),
                (names.len() - 1, "head.bias")
            );
            assert_eq!(layout.checked_count(), Some(config.param_count()));
            let single = ParamLayout::new(&ModelConfig {
                num_layers: 1,
                ..config.clone()
            });
            assert_eq!(
                single.checked_count(),
                Some(
                    single
                        .tensors()
                        .map(|(_, s)| s.iter().product::<usize>())
                        .sum()
                )
            );
        }
    }

    #[test]
    fn layouts_too_large_to_count_are_refused() {
        let huge = ModelConfig {
            hidden_size: usize::MAX / 2,
            ..config(Cell::Lstm, 1, false)
        };
        assert_eq!(ParamLayout::checked(&huge), None);
        let deep = ModelConfig {
            num_layers: usize::MAX / 2,
            ..config(Cell::Gru, 1, true)
        };
        assert_eq!(
            ParamLayout::checked(&deep).map(|l| l.checked_count()),
            Some(None)
        );
    }

    /// A normalization measured from `level`, mean 150 bpm and standard deviation 20.
    fn normalization(hr_level: HrLevel) -> Normalization {
        Normalization {
            feature_mean: Vec::new(),
            feature_std: Vec::new(),
            hr_mean: 150.0,
            hr_std: 20.0,
            hr_level,
        }
    }

    #[test]
    fn the_history_level_is_the_same_sports_mean_else_all_sports_else_the_training_mean() {
        let mut person = [f32::NAN; crate::data::NUM_PERSON_INPUTS];
        let history = normalization(HrLevel::History);
        let mean = normalization(HrLevel::TrainingMean);
        assert_eq!(history.level(&person), 150.0);
        person[person_input(HISTORY_MEAN_HR)] = 170.0;
        assert_eq!(history.level(&person), 170.0);
        person[person_input(HISTORY_SPORT_HR)] = 180.0;
        assert_eq!(history.level(&person), 180.0);
        assert_eq!(mean.level(&person), 150.0);
        // The output is measured from the level: z = 0 is the person's own level.
        assert_eq!(history.bpm(0.0, &person), 180.0);
        assert_eq!(history.heart_rate(190.0, &person), 0.5);
        assert_eq!(
            history.bpm(history.heart_rate(123.0, &person), &person),
            123.0
        );
        assert_eq!(mean.heart_rate(190.0, &person), 2.0);
    }

    #[test]
    fn a_normalization_written_before_the_level_reads_as_the_training_mean() {
        let json = r#"{"feature_mean":[1.0],"feature_std":[2.0],"hr_mean":140.0,"hr_std":15.0}"#;
        let read: Normalization = serde_json::from_str(json).unwrap();
        assert_eq!(read.hr_level, HrLevel::TrainingMean);
        let written = serde_json::to_string(&normalization(HrLevel::History)).unwrap();
        assert!(written.contains(r#""hr_level":"history""#), "{written}");
    }
}
