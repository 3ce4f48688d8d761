//! The GPU kernels one at a time, and the contract between host and shaders.
//!
//! Without a GPU (naga alone): every Rust uniform struct has the size and field offsets of its
//! WGSL twin; every kernel's explicit layout lists exactly the globals its entry point uses,
//! with their group, binding, name and kind (uniform, read-only or read-write storage); the
//! constants the host sizes grids and buffers with are the shaders' own.
//!
//! With a GPU (the one `--device gpu` takes; lavapipe in CI; with CI=true a missing adapter
//! fails): each kernel alone on small inputs against a plain CPU loop in f64 (or the shared CPU
//! optimizer), beside the whole-step comparisons of tests/gpu_engine.rs. The tolerances are
//! stated at each comparison with the reason for them.

mod common;

use hrcast::engine::StepConfig;
use hrcast::engine::gpu::Gpu;
use hrcast::engine::gpu::bindings::*;
use hrcast::engine::gpu::buffers::{F32, step_uniform, storage, storage_init, uniform};
use hrcast::engine::gpu::kernels::*;
use hrcast::engine::gpu::recorder::{Dispatch, Gemm, Recorder, op, submit};
use hrcast::engine::gpu::uniforms::*;
use hrcast::engine::optim::{self, AdamConfig, AdamState};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

// ------------------------------------------------------------------ the contract (no GPU)

/// A shader file as compiled (with its preludes), parsed and validated.
struct Shader {
    module: naga::Module,
    info: naga::valid::ModuleInfo,
}

fn shader(file: &str) -> Shader {
    let (_, source) = SHADERS
        .iter()
        .find(|(name, _)| *name == file)
        .unwrap_or_else(|| panic!("{file} is not in SHADERS"));
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{file}: {}", e.emit_to_string(source)));
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{file}: {e:?}"));
    Shader { module, info }
}

/// Checks `T` against the WGSL struct of the same name in `file`: the same size, and every
/// field at the same offset (padding aside: Rust's `pad` arrays, WGSL's `_pad` members).
fn check_uniform<T: Uniform>(file: &str) {
    let Shader { module, .. } = shader(file);
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    let (handle, ty) = module
        .types
        .iter()
        .find(|(_, ty)| ty.name.as_deref() == Some(T::WGSL_NAME))
        .unwrap_or_else(|| panic!("{file} has no struct {}", T::WGSL_NAME));
    let naga::TypeInner::Struct { members, .. } = &ty.inner else {
        panic!("{} is not a struct", T::WGSL_NAME);
    };
    let what = format!("{} ({file})", T::WGSL_NAME);
    assert_eq!(
        std::mem::size_of::<T>(),
        layouter[handle].size as usize,
        "{what}: size"
    );
    let wgsl: Vec<(&str, usize)> = members
        .iter()
        .map(|m| (m.name.as_deref().unwrap(), m.offset as usize))
        .filter(|(name, _)| !name.starts_with("_pad"))
        .collect();
    let rust: Vec<(&str, usize)> = T::FIELDS
        .iter()
        .copied()
        .filter(|(name, _)| *name != "pad")
        .collect();
    assert_eq!(rust, wgsl, "{what}: fields and offsets");
}

#[test]
fn every_uniform_struct_matches_its_wgsl_twin() {
    check_uniform::<MatmulDims>("matmul.wgsl");
    check_uniform::<RecurrenceDims>("lstm.wgsl");
    check_uniform::<RecurrenceDims>("gru.wgsl");
    check_uniform::<DropoutDims>("elementwise.wgsl");
    check_uniform::<LossDims>("loss.wgsl");
    check_uniform::<AdamDims>("adam.wgsl");
    for file in ["elementwise.wgsl", "loss.wgsl", "adam.wgsl"] {
        check_uniform::<Step>(file);
    }
}

/// (group, binding, name, access) of a slot or a WGSL global.
type Binding = (u32, u32, String, Access);

/// The resource globals `entry` of `file` uses, as (group, binding, name, access), sorted.
fn used_globals(file: &str, entry: &str) -> (Vec<Binding>, [u32; 3]) {
    let Shader { module, info } = shader(file);
    let index = module
        .entry_points
        .iter()
        .position(|e| e.name == entry)
        .unwrap_or_else(|| panic!("{file} has no entry point {entry}"));
    let uses = info.get_entry_point(index);
    let mut used: Vec<Binding> = module
        .global_variables
        .iter()
        .filter(|(handle, _)| !uses[*handle].is_empty())
        .filter_map(|(_, var)| {
            let binding = var.binding.as_ref()?;
            let access = match var.space {
                naga::AddressSpace::Uniform => Access::Uniform,
                naga::AddressSpace::Storage { access } => {
                    if access.contains(naga::StorageAccess::STORE) {
                        Access::ReadWrite
                    } else {
                        Access::Read
                    }
                }
                other => panic!("{file}: {other:?} resource"),
            };
            let name = var.name.clone().unwrap();
            Some((binding.group, binding.binding, name, access))
        })
        .collect();
    used.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    (used, module.entry_points[index].workgroup_size)
}

#[test]
fn every_kernel_layout_is_what_its_entry_point_declares() {
    for kernel in Kernel::ALL {
        let (file, entry) = kernel.source();
        let (used, workgroup_size) = used_globals(file, entry);
        let mut layout: Vec<Binding> = kernel
            .layout()
            .iter()
            .enumerate()
            .flat_map(|(group, slots)| {
                slots
                    .iter()
                    .map(move |s| (group as u32, s.binding, s.name.to_string(), s.access))
            })
            .collect();
        layout.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        assert_eq!(layout, used, "{entry} of {file}: bindings");
        assert_eq!(
            kernel.workgroup_size(),
            workgroup_size,
            "{entry} of {file}: workgroup size"
        );
    }
}

/// The value of the WGSL constant `name` in `file`, as f64.
fn wgsl_constant(file: &str, name: &str) -> f64 {
    let Shader { module, .. } = shader(file);
    let (_, constant) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("{file} has no constant {name}"));
    match module.global_expressions[constant.init] {
        naga::Expression::Literal(naga::Literal::U32(v)) => f64::from(v),
        naga::Expression::Literal(naga::Literal::F32(v)) => f64::from(v),
        ref other => panic!("{file}: {name} = {other:?}"),
    }
}

#[test]
fn the_hosts_constants_are_the_shaders() {
    let constants = [
        ("loss.wgsl", "ELEMENTWISE_WG", f64::from(ELEMENTWISE_WG)),
        ("elementwise.wgsl", "MAX_LAYERS", MAX_LAYERS as f64),
        ("matmul.wgsl", "MATMUL_WG", f64::from(MATMUL_WG)),
        ("matmul.wgsl", "MATMUL_TILE", f64::from(MATMUL_TILE)),
        ("lstm.wgsl", "RECURRENCE_WG", RECURRENCE_WG as f64),
        ("gru.wgsl", "LANES", LANES as f64),
        ("gru.wgsl", "MAX_HIDDEN", MAX_HIDDEN as f64),
        ("adam.wgsl", "CLIP_EPS", f64::from(optim::CLIP_EPS as f32)),
    ];
    for (file, name, value) in constants {
        assert_eq!(wgsl_constant(file, name), value, "{name} of {file}");
    }
}

// ------------------------------------------------------------------ each kernel on the GPU

/// The GPU and its compiled kernels (None where there is no adapter and CI is not set).
fn setup() -> Option<(Gpu, Kernels)> {
    let gpu = common::gpu()?;
    let kernels = Kernels::new(&gpu).unwrap();
    Some((gpu, kernels))
}

/// Submits `dispatches` and waits.
fn run(gpu: &Gpu, kernels: &Kernels, dispatches: &[Dispatch]) {
    submit(gpu, kernels, None, dispatches);
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
}

fn read(gpu: &Gpu, buffer: &wgpu::Buffer, floats: usize) -> Vec<f32> {
    bytemuck::pod_collect_to_vec(&gpu.read(buffer, floats as u64 * F32).unwrap())
}

fn random(rng: &mut StdRng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

/// `max |got - want| <= tol × max(|want|, 1e-3)`: an error relative to the tensor's scale.
fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: sizes");
    let scale = want.iter().fold(1e-3f64, |m, w| m.max(w.abs()));
    let (at, err) = got
        .iter()
        .zip(want)
        .map(|(g, w)| (f64::from(*g) - w).abs())
        .enumerate()
        .fold((0, 0.0), |m, (i, e)| if e > m.1 { (i, e) } else { m });
    assert!(
        err <= tol * scale,
        "{what}: error {err:e} at {at} > {tol:e} x scale {scale:e}"
    );
}

/// A strided operand of a matmul case: (offset, row stride, column stride).
type Strides = (usize, usize, usize);

/// One matmul case: C[m, n] (+)= A B (+ bias), every operand placed by offset and strides.
struct MatmulCase {
    mnk: (usize, usize, usize),
    a: Strides,
    b: Strides,
    /// C's offset and row stride.
    c: (usize, usize),
    bias: Option<usize>,
    accumulate: bool,
    copy_to: Option<usize>,
}

impl MatmulCase {
    /// Runs the case on the GPU and compares every element of C's buffer with a CPU loop.
    fn check(&self, gpu: &Gpu, kernels: &Kernels, rng: &mut StdRng, what: &str) {
        let (m, n, k) = self.mnk;
        let extent = |(off, rs, cs): Strides, rows: usize, cols: usize| {
            off + (rows - 1) * rs + (cols - 1) * cs + 1
        };
        let a = random(rng, extent(self.a, m, k), 1.0);
        let b = random(rng, extent(self.b, k, n), 1.0);
        let bias = random(rng, self.bias.unwrap_or(0) + n, 1.0);
        let c_at = |off: usize, i: usize, j: usize| off + i * self.c.1 + j;
        let c_len = c_at(self.copy_to.unwrap_or(self.c.0).max(self.c.0), m - 1, n);
        let c0 = random(rng, c_len, 1.0);
        let (a_buf, b_buf) = (storage_init(gpu, "a", &a), storage_init(gpu, "b", &b));
        let (bias_buf, c_buf) = (
            storage_init(gpu, "bias", &bias),
            storage_init(gpu, "c", &c0),
        );
        let mut gemm = Gemm::new(
            self.mnk,
            op(&a_buf, self.a.0, self.a.1, self.a.2),
            op(&b_buf, self.b.0, self.b.1, self.b.2),
            op(&c_buf, self.c.0, self.c.1, 1),
        )
        .accumulate(self.accumulate)
        .copy_to(self.copy_to);
        if let Some(off) = self.bias {
            gemm = gemm.bias(&bias_buf, off);
        }
        let mut rec = Recorder::new(gpu, kernels);
        rec.matmul(&gemm);
        run(gpu, kernels, &rec.finish());
        let got = read(gpu, &c_buf, c_len);
        let mut want: Vec<f64> = c0.iter().map(|&v| f64::from(v)).collect();
        let mut scale = vec![0.0f64; c_len];
        for i in 0..m {
            for j in 0..n {
                let (mut sum, mut abs) = (0.0f64, 0.0f64);
                for kk in 0..k {
                    let x = f64::from(a[self.a.0 + i * self.a.1 + kk * self.a.2]);
                    let y = f64::from(b[self.b.0 + kk * self.b.1 + j * self.b.2]);
                    sum += x * y;
                    abs += (x * y).abs();
                }
                let at = c_at(self.c.0, i, j);
                let extra = match (self.accumulate, self.bias) {
                    (true, _) => want[at],
                    (false, Some(off)) => f64::from(bias[off + j]),
                    (false, None) => 0.0,
                };
                want[at] = sum + extra;
                scale[at] = abs + extra.abs();
                if let Some(off) = self.copy_to {
                    want[c_at(off, i, j)] = want[at];
                    scale[c_at(off, i, j)] = scale[at];
                }
            }
        }
        // f32 accumulation of k products: the rounding errors add up like a random walk, about
        // √k ulps of Σ|a b| (plus one for the bias or the accumulated value). 4 √k ulps is
        // comfortably above that, and far below what a lost chunk, a wrong stride or a missing
        // bias would change. Elements outside C must be untouched (scale 0: exact).
        let ulp = f64::from(f32::EPSILON);
        let tol = 4.0 * (k as f64).sqrt().max(2.0) * ulp;
        for (at, (g, w)) in got.iter().zip(&want).enumerate() {
            let err = (f64::from(*g) - w).abs();
            assert!(
                err <= tol * scale[at],
                "{what}: C[{at}] = {g}, want {w} (error {err:e}, scale {:e})",
                scale[at]
            );
        }
    }
}

#[test]
fn matmul_with_strides_transposes_bias_accumulation_and_chunks() {
    let Some((gpu, kernels)) = setup() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(1);
    // C = A Bᵀ + bias, with a copy of C: A [37, 7] row-major at offset 3, B stored [45, 7] and
    // read transposed, C with row stride 50 at offset 5. 37 and 45 are not multiples of the
    // 32 × 32 block a workgroup covers.
    MatmulCase {
        mnk: (37, 45, 7),
        a: (3, 7, 1),
        b: (0, 1, 7),
        c: (5, 50),
        bias: Some(2),
        accumulate: false,
        copy_to: Some(5 + 37 * 50),
    }
    .check(&gpu, &kernels, &mut rng, "A Bᵀ + bias");
    // C += Aᵀ B over k = 2 K_CHUNK + 123 (three dispatches: the first adds to C's values too):
    // A stored [k, 3] and read transposed, B [k, 5] row-major at offset 1.
    let k = 2 * K_CHUNK as usize + 123;
    MatmulCase {
        mnk: (3, 5, k),
        a: (0, 1, 3),
        b: (1, 5, 1),
        c: (0, 5),
        bias: None,
        accumulate: true,
        copy_to: None,
    }
    .check(&gpu, &kernels, &mut rng, "C += Aᵀ B in chunks");
    // C = A B over two chunks without accumulate: the first chunk writes, the second adds.
    MatmulCase {
        mnk: (2, 3, K_CHUNK as usize + 5),
        a: (0, K_CHUNK as usize + 5, 1),
        b: (0, 3, 1),
        c: (0, 3),
        bias: None,
        accumulate: false,
        copy_to: None,
    }
    .check(&gpu, &kernels, &mut rng, "A B in two chunks");
}

// ---------------------------------------------------------------- the recurrences

/// One recurrence case: a layer of hidden size `hidden` over `lengths.len()` sequences of
/// `steps` steps, one direction, the time loop split into dispatches of `per_dispatch` steps.
struct RecurrenceCase {
    lstm: bool,
    steps: usize,
    hidden: usize,
    lengths: Vec<usize>,
    reverse: bool,
    per_dispatch: usize,
}

/// The inputs of a recurrence case (time-major rows t·B + b) and its CPU reference results.
struct RecurrenceData {
    /// `[T·B, G H]`.
    xw: Vec<f32>,
    /// `[G H, H]`.
    w_hh: Vec<f32>,
    /// `[G H]`.
    b_hh: Vec<f32>,
    /// dL/dh from above, `[T·B, 2H]` (this direction's columns used).
    d_out: Vec<f32>,
}

/// What a recurrence computes: forward outputs and backward gradients (f64, reference).
#[derive(Default)]
struct RecurrenceResult {
    /// h, `[T·B, 2H]`, this direction's columns.
    out: Vec<f64>,
    /// The LSTM's c `[T·B, H]`.
    cell: Vec<f64>,
    /// `[T·B, 4H]`: LSTM i, f, g, o; GRU r, z, n, hw_n.
    gates: Vec<f64>,
    /// `[T·B, G H]`.
    d_xw: Vec<f64>,
    /// The GRU's `[T·B, 3H]`.
    d_hw: Vec<f64>,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl RecurrenceCase {
    fn batch(&self) -> usize {
        self.lengths.len()
    }

    fn gates(&self) -> usize {
        if self.lstm { 4 } else { 3 }
    }

    /// The column where this direction's h starts in out (out has 2H columns).
    fn out_col(&self) -> usize {
        if self.reverse { self.hidden } else { 0 }
    }

    fn time_of(&self, s: usize) -> usize {
        if self.reverse { self.steps - 1 - s } else { s }
    }

    fn live(&self, t: usize, b: usize) -> bool {
        !self.reverse || t < self.lengths[b]
    }

    fn data(&self, rng: &mut StdRng) -> RecurrenceData {
        let (rows, gh, h) = (
            self.steps * self.batch(),
            self.gates() * self.hidden,
            self.hidden,
        );
        // Weights as PyTorch initialises them, U(-1/√H, 1/√H): the recurrence stays tame.
        let bound = 1.0 / (h as f32).sqrt();
        RecurrenceData {
            xw: random(rng, rows * gh, 1.0),
            w_hh: random(rng, gh * h, bound),
            b_hh: random(rng, gh, bound),
            d_out: random(rng, rows * 2 * h, 1.0),
        }
    }

    /// Σ_k W[r, k] v[k] for every row r of `w` `[rows, H]`.
    fn w_times(w: &[f32], v: &[f64]) -> Vec<f64> {
        w.chunks(v.len())
            .map(|row| row.iter().zip(v).map(|(a, b)| f64::from(*a) * b).sum())
            .collect()
    }

    /// Σ_r W[r, j] v[r]: `Wᵀ v`.
    fn w_t_times(w: &[f32], v: &[f64], h: usize) -> Vec<f64> {
        let mut out = vec![0.0; h];
        for (row, vr) in w.chunks(h).zip(v) {
            for (o, a) in out.iter_mut().zip(row) {
                *o += f64::from(*a) * vr;
            }
        }
        out
    }

    /// The LSTM's forward and backward passes, sequence by sequence, as lstm.wgsl's header
    /// writes them.
    fn lstm_reference(&self, data: &RecurrenceData) -> RecurrenceResult {
        let (bsz, h, rows) = (self.batch(), self.hidden, self.steps * self.batch());
        let mut r = RecurrenceResult {
            out: vec![0.0; rows * 2 * h],
            cell: vec![0.0; rows * h],
            gates: vec![0.0; rows * 4 * h],
            d_xw: vec![0.0; rows * 4 * h],
            ..Default::default()
        };
        let col = self.out_col();
        for b in 0..bsz {
            let (mut h_prev, mut c_prev) = (vec![0.0; h], vec![0.0; h]);
            for s in 0..self.steps {
                let (t, row) = (self.time_of(s), self.time_of(s) * bsz + b);
                let hw = Self::w_times(&data.w_hh, &h_prev);
                let live = self.live(t, b);
                for j in 0..h {
                    let a = |gate: usize| {
                        let at = gate * h + j;
                        f64::from(data.xw[row * 4 * h + at]) + hw[at] + f64::from(data.b_hh[at])
                    };
                    let (i, f, g, o) = (sigmoid(a(0)), sigmoid(a(1)), a(2).tanh(), sigmoid(a(3)));
                    let c = if live { f * c_prev[j] + i * g } else { 0.0 };
                    let hj = if live { o * c.tanh() } else { 0.0 };
                    for (gate, v) in [i, f, g, o].into_iter().enumerate() {
                        r.gates[row * 4 * h + gate * h + j] = v;
                    }
                    r.cell[row * h + j] = c;
                    r.out[row * 2 * h + col + j] = hj;
                }
                for j in 0..h {
                    c_prev[j] = r.cell[row * h + j];
                    h_prev[j] = r.out[row * 2 * h + col + j];
                }
            }
            let (mut d_h_rec, mut d_c_next) = (vec![0.0; h], vec![0.0; h]);
            for s in (0..self.steps).rev() {
                let (t, row) = (self.time_of(s), self.time_of(s) * bsz + b);
                let live = self.live(t, b);
                let prev_row = (s > 0).then(|| self.time_of(s - 1) * bsz + b);
                let mut d_a = vec![0.0; 4 * h];
                for j in 0..h {
                    let gate = |g: usize| r.gates[row * 4 * h + g * h + j];
                    let (i, f, g, o) = (gate(0), gate(1), gate(2), gate(3));
                    let tanh_c = r.cell[row * h + j].tanh();
                    let c_prev = prev_row.map_or(0.0, |p| r.cell[p * h + j]);
                    let d_h = if live {
                        f64::from(data.d_out[row * 2 * h + col + j]) + d_h_rec[j]
                    } else {
                        0.0
                    };
                    let mut d_c = if live { d_c_next[j] } else { 0.0 };
                    let d_o = d_h * tanh_c;
                    d_c += d_h * o * (1.0 - tanh_c * tanh_c);
                    d_c_next[j] = d_c * f;
                    d_a[j] = d_c * g * i * (1.0 - i);
                    d_a[h + j] = d_c * c_prev * f * (1.0 - f);
                    d_a[2 * h + j] = d_c * i * (1.0 - g * g);
                    d_a[3 * h + j] = d_o * o * (1.0 - o);
                }
                r.d_xw[row * 4 * h..(row + 1) * 4 * h].copy_from_slice(&d_a);
                d_h_rec = Self::w_t_times(&data.w_hh, &d_a, h);
            }
        }
        r
    }

    /// The GRU's forward and backward passes, sequence by sequence, as gru.wgsl's header
    /// writes them.
    fn gru_reference(&self, data: &RecurrenceData) -> RecurrenceResult {
        let (bsz, h, rows) = (self.batch(), self.hidden, self.steps * self.batch());
        let mut r = RecurrenceResult {
            out: vec![0.0; rows * 2 * h],
            gates: vec![0.0; rows * 4 * h],
            d_xw: vec![0.0; rows * 3 * h],
            d_hw: vec![0.0; rows * 3 * h],
            ..Default::default()
        };
        let col = self.out_col();
        for b in 0..bsz {
            let mut h_prev = vec![0.0; h];
            for s in 0..self.steps {
                let (t, row) = (self.time_of(s), self.time_of(s) * bsz + b);
                let hw: Vec<f64> = Self::w_times(&data.w_hh, &h_prev)
                    .iter()
                    .zip(&data.b_hh)
                    .map(|(a, b)| a + f64::from(*b))
                    .collect();
                let xw = |at: usize| f64::from(data.xw[row * 3 * h + at]);
                for j in 0..h {
                    let rg = sigmoid(xw(j) + hw[j]);
                    let z = sigmoid(xw(h + j) + hw[h + j]);
                    let n = (xw(2 * h + j) + rg * hw[2 * h + j]).tanh();
                    let hj = if self.live(t, b) {
                        n + z * (h_prev[j] - n)
                    } else {
                        0.0
                    };
                    for (gate, v) in [rg, z, n, hw[2 * h + j]].into_iter().enumerate() {
                        r.gates[row * 4 * h + gate * h + j] = v;
                    }
                    r.out[row * 2 * h + col + j] = hj;
                }
                for j in 0..h {
                    h_prev[j] = r.out[row * 2 * h + col + j];
                }
            }
            let mut d_h_rec = vec![0.0; h];
            for s in (0..self.steps).rev() {
                let (t, row) = (self.time_of(s), self.time_of(s) * bsz + b);
                let prev_row = (s > 0).then(|| self.time_of(s - 1) * bsz + b);
                let (mut d_xw, mut d_hw) = (vec![0.0; 3 * h], vec![0.0; 3 * h]);
                let mut d_h_direct = vec![0.0; h];
                for j in 0..h {
                    let gate = |g: usize| r.gates[row * 4 * h + g * h + j];
                    let (rg, z, n, hw_n) = (gate(0), gate(1), gate(2), gate(3));
                    let h_prev = prev_row.map_or(0.0, |p| r.out[p * 2 * h + col + j]);
                    let d_h = if self.live(t, b) {
                        f64::from(data.d_out[row * 2 * h + col + j]) + d_h_rec[j]
                    } else {
                        0.0
                    };
                    let d_n = d_h * (1.0 - z);
                    let d_z = d_h * (h_prev - n);
                    d_h_direct[j] = d_h * z;
                    let d_an = d_n * (1.0 - n * n);
                    let d_ar = d_an * hw_n * rg * (1.0 - rg);
                    let d_az = d_z * z * (1.0 - z);
                    (d_xw[j], d_xw[h + j], d_xw[2 * h + j]) = (d_ar, d_az, d_an);
                    (d_hw[j], d_hw[h + j], d_hw[2 * h + j]) = (d_ar, d_az, d_an * rg);
                }
                r.d_xw[row * 3 * h..(row + 1) * 3 * h].copy_from_slice(&d_xw);
                r.d_hw[row * 3 * h..(row + 1) * 3 * h].copy_from_slice(&d_hw);
                let through_w = Self::w_t_times(&data.w_hh, &d_hw, h);
                d_h_rec = d_h_direct
                    .iter()
                    .zip(&through_w)
                    .map(|(a, b)| a + b)
                    .collect();
            }
        }
        r
    }

    /// Runs the forward and the backward kernels on the GPU; W_hh and b_hh sit at offsets 3
    /// and past W_hh in a parameter buffer, as in the engine's flat parameters.
    fn gpu(&self, gpu: &Gpu, kernels: &Kernels, data: &RecurrenceData) -> RecurrenceResult {
        let (bsz, h, rows, gh) = (
            self.batch(),
            self.hidden,
            self.steps * self.batch(),
            self.gates() * self.hidden,
        );
        let w_hh_off = 3;
        let b_hh_off = w_hh_off + data.w_hh.len();
        let params: Vec<f32> = [&[0.5f32; 3][..], &data.w_hh, &data.b_hh].concat();
        let params = storage_init(gpu, "params", &params);
        let lengths: Vec<u32> = self.lengths.iter().map(|&l| l as u32).collect();
        let lengths = storage_init(gpu, "lengths", &lengths);
        let xw = storage_init(gpu, "xw", &data.xw);
        let d_out = storage_init(gpu, "d_out", &data.d_out);
        let (out, cell) = (
            storage(gpu, "out", rows * 2 * h),
            storage(gpu, "cell", rows * h),
        );
        let (gates, d_xw) = (
            storage(gpu, "gates", rows * 4 * h),
            storage(gpu, "d_xw", rows * gh),
        );
        let d_hw = storage(gpu, "d_hw", rows * gh);
        let carry = storage(gpu, "carry", bsz.div_ceil(LANES) * LANES * 6 * h);
        let chunks: Vec<(usize, usize)> = (0..self.steps)
            .step_by(self.per_dispatch)
            .map(|s| (s, self.per_dispatch.min(self.steps - s)))
            .collect();
        let dims = |(s_start, s_count): (usize, usize)| RecurrenceDims {
            batch: bsz as u32,
            steps: self.steps as u32,
            hidden: h as u32,
            s_start: s_start as u32,
            s_count: s_count as u32,
            reverse: u32::from(self.reverse),
            w_hh_off: w_hh_off as u32,
            b_hh_off: b_hh_off as u32,
            out_stride: 2 * h as u32,
            out_col: self.out_col() as u32,
            pad: [0; 2],
        };
        let mut rec = Recorder::new(gpu, kernels);
        for &chunk in &chunks {
            let dims = rec.uniform(&dims(chunk));
            if self.lstm {
                let bindings = LstmForwardBindings {
                    dims: &dims,
                    params: &params,
                    lengths: &lengths,
                    xw: &xw,
                    out: &out,
                    cell: &cell,
                    gates: &gates,
                };
                rec.lstm_forward(&bindings, bsz);
            } else {
                let bindings = GruForwardBindings {
                    dims: &dims,
                    params: &params,
                    lengths: &lengths,
                    xw: &xw,
                    out: &out,
                    gates: &gates,
                };
                rec.gru_forward(&bindings, bsz);
            }
        }
        for &chunk in chunks.iter().rev() {
            let dims = rec.uniform(&dims(chunk));
            if self.lstm {
                let bindings = LstmBackwardBindings {
                    dims: &dims,
                    params: &params,
                    lengths: &lengths,
                    cell_in: &cell,
                    gates_in: &gates,
                    d_out: &d_out,
                    d_xw: &d_xw,
                    carry: &carry,
                };
                rec.lstm_backward(&bindings, bsz);
            } else {
                let bindings = GruBackwardBindings {
                    dims: &dims,
                    params: &params,
                    lengths: &lengths,
                    out_in: &out,
                    gates_in: &gates,
                    d_out: &d_out,
                    d_xw: &d_xw,
                    d_hw: &d_hw,
                    carry: &carry,
                };
                rec.gru_backward(&bindings, bsz);
            }
        }
        run(gpu, kernels, &rec.finish());
        let read64 = |buffer: &wgpu::Buffer, n: usize| -> Vec<f64> {
            read(gpu, buffer, n).into_iter().map(f64::from).collect()
        };
        RecurrenceResult {
            out: read64(&out, rows * 2 * h),
            cell: if self.lstm {
                read64(&cell, rows * h)
            } else {
                Vec::new()
            },
            gates: read64(&gates, rows * 4 * h),
            d_xw: read64(&d_xw, rows * gh),
            d_hw: if self.lstm {
                Vec::new()
            } else {
                read64(&d_hw, rows * gh)
            },
        }
    }

    fn check(&self, gpu: &Gpu, kernels: &Kernels, rng: &mut StdRng) {
        let data = self.data(rng);
        let want = if self.lstm {
            self.lstm_reference(&data)
        } else {
            self.gru_reference(&data)
        };
        let got = self.gpu(gpu, kernels, &data);
        let what = format!(
            "{} B={} T={} H={} reverse={} {} steps per dispatch",
            if self.lstm { "LSTM" } else { "GRU" },
            self.batch(),
            self.steps,
            self.hidden,
            self.reverse,
            self.per_dispatch
        );
        // Forward: the GPU sums each dot product of H terms in f32 (by fours), the reference in
        // f64; a few ulps per step, carried through at most 7 steps by weights of norm below 1:
        // 2e-5 of each tensor's scale, as tests/gpu_engine.rs allows for predictions. The other
        // direction's columns of out must stay zero (they are part of the comparison).
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        assert_close(&f32s(&got.out), &want.out, 2e-5, &format!("{what}: h"));
        assert_close(&f32s(&got.cell), &want.cell, 2e-5, &format!("{what}: c"));
        assert_close(
            &f32s(&got.gates),
            &want.gates,
            2e-5,
            &format!("{what}: gates"),
        );
        // Backward: through the forward pass's f32 values and back through every step, with
        // W_hhᵀ products of 4H terms: 1e-4 of the scale, as tests/gpu_engine.rs allows for
        // gradients. A wrong sign or a missing term moves a gradient by much more.
        assert_close(&f32s(&got.d_xw), &want.d_xw, 1e-4, &format!("{what}: d_xw"));
        assert_close(&f32s(&got.d_hw), &want.d_hw, 1e-4, &format!("{what}: d_hw"));
    }
}

/// The shapes every recurrence is tested on: batch 1 with an odd hidden size; a reverse
/// direction with lengths below T, two workgroups with lanes past the batch, the time loop in
/// dispatches of 2 steps (the carry between dispatches); H = 67, over one unit per invocation,
/// H mod 4 = 3, in dispatches of 3 steps.
fn recurrence_cases(lstm: bool) -> Vec<RecurrenceCase> {
    let case = |steps, hidden, lengths: &[usize], reverse, per_dispatch| RecurrenceCase {
        lstm,
        steps,
        hidden,
        lengths: lengths.to_vec(),
        reverse,
        per_dispatch,
    };
    vec![
        case(5, 5, &[5], false, 5),
        case(7, 3, &[7, 2, 1, 7, 4, 5], true, 2),
        case(4, 67, &[4, 4, 4, 4, 4], false, 3),
        case(6, 9, &[6, 3, 1], true, 6),
    ]
}

#[test]
fn lstm_forward_and_backward_match_a_cpu_loop() {
    let Some((gpu, kernels)) = setup() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(2);
    for case in recurrence_cases(true) {
        case.check(&gpu, &kernels, &mut rng);
    }
}

#[test]
fn gru_forward_and_backward_match_a_cpu_loop() {
    let Some((gpu, kernels)) = setup() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(3);
    for case in recurrence_cases(false) {
        case.check(&gpu, &kernels, &mut rng);
    }
}

// ---------------------------------------------------------------- loss, norm and Adam

#[test]
fn the_loss_kernel_matches_a_cpu_loop() {
    let Some((gpu, kernels)) = setup() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(4);
    // More rows than the workgroup's invocations: each sums a strided share.
    let rows = 1000;
    let pred = random(&mut rng, rows, 2.0);
    let y = random(&mut rng, rows, 2.0);
    let mask: Vec<f32> = (0..rows)
        .map(|_| f32::from(u8::from(rng.random_range(0.0..1.0) < 0.7)))
        .collect();
    for use_masking in [true, false] {
        let w = |i: usize| if use_masking { f64::from(mask[i]) } else { 1.0 };
        let inv_weight = 1.0 / (0..rows).map(w).sum::<f64>();
        let step = uniform(
            &gpu,
            &Step {
                inv_weight: inv_weight as f32,
                batches: 1.0,
                ..Step::default()
            },
        );
        let dims = uniform(
            &gpu,
            &LossDims {
                rows: rows as u32,
                use_masking: u32::from(use_masking),
                pad: [0; 2],
            },
        );
        // The sums accumulate onto what an epoch has so far.
        let before = [0.5f32, 2.0, 0.25, 3.0];
        let sums = storage_init(&gpu, "sums", &before);
        let d_pred = storage(&gpu, "d_pred", rows);
        let (pred_b, y_b, mask_b) = (
            storage_init(&gpu, "pred", &pred),
            storage_init(&gpu, "y", &y),
            storage_init(&gpu, "mask", &mask),
        );
        let mut rec = Recorder::new(&gpu, &kernels);
        rec.loss(&LossBindings {
            dims: &dims,
            pred: &pred_b,
            y: &y_b,
            mask: &mask_b,
            sums: &sums,
            d_pred: &d_pred,
            step: &step,
        });
        run(&gpu, &kernels, &rec.finish());
        let e = |i: usize| f64::from(pred[i]) - f64::from(y[i]);
        let want_d: Vec<f64> = (0..rows).map(|i| 2.0 * inv_weight * w(i) * e(i)).collect();
        let want_sums = [
            f64::from(before[0]) + inv_weight * (0..rows).map(|i| w(i) * e(i) * e(i)).sum::<f64>(),
            f64::from(before[1]) + 1.0,
            f64::from(before[2])
                + (0..rows)
                    .map(|i| f64::from(mask[i]) * e(i).abs())
                    .sum::<f64>(),
            f64::from(before[3]) + mask.iter().map(|&m| f64::from(m)).sum::<f64>(),
        ];
        let what = format!("loss, masking {use_masking}");
        // d_pred is three f32 products per element: 1e-6 of the scale is a few ulps.
        assert_close(
            &read(&gpu, &d_pred, rows),
            &want_d,
            1e-6,
            &format!("{what}: d_pred"),
        );
        // Each sum is a strided f32 sum of 4 terms, then a tree of 8 levels: at most about 12
        // ulps of the total (the terms are not negative); 1e-5 leaves room, while one row
        // missed or counted twice changes a sum of 1000 by about 1e-3.
        let got = read(&gpu, &sums, 4);
        for (k, (g, w)) in got.iter().zip(want_sums).enumerate() {
            let err = (f64::from(*g) - w).abs();
            assert!(err <= 1e-5 * w.abs(), "{what}: sums[{k}] = {g}, want {w}");
        }
    }
}

/// The GPU's clipping and Adam: params, grads, m, v, norm and the step uniform, and the two
/// dispatches of the engine's update recorded once.
struct GpuAdam {
    params: wgpu::Buffer,
    grads: wgpu::Buffer,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    norm: wgpu::Buffer,
    step: wgpu::Buffer,
    dispatches: Vec<Dispatch>,
}

impl GpuAdam {
    fn new(gpu: &Gpu, kernels: &Kernels, params: &[f32]) -> GpuAdam {
        let n = params.len();
        let mut adam = GpuAdam {
            params: storage_init(gpu, "params", params),
            grads: storage(gpu, "grads", n),
            m: storage(gpu, "m", n),
            v: storage(gpu, "v", n),
            norm: storage(gpu, "norm", 1),
            step: step_uniform(gpu),
            dispatches: Vec::new(),
        };
        let mut rec = Recorder::new(gpu, kernels);
        let dims = rec.uniform(&AdamDims {
            count: n as u32,
            pad: [0; 3],
        });
        rec.grad_norm(&GradNormBindings {
            dims: &dims,
            grads: &adam.grads,
            norm: &adam.norm,
        });
        let bindings = AdamStepBindings {
            dims: &dims,
            grads: &adam.grads,
            step: &adam.step,
            norm_in: &adam.norm,
            params: &adam.params,
            m: &adam.m,
            v: &adam.v,
        };
        rec.adam_step(&bindings, n);
        adam.dispatches = rec.finish();
        adam
    }
}

#[test]
fn grad_norm_and_adam_match_the_shared_cpu_optimizer() {
    let Some((gpu, kernels)) = setup() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(5);
    let sizes = [300, 1000, 77];
    let n: usize = sizes.iter().sum();
    // (clip, weight decay, gradient scale): clipping active (norm ≈ 30 > 1) with weight decay;
    // neither (clip 0 means none).
    for (clip, weight_decay, grad_scale) in [(1.0, 1e-2, 1.5f32), (0.0, 0.0, 0.1)] {
        let init = random(&mut rng, n, 1.0);
        let gpu_adam = GpuAdam::new(&gpu, &kernels, &init);
        let split = |flat: &[f32]| -> Vec<Vec<f64>> {
            let mut at = 0;
            sizes
                .iter()
                .map(|&s| {
                    at += s;
                    flat[at - s..at].iter().map(|&x| f64::from(x)).collect()
                })
                .collect()
        };
        let mut params = split(&init);
        let mut state = AdamState::<f64>::new(sizes);
        let config = StepConfig {
            lr: 1e-2,
            weight_decay,
            grad_clip: clip,
            use_masking: true,
            seed: 0,
        };
        for t in 1..=3u64 {
            let grads = random(&mut rng, n, grad_scale);
            gpu.queue
                .write_buffer(&gpu_adam.grads, 0, bytemuck::cast_slice(&grads));
            let step = Step::new(&config, t, 0.0);
            gpu.queue
                .write_buffer(&gpu_adam.step, 0, bytemuck::bytes_of(&step));
            run(&gpu, &kernels, &gpu_adam.dispatches);
            // The CPU reference in f64: clip_grad_norm (when clipping) and AdamState::step.
            let mut g = split(&grads);
            let norm = if clip > 0.0 {
                optim::clip_grad_norm(&mut g, clip)
            } else {
                g.iter().flatten().map(|x| x * x).sum::<f64>().sqrt()
            };
            state.step(&AdamConfig::new(config.lr, weight_decay), &mut params, &g);
            let what = format!("clip {clip}, step {t}");
            // The norm: a strided f32 sum then a tree, a dozen ulps of Σ g²: 1e-5 relative.
            let got_norm = f64::from(read(&gpu, &gpu_adam.norm, 1)[0]);
            assert!(
                (got_norm - norm).abs() <= 1e-5 * norm,
                "{what}: norm {got_norm} vs {norm}"
            );
            // Moments: a few f32 operations per step on values of one scale: 1e-5 of it.
            let flat = |v: &[Vec<f64>]| v.concat();
            assert_close(
                &read(&gpu, &gpu_adam.m, n),
                &flat(&state.exp_avg),
                1e-5,
                &what,
            );
            assert_close(
                &read(&gpu, &gpu_adam.v, n),
                &flat(&state.exp_avg_sq),
                1e-5,
                &what,
            );
            // Parameters (|p| < 1.1) move by about lr = 1e-2 a step; f32 rounds p to 6e-8 and
            // the update to a few ulps of itself, so 2e-6 of the scale is 0.02 % of a step,
            // while a wrong bias correction, clip coefficient or decay term moves it by
            // percents of a step.
            let got = read(&gpu, &gpu_adam.params, n);
            assert_close(&got, &flat(&params), 2e-6, &format!("{what}: params"));
        }
    }
}
