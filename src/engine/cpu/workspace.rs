//! The buffers a forward and backward pass reuse: a [`Workspace`] is sized for one batch shape
//! by the first pass of that shape and kept from step to step (reallocated only when the shape
//! changes), and holds the gradients of the last training pass. Its buffers are in the blocks'
//! time-major layout ([`super::schedule`]); what it hands out (predictions, the top layer's
//! output, the final states) is batch-first, as the caller's batch.
//!
//! The passes themselves are in [`super::network`].

use super::recurrence::{Activation, Carry};
use super::schedule::{Block, rows};
use crate::engine::packed::Packed;
use crate::model::{Batch, Cell, ModelConfig, Params};

/// What the buffers were sized for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Shape {
    /// The cell.
    pub cell: Cell,
    /// Features per step.
    pub inputs: usize,
    /// H.
    pub hidden: usize,
    /// Layers.
    pub layers: usize,
    /// Directions per layer.
    pub directions: usize,
    /// Sequences.
    pub batch: usize,
    /// Steps per sequence.
    pub steps: usize,
}

impl Shape {
    /// `H × directions`: a layer's output row.
    pub fn width(&self) -> usize {
        self.hidden * self.directions
    }

    /// `G H`: a row of pre-activations.
    pub fn gate_width(&self) -> usize {
        self.cell.gates() * self.hidden
    }

    /// `T·B`: the rows of every buffer.
    pub fn rows(&self) -> usize {
        self.batch * self.steps
    }

    /// Inputs of layer `l`.
    pub fn layer_input(&self, l: usize) -> usize {
        if l == 0 { self.inputs } else { self.width() }
    }
}

/// One layer and direction's activations.
#[derive(Debug, Default)]
pub(super) struct DirectionBuffers<T> {
    /// `[T·B, G H]` XW; for the LSTM overwritten step by step with the gates i, f, g, o.
    pub xw: Vec<T>,
    /// `[T·B, 4H]` GRU: r, z, n, hw_n (empty for the LSTM).
    pub gates: Vec<T>,
    /// `[T·B, H]` LSTM: c (empty for the GRU).
    pub cell: Vec<T>,
    /// The right operand of each forward step's product, packed: LSTM `[I + H, 4H]`
    /// `[W_ih | W_hh]ᵀ` with `b_ih + b_hh`; GRU `[H, 3H]` W_hhᵀ.
    pub w_step_t: Packed<T>,
    /// GRU: `[I, 3H]` W_ihᵀ with b_ih, packed: the right operand of XW over all steps (the
    /// LSTM's steps take x_t themselves).
    pub w_ih_t: Packed<T>,
}

/// One layer's output and its dropout.
#[derive(Debug, Default)]
pub(super) struct LayerBuffers<T> {
    /// Per direction.
    pub directions: Vec<DirectionBuffers<T>>,
    /// `[T·B, W]` h of every direction side by side.
    pub out: Vec<T>,
    /// `[T·B, W]` inverted-dropout multipliers after this layer (training steps with dropout).
    pub scale: Vec<T>,
    /// `[T·B, W]` `out ⊙ scale`, the next layer's input when dropout is on.
    pub dropped: Vec<T>,
}

/// X_l, the input of the layer above the layers `below`: the batch's features `x` for the first
/// layer, else the output of the layer below, after its dropout where the pass `dropped`.
pub(super) fn layer_x<'a, T>(x: &'a [T], below: &'a [LayerBuffers<T>], dropped: bool) -> &'a [T] {
    match below.last() {
        None => x,
        Some(prev) if dropped => &prev.dropped,
        Some(prev) => &prev.out,
    }
}

/// One block's per-thread state.
#[derive(Debug, Default)]
pub(super) struct BlockScratch<T> {
    /// Carried between steps.
    pub carry: Carry<T>,
    /// `[B_k, H]` LSTM inference: the current c.
    pub c: Vec<T>,
    /// `[B_k, 4H]` inference: the current step's gates.
    pub gates: Vec<T>,
    /// LSTM: `[B_k, I + H]` a step's `[x_t | h_prev]` (I the widest layer input).
    pub xh: Vec<T>,
}

/// The buffers of forward and backward passes for one batch shape, reused from step to step
/// (reallocated only when the shape changes), and the gradients of the last training pass.
/// `Workspace::default()` is empty; the first pass sizes it.
#[derive(Debug, Default)]
pub struct Workspace<T> {
    /// Blocks (threads) to split a batch into; `None`: one per thread the engines compute on.
    threads: Option<usize>,
    /// What the buffers are sized for (`None` before the first pass).
    shape: Option<Shape>,
    /// The batch's blocks of sequences, one per thread.
    pub(super) blocks: Vec<Block>,
    /// `[T·B, I]` the batch's features.
    pub(super) x: Vec<T>,
    /// `[T·B]` targets.
    pub(super) y: Vec<T>,
    /// `[T·B]` loss weights (the mask, or 1).
    pub(super) weight: Vec<T>,
    /// `[T·B]` predictions.
    pub(super) pred: Vec<T>,
    /// `[T·B]` gradient of the loss with respect to pred.
    pub(super) d_pred: Vec<T>,
    /// Per layer.
    pub(super) layers: Vec<LayerBuffers<T>>,
    /// `[T·B, W]` gradient of the current layer's output.
    pub(super) d_out: Vec<T>,
    /// `[T·B, W]` gradient of the current layer's input.
    pub(super) d_x: Vec<T>,
    /// Per direction, `[T·B, G H]`: d_xw (LSTM: d_a) of the current layer.
    pub(super) d_xw: Vec<Vec<T>>,
    /// Per direction, `[T·B, G H]` GRU: d_hw of the current layer (empty for the LSTM).
    pub(super) d_hw: Vec<Vec<T>>,
    /// Per block.
    pub(super) scratch: Vec<BlockScratch<T>>,
    /// Gradients of the last training pass, state_dict order.
    pub(super) grads: Vec<Vec<T>>,
}

impl<T: Activation> Workspace<T> {
    /// An empty workspace that splits every batch into `threads` blocks of sequences, each on
    /// its own thread (at most one per sequence), whatever the machine's cores.
    pub fn with_threads(threads: usize) -> Self {
        Workspace {
            threads: Some(threads),
            ..Workspace::default()
        }
    }

    /// Sizes the buffers for `config` and `batch` (nothing to do when they already are), and
    /// loads the batch's features in the blocks' layout. Returns the shape.
    pub(super) fn prepare(&mut self, config: &ModelConfig, batch: &Batch<T>) -> Shape {
        let shape = Shape {
            cell: config.model,
            inputs: batch.inputs,
            hidden: config.hidden_size,
            layers: config.num_layers,
            directions: config.directions(),
            batch: batch.batch,
            steps: batch.steps,
        };
        if self.shape != Some(shape) {
            self.allocate(&shape);
            self.shape = Some(shape);
        }
        let (steps, inputs) = (batch.steps, batch.inputs);
        for (b, t, row) in rows(&self.blocks, steps) {
            let from = (b * steps + t) * inputs;
            self.x[row * inputs..(row + 1) * inputs].copy_from_slice(&batch.x[from..from + inputs]);
        }
        shape
    }

    /// The buffers of shape `s`, zeroed.
    fn allocate(&mut self, s: &Shape) {
        self.blocks = Block::split(s.batch, self.threads);
        let (rows, h, gh, width) = (s.rows(), s.hidden, s.gate_width(), s.width());
        let zeros = |n: usize| vec![T::zero(); n];
        // A buffer only one of the cells uses.
        let (lstm, gru) = (s.cell == Cell::Lstm, s.cell == Cell::Gru);
        let only = |used: bool, n: usize| if used { zeros(n) } else { Vec::new() };
        self.x = zeros(rows * s.inputs);
        (self.y, self.weight, self.pred, self.d_pred) =
            (zeros(rows), zeros(rows), zeros(rows), zeros(rows));
        self.layers = (0..s.layers)
            .map(|_| LayerBuffers {
                directions: (0..s.directions)
                    .map(|_| DirectionBuffers {
                        xw: zeros(rows * gh),
                        gates: only(gru, rows * 4 * h),
                        cell: only(lstm, rows * h),
                        w_step_t: Packed::default(),
                        w_ih_t: Packed::default(),
                    })
                    .collect(),
                out: zeros(rows * width),
                scale: zeros(rows * width),
                dropped: zeros(rows * width),
            })
            .collect();
        (self.d_out, self.d_x) = (zeros(rows * width), zeros(rows * width));
        self.d_xw = (0..s.directions).map(|_| zeros(rows * gh)).collect();
        self.d_hw = (0..s.directions).map(|_| only(gru, rows * gh)).collect();
        self.scratch = self
            .blocks
            .iter()
            .map(|b| BlockScratch {
                carry: Carry::new(b.len, h, s.cell.gates()),
                c: zeros(b.len * h),
                gates: zeros(b.len * 4 * h),
                xh: only(lstm, b.len * (s.inputs.max(width) + h)),
            })
            .collect();
    }

    /// Zeroes the gradients, sized as `params`.
    pub(super) fn zero_gradients(&mut self, params: &Params<T>) {
        if self.grads.len() == params.values.len() {
            self.grads.iter_mut().for_each(|v| v.fill(T::zero()));
        } else {
            self.grads = params
                .values
                .iter()
                .map(|v| vec![T::zero(); v.len()])
                .collect();
        }
    }

    /// The gradients of the last [`Self::train`], in state_dict order.
    pub fn gradients(&self) -> &[Vec<T>] {
        &self.grads
    }

    /// The gradients of the last [`Self::train`], to clip in place.
    pub fn gradients_mut(&mut self) -> &mut [Vec<T>] {
        &mut self.grads
    }

    /// The gradients of the last [`Self::train`], taken out of the workspace.
    pub(super) fn take_gradients(&mut self) -> Vec<Vec<T>> {
        std::mem::take(&mut self.grads)
    }

    /// Steps per sequence of the last pass (0 before the first).
    fn steps(&self) -> usize {
        self.shape.map_or(0, |s| s.steps)
    }

    /// Writes the predictions of the last pass into `pred`, batch-first `[B, T]`.
    pub fn predictions_into(&self, pred: &mut Vec<T>) {
        let steps = self.steps();
        pred.resize(self.pred.len(), T::zero());
        for (b, t, row) in rows(&self.blocks, steps) {
            pred[b * steps + t] = self.pred[row];
        }
    }

    /// The top layer's output of the last pass, batch-first `[B, T, H × directions]`.
    pub fn rnn_out(&self) -> Vec<T> {
        let steps = self.steps();
        let top = &self.layers[self.layers.len() - 1].out;
        let width = top.len() / self.pred.len();
        let mut out = vec![T::zero(); top.len()];
        for (b, t, row) in rows(&self.blocks, steps) {
            out[(b * steps + t) * width..][..width]
                .copy_from_slice(&top[row * width..(row + 1) * width]);
        }
        out
    }

    /// The final states of the last [`Self::train`] (PyTorch's h_n and c_n), each
    /// `[layers × directions, B, H]`: h, and c for the LSTM (empty for the GRU), after the last
    /// step of each direction (time T-1 forward, 0 reverse).
    pub fn final_states(&self) -> (Vec<T>, Vec<T>) {
        let Some(shape) = &self.shape else {
            return (Vec::new(), Vec::new());
        };
        let (h, steps, width) = (shape.hidden, shape.steps, shape.width());
        let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
        for layer in &self.layers {
            for (d, dir) in layer.directions.iter().enumerate() {
                let t = if d == 1 { 0 } else { steps - 1 };
                for blk in &self.blocks {
                    for i in 0..blk.len {
                        let row = blk.row(steps, t, i);
                        h_n.extend_from_slice(&layer.out[row * width + d * h..][..h]);
                        if !dir.cell.is_empty() {
                            c_n.extend_from_slice(&dir.cell[row * h..(row + 1) * h]);
                        }
                    }
                }
            }
        }
        (h_n, c_n)
    }
}
