//! One recurrent layer in one direction, forward and backward, as plain CPU loops in f64 that
//! follow the equations of shaders/lstm.wgsl and shaders/gru.wgsl line by line: the reference
//! of the recurrence kernels' tests (tests/engines/gpu_kernels.rs). Rows are time-major (t·B + b); `out`
//! has two directions' columns (2H), this direction's at [`Case::out_col`].

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A layer of hidden size `hidden` over `lengths.len()` sequences of `steps` steps, one
/// direction, the time loop split into GPU dispatches of `per_dispatch` steps.
pub struct Case {
    pub lstm: bool,
    pub steps: usize,
    pub hidden: usize,
    pub lengths: Vec<usize>,
    pub reverse: bool,
    pub per_dispatch: usize,
}

/// A case's inputs.
pub struct Data {
    /// `X W_ihᵀ + b_ih` `[T·B, G H]`.
    pub xw: Vec<f32>,
    /// `[G H, H]`.
    pub w_hh: Vec<f32>,
    /// `[G H]`.
    pub b_hh: Vec<f32>,
    /// dL/dh from above, `[T·B, 2H]`.
    pub d_out: Vec<f32>,
}

/// What a recurrence computes (empty where a cell has none).
#[derive(Default)]
pub struct Outputs {
    /// h `[T·B, 2H]`; the other direction's columns stay zero.
    pub out: Vec<f64>,
    /// The LSTM's c `[T·B, H]`.
    pub cell: Vec<f64>,
    /// `[T·B, 4H]`: LSTM i, f, g, o; GRU r, z, n, hw_n.
    pub gates: Vec<f64>,
    /// `[T·B, G H]`.
    pub d_xw: Vec<f64>,
    /// The GRU's `[T·B, 3H]`.
    pub d_hw: Vec<f64>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `W v` for `w` `[rows, H]`.
fn w_times(w: &[f32], v: &[f64]) -> Vec<f64> {
    w.chunks(v.len())
        .map(|row| row.iter().zip(v).map(|(a, b)| f64::from(*a) * b).sum())
        .collect()
}

/// `Wᵀ v` for `w` `[rows, h]`.
fn w_t_times(w: &[f32], v: &[f64], h: usize) -> Vec<f64> {
    let mut out = vec![0.0; h];
    for (row, vr) in w.chunks(h).zip(v) {
        for (o, a) in out.iter_mut().zip(row) {
            *o += f64::from(*a) * vr;
        }
    }
    out
}

fn random(rng: &mut StdRng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

impl Case {
    pub fn batch(&self) -> usize {
        self.lengths.len()
    }

    pub fn gates(&self) -> usize {
        if self.lstm { 4 } else { 3 }
    }

    pub fn rows(&self) -> usize {
        self.steps * self.batch()
    }

    /// The column where this direction's h starts in out.
    pub fn out_col(&self) -> usize {
        if self.reverse { self.hidden } else { 0 }
    }

    /// The time of processing step s.
    fn time_of(&self, s: usize) -> usize {
        if self.reverse { self.steps - 1 - s } else { s }
    }

    /// The row of processing step `s` of sequence `b`.
    fn row(&self, s: usize, b: usize) -> usize {
        self.time_of(s) * self.batch() + b
    }

    /// Whether sequence `b` computes step `s` (the reverse direction skips its padding).
    fn live(&self, s: usize, b: usize) -> bool {
        !self.reverse || self.time_of(s) < self.lengths[b]
    }

    /// Random inputs, the weights as PyTorch initialises them (U(-1/√H, 1/√H)).
    pub fn data(&self, seed: u64) -> Data {
        let mut rng = StdRng::seed_from_u64(seed);
        let (gh, h) = (self.gates() * self.hidden, self.hidden);
        let bound = 1.0 / (h as f32).sqrt();
        Data {
            xw: random(&mut rng, self.rows() * gh, 1.0),
            w_hh: random(&mut rng, gh * h, bound),
            b_hh: random(&mut rng, gh, bound),
            d_out: random(&mut rng, self.rows() * 2 * h, 1.0),
        }
    }

    /// The forward and backward passes of every sequence.
    pub fn reference(&self, data: &Data) -> Outputs {
        let (rows, h, gh) = (self.rows(), self.hidden, self.gates() * self.hidden);
        let mut r = Outputs {
            out: vec![0.0; rows * 2 * h],
            cell: if self.lstm {
                vec![0.0; rows * h]
            } else {
                Vec::new()
            },
            gates: vec![0.0; rows * 4 * h],
            d_xw: vec![0.0; rows * gh],
            d_hw: if self.lstm {
                Vec::new()
            } else {
                vec![0.0; rows * gh]
            },
        };
        for b in 0..self.batch() {
            if self.lstm {
                self.lstm_forward(data, b, &mut r);
                self.lstm_backward(data, b, &mut r);
            } else {
                self.gru_forward(data, b, &mut r);
                self.gru_backward(data, b, &mut r);
            }
        }
        r
    }

    /// h of processing step `s` of sequence `b` (zero before the first).
    fn h_at(&self, r: &Outputs, s: Option<usize>, b: usize) -> Vec<f64> {
        let (h, col) = (self.hidden, self.out_col());
        match s {
            Some(s) => r.out[self.row(s, b) * 2 * h + col..][..h].to_vec(),
            None => vec![0.0; h],
        }
    }

    /// lstm.wgsl's forward pass of sequence `b`.
    fn lstm_forward(&self, data: &Data, b: usize, r: &mut Outputs) {
        let (h, col) = (self.hidden, self.out_col());
        for s in 0..self.steps {
            let row = self.row(s, b);
            let hw = w_times(&data.w_hh, &self.h_at(r, s.checked_sub(1), b));
            let c_prev: Vec<f64> = match s.checked_sub(1) {
                Some(p) => r.cell[self.row(p, b) * h..][..h].to_vec(),
                None => vec![0.0; h],
            };
            for (j, c_prev) in c_prev.iter().enumerate() {
                let a = |gate: usize| {
                    let at = gate * h + j;
                    f64::from(data.xw[row * 4 * h + at]) + hw[at] + f64::from(data.b_hh[at])
                };
                let (i, f, g, o) = (sigmoid(a(0)), sigmoid(a(1)), a(2).tanh(), sigmoid(a(3)));
                let live = self.live(s, b);
                let c = if live { f * c_prev + i * g } else { 0.0 };
                for (gate, v) in [i, f, g, o].into_iter().enumerate() {
                    r.gates[row * 4 * h + gate * h + j] = v;
                }
                r.cell[row * h + j] = c;
                r.out[row * 2 * h + col + j] = if live { o * c.tanh() } else { 0.0 };
            }
        }
    }

    /// lstm.wgsl's backward pass of sequence `b`.
    fn lstm_backward(&self, data: &Data, b: usize, r: &mut Outputs) {
        let (h, col) = (self.hidden, self.out_col());
        let (mut d_h_rec, mut d_c_next) = (vec![0.0; h], vec![0.0; h]);
        for s in (0..self.steps).rev() {
            let (row, live) = (self.row(s, b), self.live(s, b));
            let prev_row = s.checked_sub(1).map(|p| self.row(p, b));
            let mut d_a = vec![0.0; 4 * h];
            for j in 0..h {
                let gate = |g: usize| r.gates[row * 4 * h + g * h + j];
                let (i, f, g, o) = (gate(0), gate(1), gate(2), gate(3));
                let tanh_c = r.cell[row * h + j].tanh();
                let c_prev = prev_row.map_or(0.0, |p| r.cell[p * h + j]);
                let d_out = f64::from(data.d_out[row * 2 * h + col + j]);
                let d_h = if live { d_out + d_h_rec[j] } else { 0.0 };
                let mut d_c = if live { d_c_next[j] } else { 0.0 };
                let d_o = d_h * tanh_c;
                d_c += d_h * o * (1.0 - tanh_c * tanh_c);
                d_c_next[j] = d_c * f;
                d_a[j] = d_c * g * i * (1.0 - i);
                d_a[h + j] = d_c * c_prev * f * (1.0 - f);
                d_a[2 * h + j] = d_c * i * (1.0 - g * g);
                d_a[3 * h + j] = d_o * o * (1.0 - o);
            }
            r.d_xw[row * 4 * h..][..4 * h].copy_from_slice(&d_a);
            d_h_rec = w_t_times(&data.w_hh, &d_a, h);
        }
    }

    /// gru.wgsl's forward pass of sequence `b`.
    fn gru_forward(&self, data: &Data, b: usize, r: &mut Outputs) {
        let (h, col) = (self.hidden, self.out_col());
        for s in 0..self.steps {
            let row = self.row(s, b);
            let h_prev = self.h_at(r, s.checked_sub(1), b);
            let hw: Vec<f64> = w_times(&data.w_hh, &h_prev)
                .iter()
                .zip(&data.b_hh)
                .map(|(a, b)| a + f64::from(*b))
                .collect();
            let xw = |at: usize| f64::from(data.xw[row * 3 * h + at]);
            for j in 0..h {
                let rg = sigmoid(xw(j) + hw[j]);
                let z = sigmoid(xw(h + j) + hw[h + j]);
                let n = (xw(2 * h + j) + rg * hw[2 * h + j]).tanh();
                for (gate, v) in [rg, z, n, hw[2 * h + j]].into_iter().enumerate() {
                    r.gates[row * 4 * h + gate * h + j] = v;
                }
                let live = self.live(s, b);
                r.out[row * 2 * h + col + j] = if live { n + z * (h_prev[j] - n) } else { 0.0 };
            }
        }
    }

    /// gru.wgsl's backward pass of sequence `b`.
    fn gru_backward(&self, data: &Data, b: usize, r: &mut Outputs) {
        let (h, col) = (self.hidden, self.out_col());
        let mut d_h_rec = vec![0.0; h];
        for s in (0..self.steps).rev() {
            let (row, live) = (self.row(s, b), self.live(s, b));
            let h_prev = self.h_at(r, s.checked_sub(1), b);
            let (mut d_xw, mut d_hw) = (vec![0.0; 3 * h], vec![0.0; 3 * h]);
            let mut d_h_direct = vec![0.0; h];
            for j in 0..h {
                let gate = |g: usize| r.gates[row * 4 * h + g * h + j];
                let (rg, z, n, hw_n) = (gate(0), gate(1), gate(2), gate(3));
                let d_out = f64::from(data.d_out[row * 2 * h + col + j]);
                let d_h = if live { d_out + d_h_rec[j] } else { 0.0 };
                let d_n = d_h * (1.0 - z);
                let d_z = d_h * (h_prev[j] - n);
                d_h_direct[j] = d_h * z;
                let d_an = d_n * (1.0 - n * n);
                let d_ar = d_an * hw_n * rg * (1.0 - rg);
                let d_az = d_z * z * (1.0 - z);
                (d_xw[j], d_xw[h + j], d_xw[2 * h + j]) = (d_ar, d_az, d_an);
                (d_hw[j], d_hw[h + j], d_hw[2 * h + j]) = (d_ar, d_az, d_an * rg);
            }
            r.d_xw[row * 3 * h..][..3 * h].copy_from_slice(&d_xw);
            r.d_hw[row * 3 * h..][..3 * h].copy_from_slice(&d_hw);
            let through_w = w_t_times(&data.w_hh, &d_hw, h);
            d_h_rec = d_h_direct
                .iter()
                .zip(&through_w)
                .map(|(a, b)| a + b)
                .collect();
        }
    }
}
