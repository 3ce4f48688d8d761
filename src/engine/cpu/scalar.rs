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
                let (rsa, csa) = strides(if a_t { m } else { k }, a_t);
                let (rsb, csb) = strides(if b_t { k } else { n }, b_t);
                // SAFETY: the sizes were checked above, and the strides address exactly the
                // row-major [m, k], [k, n] and [m, n] operands (or their transposes).
                unsafe {
                    $gemm(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        rsa,
                        csa,
                        b.as_ptr(),
                        rsb,
                        csb,
                        beta,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
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
}
