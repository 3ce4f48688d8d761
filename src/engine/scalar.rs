//! The number types the CPU engine runs in: f32 (training) and f64 (gradient checks), with the
//! GEMM of the `matrixmultiply` crate for each.

use num_traits::{Float, FromPrimitive};
use std::fmt::Debug;

/// A float the CPU engine computes in.
pub trait Scalar: Float + FromPrimitive + Debug + Default + Send + Sync + 'static {
    /// `c = alpha * op(a) * op(b) + beta * c` for row-major matrices: `op(a)` is `[m, k]`
    /// (`a` stored as `[m, k]`, or as `[k, m]` when `a_t`), `op(b)` is `[k, n]` (`b` stored as
    /// `[k, n]`, or `[n, k]` when `b_t`), and `c` is `[m, n]`.
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
    );

    /// Converts from f64 (fixtures, hyper-parameters).
    fn of(v: f64) -> Self {
        Self::from_f64(v).expect("representable")
    }
}

/// Row and column strides of a row-major `[rows, cols]` operand, read transposed or not.
fn strides(cols_stored: usize, transposed: bool) -> (isize, isize) {
    if transposed {
        (1, cols_stored as isize)
    } else {
        (cols_stored as isize, 1)
    }
}

/// Below this many multiply-adds a GEMM runs on the calling thread: a per-step recurrent GEMM
/// (`[B, H] x [H, G H]`) is too small to pay for waking threads.
const PARALLEL_MIN_MACS: usize = 1 << 22;

/// A raw pointer that may cross into a scoped thread; each thread writes disjoint rows.
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

/// Splits the rows of `c` (and of `op(a)`) over the machine's cores for large products.
#[allow(clippy::too_many_arguments)]
fn parallel_rows<T: Copy + Send + Sync>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    a_t: bool,
    c: &mut [T],
    kernel: impl Fn(usize, *const T, isize, isize, *mut T) + Sync,
) {
    let (rsa, csa) = strides(if a_t { m } else { k }, a_t);
    let threads = if m * k * n >= PARALLEL_MIN_MACS {
        std::thread::available_parallelism()
            .map_or(1, |p| p.get())
            .min(m)
    } else {
        1
    };
    let out = SendPtr(c.as_mut_ptr());
    let block = m.div_ceil(threads);
    std::thread::scope(|scope| {
        for start in (0..m).step_by(block.max(1)) {
            let rows = block.min(m - start);
            let kernel = &kernel;
            // SAFETY: row `start` of op(a) is `start * rsa` elements in, and rows
            // `start..start + rows` of c are `start * n` elements in; blocks do not overlap.
            let a_block = unsafe { a.as_ptr().offset(start as isize * rsa) };
            let c_block = SendPtr(unsafe { out.0.add(start * n) });
            let a_block = SendPtr(a_block as *mut T);
            let job = move || kernel(rows, a_block.get(), rsa, csa, c_block.get());
            if threads == 1 {
                job();
            } else {
                scope.spawn(job);
            }
        }
    });
}

macro_rules! scalar_impl {
    ($t:ty, $gemm:path) => {
        impl Scalar for $t {
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
                if m == 0 || n == 0 {
                    return;
                }
                let (rsb, csb) = strides(if b_t { k } else { n }, b_t);
                let b = SendPtr(b.as_ptr() as *mut Self);
                parallel_rows(m, k, n, a, a_t, c, |rows, a_block, rsa, csa, c_block| {
                    // SAFETY: the sizes were checked above, and the strides address exactly
                    // the row-major operands (or their transposes), `rows` rows of them.
                    unsafe {
                        $gemm(
                            rows,
                            k,
                            n,
                            1.0,
                            a_block,
                            rsa,
                            csa,
                            b.get(),
                            rsb,
                            csb,
                            beta,
                            c_block,
                            n as isize,
                            1,
                        );
                    }
                });
            }
        }
    };
}

scalar_impl!(f32, matrixmultiply::sgemm);
scalar_impl!(f64, matrixmultiply::dgemm);

#[cfg(test)]
mod tests {
    use super::*;

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
        let (m, k, n) = (301, 123, 117);
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
}
