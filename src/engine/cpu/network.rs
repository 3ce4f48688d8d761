//! The model over [`lstm`] and [`gru`]: layers, directions, inter-layer dropout, the linear head
//! and the masked MSE, forward and backward, on a [`Workspace`] of buffers allocated for one
//! batch shape and reused by every step of that shape.
//!
//! ```text
//! for each layer l, direction d, per block of sequences:
//!     GRU: XW = X_l W_ihᵀ + b_ih                  one GEMM over the block's steps
//!          (the LSTM joins x_t W_ihᵀ to each step's product: see lstm)
//!     the recurrence (lstm::forward, gru::forward) → out_l, columns d H .. d H + H
//!     X_{l+1} = out_l ⊙ dropout mask              (training, between layers only)
//! pred = out_top head.weightᵀ + head.bias         every step
//! loss = Σ w (pred - y)² / Σ w                    w = mask (use_masking) or 1; 0 if Σ w = 0
//! backward, top layer first:
//!     d_pred = 2 w (pred - y) / Σ w;  d head.weight = d_predᵀ out_top;  d out_top = d_pred head.weight
//!     per layer l, direction d: the recurrence's backward (lstm::backward, gru::backward) → d_xw
//!         dW_ih = d_xwᵀ X_l        db_ih = Σ_rows d_xw          one GEMM, one column sum
//!         dW_hh = d_a[shifted]ᵀ h_prev   db_hh = Σ_rows d_a     (d_a: LSTM d_xw, GRU d_hw)
//!     d X_l = Σ_d d_xw W_ih, times the dropout mask of layer l - 1 → d out_{l-1}
//! ```
//!
//! Each stage is a method named after its line above. A layer-direction's recurrence runs one
//! block of sequences per thread ([`super::schedule`]); the products over all steps of the
//! backward pass are one GEMM over the whole batch. The forward pass's products take a right
//! operand packed once per pass (`engine::packed`). The parameters are found through
//! [`ParamLayout`].

use super::recurrence::{Activation, Dims, add_d_w_hh, pack_transposed, times_w_ih_t};
use super::schedule::{Block, parallel, rows, split_blocks};
use super::workspace::{DirectionBuffers, LayerBuffers, Shape, Workspace, layer_x};
use super::{DropoutStep, gru, lstm};
use crate::engine::rng;
use crate::engine::scalar::Scalar;
use crate::model::{Batch, Cell, DirectionParams, ModelConfig, ParamLayout, Params};

/// What every stage of one pass reads: the sizes, the parameters and where each one is.
struct Pass<'a, T> {
    /// The batch's shape.
    shape: Shape,
    /// The parameters, state_dict order.
    params: &'a Params<T>,
    /// Where each parameter is in `params`.
    layout: ParamLayout,
    /// Valid steps of each sequence.
    lengths: &'a [usize],
    /// Whether the forward pass keeps its activations for a backward pass (training).
    keep: bool,
    /// Dropout between layers (training with a dropout above 0): the step, and the probability.
    dropout: Option<(DropoutStep, f32)>,
}

impl<'a, T> Pass<'a, T> {
    /// Whether dropout runs between layers (the layers above the first read `dropped`).
    fn dropped(&self) -> bool {
        self.dropout.is_some()
    }

    /// Where the tensors of layer `l`, direction `d` are in the parameters.
    fn layer(&self, l: usize, d: usize) -> DirectionParams {
        self.layout.layer(l, d)
    }

    /// Tensor `i` of the parameters (a position [`ParamLayout`] gives).
    fn param(&self, i: usize) -> &'a [T] {
        &self.params.values[i]
    }

    /// The sizes of direction `d` (0 forward, 1 reverse) of a layer over the whole batch.
    fn direction_dims(&self, d: usize) -> Dims<'a> {
        let s = &self.shape;
        Dims {
            batch: s.batch,
            steps: s.steps,
            hidden: s.hidden,
            reverse: d == 1,
            out_stride: s.width(),
            out_col: d * s.hidden,
            keep: self.keep,
            lengths: self.lengths,
        }
    }
}

/// Packs layer-direction `p`'s weights (`inputs` wide W_ih) as the right operands of the forward
/// pass's products: LSTM `[W_ih | W_hh]ᵀ` with `b_ih + b_hh`, each step's; GRU W_ihᵀ with b_ih
/// (XW) and W_hhᵀ (each step's).
fn pack_weights<T: Scalar>(
    pass: &Pass<T>,
    p: DirectionParams,
    inputs: usize,
    dir: &mut DirectionBuffers<T>,
) {
    let (w_ih, w_hh) = (pass.param(p.w_ih), pass.param(p.w_hh));
    let (b_ih, b_hh) = (pass.param(p.b_ih), pass.param(p.b_hh));
    let h = pass.shape.hidden;
    match pass.shape.cell {
        Cell::Lstm => {
            let bias: Vec<T> = b_ih.iter().zip(b_hh).map(|(i, h)| *i + *h).collect();
            let parts = [(w_ih, inputs), (w_hh, h)];
            pack_transposed(&parts, Some(&bias), &mut dir.w_step_t);
        }
        Cell::Gru => {
            pack_transposed(&[(w_ih, inputs)], Some(b_ih), &mut dir.w_ih_t);
            pack_transposed(&[(w_hh, h)], None, &mut dir.w_step_t);
        }
    }
}

/// Inverted dropout after a layer: `dropped = out ⊙ scale` with the masks of
/// [`rng::dropout_scale`] under `seed` (counter `(b T + t) W + j`, as every engine draws them).
fn apply_dropout<T: Scalar>(
    blocks: &[Block],
    layer: &mut LayerBuffers<T>,
    seed: u32,
    p: f32,
    steps: usize,
) {
    let width = layer.out.len() / (steps * blocks.iter().map(|b| b.len).sum::<usize>());
    let jobs = blocks
        .iter()
        .zip(split_blocks(&mut layer.scale, blocks, steps * width))
        .zip(split_blocks(&mut layer.dropped, blocks, steps * width));
    let out = &layer.out;
    parallel(jobs, |((blk, scale), dropped)| {
        let out = blk.of(out, steps * width);
        for t in 0..steps {
            for i in 0..blk.len {
                let at = (t * blk.len + i) * width;
                let counter = ((blk.start + i) * steps + t) * width;
                for j in 0..width {
                    let s = rng::dropout_scale(seed, (counter + j) as u32, p);
                    scale[at + j] = T::of(f64::from(s));
                    dropped[at + j] = out[at + j] * scale[at + j];
                }
            }
        }
    });
}

/// Adds the column sums of `m` (rows of `out.len()`) to `out` (a bias gradient).
fn add_column_sums<T: Scalar>(m: &[T], out: &mut [T]) {
    for row in m.chunks_exact(out.len()) {
        for (o, v) in out.iter_mut().zip(row) {
            *o = *o + *v;
        }
    }
}

impl<T: Activation> Workspace<T> {
    /// Sizes the workspace for `batch` and describes the pass: `keep` for a training pass,
    /// `dropout` its masks between layers (none where the model has no dropout).
    fn begin<'a>(
        &mut self,
        config: &ModelConfig,
        params: &'a Params<T>,
        batch: &'a Batch<T>,
        keep: bool,
        dropout: Option<DropoutStep>,
    ) -> Pass<'a, T> {
        Pass {
            shape: self.prepare(config, batch),
            params,
            layout: ParamLayout::new(config),
            lengths: &batch.lengths,
            keep,
            dropout: dropout
                .filter(|_| config.dropout > 0.0)
                .map(|step| (step, config.dropout as f32)),
        }
    }

    /// The forward pass through every layer to the predictions.
    fn forward(&mut self, pass: &Pass<T>) {
        let s = &pass.shape;
        for l in 0..s.layers {
            for d in 0..s.directions {
                self.direction_forward(pass, l, d);
            }
            if let (Some((step, p)), true) = (pass.dropout, l + 1 < s.layers) {
                let seed = rng::dropout_seed(step.seed, step.step, l as u32);
                apply_dropout(&self.blocks, &mut self.layers[l], seed, p, s.steps);
            }
        }
        self.head(pass);
    }

    /// Layer `l`, direction `d`: its weights packed, then the recurrence (GRU: after XW) of
    /// every block of sequences, each on its own thread, into columns `d H .. d H + H` of out_l.
    fn direction_forward(&mut self, pass: &Pass<T>, l: usize, d: usize) {
        let s = &pass.shape;
        let (steps, h, gh, width) = (s.steps, s.hidden, s.gate_width(), s.width());
        let inputs = s.layer_input(l);
        let (below, above) = self.layers.split_at_mut(l);
        let x_l = layer_x(&self.x, below, pass.dropped());
        let layer = &mut above[0];
        let dir = &mut layer.directions[d];
        pack_weights(pass, pass.layer(l, d), inputs, dir);
        let (w_ih_t, w_step_t) = (&dir.w_ih_t, &dir.w_step_t);
        let b_hh = pass.param(pass.layer(l, d).b_hh);
        let blocks = &self.blocks;
        let jobs = blocks
            .iter()
            .zip(split_blocks(&mut dir.xw, blocks, steps * gh))
            .zip(split_blocks(&mut dir.gates, blocks, steps * 4 * h))
            .zip(split_blocks(&mut dir.cell, blocks, steps * h))
            .zip(split_blocks(&mut layer.out, blocks, steps * width))
            .zip(self.scratch.iter_mut());
        let (base, keep) = (pass.direction_dims(d), pass.keep);
        parallel(jobs, |(((((blk, xw), gates), cell), out), scratch)| {
            let dims = blk.dims(&base);
            let x = blk.of(x_l, steps * inputs);
            match s.cell {
                Cell::Lstm => {
                    // A step's [x_t | h_prev]; without `keep`, the current step's state only.
                    let xh = &mut scratch.xh[..blk.len * (inputs + h)];
                    let (gates, cell) = if keep {
                        (xw, cell)
                    } else {
                        (&mut scratch.gates[..], &mut scratch.c[..])
                    };
                    lstm::forward(&dims, x, w_step_t, xh, gates, cell, out);
                }
                Cell::Gru => {
                    // XW = X W_ihᵀ + b_ih for all steps of the block, one GEMM.
                    times_w_ih_t(x, w_ih_t, xw);
                    let gates = if keep { gates } else { &mut scratch.gates[..] };
                    gru::forward(&dims, w_step_t, b_hh, xw, gates, out, &mut scratch.carry);
                }
            }
        });
    }

    /// `pred = out_top head.weightᵀ + head.bias` on every step.
    fn head(&mut self, pass: &Pass<T>) {
        let head = pass.layout.head();
        let (weight, bias) = (pass.param(head.weight), pass.param(head.bias)[0]);
        let top = &self.layers[pass.shape.layers - 1].out;
        for (pred, row) in self
            .pred
            .iter_mut()
            .zip(top.chunks_exact(pass.shape.width()))
        {
            *pred = row
                .iter()
                .zip(weight)
                .fold(bias, |acc, (a, w)| acc + *a * *w);
        }
    }

    /// The loss of the last forward pass, and its gradient with respect to pred in `d_pred`.
    fn loss(&mut self, batch: &Batch<T>, use_masking: bool) -> T {
        let steps = batch.steps;
        for (b, t, row) in rows(&self.blocks, steps) {
            self.y[row] = batch.y[b * steps + t];
            self.weight[row] = if use_masking {
                batch.mask[b * steps + t]
            } else {
                T::one()
            };
        }
        let count = self.weight.iter().fold(T::zero(), |s, &w| s + w);
        let mut sum = T::zero();
        let scale = if count > T::zero() {
            T::of(2.0) / count
        } else {
            T::zero()
        };
        for (((d, p), y), w) in self
            .d_pred
            .iter_mut()
            .zip(&self.pred)
            .zip(&self.y)
            .zip(&self.weight)
        {
            sum = sum + *w * (*p - *y) * (*p - *y);
            *d = scale * *w * (*p - *y);
        }
        if count > T::zero() {
            sum / count
        } else {
            T::zero()
        }
    }

    /// The backward pass of the last forward pass (which kept its activations), from `d_pred`
    /// to the gradient of every parameter in `grads`.
    fn backward(&mut self, pass: &Pass<T>) {
        self.zero_gradients(pass.params);
        self.head_backward(pass);
        for l in (0..pass.shape.layers).rev() {
            for d in 0..pass.shape.directions {
                self.direction_backward(pass, l, d);
                self.weight_gradients(pass, l, d);
            }
            if l > 0 {
                self.input_gradient(pass, l);
            }
        }
    }

    /// `d head.weight = d_predᵀ out_top`, `d head.bias = Σ d_pred`, `d out_top = d_pred
    /// head.weight`.
    fn head_backward(&mut self, pass: &Pass<T>) {
        let (s, head) = (&pass.shape, pass.layout.head());
        let top = &self.layers[s.layers - 1].out;
        let d_weight = &mut self.grads[head.weight];
        T::gemm(
            1,
            s.rows(),
            s.width(),
            &self.d_pred,
            false,
            top,
            false,
            T::one(),
            d_weight,
        );
        self.grads[head.bias][0] = self.d_pred.iter().fold(T::zero(), |s, &v| s + v);
        let weight = pass.param(head.weight);
        for (d_row, &d_pred) in self.d_out.chunks_exact_mut(s.width()).zip(&self.d_pred) {
            for (d, &w) in d_row.iter_mut().zip(weight) {
                *d = d_pred * w;
            }
        }
    }

    /// Layer `l`, direction `d`: the recurrence's backward from `d_out` to `d_xw` (and, GRU,
    /// `d_hw`), every block of sequences on its own thread.
    fn direction_backward(&mut self, pass: &Pass<T>, l: usize, d: usize) {
        let s = &pass.shape;
        let (steps, h, gh, width) = (s.steps, s.hidden, s.gate_width(), s.width());
        let w_hh = pass.param(pass.layer(l, d).w_hh);
        let (out, dir) = (&self.layers[l].out, &self.layers[l].directions[d]);
        let blocks = &self.blocks;
        let jobs = blocks
            .iter()
            .zip(split_blocks(&mut self.d_xw[d], blocks, steps * gh))
            .zip(split_blocks(&mut self.d_hw[d], blocks, steps * gh))
            .zip(self.scratch.iter_mut());
        let (base, d_out) = (pass.direction_dims(d), &self.d_out);
        parallel(jobs, |(((blk, d_xw), d_hw), scratch)| {
            let dims = blk.dims(&base);
            let (out, d_out) = (blk.of(out, steps * width), blk.of(d_out, steps * width));
            let carry = &mut scratch.carry;
            match s.cell {
                Cell::Lstm => {
                    let (gates, cell) = (blk.of(&dir.xw, steps * gh), blk.of(&dir.cell, steps * h));
                    lstm::backward(&dims, w_hh, gates, cell, d_out, d_xw, carry);
                }
                Cell::Gru => {
                    let gates = blk.of(&dir.gates, steps * 4 * h);
                    gru::backward(&dims, w_hh, gates, out, d_out, d_xw, d_hw, carry);
                }
            }
        });
    }

    /// Layer `l`, direction `d`: the weight gradients of all steps, one GEMM or column sum each
    /// (dW_hh one per block, as the pairing with the previous step stays inside a block).
    fn weight_gradients(&mut self, pass: &Pass<T>, l: usize, d: usize) {
        let s = &pass.shape;
        let (steps, gh, p) = (s.steps, s.gate_width(), pass.layer(l, d));
        let x_l = layer_x(&self.x, &self.layers[..l], pass.dropped());
        let d_xw = &self.d_xw[d];
        let d_a = match s.cell {
            Cell::Lstm => d_xw,
            Cell::Gru => &self.d_hw[d],
        };
        // dW_ih = d_xwᵀ X_l, db_ih = Σ_rows d_xw.
        let d_w_ih = &mut self.grads[p.w_ih];
        T::gemm(
            gh,
            s.rows(),
            s.layer_input(l),
            d_xw,
            true,
            x_l,
            false,
            T::one(),
            d_w_ih,
        );
        add_column_sums(d_xw, &mut self.grads[p.b_ih]);
        // dW_hh = d_a[shifted]ᵀ h_prev, db_hh = Σ_rows d_a.
        let (base, out) = (pass.direction_dims(d), &self.layers[l].out);
        for blk in &self.blocks {
            let (d_a, out) = (blk.of(d_a, steps * gh), blk.of(out, steps * s.width()));
            add_d_w_hh(&blk.dims(&base), d_a, out, &mut self.grads[p.w_hh]);
        }
        add_column_sums(d_a, &mut self.grads[p.b_hh]);
    }

    /// `d X_l = Σ_d d_xw W_ih` for a layer `l` above the first, then through the dropout of
    /// layer l - 1: the gradient of that layer's output, the next `d_out`.
    fn input_gradient(&mut self, pass: &Pass<T>, l: usize) {
        let s = &pass.shape;
        for d in 0..s.directions {
            let beta = if d == 0 { T::zero() } else { T::one() };
            let w_ih = pass.param(pass.layer(l, d).w_ih);
            let d_xw = &self.d_xw[d];
            T::gemm(
                s.rows(),
                s.gate_width(),
                s.width(),
                d_xw,
                false,
                w_ih,
                false,
                beta,
                &mut self.d_x,
            );
        }
        if pass.dropped() {
            for (dx, &scale) in self.d_x.iter_mut().zip(&self.layers[l - 1].scale) {
                *dx = *dx * scale;
            }
        }
        std::mem::swap(&mut self.d_out, &mut self.d_x);
    }

    /// One training pass: the forward pass (keeping its activations; with `dropout`, the masks
    /// between layers), the loss (`use_masking`: masked MSE, else the mean over all steps), and
    /// the backward pass. Returns the loss; the gradients are then in [`Self::gradients`].
    pub fn train(
        &mut self,
        config: &ModelConfig,
        params: &Params<T>,
        batch: &Batch<T>,
        use_masking: bool,
        dropout: Option<DropoutStep>,
    ) -> T {
        let pass = self.begin(config, params, batch, true, dropout);
        self.forward(&pass);
        let loss = self.loss(batch, use_masking);
        self.backward(&pass);
        loss
    }

    /// Predictions for `batch`, batch-first `[B, T]`: no dropout, and no activations kept (each
    /// layer's output, and the state of the current step only).
    pub fn predict(
        &mut self,
        config: &ModelConfig,
        params: &Params<T>,
        batch: &Batch<T>,
    ) -> Vec<T> {
        let pass = self.begin(config, params, batch, false, None);
        self.forward(&pass);
        let mut pred = Vec::new();
        self.predictions_into(&mut pred);
        pred
    }
}

/// The loss, the gradient of every parameter (state_dict order) and the predictions
/// (batch-first `[B, T]`) of one batch, on a fresh [`Workspace`].
pub fn loss_and_gradients<T: Activation>(
    config: &ModelConfig,
    params: &Params<T>,
    batch: &Batch<T>,
    use_masking: bool,
    dropout: Option<DropoutStep>,
) -> (T, Vec<Vec<T>>, Vec<T>) {
    let mut ws = Workspace::default();
    let loss = ws.train(config, params, batch, use_masking, dropout);
    let mut pred = Vec::new();
    ws.predictions_into(&mut pred);
    (loss, ws.take_gradients(), pred)
}

/// Predictions only (evaluation: no dropout, no activations kept), batch-first `[B, T]`, on a
/// fresh [`Workspace`].
pub fn predict<T: Activation>(
    config: &ModelConfig,
    params: &Params<T>,
    batch: &Batch<T>,
) -> Vec<T> {
    Workspace::default().predict(config, params, batch)
}
