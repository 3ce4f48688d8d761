//! A matrix operand read through strides, the left operand of both CPU GEMMs: the general one
//! ([`crate::engine::scalar::Scalar::gemm_strided`]) and the packed one of the forward pass
//! ([`crate::engine::packed::product`]).

/// A matrix operand read through strides: element `(i, j)` is `data[i * rs + j * cs]`. A
/// row-major `[rows, cols]` matrix is `(cols, 1)`, its transpose `(1, cols)`; a block of columns
/// of a wider matrix keeps the wider row stride.
#[derive(Debug, Clone, Copy)]
pub struct Strided<'a, T> {
    /// The elements.
    pub data: &'a [T],
    /// Distance between rows.
    pub rs: usize,
    /// Distance between columns.
    pub cs: usize,
}

impl<'a, T> Strided<'a, T> {
    /// A row-major `[_, cols]` matrix, read as is (`transposed` false) or as its transpose.
    pub fn row_major(data: &'a [T], cols: usize, transposed: bool) -> Self {
        let (rs, cs) = if transposed { (1, cols) } else { (cols, 1) };
        Strided { data, rs, cs }
    }

    /// Whether every element of a `[rows, cols]` view lies inside `data`.
    pub fn holds(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// What the GEMMs' tests share.
#[cfg(test)]
pub(crate) mod tests {
    /// Operands `a` `[m, k]` and `b` `[k, n]` of small multiples of 1/8 and 1/4, whose products
    /// and sums are exact in f32 at these sizes.
    pub(crate) fn operands(m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
        let a = (0..m * k)
            .map(|i| ((i * 7 % 13) as f64 - 6.0) / 8.0)
            .collect();
        let b = (0..k * n)
            .map(|i| ((i * 5 % 11) as f64 - 5.0) / 4.0)
            .collect();
        (a, b)
    }
}
