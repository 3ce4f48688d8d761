//! LSTM recurrence of one layer and one direction over one block of sequences: the forward pass
//! through time and its backward pass (BPTT). The CPU twin of `shaders/lstm.wgsl`, with its
//! names and equations; where the shader gives each invocation some hidden units of four
//! sequences, here one thread runs a block of sequences, a step's product is one small GEMM, and
//! the gate math of a sequence is one pass over its units.
//!
//! One difference in the order of work: the shader reads XW, computed for all steps by the
//! matmul kernel before the recurrence, while here each step computes its whole pre-activation
//! as one product, `a = [x_t | h_prev] [W_ih | W_hh]ᵀ + (b_ih + b_hh)` (the same sum). XW for all
//! steps is `T·B·4H` values (16 MiB at batch 16, 500 steps, hidden 128) written to memory and
//! read back; a step's `[x_t | h_prev]` and its gates stay in the caches, and the inner
//! dimension of the step's GEMM grows from H to I + H, where the packed kernel runs near the
//! core's peak. Measured on an evaluation batch of the bench's configuration (batch 16, 500 steps,
//! hidden 128, 2 layers, 1 thread, medians of 40 `Engine::predict` calls): 43-45 ms with XW as
//! its own product, 36 ms with the joined one.
//!
//! Notation as in the shader: rows are vectors, ⊙ the elementwise product, σ the logistic
//! function, a the pre-activations. W_hh is `[4H, H]`, gates i, f, g, o. Step s is the
//! processing order, time `t = time_of(s)`; h_prev and c_prev are the h and c of step s - 1
//! (zero at s = 0).
//!
//! ```text
//! Forward, for s = 0 .. T-1 (forward):
//!   a = XW[t] + h_prev W_hhᵀ + b_hh                  a = [a_i | a_f | a_g | a_o], [1, 4H]
//!     (XW[t] = x_t W_ihᵀ + b_ih; computed here as [x_t | h_prev] [W_ih | W_hh]ᵀ + b_ih + b_hh)
//!   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//!   c = f ⊙ c_prev + i ⊙ g
//!   h = o ⊙ tanh(c)
//!   Reverse direction: h = c = 0 at the padding steps t ≥ length[b].
//!
//! Backward, for s = T-1 down to 0 (backward):
//!   d_h           = d_out[t] + d_h_rec
//!   d_o           = d_h ⊙ tanh(c)
//!   d_c           = d_c_from_next + d_h ⊙ o ⊙ (1 - tanh²(c))
//!   d_c_to_prev   = d_c ⊙ f                  (becomes d_c_from_next of step s - 1)
//!   d_a_i = d_c ⊙ g ⊙ i (1 - i)     d_a_f = d_c ⊙ c_prev ⊙ f (1 - f)
//!   d_a_g = d_c ⊙ i ⊙ (1 - g²)      d_a_o = d_o ⊙ o (1 - o)
//!   d_h_rec       = d_a W_hh                 ([B, 4H] [4H, H]: becomes d_h_rec of step s - 1)
//!   Padding steps of the reverse direction get d_h = d_c = 0, so nothing flows through them.
//! ```
//!
//! d_a is written to `d_xw`; the caller turns it into dW_ih, db_ih, dX (one GEMM each over all
//! steps), dW_hh ([`super::recurrence::add_d_w_hh`]) and db_hh (= db_ih: d_a is the gradient of
//! both XW and h_prev W_hhᵀ + b_hh).
//!
//! Buffers (time-major over the block, row `t·B + b`): `x` `[T·B, I]` the layer's input; `gates`
//! `[T·B, 4H]` receives each step's a and then i, f, g, o (training), or is `[B, 4H]`, the
//! current step's only (inference); `cell` `[T·B, H]` holds c (training) or is `[B, H]`, the
//! current step's c only; `out` holds h.

#[cfg(doc)]
use super::recurrence::pack_transposed;
use super::recurrence::{Activation, Carry, Dims, split4, times_w_hh, vectorized};
use crate::engine::packed::{self, Isa, Packed};
use crate::engine::strided::Strided;

vectorized! {
    /// One step of one sequence, all its units in one pass: the pre-activations `a_i .. a_o`
    /// become the gates i, f, g, o; `c` (c_prev on entry) becomes c; `h` is written. Each slice
    /// a separate argument, for the vectorizer (see `recurrence::vectorized`).
    fn cell_step<T: Activation>(
        a_i: &mut [T],
        a_f: &mut [T],
        a_g: &mut [T],
        a_o: &mut [T],
        c: &mut [T],
        h: &mut [T],
    ) {
        let n = c.len();
        let (a_i, a_f, a_g, a_o, h) = (
            &mut a_i[..n],
            &mut a_f[..n],
            &mut a_g[..n],
            &mut a_o[..n],
            &mut h[..n],
        );
        for j in 0..n {
            let i = T::sigmoid(a_i[j]);
            let f = T::sigmoid(a_f[j]);
            let g = T::tanh_act(a_g[j]);
            let o = T::sigmoid(a_o[j]);
            let c_new = f * c[j] + i * g;
            (a_i[j], a_f[j], a_g[j], a_o[j]) = (i, f, g, o);
            c[j] = c_new;
            h[j] = o * T::tanh_act(c_new);
        }
    }
}

/// The forward pass of one block (`lstm_forward`): `x` is the block's input (`[T·B, I]`),
/// `w_t` is `[W_ih | W_hh]ᵀ` packed with `b_ih + b_hh` ([`pack_transposed`]), and `xh` (`[B,
/// I + H]`) holds a step's `[x_t | h_prev]`. `d.keep` says whether `gates` and `cell` keep every
/// step (training: `[T·B, 4H]`, `[T·B, H]`) or only the current one (`[B, 4H]`, `[B, H]`).
pub fn forward<T: Activation>(
    d: &Dims,
    x: &[T],
    w_t: &Packed<T>,
    xh: &mut [T],
    gates: &mut [T],
    cell: &mut [T],
    out: &mut [T],
) {
    let (hsz, g4) = (d.hidden, 4 * d.hidden);
    let inputs = w_t.k - hsz;
    let (step_gates, step_cells) = (d.batch * g4, d.batch * hsz);
    for s in 0..d.steps {
        let t = d.time_of(s);
        let (gates_t, c_t) = if d.keep {
            let at = t * step_cells;
            if s == 0 {
                cell[at..at + step_cells].fill(T::zero());
            } else {
                let prev = d.time_of(s - 1) * step_cells;
                cell.copy_within(prev..prev + step_cells, at);
            }
            (
                &mut gates[t * step_gates..(t + 1) * step_gates],
                &mut cell[at..at + step_cells],
            )
        } else {
            if s == 0 {
                cell.fill(T::zero());
            }
            (&mut gates[..step_gates], &mut cell[..])
        };
        // a = [x_t | h_prev] [W_ih | W_hh]ᵀ + b_ih + b_hh, one GEMM for the block's rows.
        for (b, row) in xh.chunks_exact_mut(inputs + hsz).enumerate() {
            let (x_t, h_prev) = row.split_at_mut(inputs);
            x_t.copy_from_slice(&x[(t * d.batch + b) * inputs..][..inputs]);
            if s == 0 {
                h_prev.fill(T::zero());
            } else {
                h_prev.copy_from_slice(&out[d.out_at(d.time_of(s - 1), b)..][..hsz]);
            }
        }
        let xh = Strided::row_major(&xh[..], inputs + hsz, false);
        packed::product(Isa::best(), d.batch, xh, w_t, T::zero(), gates_t, g4);
        for b in 0..d.batch {
            let h = &mut out[d.out_at(t, b)..][..hsz];
            let c = &mut c_t[b * hsz..(b + 1) * hsz];
            if d.live(t, b) {
                let [a_i, a_f, a_g, a_o] = split4(&mut gates_t[b * g4..(b + 1) * g4], hsz);
                cell_step(a_i, a_f, a_g, a_o, c, h);
            } else {
                h.fill(T::zero());
                c.fill(T::zero());
            }
        }
    }
}

vectorized! {
    /// One backward step of one sequence, all its units in one pass: reads the gates, c, c_prev,
    /// the gradient from above and `d_h_rec`; updates `d_c` (d_c_from_next → d_c_to_prev) and
    /// writes `d_a`, each gate's part a separate argument (see [`cell_step`]).
    fn cell_backward<T: Activation>(
        gates: &[T],
        c: &[T],
        c_prev: &[T],
        d_out: &[T],
        d_h_rec: &[T],
        d_c: &mut [T],
        d_a_i: &mut [T],
        d_a_f: &mut [T],
        d_a_g: &mut [T],
        d_a_o: &mut [T],
    ) {
        let n = c.len();
        let (i, f, g, o) = (
            &gates[..n],
            &gates[n..2 * n],
            &gates[2 * n..3 * n],
            &gates[3 * n..4 * n],
        );
        let (c_prev, d_out, d_h_rec, d_c) = (&c_prev[..n], &d_out[..n], &d_h_rec[..n], &mut d_c[..n]);
        let (d_a_i, d_a_f, d_a_g, d_a_o) = (
            &mut d_a_i[..n],
            &mut d_a_f[..n],
            &mut d_a_g[..n],
            &mut d_a_o[..n],
        );
        let one = T::one();
        for j in 0..n {
            let d_h = d_out[j] + d_h_rec[j];
            let tanh_c = T::tanh_act(c[j]);
            let d_o = d_h * tanh_c;
            let d_c_j = d_c[j] + d_h * o[j] * (one - tanh_c * tanh_c);
            d_c[j] = d_c_j * f[j];
            d_a_i[j] = d_c_j * g[j] * (i[j] * (one - i[j]));
            d_a_f[j] = d_c_j * c_prev[j] * (f[j] * (one - f[j]));
            d_a_g[j] = d_c_j * i[j] * (one - g[j] * g[j]);
            d_a_o[j] = d_o * (o[j] * (one - o[j]));
        }
    }
}

/// The backward pass of one block (`lstm_backward`): from the forward's `gates` and `cell` and
/// the gradient of this layer's output `d_out` (laid out as `out`), writes d_a to `d_xw`
/// (`[T·B, 4H]`).
pub fn backward<T: Activation>(
    d: &Dims,
    w_hh: &[T],
    gates: &[T],
    cell: &[T],
    d_out: &[T],
    d_xw: &mut [T],
    carry: &mut Carry<T>,
) {
    let (hsz, g4) = (d.hidden, 4 * d.hidden);
    let step_gates = d.batch * g4;
    carry.d_h_rec.fill(T::zero());
    carry.d_c.fill(T::zero());
    for s in (0..d.steps).rev() {
        let t = d.time_of(s);
        let d_a_t = &mut d_xw[t * step_gates..(t + 1) * step_gates];
        for b in 0..d.batch {
            let d_a = &mut d_a_t[b * g4..(b + 1) * g4];
            let d_c = &mut carry.d_c[b * hsz..(b + 1) * hsz];
            if !d.live(t, b) {
                d_a.fill(T::zero());
                d_c.fill(T::zero());
                continue;
            }
            let row = t * d.batch + b;
            let c_prev = if s > 0 {
                &cell[(d.time_of(s - 1) * d.batch + b) * hsz..][..hsz]
            } else {
                &carry.zeros
            };
            let [d_a_i, d_a_f, d_a_g, d_a_o] = split4(d_a, hsz);
            cell_backward(
                &gates[row * g4..(row + 1) * g4],
                &cell[row * hsz..(row + 1) * hsz],
                c_prev,
                &d_out[d.out_at(t, b)..][..hsz],
                &carry.d_h_rec[b * hsz..(b + 1) * hsz],
                d_c,
                d_a_i,
                d_a_f,
                d_a_g,
                d_a_o,
            );
        }
        if s > 0 {
            times_w_hh(d, d_a_t, w_hh, T::zero(), &mut carry.d_h_rec);
        }
    }
}
