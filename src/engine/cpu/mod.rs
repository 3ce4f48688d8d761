//! The CPU engine: the model (docs/model.md) as hand-written forward and backward passes through
//! time, in the style of llm.c's `train_gpt2.c` (plain functions over preallocated time-major
//! buffers), plus gradient clipping and Adam ([`crate::engine::optim`]). Generic over f32 and f64
//! ([`crate::engine::scalar::Scalar`]).
//!
//! - [`recurrence`]: what the two cells share (the twin of `shaders/recurrence.wgsl`): the sizes
//!   of one layer-direction, its step order, the per-step GEMMs, the gate activations.
//! - [`lstm`], [`gru`]: one layer and one direction over one block of sequences, forward (for
//!   training, or for inference keeping no activations) and backward: the CPU twins of
//!   `shaders/lstm.wgsl` and `shaders/gru.wgsl`, with their names and equations.
//! - [`schedule`]: how a batch is spread over threads: one block of sequences per thread, each
//!   running its own time loop.
//! - [`workspace`]: the [`Workspace`], the buffers a forward and backward pass reuse from step
//!   to step.
//! - [`network`]: the model's maths over a [`Workspace`]: layers, directions, dropout, the head
//!   and the loss, forward and backward.
//! - [`oracle`]: the same model on an autodiff [`tape`], which the tests hold the fast path to.
//! - [`CpuEngine`]: the [`crate::engine::Engine`] built on [`network`].

mod engine;
pub mod gru;
pub mod lstm;
pub mod network;
pub mod oracle;
pub mod recurrence;
pub mod schedule;
pub mod tape;
pub mod workspace;

pub use engine::CpuEngine;
pub use network::{loss_and_gradients, predict};
pub use workspace::Workspace;

/// Dropout for one training step: the run's seed and the step number pick the masks.
#[derive(Debug, Clone, Copy)]
pub struct DropoutStep {
    /// The run's seed.
    pub seed: u64,
    /// The optimizer step (so every step draws new masks).
    pub step: u64,
}
