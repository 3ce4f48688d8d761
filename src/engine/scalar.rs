//! The number types the CPU engine runs in: f32 (training) and f64 (gradient checks), with the
//! GEMM of the `faer` crate for each (its kernels pick AVX-512, AVX2+FMA or scalar code at run
//! time; on the training step's small recurrent products it is about twice as fast as
//! `matrixmultiply`, and on matrix-vector products like the head's tens of times).

use crate::engine::packed;
use crate::engine::strided::Strided;
use num_traits::{Float, FromPrimitive};
use std::fmt::Debug;

/// A float the CPU engine computes in.
pub trait Scalar:
    Float + FromPrimitive + Debug + Default + Send + Sync + packed::Kernel + 'static
{
    /// `c = op(a) * op(b) + beta * c` for row-major matrices: `op(a)` is `[m, k]` (`a` stored
    /// as `[m, k]`, or as `[k, m]` when `a_t`), `op(b)` is `[k, n]` (`b` stored as `[k, n]`, or
    /// `[n, k]` when `b_t`), and `c` is `[m, n]`.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        a_t: bool,
        b: &[Self],
        b_t: bool,
        beta: Self,
        c: &mut [Self],
    ) {
        assert_eq!(a.len(), m * k, "gemm: a has the wrong size");
        assert_eq!(b.len(), k * n, "gemm: b has the wrong size");
        assert_eq!(c.len(), m * n, "gemm: c has the wrong size");
        let a = Strided::row_major(a, if a_t { m } else { k }, a_t);
        let b = Strided::row_major(b, if b_t { k } else { n }, b_t);
        Self::gemm_strided(m, k, n, a, b, beta, c, n);
    }

    /// `C = A B + beta C` through strides: A is `[m, k]`, B is `[k, n]`, and row `i` of C
    /// (`[m, n]`) starts at `c[i * rsc]` (`rsc >= n`: a block of columns of a wider matrix).
    /// Large products are split over the cores by rows of C.
    #[allow(clippy::too_many_arguments)]
    fn gemm_strided(
        m: usize,
        k: usize,
        n: usize,
        a: Strided<Self>,
        b: Strided<Self>,
        beta: Self,
        c: &mut [Self],
        rsc: usize,
    );

    /// Converts from f64 (fixtures, hyper-parameters).
    fn of(v: f64) -> Self {
        Self::from_f64(v).expect("representable")
    }
}

/// Below this many multiply-adds a GEMM runs on the calling thread. A per-step recurrent GEMM
/// (`[B, H] x [H, G H]`, about 1M) is far too small to pay for starting a thread; measured on
/// 2 shared cores, splitting lost up to 0.1x at 4M-16M multiply-adds and up to 0.2x-0.4x at 32M
/// (a spawned thread waits for a core), while the batched products of a training step (`T B`
/// rows, 45M and more) are where a second core can help.
const PARALLEL_MIN_MACS: usize = 1 << 25;

/// A raw pointer that may cross into a pool thread; each thread writes disjoint rows.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: used only to hand disjoint row blocks of one output to scoped threads.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer (a method, so that closures capture the whole `Send` wrapper).
    fn get(self) -> *mut T {
        self.0
    }
}

/// Splits the rows of C (and of A) over rayon's threads (`--threads`, else one per core; see
/// [`crate::engine::device::threads`]) for large products, calling
/// `kernel(rows, a_block, c_block)` once per block.
fn parallel_rows<T: Copy + Send + Sync>(
    m: usize,
    k: usize,
    n: usize,
    a: Strided<T>,
    c: &mut [T],
    rsc: usize,
    kernel: impl Fn(usize, *const T, *mut T) + Sync,
) {
    let threads = if m * k * n >= PARALLEL_MIN_MACS {
        rayon::current_num_threads().min(m)
    } else {
        1
    };
    let out = SendPtr(c.as_mut_ptr());
    let block = m.div_ceil(threads).max(1);
    let job = |start: usize| {
        let rows = block.min(m - start);
        // SAFETY: row `start` of A is `start * rs` elements in, and rows
        // `start..start + rows` of C are `start * rsc` elements in; blocks do not overlap.
        let a_block = unsafe { a.data.as_ptr().add(start * a.rs) };
        kernel(rows, a_block, unsafe { out.get().add(start * rsc) });
    };
    if threads == 1 {
        job(0);
    } else {
        // rayon's threads live on, and so do the packing buffers that faer keeps per thread
        // (fresh threads per product spent most of a training step faulting them in).
        rayon::scope(|scope| {
            let job = &job;
            for start in (block..m).step_by(block) {
                scope.spawn(move |_| job(start));
            }
            job(0);
        });
    }
}

macro_rules! scalar_impl {
    ($t:ty) => {
        impl Scalar for $t {
            fn gemm_strided(
                m: usize,
                k: usize,
                n: usize,
                a: Strided<Self>,
                b: Strided<Self>,
                beta: Self,
                c: &mut [Self],
                rsc: usize,
            ) {
                if m == 0 || n == 0 {
                    return;
                }
                assert!(a.holds(m, k), "gemm: a is too small for its view");
                assert!(b.holds(k, n), "gemm: b is too small for its view");
                assert!(rsc >= n, "gemm: rows of c overlap");
                assert!(
                    (m - 1) * rsc + n <= c.len(),
                    "gemm: c is too small for its view"
                );
                let (rsa, csa) = (a.rs as isize, a.cs as isize);
                let (rsb, csb) = (b.rs as isize, b.cs as isize);
                let b = SendPtr(b.data.as_ptr() as *mut Self);
                parallel_rows(m, k, n, a, c, rsc, |rows, a_block, c_block| {
                    // SAFETY: the views were checked above to lie inside their slices, and
                    // the rows of C do not overlap (`rsc >= n`).
                    unsafe {
                        let c = faer::MatMut::<Self>::from_raw_parts_mut(
                            c_block,
                            rows,
                            n,
                            rsc as isize,
                            1,
                        );
                        // faer overwrites C (`Replace`, never reading it: NaN garbage is
                        // fine) or adds to it; any other beta scales C first.
                        let accum = if beta == 0.0 {
                            faer::Accum::Replace
                        } else {
                            if beta != 1.0 {
                                for i in 0..rows {
                                    let row = c_block.add(i * rsc);
                                    for j in 0..n {
                                        *row.add(j) *= beta;
                                    }
                                }
                            }
                            faer::Accum::Add
                        };
                        faer::linalg::matmul::matmul(
                            c,
                            accum,
                            faer::MatRef::<Self>::from_raw_parts(a_block, rows, k, rsa, csa),
                            faer::MatRef::<Self>::from_raw_parts(b.get(), k, n, rsb, csb),
                            1.0,
                            faer::Par::Seq,
                        );
                    }
                });
            }
        }
    };
}

scalar_impl!(f32);
scalar_impl!(f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::strided::tests::operands;

    #[test]
    fn gemm_with_and_without_transposes() {
        // a = [[1, 2, 3], [4, 5, 6]] (2x3), b = [[1, 0], [0, 1], [1, 1]] (3x2)
        let a = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut c = [0.0f64; 4];
        f64::gemm(2, 3, 2, &a, false, &b, false, 0.0, &mut c);
        assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
        let a_t = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0]; // stored [3, 2]
        let b_t = [1.0f64, 0.0, 1.0, 0.0, 1.0, 1.0]; // stored [2, 3]
        let mut d = [1.0f64; 4];
        f64::gemm(2, 3, 2, &a_t, true, &b_t, true, 1.0, &mut d);
        assert_eq!(d, [5.0, 6.0, 11.0, 12.0]);
    }

    #[test]
    fn large_products_split_over_threads_agree_with_a_plain_loop() {
        // Large enough to take the threaded path, odd sizes so blocks are uneven.
        let (m, k, n) = (1031, 123, 317);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7 % 13) as f64) - 6.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 5 % 11) as f64) - 5.0).collect();
        for a_t in [false, true] {
            // With a_t the same numbers are read as the transpose of a [k, m] matrix.
            let at = |i: usize, p: usize| if a_t { a[p * m + i] } else { a[i * k + p] };
            let mut c = vec![0.0f64; m * n];
            f64::gemm(m, k, n, &a, a_t, &b, false, 0.0, &mut c);
            for i in (0..m).step_by(37) {
                for j in 0..n {
                    let want: f64 = (0..k).map(|p| at(i, p) * b[p * n + j]).sum();
                    assert_eq!(c[i * n + j], want, "c[{i}, {j}] with a_t = {a_t}");
                }
            }
        }
        assert!(m * k * n >= PARALLEL_MIN_MACS);
    }

    #[test]
    fn strided_views_read_blocks_of_wider_matrices() {
        // A is columns 1..3 of a [2, 4] matrix, C is columns 2..4 of a [2, 5] matrix.
        let wide = [0.0f64, 1.0, 2.0, 9.0, 0.0, 3.0, 4.0, 9.0];
        let a = Strided {
            data: &wide[1..],
            rs: 4,
            cs: 1,
        };
        let id = [1.0f64, 0.0, 0.0, 1.0];
        let b = Strided::row_major(&id[..], 2, false);
        let mut c = [7.0f64; 10];
        f64::gemm_strided(2, 2, 2, a, b, 0.0, &mut c[2..], 5);
        assert_eq!(c, [7.0, 7.0, 1.0, 2.0, 7.0, 7.0, 7.0, 3.0, 4.0, 7.0]);
    }

    /// `c = op(a) op(b) + beta c` by a plain loop, in f64.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        m: usize,
        k: usize,
        n: usize,
        a: &[f64],
        a_t: bool,
        b: &[f64],
        b_t: bool,
        beta: f64,
        c: &[f64],
    ) -> Vec<f64> {
        let at = |i: usize, p: usize| if a_t { a[p * m + i] } else { a[i * k + p] };
        let bt = |p: usize, j: usize| if b_t { b[j * k + p] } else { b[p * n + j] };
        (0..m * n)
            .map(|ij| {
                let (i, j) = (ij / n, ij % n);
                let sum: f64 = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
                if beta == 0.0 { sum } else { sum + beta * c[ij] }
            })
            .collect()
    }

    /// Every transpose, beta 0 over NaN garbage, beta 1 and 0.5, against the plain loop.
    fn agrees_with_a_plain_loop<T: Scalar>(m: usize, k: usize, n: usize, tol: f64) {
        let (a, b) = operands(m, k, n);
        let c0: Vec<f64> = (0..m * n).map(|i| ((i * 3 % 7) as f64) - 3.0).collect();
        let cast = |v: &[f64]| v.iter().map(|&x| T::of(x)).collect::<Vec<T>>();
        let (a_s, b_s) = (cast(&a), cast(&b));
        for (a_t, b_t, beta) in [
            (false, false, 0.0),
            (true, false, 1.0),
            (false, true, 0.5),
            (true, true, 0.0),
            (false, true, 1.0),
        ] {
            let mut c = if beta == 0.0 {
                vec![T::nan(); m * n]
            } else {
                cast(&c0)
            };
            T::gemm(m, k, n, &a_s, a_t, &b_s, b_t, T::of(beta), &mut c);
            let want = reference(m, k, n, &a, a_t, &b, b_t, beta, &c0);
            for (ij, (got, want)) in c.iter().zip(&want).enumerate() {
                let got = got.to_f64().unwrap();
                assert!(
                    (got - want).abs() <= tol * (1.0 + want.abs()),
                    "[{m}, {k}, {n}] a_t {a_t} b_t {b_t} beta {beta}: c[{ij}] = {got}, want {want}"
                );
            }
        }
    }

    #[test]
    fn odd_and_degenerate_sizes_agree_with_a_plain_loop_in_f32_and_f64() {
        for (m, k, n) in [
            (1, 1, 1),
            (1, 7, 1),
            (1, 128, 512),
            (16, 128, 512),
            (16, 512, 128),
            (37, 11, 23),
            (23, 1, 19),
            (50, 128, 1),
            (3, 1000, 5),
            (1, 33, 17),
            (17, 33, 1),
            (9, 2, 9),
        ] {
            agrees_with_a_plain_loop::<f64>(m, k, n, 1e-12);
            agrees_with_a_plain_loop::<f32>(m, k, n, 1e-5);
        }
    }

    #[test]
    fn an_empty_inner_dimension_gives_beta_c() {
        for (beta, want) in [(0.0f64, 0.0f64), (1.0, 2.0), (0.5, 1.0)] {
            let mut c = vec![if beta == 0.0 { f32::NAN } else { 2.0 }; 6];
            f32::gemm(2, 0, 3, &[], false, &[], true, beta as f32, &mut c);
            assert_eq!(c, vec![want as f32; 6], "beta {beta}");
            let mut c = vec![if beta == 0.0 { f64::NAN } else { 2.0 }; 6];
            f64::gemm(3, 0, 2, &[], true, &[], false, beta, &mut c);
            assert_eq!(c, vec![want; 6], "beta {beta}");
        }
        let mut c: Vec<f64> = vec![];
        f64::gemm(0, 3, 4, &[], false, &[0.0; 12], false, 0.0, &mut c);
    }

    #[test]
    fn threaded_strided_blocks_overwrite_nan_and_accumulate() {
        // A is columns 3..3+k of a wider [m, k + 5] matrix, B^T a block of rows of a [n + 2, k]
        // matrix, C columns 2..2+n of a [m, n + 4] matrix whose other columns must stay put.
        let (m, k, n) = (1031, 129, 257);
        assert!(m * k * n >= PARALLEL_MIN_MACS);
        let wa = k + 5;
        let wide_a: Vec<f32> = (0..m * wa)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
            .collect();
        let bt: Vec<f32> = (0..(n + 2) * k)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let a = Strided {
            data: &wide_a[3..],
            rs: wa,
            cs: 1,
        };
        let b = Strided {
            data: &bt[k..],
            rs: 1,
            cs: k,
        };
        let wc = n + 4;
        let want = |i: usize, j: usize| -> f64 {
            (0..k)
                .map(|p| wide_a[i * wa + 3 + p] as f64 * bt[(j + 1) * k + p] as f64)
                .sum()
        };
        let mut c = vec![f32::NAN; m * wc];
        for j in [0, 1, n + 2, n + 3] {
            for i in 0..m {
                c[i * wc + j] = 7.0;
            }
        }
        f32::gemm_strided(m, k, n, a, b, 0.0, &mut c[2..], wc);
        f32::gemm_strided(m, k, n, a, b, 1.0, &mut c[2..], wc);
        for i in 0..m {
            for j in 0..wc {
                let got = c[i * wc + j] as f64;
                if j < 2 || j >= n + 2 {
                    assert_eq!(got, 7.0, "c[{i}, {j}] outside the view");
                } else {
                    let w = 2.0 * want(i, j - 2);
                    assert!(
                        (got - w).abs() <= 1e-4 * (1.0 + w.abs()),
                        "c[{i}, {j}] = {got}, want {w}"
                    );
                }
            }
        }
    }
}
