//! What the LSTM and the GRU share (the CPU twin of `shaders/recurrence.wgsl`): the sizes of one
//! layer and direction over one block of sequences ([`Dims`], the host's `RecurrenceDims`), the
//! order of its steps, the per-step GEMMs with W_hh, the weight gradient of W_hh over all steps,
//! the state carried from step to step of the backward pass ([`Carry`]), and the gate
//! activations ([`Activation`]).
//!
//! Buffers are time-major over the block: row `t·B + b` holds sequence `b` of the block at time
//! `t` (B: the block's sequences). A layer's output `out` is `[T·B, out_stride]`, with this
//! direction's h in columns `out_col .. out_col + H`.

use crate::engine::packed::{self, Isa, Packed};
use crate::engine::scalar::Scalar;
use crate::engine::strided::Strided;

/// The gate activations, per float type. f64 (the gradient checks, the oracle comparisons) calls
/// the standard library, as the tape does. f32 (training) uses a polynomial `exp` whose loops the
/// compiler vectorizes: the standard `expf` is a scalar library call per element, and the
/// activations are five of them per hidden unit and step.
pub trait Activation: Scalar {
    /// The logistic function `1 / (1 + e^-x)`.
    fn sigmoid(x: Self) -> Self;
    /// The hyperbolic tangent (named apart from [`num_traits::Float::tanh`]).
    fn tanh_act(x: Self) -> Self;
}

impl Activation for f64 {
    #[inline(always)]
    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[inline(always)]
    fn tanh_act(x: f64) -> f64 {
        x.tanh()
    }
}

impl Activation for f32 {
    #[inline(always)]
    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + exp_f32(-x))
    }

    /// The rational approximation of Eigen (also XLA's and ONNX Runtime's): an odd polynomial of
    /// degree 13 over an even one of degree 6, with x clamped to ±7.905 (beyond, the result is
    /// within 1 ulp of ±1). Odd in x, so small results keep their relative precision; one
    /// division and no `exp`. Cephes' `tanhf` (an odd polynomial below |x| = 0.625 and
    /// `1 - 2 / (e^2x + 1)` above, both computed and one selected so that the loop stays
    /// branch-free) made an LSTM evaluation batch 4 % slower (37.5-39.8 ms against 36.0-37.2,
    /// alternated, 1 thread).
    #[inline(always)]
    fn tanh_act(x: f32) -> f32 {
        let x = x.clamp(-7.905_311, 7.905_311);
        let z = x * x;
        let p = (((((-2.760_768_5e-16 * z + 2.000_188e-13) * z - 8.604_672e-11) * z
            + 5.122_297e-8)
            * z
            + 1.485_722_4e-5)
            * z
            + 6.372_619e-4)
            * z
            + 4.893_524_6e-3;
        let q = ((1.198_258_4e-6 * z + 1.185_347e-4) * z + 2.268_434_6e-3) * z + 4.893_525e-3;
        x * p / q
    }
}

/// `e^x` in f32 (Cephes' `expf`, within 2 ulp): `x = k ln 2 + r` with `|r| <= ln 2 / 2`, a degree-6
/// polynomial for `e^r`, and `2^k` built in the exponent bits. Rounding to the nearest integer
/// adds and subtracts 1.5·2^23 (no `round` call, which would stop vectorization). `x` is clamped
/// to [-87, 88], where `2^k` is a normal float; beyond, the sigmoid and tanh are already
/// saturated to f32 precision.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let n = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    // ln 2 in two parts, so that k · 0.693359375 is exact.
    let r = x - k * 0.693_359_4 + k * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = p * r * r + r + 1.0;
    e_r * f32::from_bits(((n + 127) as u32) << 23)
}

/// Defines a gate loop `fn name<T: Activation>(slices...)` (every argument a slice): the body is
/// compiled three times, for the baseline x86-64 (SSE2: 4 f32 lanes), AVX2 (8 lanes) and
/// AVX-512F (16 lanes), and a call runs the widest copy the CPU has (the default build targets
/// the baseline, so only a run-time check can use wider vectors; AVX-512 measured 11 % off an
/// LSTM evaluation batch and 5 % off a training step against AVX2, alternated). No copy is
/// inlined into its caller: each slice stays a separate argument the compiler knows aliases no
/// other, so it vectorizes the loop without run-time overlap checks (of which it would need too
/// many, and give up). The copies round alike: Rust neither fuses nor reorders floating-point
/// operations.
macro_rules! vectorized {
    ($(#[$meta:meta])* fn $name:ident<T: Activation>($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        fn $name<T: Activation>($($arg: $ty),*) {
            #[allow(clippy::too_many_arguments)]
            #[inline(always)]
            fn body<T: Activation>($($arg: $ty),*) $body
            #[allow(clippy::too_many_arguments)]
            #[inline(never)]
            fn baseline<T: Activation>($($arg: $ty),*) {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[allow(clippy::too_many_arguments)]
            #[inline(never)]
            #[target_feature(enable = "avx2")]
            fn avx2<T: Activation>($($arg: $ty),*) {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[allow(clippy::too_many_arguments)]
            #[inline(never)]
            #[target_feature(enable = "avx512f")]
            fn avx512<T: Activation>($($arg: $ty),*) {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                return unsafe { avx512($($arg),*) };
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above (the only requirement of a
                // `target_feature` function).
                return unsafe { avx2($($arg),*) };
            }
            baseline($($arg),*)
        }
    };
}
pub(crate) use vectorized;

/// The sizes of one layer and direction over one block of sequences (`RecurrenceDims`).
#[derive(Debug, Clone, Copy)]
pub struct Dims<'a> {
    /// Sequences in the block (rows per step).
    pub batch: usize,
    /// Steps T.
    pub steps: usize,
    /// Hidden units H.
    pub hidden: usize,
    /// Whether this is the reverse direction (processing step s is time T-1-s).
    pub reverse: bool,
    /// Width of a row of `out` (H × directions).
    pub out_stride: usize,
    /// This direction's first column in `out`.
    pub out_col: usize,
    /// Whether the forward pass keeps the activations for a backward pass (training), or only
    /// the state of the current step (inference).
    pub keep: bool,
    /// Valid steps of each sequence of the block.
    pub lengths: &'a [usize],
}

impl Dims<'_> {
    /// The time index of processing step `s` (`time_of`).
    pub fn time_of(&self, s: usize) -> usize {
        if self.reverse { self.steps - 1 - s } else { s }
    }

    /// Whether sequence `b` computes time `t` (`live_at`): always in the forward direction; in
    /// the reverse one only inside its length, the padding steps holding a zero state.
    pub fn live(&self, t: usize, b: usize) -> bool {
        !self.reverse || t < self.lengths[b]
    }

    /// Where this direction's h of sequence `b` at time `t` starts in `out` (and its gradient
    /// in `d_out`, which has the same layout).
    pub fn out_at(&self, t: usize, b: usize) -> usize {
        (t * self.batch + b) * self.out_stride + self.out_col
    }
}

/// `hw = h_prev W_hhᵀ + beta hw` for the rows of one step: `h_prev` is h at time `t_prev` in
/// `out`, `w_hh_t` is W_hhᵀ (`[H, G H]`) packed once for the pass ([`pack_transposed`]), and `hw` is
/// `[B, G H]`. Small enough to stay on this thread.
pub fn times_w_hh_t<T: Scalar>(
    d: &Dims,
    out: &[T],
    t_prev: usize,
    w_hh_t: &Packed<T>,
    beta: T,
    hw: &mut [T],
) {
    let h_prev = Strided {
        data: &out[d.out_at(t_prev, 0)..],
        rs: d.out_stride,
        cs: 1,
    };
    packed::product(Isa::best(), d.batch, h_prev, w_hh_t, beta, hw, w_hh_t.n);
}

/// Packs `[W_1 | W_2 | ...]ᵀ` (the `parts`, each `[G H, cols]` row-major with its `cols`, side
/// by side) with `bias` (`[G H]`) as the row its products add, into `w_t`'s memory: the right
/// operand of XW (W_ih), of `h_prev W_hhᵀ` (W_hh) or of the LSTM's `[x_t | h_prev] [W_ih |
/// W_hh]ᵀ` for a whole pass. A general GEMM packs its right operand again on every call
/// (256 KiB of W_hhᵀ per step at hidden 128, for a product of 1M multiply-adds).
pub fn pack_transposed<T: Scalar>(
    parts: &[(&[T], usize)],
    bias: Option<&[T]>,
    w_t: &mut Packed<T>,
) {
    let k: usize = parts.iter().map(|&(_, cols)| cols).sum();
    let rows = parts.first().map_or(0, |&(w, cols)| w.len() / cols);
    // Row i of the stack: part p's column i - (the columns of the parts before it).
    let mut part_of = Vec::with_capacity(k);
    for (p, &(w, cols)) in parts.iter().enumerate() {
        assert_eq!(
            w.len(),
            rows * cols,
            "pack_transposed: part {p} has the wrong size"
        );
        part_of.extend((0..cols).map(|col| (p, col)));
    }
    w_t.pack(
        k,
        rows,
        |i, j| {
            let (p, col) = part_of[i];
            let (w, cols) = parts[p];
            w[j * cols + col]
        },
        bias,
    );
}

/// `XW = X W_ihᵀ + b_ih` for the rows of a block (all its steps): `x` is `[rows, I]`, `w_ih_t`
/// W_ihᵀ packed with b_ih ([`pack_transposed`]), `xw` `[rows, G H]`.
pub fn times_w_ih_t<T: Scalar>(x: &[T], w_ih_t: &Packed<T>, xw: &mut [T]) {
    let rows = xw.len() / w_ih_t.n;
    let x = Strided::row_major(x, w_ih_t.k, false);
    packed::product(Isa::best(), rows, x, w_ih_t, T::zero(), xw, w_ih_t.n);
}

/// `d_h_rec = d_a W_hh + beta d_h_rec` for the rows of one step: `d_a` `[B, G H]`, W_hh
/// `[G H, H]`, `d_h_rec` `[B, H]`.
pub fn times_w_hh<T: Scalar>(d: &Dims, d_a: &[T], w_hh: &[T], beta: T, d_h_rec: &mut [T]) {
    let gh = w_hh.len() / d.hidden;
    T::gemm(
        d.batch, gh, d.hidden, d_a, false, w_hh, false, beta, d_h_rec,
    );
}

/// `dW_hh += d_aᵀ h_prev` over all steps of the block as one GEMM: the rows of processing step
/// s (`d_a`, `[T·B, G H]`) are paired with h of step s - 1 in `out`. In time, that is d_a of
/// steps 1.. with h of steps ..T-1 (forward), or d_a of steps ..T-1 with h of steps 1..
/// (reverse); step s = 0 pairs with the zero initial state and adds nothing.
pub fn add_d_w_hh<T: Scalar>(d: &Dims, d_a: &[T], out: &[T], d_w_hh: &mut [T]) {
    if d.steps < 2 {
        return;
    }
    let gh = d_w_hh.len() / d.hidden;
    let pairs = (d.steps - 1) * d.batch;
    let (a_step, h_step) = if d.reverse { (0, 1) } else { (1, 0) };
    let d_a_t = Strided {
        data: &d_a[a_step * d.batch * gh..],
        rs: 1,
        cs: gh,
    };
    let h_prev = Strided {
        data: &out[d.out_at(h_step, 0)..],
        rs: d.out_stride,
        cs: 1,
    };
    T::gemm_strided(
        gh,
        pairs,
        d.hidden,
        d_a_t,
        h_prev,
        T::one(),
        d_w_hh,
        d.hidden,
    );
}

/// A row of gates (one sequence at one step) as separate slices, the gate loops taking each as
/// its own argument: three `n`-wide parts, then the rest (`n` wide in a `[4n]` row, empty in a
/// `[3n]` one).
pub fn split4<T>(row: &mut [T], n: usize) -> [&mut [T]; 4] {
    let (a, rest) = row.split_at_mut(n);
    let (b, rest) = rest.split_at_mut(n);
    let (c, d) = rest.split_at_mut(n);
    [a, b, c, d]
}

/// What the backward pass carries from one step to the next (and per-step scratch), for one
/// block of B sequences (`carry` in the shaders).
#[derive(Debug, Clone, Default)]
pub struct Carry<T> {
    /// `[B, H]`: the gradient reaching h_prev through the recurrence, for step s - 1.
    pub d_h_rec: Vec<T>,
    /// `[B, H]` (LSTM): `d_c_from_next`, the gradient reaching c_prev through `f ⊙ c_prev`.
    pub d_c: Vec<T>,
    /// `[B, G H]` (GRU forward): `hw = h_prev W_hhᵀ` of the current step.
    pub hw: Vec<T>,
    /// `[H]` zeros: the state before the first step.
    pub zeros: Vec<T>,
}

impl<T: Scalar> Carry<T> {
    /// The carry of a block of `batch` sequences, `hidden` units and `gates` gates.
    pub fn new(batch: usize, hidden: usize, gates: usize) -> Self {
        Carry {
            d_h_rec: vec![T::zero(); batch * hidden],
            d_c: vec![T::zero(); batch * hidden],
            hw: vec![T::zero(); batch * gates * hidden],
            zeros: vec![T::zero(); hidden],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_activations_are_within_a_few_ulp() {
        let mut worst = (0.0f64, 0.0f64);
        // [-40, 40], densest near 0; beyond, both saturate (checked below).
        for i in -200_000..=200_000 {
            let x = i as f32 * 2e-4;
            let s = f64::from(f32::sigmoid(x));
            let t = f64::from(f32::tanh_act(x));
            let want_s = 1.0 / (1.0 + (-f64::from(x)).exp());
            let want_t = f64::from(x).tanh();
            worst.0 = worst.0.max((s - want_s).abs() / want_s);
            worst.1 = worst.1.max((t - want_t).abs() / want_t.abs().max(1e-30));
        }
        // 2^-23 ≈ 1.2e-7: a few ulp relative, for small and large arguments alike.
        assert!(worst.0 < 4e-7, "sigmoid relative error {:e}", worst.0);
        assert!(worst.1 < 4e-7, "tanh relative error {:e}", worst.1);
        assert!((0.0..1e-37).contains(&f32::sigmoid(-200.0)));
        assert_eq!(f32::sigmoid(200.0), 1.0);
        // Saturated: within 1 ulp (2^-24 below 1) of ±1, never beyond.
        for x in [8.0f32, 20.0, 200.0, f32::MAX] {
            let t = f32::tanh_act(x);
            assert!((1.0 - 6e-8..=1.0).contains(&t), "tanh({x}) = {t}");
            assert_eq!(f32::tanh_act(-x), -t, "tanh is odd");
        }
        assert_eq!(f32::tanh_act(0.0), 0.0);
    }
}
