//! Reverse-mode automatic differentiation over 2-D tensors.
//!
//! Every operation appends a node to the [`Tape`] holding its value and how it was made.
//! [`Tape::backward`] walks the nodes from last to first and applies each operation's local
//! derivative (the chain rule, one rule per operation); nothing model-specific is derived by
//! hand. All tensors are row-major `[rows, cols]`; a recurrent model lays a batch out
//! time-major, one row per (step, sequence).
//!
//! | operation | value | gradients |
//! | --- | --- | --- |
//! | `matmul_t(a, b)` | `a bᵀ` | `da += dy b`, `db += dyᵀ a` |
//! | `add`, `sub`, `mul` | elementwise | `da += dy`, `db += ±dy`; `da += dy b`, `db += dy a` |
//! | `add_row(a, r)` | `a + r` on every row | `dr += column sums of dy` |
//! | `sigmoid(a)` | `σ(a)` | `da += dy y (1 - y)` |
//! | `tanh(a)` | `tanh(a)` | `da += dy (1 - y²)` |
//! | `slice_cols`, `slice_rows` | a block | scattered back |
//! | `concat_cols`, `concat_rows` | blocks side by side / stacked | split back |
//! | `masked_mse(p, y, m)` | `Σ m (p - y)² / Σ m` | `dp += 2 m (p - y) / Σ m` |

use crate::engine::scalar::Scalar;

/// A handle to a tensor on a tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var(usize);

#[derive(Debug, Clone)]
enum Op {
    Leaf,
    MatMulT(Var, Var),
    Add(Var, Var),
    Sub(Var, Var),
    Mul(Var, Var),
    AddRow(Var, Var),
    Sigmoid(Var),
    Tanh(Var),
    SliceCols(Var, usize),
    SliceRows(Var, usize),
    ConcatCols(Vec<Var>),
    ConcatRows(Vec<Var>),
    MaskedMse(Var, Var, Var),
}

#[derive(Debug)]
struct Node<T> {
    value: Vec<T>,
    rows: usize,
    cols: usize,
    op: Op,
    needs_grad: bool,
}

/// A tape of tensor operations.
#[derive(Debug, Default)]
pub struct Tape<T> {
    nodes: Vec<Node<T>>,
}

/// The gradients of a scalar with respect to every node of a tape that needs one.
#[derive(Debug)]
pub struct Gradients<T> {
    grads: Vec<Option<Vec<T>>>,
}

impl<T: Scalar> Gradients<T> {
    /// The gradient of a node, if it needs one (zeros if the output did not depend on it).
    pub fn of(&self, v: Var) -> Option<&[T]> {
        self.grads[v.0].as_deref()
    }
}

fn accumulate<T: Scalar>(slot: &mut Option<Vec<T>>, len: usize, f: impl FnOnce(&mut [T])) {
    let g = slot.get_or_insert_with(|| vec![T::zero(); len]);
    f(g);
}

impl<T: Scalar> Tape<T> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape { nodes: Vec::new() }
    }

    fn push(&mut self, value: Vec<T>, rows: usize, cols: usize, op: Op, needs_grad: bool) -> Var {
        debug_assert_eq!(value.len(), rows * cols);
        self.nodes.push(Node {
            value,
            rows,
            cols,
            op,
            needs_grad,
        });
        Var(self.nodes.len() - 1)
    }

    fn needs(&self, vars: &[Var]) -> bool {
        vars.iter().any(|v| self.nodes[v.0].needs_grad)
    }

    /// A tensor whose gradient is wanted (a parameter).
    pub fn param(&mut self, value: Vec<T>, rows: usize, cols: usize) -> Var {
        self.push(value, rows, cols, Op::Leaf, true)
    }

    /// A tensor without a gradient (an input, a mask, a zero state).
    pub fn constant(&mut self, value: Vec<T>, rows: usize, cols: usize) -> Var {
        self.push(value, rows, cols, Op::Leaf, false)
    }

    /// The value of a node.
    pub fn value(&self, v: Var) -> &[T] {
        &self.nodes[v.0].value
    }

    /// The `[rows, cols]` shape of a node.
    pub fn shape(&self, v: Var) -> (usize, usize) {
        (self.nodes[v.0].rows, self.nodes[v.0].cols)
    }

    /// `a bᵀ` for `a` `[m, k]` and `b` `[n, k]` (a batch times a PyTorch weight).
    pub fn matmul_t(&mut self, a: Var, b: Var) -> Var {
        let (m, k) = self.shape(a);
        let (n, kb) = self.shape(b);
        assert_eq!(k, kb, "matmul_t: inner sizes differ");
        let mut out = vec![T::zero(); m * n];
        T::gemm(
            m,
            k,
            n,
            self.value(a),
            false,
            self.value(b),
            true,
            T::zero(),
            &mut out,
        );
        let needs = self.needs(&[a, b]);
        self.push(out, m, n, Op::MatMulT(a, b), needs)
    }

    fn elementwise(&mut self, a: Var, b: Var, op: Op, f: impl Fn(T, T) -> T) -> Var {
        assert_eq!(
            self.shape(a),
            self.shape(b),
            "elementwise operands differ in shape"
        );
        let (r, c) = self.shape(a);
        let out = self
            .value(a)
            .iter()
            .zip(self.value(b))
            .map(|(&x, &y)| f(x, y))
            .collect();
        let needs = self.needs(&[a, b]);
        self.push(out, r, c, op, needs)
    }

    /// `a + b`.
    pub fn add(&mut self, a: Var, b: Var) -> Var {
        self.elementwise(a, b, Op::Add(a, b), |x, y| x + y)
    }

    /// `a - b`.
    pub fn sub(&mut self, a: Var, b: Var) -> Var {
        self.elementwise(a, b, Op::Sub(a, b), |x, y| x - y)
    }

    /// `a ⊙ b`.
    pub fn mul(&mut self, a: Var, b: Var) -> Var {
        self.elementwise(a, b, Op::Mul(a, b), |x, y| x * y)
    }

    /// `a` plus the row vector `row` (`[1, cols]`) on every row (a bias).
    pub fn add_row(&mut self, a: Var, row: Var) -> Var {
        let (r, c) = self.shape(a);
        assert_eq!(
            self.shape(row),
            (1, c),
            "add_row: the row has the wrong shape"
        );
        let bias = self.value(row);
        let out = self
            .value(a)
            .chunks(c)
            .flat_map(|x| x.iter().zip(bias).map(|(&x, &b)| x + b))
            .collect();
        let needs = self.needs(&[a, row]);
        self.push(out, r, c, Op::AddRow(a, row), needs)
    }

    /// The logistic sigmoid, elementwise.
    pub fn sigmoid(&mut self, a: Var) -> Var {
        let (r, c) = self.shape(a);
        let out = self
            .value(a)
            .iter()
            .map(|&x| T::one() / (T::one() + (-x).exp()))
            .collect();
        let needs = self.needs(&[a]);
        self.push(out, r, c, Op::Sigmoid(a), needs)
    }

    /// The hyperbolic tangent, elementwise.
    pub fn tanh(&mut self, a: Var) -> Var {
        let (r, c) = self.shape(a);
        let out = self.value(a).iter().map(|&x| x.tanh()).collect();
        let needs = self.needs(&[a]);
        self.push(out, r, c, Op::Tanh(a), needs)
    }

    /// Columns `start..start + width` of `a`.
    pub fn slice_cols(&mut self, a: Var, start: usize, width: usize) -> Var {
        let (r, c) = self.shape(a);
        assert!(start + width <= c, "slice_cols out of range");
        let out = self
            .value(a)
            .chunks(c)
            .flat_map(|row| row[start..start + width].iter().copied())
            .collect();
        let needs = self.needs(&[a]);
        self.push(out, r, width, Op::SliceCols(a, start), needs)
    }

    /// Rows `start..start + count` of `a`.
    pub fn slice_rows(&mut self, a: Var, start: usize, count: usize) -> Var {
        let (r, c) = self.shape(a);
        assert!(start + count <= r, "slice_rows out of range");
        let out = self.value(a)[start * c..(start + count) * c].to_vec();
        let needs = self.needs(&[a]);
        self.push(out, count, c, Op::SliceRows(a, start), needs)
    }

    /// Tensors with the same rows, side by side.
    pub fn concat_cols(&mut self, parts: &[Var]) -> Var {
        let r = self.shape(parts[0]).0;
        assert!(
            parts.iter().all(|p| self.shape(*p).0 == r),
            "concat_cols: rows differ"
        );
        let c: usize = parts.iter().map(|p| self.shape(*p).1).sum();
        let mut out = Vec::with_capacity(r * c);
        for row in 0..r {
            for p in parts {
                let pc = self.shape(*p).1;
                out.extend_from_slice(&self.value(*p)[row * pc..(row + 1) * pc]);
            }
        }
        let needs = self.needs(parts);
        self.push(out, r, c, Op::ConcatCols(parts.to_vec()), needs)
    }

    /// Tensors with the same columns, stacked.
    pub fn concat_rows(&mut self, parts: &[Var]) -> Var {
        let c = self.shape(parts[0]).1;
        assert!(
            parts.iter().all(|p| self.shape(*p).1 == c),
            "concat_rows: columns differ"
        );
        let r: usize = parts.iter().map(|p| self.shape(*p).0).sum();
        let mut out = Vec::with_capacity(r * c);
        for p in parts {
            out.extend_from_slice(self.value(*p));
        }
        let needs = self.needs(parts);
        self.push(out, r, c, Op::ConcatRows(parts.to_vec()), needs)
    }

    /// `Σ mask (pred - target)² / Σ mask`, a `[1, 1]` scalar (0 when the mask is all zero).
    pub fn masked_mse(&mut self, pred: Var, target: Var, mask: Var) -> Var {
        assert_eq!(
            self.shape(pred),
            self.shape(target),
            "masked_mse: target shape"
        );
        assert_eq!(self.shape(pred), self.shape(mask), "masked_mse: mask shape");
        let (p, y, m) = (self.value(pred), self.value(target), self.value(mask));
        let count = m.iter().fold(T::zero(), |s, &x| s + x);
        let sum = (0..p.len()).fold(T::zero(), |s, i| s + m[i] * (p[i] - y[i]) * (p[i] - y[i]));
        let loss = if count > T::zero() {
            sum / count
        } else {
            T::zero()
        };
        let needs = self.needs(&[pred]);
        self.push(vec![loss], 1, 1, Op::MaskedMse(pred, target, mask), needs)
    }

    /// Gradients of the scalar `output` with respect to every node that needs one.
    pub fn backward(&self, output: Var) -> Gradients<T> {
        assert_eq!(self.shape(output), (1, 1), "backward starts from a scalar");
        let mut grads: Vec<Option<Vec<T>>> = vec![None; self.nodes.len()];
        grads[output.0] = Some(vec![T::one()]);
        for i in (0..=output.0).rev() {
            let node = &self.nodes[i];
            if !node.needs_grad {
                continue;
            }
            let Some(dy) = grads[i].take() else { continue };
            let len = |v: Var| self.nodes[v.0].value.len();
            let wants = |v: Var| self.nodes[v.0].needs_grad;
            match &node.op {
                Op::Leaf => {
                    grads[i] = Some(dy);
                    continue;
                }
                Op::MatMulT(a, b) => {
                    let (m, k) = self.shape(*a);
                    let n = self.shape(*b).0;
                    if wants(*a) {
                        let b_val = self.value(*b);
                        accumulate(&mut grads[a.0], m * k, |g| {
                            T::gemm(m, n, k, &dy, false, b_val, false, T::one(), g)
                        });
                    }
                    if wants(*b) {
                        let a_val = self.value(*a);
                        accumulate(&mut grads[b.0], n * k, |g| {
                            T::gemm(n, m, k, &dy, true, a_val, false, T::one(), g)
                        });
                    }
                }
                Op::Add(a, b) | Op::Sub(a, b) => {
                    let sign = if matches!(node.op, Op::Sub(..)) {
                        -T::one()
                    } else {
                        T::one()
                    };
                    for (v, s) in [(*a, T::one()), (*b, sign)] {
                        if wants(v) {
                            accumulate(&mut grads[v.0], dy.len(), |g| {
                                g.iter_mut().zip(&dy).for_each(|(g, &d)| *g = *g + s * d)
                            });
                        }
                    }
                }
                Op::Mul(a, b) => {
                    for (v, other) in [(*a, *b), (*b, *a)] {
                        if wants(v) {
                            let o = self.value(other);
                            accumulate(&mut grads[v.0], dy.len(), |g| {
                                for ((g, &d), &o) in g.iter_mut().zip(&dy).zip(o) {
                                    *g = *g + d * o;
                                }
                            });
                        }
                    }
                }
                Op::AddRow(a, row) => {
                    if wants(*a) {
                        accumulate(&mut grads[a.0], dy.len(), |g| {
                            g.iter_mut().zip(&dy).for_each(|(g, &d)| *g = *g + d)
                        });
                    }
                    if wants(*row) {
                        let c = node.cols;
                        accumulate(&mut grads[row.0], c, |g| {
                            for chunk in dy.chunks(c) {
                                g.iter_mut().zip(chunk).for_each(|(g, &d)| *g = *g + d);
                            }
                        });
                    }
                }
                Op::Sigmoid(a) | Op::Tanh(a) => {
                    let sigmoid = matches!(node.op, Op::Sigmoid(_));
                    accumulate(&mut grads[a.0], dy.len(), |g| {
                        for ((g, &d), &y) in g.iter_mut().zip(&dy).zip(&node.value) {
                            let local = if sigmoid {
                                y * (T::one() - y)
                            } else {
                                T::one() - y * y
                            };
                            *g = *g + d * local;
                        }
                    });
                }
                Op::SliceCols(a, start) => {
                    let (r, c) = self.shape(*a);
                    let w = node.cols;
                    accumulate(&mut grads[a.0], r * c, |g| {
                        for row in 0..r {
                            for j in 0..w {
                                g[row * c + start + j] = g[row * c + start + j] + dy[row * w + j];
                            }
                        }
                    });
                }
                Op::SliceRows(a, start) => {
                    let c = node.cols;
                    accumulate(&mut grads[a.0], len(*a), |g| {
                        g[start * c..start * c + dy.len()]
                            .iter_mut()
                            .zip(&dy)
                            .for_each(|(g, &d)| *g = *g + d);
                    });
                }
                Op::ConcatCols(parts) => {
                    let (r, c) = (node.rows, node.cols);
                    let mut offset = 0;
                    for p in parts {
                        let pc = self.shape(*p).1;
                        if wants(*p) {
                            accumulate(&mut grads[p.0], r * pc, |g| {
                                for row in 0..r {
                                    for j in 0..pc {
                                        g[row * pc + j] =
                                            g[row * pc + j] + dy[row * c + offset + j];
                                    }
                                }
                            });
                        }
                        offset += pc;
                    }
                }
                Op::ConcatRows(parts) => {
                    let mut offset = 0;
                    for p in parts {
                        let n = len(*p);
                        if wants(*p) {
                            accumulate(&mut grads[p.0], n, |g| {
                                g.iter_mut()
                                    .zip(&dy[offset..offset + n])
                                    .for_each(|(g, &d)| *g = *g + d);
                            });
                        }
                        offset += n;
                    }
                }
                Op::MaskedMse(pred, target, mask) => {
                    let (p, y, m) = (self.value(*pred), self.value(*target), self.value(*mask));
                    let count = m.iter().fold(T::zero(), |s, &x| s + x);
                    if count > T::zero() {
                        let scale = dy[0] * T::of(2.0) / count;
                        accumulate(&mut grads[pred.0], p.len(), |g| {
                            for i in 0..p.len() {
                                g[i] = g[i] + scale * m[i] * (p[i] - y[i]);
                            }
                        });
                    }
                }
            }
        }
        Gradients { grads }
    }
}
