//! Memory layouts the engines share. A batch arrives batch-first (`[B, T, C]`, row `b T + t`,
//! as the processed data files store it); both engines compute time-major (`[T B, C]`, row
//! `t B + b`), so that the rows of one step are contiguous and one GEMM covers every step.

/// Batch-first `[B, T, C]` to time-major `[T B, C]`.
pub fn to_time_major<T: Copy>(x: &[T], b: usize, t: usize, c: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(x.len());
    for step in 0..t {
        for seq in 0..b {
            out.extend_from_slice(&x[(seq * t + step) * c..(seq * t + step + 1) * c]);
        }
    }
    out
}

/// Time-major `[T B, C]` to batch-first `[B, T, C]`.
pub fn to_batch_first<T: Copy>(x: &[T], b: usize, t: usize, c: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(x.len());
    for seq in 0..b {
        for step in 0..t {
            out.extend_from_slice(&x[(step * b + seq) * c..(step * b + seq + 1) * c]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_major_and_back_are_inverse() {
        let (b, t, c) = (3, 5, 2);
        let x: Vec<usize> = (0..b * t * c).collect();
        let tm = to_time_major(&x, b, t, c);
        // Row t·B + b of the time-major copy is row b·T + t of the batch-first one.
        assert_eq!(
            &tm[(2 * b + 1) * c..(2 * b + 2) * c],
            &x[(t + 2) * c..(t + 3) * c]
        );
        assert_eq!(to_batch_first(&tm, b, t, c), x);
    }
}
