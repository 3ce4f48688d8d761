//! The GEMM of the forward pass, `C = A B + bias + beta C` with a right operand B that stays the
//! same for a whole pass: the LSTM's `[x_t | h_prev] [W_ih | W_hh]ᵀ` and the GRU's
//! `h_prev W_hhᵀ` at every step, and the GRU's XW over all steps of a block. B is packed once per
//! pass into [`Packed`] panels, and each product runs a register-tiled kernel over them (a step
//! at batch 16, hidden 128 is 1-2M multiply-adds).
//!
//! A general GEMM (faer's) packs B again on every call: at hidden 128 that is 256 KiB of W_hhᵀ
//! copied per step. Here B is packed once, and the kernel is BLIS's classic micro-kernel: an
//! `MR × NR` tile of C lives in registers while the inner dimension runs, each step of it one row
//! of the panel (NR contiguous values, a few vector loads), MR broadcasts of A and `MR × NR`
//! multiply-adds.
//!
//! Layout: panel `p` holds columns `p·NR .. p·NR + NR` of B, row by row: element `(i, p·NR + j)`
//! of B is `panels[(p·k + i)·NR + j]`; the columns past `n` in the last panel are zero. NR is
//! [`PANEL_BYTES`] of values (32 f32, 16 f64: two AVX-512 registers), so a panel row is the same
//! number of cache lines in both types.
//!
//! The kernel is written with AVX-512F and with AVX2+FMA intrinsics, and a call runs the widest
//! the CPU has (the default build targets the baseline x86-64, so only a run-time check can use
//! wider vectors); other CPUs run a plain loop. The tile height MR follows the registers: 8 rows
//! with AVX-512 (16 of its 32 registers hold the tile), 3 with AVX2 (12 of 16). (Written as
//! plain loops over arrays for the compiler to vectorize, the kernel ran 7x slower: `mul_add`
//! stayed a library call and the panel rows went through the stack.)

use crate::engine::strided::Strided;
use num_traits::Float;

/// Bytes of one panel row (two 512-bit registers).
pub const PANEL_BYTES: usize = 128;

/// A right operand `[k, n]` packed into panels of NR columns (see the module header).
#[derive(Debug, Clone, Default)]
pub struct Packed<T> {
    /// Rows of B (the inner dimension of the product).
    pub k: usize,
    /// Columns of B.
    pub n: usize,
    /// The panels, `⌈n / NR⌉ · k · NR` values.
    pub panels: Vec<T>,
    /// A row added to every row of the product (`[n]` padded with zeros to whole panels), or
    /// empty.
    pub bias: Vec<T>,
}

impl<T: Float> Packed<T> {
    /// Values per panel row.
    pub fn width() -> usize {
        PANEL_BYTES / std::mem::size_of::<T>()
    }

    /// Packs B (`[k, n]`, element `(i, j)` given by `b(i, j)`) into these panels, and `bias`
    /// (`[n]`), the row a product adds to each of its rows, reusing their memory.
    pub fn pack(&mut self, k: usize, n: usize, b: impl Fn(usize, usize) -> T, bias: Option<&[T]>) {
        let nr = Self::width();
        (self.k, self.n) = (k, n);
        self.bias.clear();
        if let Some(bias) = bias {
            assert_eq!(bias.len(), n, "pack: bias has the wrong size");
            self.bias.extend(bias);
            self.bias.resize(n.div_ceil(nr) * nr, T::zero());
        }
        self.panels.clear();
        for first in (0..n).step_by(nr) {
            for i in 0..k {
                self.panels
                    .extend((first..first + nr).map(|j| if j < n { b(i, j) } else { T::zero() }));
            }
        }
    }
}

/// The float types the packed kernel is compiled for.
pub trait Kernel: Float {
    /// Runs the kernel compiled for `isa`.
    ///
    /// # Safety
    /// `isa` is one of [`Isa::available`], and `args` describes views inside their buffers.
    unsafe fn run(isa: Isa, args: &Args<Self>);
}

/// `C = A B + bias + beta C`: A is `[m, k]` through its strides, B is packed (`b.k == k`) with
/// its bias row, if any, and row `i` of C (`[m, n]`) starts at `c[i * rsc]`. `beta` 0 overwrites C without reading it. Runs the
/// kernel of `isa` ([`Isa::best`] but in tests), which must be one of [`Isa::available`].
pub fn product<T: Kernel>(
    isa: Isa,
    m: usize,
    a: Strided<T>,
    b: &Packed<T>,
    beta: T,
    c: &mut [T],
    rsc: usize,
) {
    let (k, n) = (b.k, b.n);
    assert!(isa.is_available(), "gemm_packed: {isa:?} is not available");
    if m == 0 || n == 0 {
        return;
    }
    assert!(a.holds(m, k), "gemm_packed: a is too small for its view");
    let nr = Packed::<T>::width();
    assert_eq!(
        b.panels.len(),
        n.div_ceil(nr) * k * nr,
        "gemm_packed: panels"
    );
    assert!(rsc >= n, "gemm_packed: rows of c overlap");
    assert!((m - 1) * rsc + n <= c.len(), "gemm_packed: c is too small");
    let args = Args {
        m,
        k,
        n,
        a: a.data.as_ptr(),
        rsa: a.rs,
        csa: a.cs,
        panels: b.panels.as_ptr(),
        bias: if b.bias.is_empty() {
            std::ptr::null()
        } else {
            b.bias.as_ptr()
        },
        beta,
        c: c.as_mut_ptr(),
        rsc,
    };
    // SAFETY: `isa` is available, and every view was checked above to lie inside its slice.
    unsafe { T::run(isa, &args) }
}

/// The instruction sets the kernel is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Any CPU: a plain loop.
    Baseline,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512F.
    Avx512,
}

impl Isa {
    /// Whether this CPU runs the instruction set (the standard library caches the detection, so
    /// this costs a load per call, not an allocation: [`product`] checks it on every step).
    pub fn is_available(self) -> bool {
        match self {
            Isa::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every instruction set this CPU runs, widest last.
    pub fn available() -> Vec<Isa> {
        [Isa::Baseline, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|isa| isa.is_available())
            .collect()
    }

    /// The widest instruction set this CPU runs (detected once).
    pub fn best() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| *Isa::available().last().expect("baseline"))
    }
}

/// The operands of one product, as raw pointers into checked views.
pub struct Args<T> {
    m: usize,
    k: usize,
    n: usize,
    a: *const T,
    rsa: usize,
    csa: usize,
    panels: *const T,
    /// The padded bias row, or null.
    bias: *const T,
    beta: T,
    c: *mut T,
    rsc: usize,
}

impl<T: Float> Args<T> {
    /// `c = sum + beta c`, the last step of every kernel for one element of C.
    ///
    /// # Safety
    /// `c` is an element of C.
    #[inline(always)]
    unsafe fn finish(&self, c: *mut T, sum: T) {
        // SAFETY: the caller's contract.
        unsafe {
            *c = if self.beta == T::zero() {
                sum
            } else {
                sum + self.beta * *c
            };
        }
    }
}

/// The kernel of CPUs without AVX2 (and of other architectures): one element of C at a time.
///
/// # Safety
/// `args` describes views inside their buffers.
unsafe fn baseline<T: Float>(args: &Args<T>) {
    let nr = Packed::<T>::width();
    for i in 0..args.m {
        for j in 0..args.n {
            let (p, col) = (j / nr, j % nr);
            let mut sum = if args.bias.is_null() {
                T::zero()
            } else {
                // SAFETY: the bias row holds n values and more.
                unsafe { *args.bias.add(j) }
            };
            for q in 0..args.k {
                // SAFETY: element (i, q) of A and row q of panel p lie inside their views.
                sum = sum
                    + unsafe {
                        *args.a.add(i * args.rsa + q * args.csa)
                            * *args.panels.add((p * args.k + q) * nr + col)
                    };
            }
            // SAFETY: element (i, j) of C lies inside its view.
            unsafe { args.finish(args.c.add(i * args.rsc + j), sum) };
        }
    }
}

/// Rows of A (and C) taken together through every panel: at `k` 128, 48 KiB of A that stay in
/// L2 while the panels pass, instead of all of A read again from memory for each panel (the
/// input product XW has `T·B` rows). A multiple of every tile height.
const ROW_CHUNK: usize = 96;

/// Defines the kernel of one float type and instruction set, from its vector intrinsics: a
/// module with `tiles`, which walks C by chunks of [`ROW_CHUNK`] rows, each panel by panel (a
/// panel, `k · NR` values, stays in L1 while the chunk's rows pass over it) in blocks of MR rows,
/// the last rows in blocks of 4, 2 and 1, and `tile`, which keeps one `R × NR` block of C in `R × NV` vector registers (NV vectors of
/// LANES values make a panel row) over the whole inner dimension.
macro_rules! simd_kernel {
    ($name:ident, $t:ty, $feature:literal, lanes $lanes:literal, vectors $nv:literal, rows $mr:literal,
     $zero:ident, $load:ident, $splat:ident, $fma:ident, $store:ident) => {
        #[cfg(target_arch = "x86_64")]
        mod $name {
            use super::Args;
            use std::arch::x86_64::*;

            /// Values per panel row.
            const NR: usize = $lanes * $nv;

            /// # Safety
            /// The CPU has the feature; `args` describes views inside their buffers.
            #[target_feature(enable = $feature)]
            pub unsafe fn tiles(args: &Args<$t>) {
                for chunk in (0..args.m).step_by(super::ROW_CHUNK) {
                    let end = args.m.min(chunk + super::ROW_CHUNK);
                    for (p, first) in (0..args.n).step_by(NR).enumerate() {
                        let cols = NR.min(args.n - first);
                        let mut row = chunk;
                        while row < end {
                            let left = end - row;
                            // SAFETY: panel p, rows `row..end` of A and the tile of C lie inside
                            // their views.
                            unsafe {
                                let a = args.a.add(row * args.rsa);
                                let panel = args.panels.add(p * args.k * NR);
                                let c = args.c.add(row * args.rsc + first);
                                // Only read when the bias row is not null.
                                let bias = args.bias.wrapping_add(first);
                                row += if left >= $mr {
                                    tile::<$mr>(args, a, panel, bias, c, cols)
                                } else if left >= 4 {
                                    tile::<4>(args, a, panel, bias, c, cols)
                                } else if left >= 2 {
                                    tile::<2>(args, a, panel, bias, c, cols)
                                } else {
                                    tile::<1>(args, a, panel, bias, c, cols)
                                };
                            }
                        }
                    }
                }
            }

            /// One `R × NR` tile of C; returns R.
            ///
            /// # Safety
            /// As [`tiles`]; `a`, `panel`, `bias` and `c` point at the tile's rows of A, its
            /// panel, the panel's part of the bias row (if there is one) and its corner of C.
            #[target_feature(enable = $feature)]
            #[inline]
            unsafe fn tile<const R: usize>(
                args: &Args<$t>,
                a: *const $t,
                panel: *const $t,
                bias: *const $t,
                c: *mut $t,
                cols: usize,
            ) -> usize {
                let mut acc = [[$zero(); $nv]; R];
                if !args.bias.is_null() {
                    for acc in &mut acc {
                        for (v, acc) in acc.iter_mut().enumerate() {
                            // SAFETY: the padded bias row covers the whole panel.
                            *acc = unsafe { $load(bias.add(v * $lanes)) };
                        }
                    }
                }
                for q in 0..args.k {
                    // SAFETY: row q of the panel, and A's elements (r, q), are inside.
                    unsafe {
                        let b_row = panel.add(q * NR);
                        let mut b = [$zero(); $nv];
                        for (v, b) in b.iter_mut().enumerate() {
                            *b = $load(b_row.add(v * $lanes));
                        }
                        for (r, acc) in acc.iter_mut().enumerate() {
                            let a = $splat(*a.add(r * args.rsa + q * args.csa));
                            for (acc, &b) in acc.iter_mut().zip(&b) {
                                *acc = $fma(a, b, *acc);
                            }
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    // SAFETY: row r of the tile, columns `..cols`, is inside C.
                    let row = unsafe { c.add(r * args.rsc) };
                    if cols == NR {
                        // A whole tile row: C read and written as vectors.
                        for (v, &acc) in acc.iter().enumerate() {
                            // SAFETY: as above, NR columns.
                            unsafe {
                                let c = row.add(v * $lanes);
                                let sum = if args.beta == 0.0 {
                                    acc
                                } else {
                                    $fma($splat(args.beta), $load(c), acc)
                                };
                                $store(c, sum);
                            }
                        }
                    } else {
                        // The last panel's columns: through memory, one value at a time.
                        let mut sums = [0.0 as $t; NR];
                        for (v, &acc) in acc.iter().enumerate() {
                            // SAFETY: `sums` holds NV vectors.
                            unsafe { $store(sums.as_mut_ptr().add(v * $lanes), acc) };
                        }
                        for (j, &sum) in sums[..cols].iter().enumerate() {
                            // SAFETY: column j < cols of the row is inside C.
                            unsafe { args.finish(row.add(j), sum) };
                        }
                    }
                }
                R
            }
        }
    };
}

simd_kernel!(avx512_f32, f32, "avx512f", lanes 16, vectors 2, rows 8,
    _mm512_setzero_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps);
simd_kernel!(avx512_f64, f64, "avx512f", lanes 8, vectors 2, rows 8,
    _mm512_setzero_pd, _mm512_loadu_pd, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_storeu_pd);
simd_kernel!(avx2_f32, f32, "avx2,fma", lanes 8, vectors 4, rows 3,
    _mm256_setzero_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps);
simd_kernel!(avx2_f64, f64, "avx2,fma", lanes 4, vectors 4, rows 3,
    _mm256_setzero_pd, _mm256_loadu_pd, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_storeu_pd);

macro_rules! kernel_impl {
    ($t:ty, $avx512:ident, $avx2:ident) => {
        impl Kernel for $t {
            unsafe fn run(isa: Isa, args: &Args<Self>) {
                // SAFETY: the caller's contract (the instruction set is available).
                unsafe {
                    match isa {
                        #[cfg(target_arch = "x86_64")]
                        Isa::Avx512 => $avx512::tiles(args),
                        #[cfg(target_arch = "x86_64")]
                        Isa::Avx2 => $avx2::tiles(args),
                        _ => baseline(args),
                    }
                }
            }
        }
    };
}

kernel_impl!(f32, avx512_f32, avx2_f32);
kernel_impl!(f64, avx512_f64, avx2_f64);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tile height's remainder path (m 1..=19), columns short of a panel and across
    /// several, beta 0 over NaN, 1 and 0.5, A read through a transposed view: against a plain
    /// loop in f64 (exact for these small integers scaled by powers of two).
    fn agrees_with_a_plain_loop<T: Kernel + Default + std::fmt::Debug>() {
        for (m, k, n) in [(1, 1, 1), (19, 7, 3), (8, 130, 33), (17, 1, 70), (5, 0, 4)] {
            let (a, b) = crate::engine::strided::tests::operands(m, k, n);
            let cast = |v: &[f64]| v.iter().map(|&x| T::from(x).unwrap()).collect::<Vec<T>>();
            let (a_t, b_s) = (
                cast(
                    &(0..k * m)
                        .map(|i| a[(i % m) * k + i / m])
                        .collect::<Vec<_>>(),
                ),
                cast(&b),
            );
            let mut packed = Packed::default();
            let bias: Vec<T> = (0..n).map(|j| T::from(j % 3).unwrap()).collect();
            packed.pack(
                k,
                n,
                |i, j| b_s[i * n + j],
                (m % 2 == 1).then_some(&bias[..]),
            );
            for beta in [0.0, 1.0, 0.5] {
                let rsc = n + 2;
                let c0: Vec<T> = (0..m * rsc)
                    .map(|i| {
                        if beta == 0.0 && i % rsc < n {
                            T::nan()
                        } else {
                            T::from(i % 5).unwrap()
                        }
                    })
                    .collect();
                for isa in Isa::available() {
                    let mut c = c0.clone();
                    product(
                        isa,
                        m,
                        Strided::row_major(&a_t, m, true),
                        &packed,
                        T::from(beta).unwrap(),
                        &mut c,
                        rsc,
                    );
                    for i in 0..m {
                        for j in 0..rsc {
                            let got = c[i * rsc + j].to_f64().unwrap();
                            let want = if j >= n {
                                c0[i * rsc + j].to_f64().unwrap()
                            } else {
                                let bias = if m % 2 == 1 { (j % 3) as f64 } else { 0.0 };
                                let sum: f64 =
                                    bias + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f64>();
                                if beta == 0.0 {
                                    sum
                                } else {
                                    sum + beta * c0[i * rsc + j].to_f64().unwrap()
                                }
                            };
                            assert_eq!(
                                got, want,
                                "{isa:?} [{m}, {k}, {n}] beta {beta}: c[{i}, {j}]"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn packed_products_agree_with_a_plain_loop_in_f32_and_f64() {
        agrees_with_a_plain_loop::<f32>();
        agrees_with_a_plain_loop::<f64>();
    }
}
