//! GRU recurrence of one layer and one direction over one block of sequences: the forward pass
//! through time and its backward pass (BPTT). The CPU twin of `shaders/gru.wgsl`, with its names
//! and equations, shaped as [`super::lstm`] (one thread per block of sequences, one small GEMM
//! per step for the recurrent product, one pass over the units per sequence for the gates).
//!
//! Notation as in the shader: W_hh is `[3H, H]`, gates r, z, n; step s is the processing order,
//! time `t = time_of(s)`; h_prev is the h of step s - 1 (zero at s = 0).
//!
//! ```text
//! Forward, for s = 0 .. T-1 (forward):
//!   xw = XW[t]                    = [xw_r | xw_z | xw_n], [1, 3H]
//!   hw = h_prev W_hhᵀ + b_hh      = [hw_r | hw_z | hw_n], [1, 3H]
//!   r = σ(xw_r + hw_r)    z = σ(xw_z + hw_z)
//!   n = tanh(xw_n + r ⊙ hw_n)     the reset gate multiplies hw_n, b_hh's n part included
//!   h = n + z ⊙ (h_prev - n)      = (1 - z) ⊙ n + z ⊙ h_prev
//!   Reverse direction: h = 0 at the padding steps t ≥ length[b].
//!   Stored per step (training): h (out) and, in gates, r, z, n and hw_n.
//!
//! Backward, for s = T-1 down to 0 (backward):
//!   d_h        = d_out[t] + d_h_rec
//!   d_n        = d_h ⊙ (1 - z)
//!   d_z        = d_h ⊙ (h_prev - n)
//!   d_h_direct = d_h ⊙ z                    (through the z ⊙ h_prev term of h)
//!   d_an       = d_n ⊙ (1 - n²)
//!   d_hw_n     = d_an ⊙ r
//!   d_ar       = d_an ⊙ hw_n ⊙ r (1 - r)
//!   d_az       = d_z ⊙ z (1 - z)
//!   d_xw = [d_ar | d_az | d_an]      the gradient of XW
//!   d_hw = [d_ar | d_az | d_hw_n]    the gradient of hw
//!   d_h_rec    = d_h_direct + d_hw W_hh     ([B, 3H] [3H, H]: becomes d_h_rec of step s - 1)
//!   Padding steps of the reverse direction get d_h = 0, so nothing flows through them.
//! ```
//!
//! The caller turns d_xw into dW_ih, db_ih, dX and d_hw into dW_hh
//! ([`super::recurrence::add_d_w_hh`]) and db_hh, one GEMM or column sum each over all steps.
//!
//! Buffers (time-major over the block, row `t·B + b`): `xw` `[T·B, 3H]`; `gates` `[T·B, 4H]`
//! (training) or `[B, 4H]`, the current step's only (inference); `out` holds h; `d_xw`, `d_hw`
//! `[T·B, 3H]`.

use super::recurrence::{Activation, Carry, Dims, split4, times_w_hh, times_w_hh_t, vectorized};
use crate::engine::packed::Packed;

vectorized! {
    /// One step of one sequence, all its units in one pass: from `xw` and `hw` (`[3H]`, hw without
    /// b_hh) and h_prev, writes the gates r, z, n, hw_n (with b_hh) and h. Each slice a separate
    /// argument, for the vectorizer (see `recurrence::vectorized`).
    fn cell_step<T: Activation>(
        xw: &[T],
        hw: &[T],
        b_hh: &[T],
        h_prev: &[T],
        g_r: &mut [T],
        g_z: &mut [T],
        g_n: &mut [T],
        g_hw_n: &mut [T],
        h: &mut [T],
    ) {
        let n_units = h.len();
        let (xw_r, xw_z, xw_n) = (
            &xw[..n_units],
            &xw[n_units..2 * n_units],
            &xw[2 * n_units..3 * n_units],
        );
        let (hw_r, hw_z, hw_n_in) = (
            &hw[..n_units],
            &hw[n_units..2 * n_units],
            &hw[2 * n_units..3 * n_units],
        );
        let (b_r, b_z, b_n) = (
            &b_hh[..n_units],
            &b_hh[n_units..2 * n_units],
            &b_hh[2 * n_units..3 * n_units],
        );
        let h_prev = &h_prev[..n_units];
        let (g_r, g_z, g_n, g_hw_n) = (
            &mut g_r[..n_units],
            &mut g_z[..n_units],
            &mut g_n[..n_units],
            &mut g_hw_n[..n_units],
        );
        for j in 0..n_units {
            let r = T::sigmoid(xw_r[j] + hw_r[j] + b_r[j]);
            let z = T::sigmoid(xw_z[j] + hw_z[j] + b_z[j]);
            let hw_n = hw_n_in[j] + b_n[j];
            let n = T::tanh_act(xw_n[j] + r * hw_n);
            (g_r[j], g_z[j], g_n[j], g_hw_n[j]) = (r, z, n, hw_n);
            h[j] = n + z * (h_prev[j] - n);
        }
    }
}

/// The forward pass of one block (`gru_forward`); `d.keep` says whether `gates` keeps every
/// step's gates. `carry.hw` holds the step's recurrent product. `w_hh_t` is W_hhᵀ
/// (`[H, 3H]`), packed ([`super::recurrence::pack_transposed`]).
pub fn forward<T: Activation>(
    d: &Dims,
    w_hh_t: &Packed<T>,
    b_hh: &[T],
    xw: &[T],
    gates: &mut [T],
    out: &mut [T],
    carry: &mut Carry<T>,
) {
    let (hsz, g3, g4) = (d.hidden, 3 * d.hidden, 4 * d.hidden);
    let step_out = d.batch * d.out_stride;
    for s in 0..d.steps {
        let t = d.time_of(s);
        let gates_t = if d.keep {
            &mut gates[t * d.batch * g4..(t + 1) * d.batch * g4]
        } else {
            &mut gates[..]
        };
        // h of step s - 1 (read) and of step s (written): two rows of `out`, split apart.
        let (prev, cur) = if s == 0 {
            carry.hw.fill(T::zero());
            (None, &mut out[t * step_out..(t + 1) * step_out])
        } else {
            let t_prev = d.time_of(s - 1);
            times_w_hh_t(d, out, t_prev, w_hh_t, T::zero(), &mut carry.hw);
            let (lo, hi) = out.split_at_mut(t.max(t_prev) * step_out);
            if t_prev < t {
                (Some(&lo[t_prev * step_out..]), &mut hi[..step_out])
            } else {
                (Some(&hi[..]), &mut lo[t * step_out..])
            }
        };
        for b in 0..d.batch {
            let at = b * d.out_stride + d.out_col;
            let h = &mut cur[at..at + hsz];
            if !d.live(t, b) {
                h.fill(T::zero());
                continue;
            }
            let h_prev = prev.map_or(&carry.zeros[..], |p| &p[at..at + hsz]);
            let row = t * d.batch + b;
            let [g_r, g_z, g_n, g_hw_n] = split4(&mut gates_t[b * g4..(b + 1) * g4], hsz);
            cell_step(
                &xw[row * g3..(row + 1) * g3],
                &carry.hw[b * g3..(b + 1) * g3],
                b_hh,
                h_prev,
                g_r,
                g_z,
                g_n,
                g_hw_n,
                h,
            );
        }
    }
}

vectorized! {
    /// One backward step of one sequence, all its units in one pass: from the gates, h_prev, the
    /// gradient from above and `d_h_rec` (replaced by d_h_direct), writes `d_xw` and `d_hw`, each
    /// gate's part a separate argument (see `cell_step`).
    fn cell_backward<T: Activation>(
        gates: &[T],
        h_prev: &[T],
        d_out: &[T],
        d_h_rec: &mut [T],
        d_xw_r: &mut [T],
        d_xw_z: &mut [T],
        d_xw_n: &mut [T],
        d_hw_r: &mut [T],
        d_hw_z: &mut [T],
        d_hw_n: &mut [T],
    ) {
        let n_units = d_h_rec.len();
        let (r, z, n, hw_n) = (
            &gates[..n_units],
            &gates[n_units..2 * n_units],
            &gates[2 * n_units..3 * n_units],
            &gates[3 * n_units..4 * n_units],
        );
        let (h_prev, d_out) = (&h_prev[..n_units], &d_out[..n_units]);
        let (d_xw_r, d_xw_z, d_xw_n) = (
            &mut d_xw_r[..n_units],
            &mut d_xw_z[..n_units],
            &mut d_xw_n[..n_units],
        );
        let (d_hw_r, d_hw_z, d_hw_n) = (
            &mut d_hw_r[..n_units],
            &mut d_hw_z[..n_units],
            &mut d_hw_n[..n_units],
        );
        let one = T::one();
        for j in 0..n_units {
            let d_h = d_out[j] + d_h_rec[j];
            let d_n = d_h * (one - z[j]);
            let d_z = d_h * (h_prev[j] - n[j]);
            let d_h_direct = d_h * z[j];
            let d_an = d_n * (one - n[j] * n[j]);
            let d_ar = d_an * hw_n[j] * (r[j] * (one - r[j]));
            let d_az = d_z * (z[j] * (one - z[j]));
            (d_xw_r[j], d_xw_z[j], d_xw_n[j]) = (d_ar, d_az, d_an);
            (d_hw_r[j], d_hw_z[j], d_hw_n[j]) = (d_ar, d_az, d_an * r[j]);
            d_h_rec[j] = d_h_direct;
        }
    }
}

/// The backward pass of one block (`gru_backward`): from the forward's `gates` and `out` and
/// the gradient of this layer's output `d_out` (laid out as `out`), writes `d_xw` and `d_hw`.
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Activation>(
    d: &Dims,
    w_hh: &[T],
    gates: &[T],
    out: &[T],
    d_out: &[T],
    d_xw: &mut [T],
    d_hw: &mut [T],
    carry: &mut Carry<T>,
) {
    let (hsz, g3, g4) = (d.hidden, 3 * d.hidden, 4 * d.hidden);
    let step = d.batch * g3;
    carry.d_h_rec.fill(T::zero());
    for s in (0..d.steps).rev() {
        let t = d.time_of(s);
        let d_xw_t = &mut d_xw[t * step..(t + 1) * step];
        let d_hw_t = &mut d_hw[t * step..(t + 1) * step];
        for b in 0..d.batch {
            let (d_xw_b, d_hw_b) = (
                &mut d_xw_t[b * g3..(b + 1) * g3],
                &mut d_hw_t[b * g3..(b + 1) * g3],
            );
            let d_h_rec = &mut carry.d_h_rec[b * hsz..(b + 1) * hsz];
            if !d.live(t, b) {
                d_xw_b.fill(T::zero());
                d_hw_b.fill(T::zero());
                d_h_rec.fill(T::zero());
                continue;
            }
            let h_prev = if s > 0 {
                &out[d.out_at(d.time_of(s - 1), b)..][..hsz]
            } else {
                &carry.zeros
            };
            let row = t * d.batch + b;
            let [d_xw_r, d_xw_z, d_xw_n, _] = split4(d_xw_b, hsz);
            let [d_hw_r, d_hw_z, d_hw_n, _] = split4(d_hw_b, hsz);
            cell_backward(
                &gates[row * g4..(row + 1) * g4],
                h_prev,
                &d_out[d.out_at(t, b)..][..hsz],
                d_h_rec,
                d_xw_r,
                d_xw_z,
                d_xw_n,
                d_hw_r,
                d_hw_z,
                d_hw_n,
            );
        }
        if s > 0 {
            times_w_hh(d, d_hw_t, w_hh, T::one(), &mut carry.d_h_rec);
        }
    }
}
