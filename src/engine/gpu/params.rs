//! Where each parameter tensor starts in the flat parameter buffer (and, at the same offsets,
//! in the gradients and Adam's moments): state_dict order, as [`ParamLayout`] lists it: per
//! layer and direction `w_ih, w_hh, b_ih, b_hh`, then the head's `weight, bias`.

use crate::model::{DirectionParams, HeadParams, ModelConfig, ParamLayout};

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
        let layout = ParamLayout::new(config);
        let mut tensors = Vec::new();
        let mut total = 0;
        for (_, shape) in layout.tensors() {
            let size = shape.iter().product::<usize>();
            tensors.push((total, shape));
            total += size;
        }
        let at = |i: usize| tensors[i].0;
        let layers = (0..config.num_layers)
            .map(|l| {
                (0..config.directions())
                    .map(|d| layout.layer(l, d).map(at))
                    .collect()
            })
            .collect();
        ParamOffsets {
            layers,
            head: layout.head().map(at),
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
