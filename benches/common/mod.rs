//! What the benches share: the reference configuration and a random batch of its shape.

use hrcast::model::{Batch, Cell, ModelConfig};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Windows per batch of the reference configuration.
pub const BATCH: usize = 16;
/// Steps per window.
pub const STEPS: usize = 500;
/// Features per step.
pub const INPUTS: usize = 11;

/// The reference model (hidden 128, 2 layers, dropout 0.3) with the given cell.
pub fn reference(cell: Cell) -> ModelConfig {
    ModelConfig {
        model: cell,
        input_size: INPUTS,
        hidden_size: 128,
        num_layers: 2,
        dropout: 0.3,
        bidirectional: false,
        features: (0..INPUTS).map(|i| format!("f{i}")).collect(),
    }
}

/// A random batch of the reference shape, every step valid.
pub fn batch() -> Batch<f32> {
    let mut rng = StdRng::seed_from_u64(0);
    Batch {
        batch: BATCH,
        steps: STEPS,
        inputs: INPUTS,
        x: (0..BATCH * STEPS * INPUTS)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
        y: (0..BATCH * STEPS)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
        mask: vec![1.0; BATCH * STEPS],
        lengths: vec![STEPS; BATCH],
    }
}
