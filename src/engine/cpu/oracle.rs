//! The oracle: the model (docs/model.md) written as operations on an autodiff [`Tape`], so that
//! its gradients come from the chain rule applied mechanically. Slow (an allocation per
//! operation, every activation kept), but simple enough to trust: the tests hold the
//! hand-written path ([`super::network`]) and the GPU kernels to it. Generic over f32 and f64
//! ([`crate::engine::scalar::Scalar`]).
//!
//! One recurrent layer, one direction, time-major input `X` (`[T B, I]`, row `t B + b`):
//!
//! ```text
//! XW = X W_ihᵀ + b_ih                       one GEMM for all steps, [T B, G H]
//! h = c = 0
//! for t in 0..T (reverse: T-1 down to 0):
//!     a = XW[t] + h W_hhᵀ + b_hh            [B, G H]
//!     LSTM: i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)
//!           c = f ⊙ c + i ⊙ g ;  h = o ⊙ tanh(c)
//!     GRU:  r, z = σ(xw_r + hw_r), σ(xw_z + hw_z)
//!           n = tanh(xw_n + r ⊙ hw_n)        (the reset gate multiplies hw_n, bias included)
//!           h = n + z ⊙ (h - n)             (= (1 - z) n + z h)
//!     reverse direction: h, c ⊙= [t < length_b]   (each sequence starts at its last valid step)
//! ```
//!
//! A bidirectional layer's output is `[forward, reverse]` side by side. Between layers (not after
//! the last) inverted dropout multiplies by the masks of [`crate::engine::rng`]. The head is
//! `pred = out head.weightᵀ + head.bias` on every step, and the loss is the masked MSE.

use super::DropoutStep;
use super::tape::{Tape, Var};
use crate::engine::layout::{to_batch_first, to_time_major};
use crate::engine::rng;
use crate::engine::scalar::Scalar;
use crate::model::{Batch, Cell, ModelConfig, ParamLayout, Params};

/// What one forward pass leaves on the tape.
pub struct Graph {
    /// The parameters, in state_dict order.
    pub params: Vec<Var>,
    /// Predictions, time-major `[T B, 1]`.
    pub pred: Var,
    /// The top layer's output, time-major `[T B, H × directions]`.
    pub rnn_out: Var,
    /// Final hidden state per layer and direction (forward: after step T-1; reverse: after 0).
    pub h_n: Vec<Var>,
    /// Final cell state per layer and direction (LSTM only).
    pub c_n: Vec<Var>,
    /// The loss, `[1, 1]`.
    pub loss: Var,
}

/// One direction of one layer. Returns the outputs `[T B, H]` and the final `h` and `c`.
fn direction<T: Scalar>(
    tape: &mut Tape<T>,
    cell: Cell,
    x: Var,
    w: [Var; 4],
    batch: &Batch<T>,
    hidden: usize,
    reverse: bool,
) -> (Var, Var, Var) {
    let [w_ih, w_hh, b_ih, b_hh] = w;
    let (b, steps, h_size) = (batch.batch, batch.steps, hidden);
    let xw = tape.matmul_t(x, w_ih);
    let xw = tape.add_row(xw, b_ih);
    let mut h = tape.constant(vec![T::zero(); b * h_size], b, h_size);
    let mut c = h;
    let mut outputs = vec![h; steps];
    let order: Vec<usize> = if reverse {
        (0..steps).rev().collect()
    } else {
        (0..steps).collect()
    };
    for t in order {
        let xw_t = tape.slice_rows(xw, t * b, b);
        let hw = tape.matmul_t(h, w_hh);
        let hw = tape.add_row(hw, b_hh);
        match cell {
            Cell::Lstm => {
                let a = tape.add(xw_t, hw);
                let gate = |tape: &mut Tape<T>, k: usize| tape.slice_cols(a, k * h_size, h_size);
                let (ai, af, ag, ao) = (gate(tape, 0), gate(tape, 1), gate(tape, 2), gate(tape, 3));
                let i = tape.sigmoid(ai);
                let f = tape.sigmoid(af);
                let g = tape.tanh(ag);
                let o = tape.sigmoid(ao);
                let fc = tape.mul(f, c);
                let ig = tape.mul(i, g);
                c = tape.add(fc, ig);
                let tc = tape.tanh(c);
                h = tape.mul(o, tc);
            }
            Cell::Gru => {
                let part =
                    |tape: &mut Tape<T>, v: Var, k: usize| tape.slice_cols(v, k * h_size, h_size);
                let (xr, xz, xn) = (
                    part(tape, xw_t, 0),
                    part(tape, xw_t, 1),
                    part(tape, xw_t, 2),
                );
                let (hr, hz, hn) = (part(tape, hw, 0), part(tape, hw, 1), part(tape, hw, 2));
                let ar = tape.add(xr, hr);
                let r = tape.sigmoid(ar);
                let az = tape.add(xz, hz);
                let z = tape.sigmoid(az);
                let rhn = tape.mul(r, hn);
                let an = tape.add(xn, rhn);
                let n = tape.tanh(an);
                let h_minus_n = tape.sub(h, n);
                let zh = tape.mul(z, h_minus_n);
                h = tape.add(n, zh);
            }
        }
        if reverse {
            let valid: Vec<T> = (0..b)
                .flat_map(|seq| {
                    let v = if t < batch.lengths[seq] {
                        T::one()
                    } else {
                        T::zero()
                    };
                    std::iter::repeat_n(v, h_size)
                })
                .collect();
            let valid = tape.constant(valid, b, h_size);
            h = tape.mul(h, valid);
            if cell == Cell::Lstm {
                c = tape.mul(c, valid);
            }
        }
        outputs[t] = h;
    }
    let out = tape.concat_rows(&outputs);
    (out, h, c)
}

/// Records the model's forward pass and loss on `tape`. `dropout` is `Some` in training.
/// With `use_masking` false the loss is the plain mean over all steps.
pub fn forward<T: Scalar>(
    tape: &mut Tape<T>,
    config: &ModelConfig,
    params: &Params<T>,
    batch: &Batch<T>,
    use_masking: bool,
    dropout: Option<DropoutStep>,
) -> Graph {
    let vars: Vec<Var> = params
        .values
        .iter()
        .zip(&params.shapes)
        .map(|(v, s)| {
            let (rows, cols) = if s.len() == 2 {
                (s[0], s[1])
            } else {
                (1, s[0])
            };
            tape.param(v.clone(), rows, cols)
        })
        .collect();
    let (b, steps) = (batch.batch, batch.steps);
    let mut x = tape.constant(
        to_time_major(&batch.x, b, steps, batch.inputs),
        b * steps,
        batch.inputs,
    );
    let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
    let layout = ParamLayout::new(config);
    for layer in 0..config.num_layers {
        let mut outs = Vec::new();
        for d in 0..config.directions() {
            let p = layout.layer(layer, d);
            let w = [vars[p.w_ih], vars[p.w_hh], vars[p.b_ih], vars[p.b_hh]];
            let (out, h, c) =
                direction(tape, config.model, x, w, batch, config.hidden_size, d == 1);
            outs.push(out);
            h_n.push(h);
            c_n.push(c);
        }
        x = if outs.len() == 1 {
            outs[0]
        } else {
            tape.concat_cols(&outs)
        };
        let last = layer + 1 == config.num_layers;
        if let (Some(step), false, true) = (dropout, last, config.dropout > 0.0) {
            let seed = rng::dropout_seed(step.seed, step.step, layer as u32);
            let width = config.hidden_size * config.directions();
            let mut scale = vec![T::zero(); b * steps * width];
            for seq in 0..b {
                for t in 0..steps {
                    for j in 0..width {
                        let counter = ((seq * steps + t) * width + j) as u32;
                        let s = rng::dropout_scale(seed, counter, config.dropout as f32);
                        scale[(t * b + seq) * width + j] = T::of(f64::from(s));
                    }
                }
            }
            let scale = tape.constant(scale, b * steps, width);
            x = tape.mul(x, scale);
        }
    }
    let rnn_out = x;
    let head = layout.head();
    let pred = tape.matmul_t(rnn_out, vars[head.weight]);
    let pred = tape.add_row(pred, vars[head.bias]);
    let y = tape.constant(to_time_major(&batch.y, b, steps, 1), b * steps, 1);
    let mask = if use_masking {
        to_time_major(&batch.mask, b, steps, 1)
    } else {
        vec![T::one(); b * steps]
    };
    let mask = tape.constant(mask, b * steps, 1);
    let loss = tape.masked_mse(pred, y, mask);
    if config.model == Cell::Gru {
        c_n.clear();
    }
    Graph {
        params: vars,
        pred,
        rnn_out,
        h_n,
        c_n,
        loss,
    }
}

/// The loss, the gradient of every parameter (state_dict order) and the predictions
/// (batch-first `[B, T]`) of one batch.
pub fn loss_and_gradients<T: Scalar>(
    config: &ModelConfig,
    params: &Params<T>,
    batch: &Batch<T>,
    use_masking: bool,
    dropout: Option<DropoutStep>,
) -> (T, Vec<Vec<T>>, Vec<T>) {
    let mut tape = Tape::new();
    let graph = forward(&mut tape, config, params, batch, use_masking, dropout);
    let grads = tape.backward(graph.loss);
    let gradients = graph
        .params
        .iter()
        .zip(&params.values)
        .map(|(v, p)| {
            grads
                .of(*v)
                .map_or_else(|| vec![T::zero(); p.len()], <[T]>::to_vec)
        })
        .collect();
    let pred = to_batch_first(tape.value(graph.pred), batch.batch, batch.steps, 1);
    (tape.value(graph.loss)[0], gradients, pred)
}

/// Predictions only (evaluation: no dropout, no gradients kept), batch-first `[B, T]`.
pub fn predict<T: Scalar>(config: &ModelConfig, params: &Params<T>, batch: &Batch<T>) -> Vec<T> {
    let mut tape = Tape::new();
    let graph = forward(&mut tape, config, params, batch, true, None);
    to_batch_first(tape.value(graph.pred), batch.batch, batch.steps, 1)
}
