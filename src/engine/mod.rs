//! The compute engines that run the model: [`cpu`] (reverse-mode autodiff, the oracle and the
//! fallback). Both share [`rng`], so that dropout masks agree between engines.

pub mod cpu;
pub mod rng;
