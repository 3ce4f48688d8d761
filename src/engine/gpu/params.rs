//! Where each parameter tensor starts in the flat parameter buffer (and, at the same offsets,
//! in the gradients and Adam's moments): state_dict order, as [`ModelConfig::param_layout`]
//! lists it: per layer and direction `w_ih, w_hh, b_ih, b_hh`, then the head's `weight, bias`.

use crate::model::ModelConfig;

/// The offsets of one layer's tensors in one direction.
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

/// The offsets of the head's tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadParams {
    /// `head.weight` `[1, H × directions]`.
    pub weight: usize,
    /// `head.bias` `[1]`.
    pub bias: usize,
}

/// Every tensor's offset, by name and in state_dict order.
#[derive(Debug, Clone)]
pub struct ParamOffsets {
    /// `layers[l][d]`: layer l, direction d (0 forward, 1 reverse).
    layers: Vec<Vec<DirectionParams>>,
    /// The head.
    pub head: HeadParams,
    /// Each tensor's offset and shape, in state_dict order.
    tensors: Vec<(usize, Vec<usize>)>,
    /// Parameters in all.
    pub total: usize,
}

impl ParamOffsets {
    /// The offsets of `config`'s parameters.
    pub fn new(config: &ModelConfig) -> ParamOffsets {
        let mut tensors = Vec::new();
        let mut total = 0;
        for (_, shape) in config.param_layout() {
            tensors.push((total, shape.clone()));
            total += shape.iter().product::<usize>();
        }
        let at = |i: usize| tensors[i].0;
        let layers = (0..config.num_layers)
            .map(|l| {
                (0..config.directions())
                    .map(|d| {
                        let first = (l * config.directions() + d) * 4;
                        DirectionParams {
                            w_ih: at(first),
                            w_hh: at(first + 1),
                            b_ih: at(first + 2),
                            b_hh: at(first + 3),
                        }
                    })
                    .collect()
            })
            .collect();
        let head = tensors.len() - 2;
        ParamOffsets {
            layers,
            head: HeadParams {
                weight: at(head),
                bias: at(head + 1),
            },
            tensors,
            total,
        }
    }

    /// Layer `l`, direction `d`.
    pub fn layer(&self, l: usize, d: usize) -> DirectionParams {
        self.layers[l][d]
    }

    /// A flat buffer's values split into tensors, in state_dict order.
    pub fn unflatten(&self, flat: &[f32]) -> Vec<Vec<f32>> {
        self.tensors
            .iter()
            .map(|(o, s)| flat[*o..*o + s.iter().product::<usize>()].to_vec())
            .collect()
    }
}
