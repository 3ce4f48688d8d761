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
//! Threads. The sequences of a batch are independent, so the batch is split into one block of
//! consecutive sequences per core (`std::thread::available_parallelism`, which honours
//! `taskset`), and each block runs its whole time loop on its own thread with no
//! synchronization between steps; its per-step GEMMs are small enough to stay on that thread.
//! The buffers are time-major within each block (row `t·B_k + b` of block k, the blocks one
//! after another), so the products over all steps of the backward pass (dW_ih, dX) are still
//! one GEMM over the whole batch, which [`Scalar::gemm`] splits over the cores itself. The
//! forward pass's products take a right operand packed once per pass (`engine::packed`). With one block the layout
//! is plain time-major, row `t·B + b`.

use super::recurrence::{Activation, Carry, Dims, add_d_w_hh, pack_transposed, times_w_ih_t};
use super::{DropoutStep, gru, lstm};
use crate::engine::packed::Packed;
use crate::engine::rng;
use crate::engine::scalar::Scalar;
use crate::model::{Batch, Cell, ModelConfig, Params};

/// Consecutive sequences `start .. start + len` of the batch, run through time by one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    start: usize,
    len: usize,
}

/// What the buffers were sized for.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    cell: Cell,
    inputs: usize,
    hidden: usize,
    layers: usize,
    directions: usize,
    batch: usize,
    steps: usize,
}

/// One layer and direction's activations.
#[derive(Debug, Default)]
struct DirectionBuffers<T> {
    /// `[T·B, G H]` XW; for the LSTM overwritten step by step with the gates i, f, g, o.
    xw: Vec<T>,
    /// `[T·B, 4H]` GRU: r, z, n, hw_n (empty for the LSTM).
    gates: Vec<T>,
    /// `[T·B, H]` LSTM: c (empty for the GRU).
    cell: Vec<T>,
    /// The right operand of each forward step's product, packed: LSTM `[I + H, 4H]`
    /// `[W_ih | W_hh]ᵀ` with `b_ih + b_hh`; GRU `[H, 3H]` W_hhᵀ.
    w_step_t: Packed<T>,
    /// GRU: `[I, 3H]` W_ihᵀ with b_ih, packed: the right operand of XW over all steps (the
    /// LSTM's steps take x_t themselves).
    w_ih_t: Packed<T>,
}

/// One layer's output and its dropout.
#[derive(Debug, Default)]
struct LayerBuffers<T> {
    /// Per direction.
    directions: Vec<DirectionBuffers<T>>,
    /// `[T·B, W]` h of every direction side by side.
    out: Vec<T>,
    /// `[T·B, W]` inverted-dropout multipliers after this layer (training steps with dropout).
    scale: Vec<T>,
    /// `[T·B, W]` `out ⊙ scale`, the next layer's input when dropout is on.
    dropped: Vec<T>,
}

/// One block's per-thread state.
#[derive(Debug, Default)]
struct BlockScratch<T> {
    /// Carried between steps.
    carry: Carry<T>,
    /// `[B_k, H]` LSTM inference: the current c.
    c: Vec<T>,
    /// `[B_k, 4H]` inference: the current step's gates.
    gates: Vec<T>,
    /// LSTM: `[B_k, I + H]` a step's `[x_t | h_prev]` (I the widest layer input).
    xh: Vec<T>,
}

/// The buffers of forward and backward passes for one batch shape, reused from step to step
/// (reallocated only when the shape changes), and the gradients of the last training pass.
/// `Workspace::default()` is empty; the first pass sizes it.
#[derive(Debug, Default)]
pub struct Workspace<T> {
    /// Blocks (threads) to split a batch into; `None`: one per core.
    threads: Option<usize>,
    shape: Option<Shape>,
    blocks: Vec<Block>,
    /// `[T·B, I]` the batch's features.
    x: Vec<T>,
    /// `[T·B]` targets.
    y: Vec<T>,
    /// `[T·B]` loss weights (the mask, or 1).
    weight: Vec<T>,
    /// `[T·B]` predictions.
    pred: Vec<T>,
    /// `[T·B]` gradient of the loss with respect to pred.
    d_pred: Vec<T>,
    layers: Vec<LayerBuffers<T>>,
    /// `[T·B, W]` gradient of the current layer's output.
    d_out: Vec<T>,
    /// `[T·B, W]` gradient of the current layer's input.
    d_x: Vec<T>,
    /// Per direction, `[T·B, G H]`: d_xw (LSTM: d_a) of the current layer.
    d_xw: Vec<Vec<T>>,
    /// Per direction, `[T·B, G H]` GRU: d_hw of the current layer.
    d_hw: Vec<Vec<T>>,
    scratch: Vec<BlockScratch<T>>,
    /// Gradients of the last training pass, state_dict order.
    grads: Vec<Vec<T>>,
}

/// Splits `buf` into the blocks' parts, `per_seq` elements per sequence, in order (empty parts
/// where `buf` is empty: a buffer the cell does not use).
fn split_blocks<'a, T>(
    buf: &'a mut [T],
    blocks: &'a [Block],
    per_seq: usize,
) -> impl Iterator<Item = &'a mut [T]> + 'a {
    let per_seq = if buf.is_empty() { 0 } else { per_seq };
    let mut rest = buf;
    blocks.iter().map(move |b| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(b.len * per_seq);
        rest = tail;
        head
    })
}

/// The blocks' parts of a read-only `buf`, `per_seq` elements per sequence.
fn block_of<'a, T>(buf: &'a [T], block: &Block, per_seq: usize) -> &'a [T] {
    &buf[block.start * per_seq..(block.start + block.len) * per_seq]
}

/// Runs `job` on every item, each on its own thread but the first, which runs on this one.
fn parallel<I: Send>(mut items: impl Iterator<Item = I>, job: impl Fn(I) + Sync) {
    std::thread::scope(|scope| {
        let first = items.next();
        for item in items {
            let job = &job;
            scope.spawn(move || job(item));
        }
        if let Some(item) = first {
            job(item);
        }
    });
}

/// Every (sequence, time, row) of a batch of `steps` steps split into `blocks`: row in the
/// blocks' layout, `start T + t len + i` for sequence `start + i` of a block.
fn rows(blocks: &[Block], steps: usize) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    blocks.iter().flat_map(move |blk| {
        (0..steps).flat_map(move |t| {
            (0..blk.len).map(move |i| (blk.start + i, t, blk.start * steps + t * blk.len + i))
        })
    })
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
        let out = block_of(out, blk, steps * width);
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

/// The sizes of direction `d` (0 forward, 1 reverse) of a layer of `h` units over the whole
/// batch, whose output rows are `width` wide; `keep` for a training forward pass.
fn direction_dims<T>(
    batch: &Batch<T>,
    steps: usize,
    h: usize,
    d: usize,
    width: usize,
    keep: bool,
) -> Dims<'_> {
    Dims {
        batch: batch.batch,
        steps,
        hidden: h,
        reverse: d == 1,
        out_stride: width,
        out_col: d * h,
        keep,
        lengths: &batch.lengths,
    }
}

/// The sizes of one block under the sizes of the whole batch.
fn block_dims<'a>(base: &Dims<'a>, blk: &Block) -> Dims<'a> {
    Dims {
        batch: blk.len,
        lengths: &base.lengths[blk.start..blk.start + blk.len],
        ..*base
    }
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
    /// An empty workspace that splits every batch into `threads` blocks of sequences, each on
    /// its own thread (at most one per sequence), whatever the machine's cores.
    pub fn with_threads(threads: usize) -> Self {
        Workspace {
            threads: Some(threads),
            ..Workspace::default()
        }
    }

    /// Sizes the buffers for `config` and `batch` (nothing to do when they already are), and
    /// loads the batch's features in the blocks' layout.
    fn prepare(&mut self, config: &ModelConfig, batch: &Batch<T>) {
        let shape = Shape {
            cell: config.model,
            inputs: batch.inputs,
            hidden: config.hidden_size,
            layers: config.num_layers,
            directions: config.directions(),
            batch: batch.batch,
            steps: batch.steps,
        };
        if self.shape.as_ref() != Some(&shape) {
            self.allocate(&shape);
            self.shape = Some(shape);
        }
        let (steps, inputs) = (batch.steps, batch.inputs);
        for (b, t, row) in rows(&self.blocks, steps) {
            let from = (b * steps + t) * inputs;
            self.x[row * inputs..(row + 1) * inputs].copy_from_slice(&batch.x[from..from + inputs]);
        }
    }

    fn allocate(&mut self, s: &Shape) {
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |p| p.get()));
        let blocks = threads.clamp(1, s.batch.max(1));
        self.blocks = (0..blocks)
            .map(|k| {
                let start = k * s.batch / blocks;
                Block {
                    start,
                    len: (k + 1) * s.batch / blocks - start,
                }
            })
            .collect();
        let (rows, h, g) = (s.batch * s.steps, s.hidden, s.cell.gates());
        let width = h * s.directions;
        let zeros = |n: usize| vec![T::zero(); n];
        let lstm = s.cell == Cell::Lstm;
        self.x = zeros(rows * s.inputs);
        (self.y, self.weight, self.pred, self.d_pred) =
            (zeros(rows), zeros(rows), zeros(rows), zeros(rows));
        self.layers = (0..s.layers)
            .map(|_| LayerBuffers {
                directions: (0..s.directions)
                    .map(|_| DirectionBuffers {
                        xw: zeros(rows * g * h),
                        gates: if lstm {
                            Vec::new()
                        } else {
                            zeros(rows * 4 * h)
                        },
                        cell: if lstm { zeros(rows * h) } else { Vec::new() },
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
        self.d_xw = (0..s.directions).map(|_| zeros(rows * g * h)).collect();
        self.d_hw = if lstm {
            Vec::new()
        } else {
            (0..s.directions).map(|_| zeros(rows * g * h)).collect()
        };
        self.scratch = self
            .blocks
            .iter()
            .map(|b| BlockScratch {
                carry: Carry::new(b.len, h, g),
                c: zeros(b.len * h),
                gates: zeros(b.len * 4 * h),
                xh: if lstm {
                    zeros(b.len * (s.inputs.max(width) + h))
                } else {
                    Vec::new()
                },
            })
            .collect();
    }

    /// The forward pass through every layer to the predictions; `keep` keeps the activations
    /// for [`Self::backward`], and `dropout` (training) applies the masks between layers.
    fn forward(
        &mut self,
        config: &ModelConfig,
        params: &Params<T>,
        batch: &Batch<T>,
        keep: bool,
        dropout: Option<DropoutStep>,
    ) {
        self.prepare(config, batch);
        let (h, dirs, steps) = (config.hidden_size, config.directions(), batch.steps);
        let (g, width, rows) = (config.model.gates(), h * dirs, batch.batch * steps);
        let drop = dropout.filter(|_| config.dropout > 0.0);
        let lstm = config.model == Cell::Lstm;
        for l in 0..config.num_layers {
            let (below, above) = self.layers.split_at_mut(l);
            let input: &[T] = match below.last() {
                None => &self.x,
                Some(prev) if drop.is_some() => &prev.dropped,
                Some(prev) => &prev.out,
            };
            let layer = &mut above[0];
            let inputs = input.len() / rows;
            for (d, dir) in layer.directions.iter_mut().enumerate() {
                let p = 4 * (l * dirs + d);
                let (w_ih, w_hh) = (&params.values[p], &params.values[p + 1]);
                let (b_ih, b_hh) = (&params.values[p + 2], &params.values[p + 3]);
                if lstm {
                    let bias: Vec<T> = b_ih.iter().zip(b_hh).map(|(i, h)| *i + *h).collect();
                    let parts = [(&w_ih[..], inputs), (&w_hh[..], h)];
                    pack_transposed(&parts, Some(&bias), &mut dir.w_step_t);
                } else {
                    pack_transposed(&[(w_ih, inputs)], Some(b_ih), &mut dir.w_ih_t);
                    pack_transposed(&[(w_hh, h)], None, &mut dir.w_step_t);
                }
                let (w_ih_t, w_step_t) = (&dir.w_ih_t, &dir.w_step_t);
                let blocks = &self.blocks;
                let jobs = blocks
                    .iter()
                    .zip(split_blocks(&mut dir.xw, blocks, steps * g * h))
                    .zip(split_blocks(&mut dir.gates, blocks, steps * 4 * h))
                    .zip(split_blocks(&mut dir.cell, blocks, steps * h))
                    .zip(split_blocks(&mut layer.out, blocks, steps * width))
                    .zip(self.scratch.iter_mut());
                let base = direction_dims(batch, steps, h, d, width, keep);
                parallel(jobs, |(((((blk, xw), gates), cell), out), scratch)| {
                    let d = block_dims(&base, blk);
                    let x = block_of(input, blk, steps * inputs);
                    // LSTM: a step's [x_t | h_prev] (empty for the GRU).
                    let xh = &mut scratch.xh[..blk.len * (inputs + h) * usize::from(lstm)];
                    if !lstm {
                        // XW = X W_ihᵀ + b_ih for all steps of the block, one GEMM.
                        times_w_ih_t(x, w_ih_t, xw);
                    }
                    match (config.model, keep) {
                        (Cell::Lstm, true) => lstm::forward(&d, x, w_step_t, xh, xw, cell, out),
                        (Cell::Lstm, false) => lstm::forward(
                            &d,
                            x,
                            w_step_t,
                            xh,
                            &mut scratch.gates,
                            &mut scratch.c,
                            out,
                        ),
                        (Cell::Gru, true) => {
                            gru::forward(&d, w_step_t, b_hh, xw, gates, out, &mut scratch.carry);
                        }
                        (Cell::Gru, false) => gru::forward(
                            &d,
                            w_step_t,
                            b_hh,
                            xw,
                            &mut scratch.gates,
                            out,
                            &mut scratch.carry,
                        ),
                    }
                });
            }
            if let (Some(step), true) = (drop, l + 1 < config.num_layers) {
                let seed = rng::dropout_seed(step.seed, step.step, l as u32);
                apply_dropout(&self.blocks, layer, seed, config.dropout as f32, steps);
            }
        }
        // The head on every step.
        let top = &self.layers[config.num_layers - 1].out;
        let p = 4 * config.num_layers * dirs;
        let (head_w, head_b) = (&params.values[p], params.values[p + 1][0]);
        for (pred, row) in self.pred.iter_mut().zip(top.chunks_exact(width)) {
            *pred = row
                .iter()
                .zip(head_w)
                .fold(head_b, |acc, (a, w)| acc + *a * *w);
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
    /// to the gradient of every parameter in `grads`. `dropped` says whether that pass applied
    /// dropout between layers.
    fn backward(
        &mut self,
        config: &ModelConfig,
        params: &Params<T>,
        batch: &Batch<T>,
        dropped: bool,
    ) {
        let (h, dirs, steps) = (config.hidden_size, config.directions(), batch.steps);
        let (g, width, rows) = (config.model.gates(), h * dirs, batch.batch * steps);
        let lstm = config.model == Cell::Lstm;
        if self.grads.len() == params.values.len() {
            self.grads.iter_mut().for_each(|v| v.fill(T::zero()));
        } else {
            self.grads = params
                .values
                .iter()
                .map(|v| vec![T::zero(); v.len()])
                .collect();
        }
        // The head: d head.weight = d_predᵀ out_top, d head.bias = Σ d_pred, d out_top.
        let p = 4 * config.num_layers * dirs;
        let top = &self.layers[config.num_layers - 1].out;
        T::gemm(
            1,
            rows,
            width,
            &self.d_pred,
            false,
            top,
            false,
            T::one(),
            &mut self.grads[p],
        );
        self.grads[p + 1][0] = self.d_pred.iter().fold(T::zero(), |s, &v| s + v);
        let head_w = &params.values[p];
        for (d_row, &d_pred) in self.d_out.chunks_exact_mut(width).zip(&self.d_pred) {
            for (d, &w) in d_row.iter_mut().zip(head_w) {
                *d = d_pred * w;
            }
        }
        for l in (0..config.num_layers).rev() {
            let (below, above) = self.layers.split_at(l);
            let layer = &above[0];
            let input: &[T] = match below.last() {
                None => &self.x,
                Some(prev) if dropped => &prev.dropped,
                Some(prev) => &prev.out,
            };
            let inputs = input.len() / rows;
            for (d, dir) in layer.directions.iter().enumerate() {
                let p = 4 * (l * dirs + d);
                let w_hh = &params.values[p + 1];
                let base = direction_dims(batch, steps, h, d, width, true);
                let blocks = &self.blocks;
                let d_hw: &mut [T] = match self.d_hw.get_mut(d) {
                    Some(v) => v,
                    None => &mut [],
                };
                let jobs = blocks
                    .iter()
                    .zip(split_blocks(&mut self.d_xw[d], blocks, steps * g * h))
                    .zip(split_blocks(d_hw, blocks, steps * g * h))
                    .zip(self.scratch.iter_mut());
                let (out, d_out) = (&layer.out, &self.d_out);
                parallel(jobs, |(((blk, d_xw), d_hw), scratch)| {
                    let dm = block_dims(&base, blk);
                    let per_seq = steps * width;
                    let (out, d_out) = (block_of(out, blk, per_seq), block_of(d_out, blk, per_seq));
                    let carry = &mut scratch.carry;
                    match config.model {
                        Cell::Lstm => {
                            let gates = block_of(&dir.xw, blk, steps * g * h);
                            let cell = block_of(&dir.cell, blk, steps * h);
                            lstm::backward(&dm, w_hh, gates, cell, d_out, d_xw, carry);
                        }
                        Cell::Gru => {
                            let gates = block_of(&dir.gates, blk, steps * 4 * h);
                            gru::backward(&dm, w_hh, gates, out, d_out, d_xw, d_hw, carry);
                        }
                    }
                });
                // The weight gradients of all steps: one GEMM or column sum each (dW_hh: one
                // per block, as the pairing with the previous step stays inside a block).
                let d_xw = &self.d_xw[d];
                let d_a = if lstm { d_xw } else { &self.d_hw[d] };
                T::gemm(
                    g * h,
                    rows,
                    inputs,
                    d_xw,
                    true,
                    input,
                    false,
                    T::one(),
                    &mut self.grads[p],
                );
                add_column_sums(d_xw, &mut self.grads[p + 2]);
                for blk in &self.blocks {
                    let d_a = block_of(d_a, blk, steps * g * h);
                    let out = block_of(&layer.out, blk, steps * width);
                    add_d_w_hh(&block_dims(&base, blk), d_a, out, &mut self.grads[p + 1]);
                }
                add_column_sums(d_a, &mut self.grads[p + 3]);
            }
            if let Some(prev) = below.last() {
                // d X_l = Σ_d d_xw W_ih, then through the dropout of layer l - 1.
                for d in 0..dirs {
                    let beta = if d == 0 { T::zero() } else { T::one() };
                    let w_ih = &params.values[4 * (l * dirs + d)];
                    T::gemm(
                        rows,
                        g * h,
                        width,
                        &self.d_xw[d],
                        false,
                        w_ih,
                        false,
                        beta,
                        &mut self.d_x,
                    );
                }
                if dropped {
                    for (dx, &s) in self.d_x.iter_mut().zip(&prev.scale) {
                        *dx = *dx * s;
                    }
                }
                std::mem::swap(&mut self.d_out, &mut self.d_x);
            }
        }
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
        self.forward(config, params, batch, true, dropout);
        let loss = self.loss(batch, use_masking);
        let dropped = dropout.is_some() && config.dropout > 0.0;
        self.backward(config, params, batch, dropped);
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
        self.forward(config, params, batch, false, None);
        let mut pred = Vec::new();
        self.predictions_into(&mut pred);
        pred
    }

    /// The gradients of the last [`Self::train`], in state_dict order.
    pub fn gradients(&self) -> &[Vec<T>] {
        &self.grads
    }

    /// The gradients of the last [`Self::train`], to clip in place.
    pub fn gradients_mut(&mut self) -> &mut [Vec<T>] {
        &mut self.grads
    }

    /// Writes the predictions of the last pass into `pred`, batch-first `[B, T]`.
    pub fn predictions_into(&self, pred: &mut Vec<T>) {
        let steps = self.shape.as_ref().map_or(0, |s| s.steps);
        pred.resize(self.pred.len(), T::zero());
        for (b, t, row) in rows(&self.blocks, steps) {
            pred[b * steps + t] = self.pred[row];
        }
    }

    /// The top layer's output of the last pass, batch-first `[B, T, H × directions]`.
    pub fn rnn_out(&self) -> Vec<T> {
        let steps = self.shape.as_ref().map_or(0, |s| s.steps);
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
        let (h, steps) = (shape.hidden, shape.steps);
        let width = h * shape.directions;
        let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
        for layer in &self.layers {
            for (d, dir) in layer.directions.iter().enumerate() {
                let t = if d == 1 { 0 } else { steps - 1 };
                for blk in &self.blocks {
                    for i in 0..blk.len {
                        let row = blk.start * steps + t * blk.len + i;
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
    (loss, std::mem::take(&mut ws.grads), pred)
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
