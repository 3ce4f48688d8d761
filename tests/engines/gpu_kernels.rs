//! The GPU kernels one at a time, and the contract between host and shaders.
//!
//! Without a GPU (naga alone): every Rust uniform struct has the size and field offsets of its
//! WGSL twin; every kernel's explicit layout lists exactly the globals its entry point uses (and
//! its reference kernel's, where it has one), with their group, binding, name and kind (uniform,
//! read-only or read-write storage); the constants the host sizes grids and buffers with are the
//! shaders' own.
//!
//! With a GPU (the one `--device gpu` takes; lavapipe in CI; with CI=true a missing adapter
//! fails): each kernel alone on small inputs against a plain CPU loop in f64 (or the shared CPU
//! optimizer), beside the whole-step comparisons of tests/engines/gpu_engine.rs; and the reference
//! recurrence kernels (shaders/lstm_reference.wgsl, gru_reference.wgsl) against the CPU engine's
//! layer functions and against the tuned kernels, sequences of 1,200 steps included. The
//! tolerances are stated at each comparison with the reason for them.

use crate::common;
use crate::common::recurrence;

use hrcast::engine::StepConfig;
use hrcast::engine::cpu::recurrence::{Carry, Dims, pack_transposed};
use hrcast::engine::cpu::{gru, lstm};
use hrcast::engine::gpu::Gpu;
use hrcast::engine::gpu::bindings::*;
use hrcast::engine::gpu::buffers::{F32, step_uniform, storage, storage_init, uniform};
use hrcast::engine::gpu::kernels::*;
use hrcast::engine::gpu::recorder::{Dispatch, Gemm, Recorder, op, submit};
use hrcast::engine::gpu::reference::{self, REFERENCE_SHADERS, REFERENCE_WG, ReferenceKernels};
use hrcast::engine::gpu::uniforms::*;
use hrcast::engine::gpu::variant::{self, MIN_RECURRENCE_WG, RECURRENCE_WGS, TILED_WG, Variant};
use hrcast::engine::optim::{self, AdamConfig, AdamState};
use hrcast::engine::packed::Packed;
use hrcast::model::Cell;
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
        .chain(&REFERENCE_SHADERS)
        .find(|(name, _)| *name == file)
        .unwrap_or_else(|| panic!("{file} is in neither SHADERS nor REFERENCE_SHADERS"));
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
    check_uniform::<RecurrenceDims>("lstm_reference.wgsl");
    check_uniform::<RecurrenceDims>("gru_reference.wgsl");
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
fn used_globals(file: &str, entry: &str) -> Vec<Binding> {
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
    used.sort_by_key(|b| (b.0, b.1));
    used
}

/// The `@workgroup_size` of `entry` in `file` once `variant`'s overridable constants are set
/// (naga's own processing of pipeline constants, as the backends do it).
fn workgroup_size(file: &str, entry: &str, variant: &Variant) -> [u32; 3] {
    let Shader { module, info } = shader(file);
    let mut constants = naga::back::PipelineConstants::default();
    for (name, value) in variant.constants(entry, 128) {
        constants.insert(name.to_string(), value);
    }
    let (module, _) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some((naga::ShaderStage::Compute, entry)),
        &constants,
    )
    .unwrap_or_else(|e| panic!("{entry} of {file} under {}: {e:?}", variant.id()));
    let point = module
        .entry_points
        .iter()
        .find(|e| e.name == entry)
        .unwrap();
    point.workgroup_size
}

#[test]
fn every_kernel_layout_is_what_its_entry_point_declares() {
    for kernel in Kernel::ALL {
        let file = kernel.source().0;
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
        layout.sort_by_key(|b| (b.0, b.1));
        for entry in kernel.entry_points() {
            assert_eq!(
                layout,
                used_globals(file, entry),
                "{entry} of {file}: bindings"
            );
        }
        // A reference kernel binds exactly what the tuned kernel it stands in for binds.
        if let Some((file, entry)) = reference::reference_of(kernel) {
            assert_eq!(
                layout,
                used_globals(file, entry),
                "{entry} of {file}: bindings"
            );
        }
    }
}

#[test]
fn every_variant_runs_the_workgroup_size_the_host_dispatches_for() {
    for variant in Variant::all() {
        for kernel in Kernel::ALL {
            let entry = kernel.entry(&variant);
            assert_eq!(
                workgroup_size(kernel.source().0, entry, &variant),
                kernel.workgroup_size(&variant),
                "{entry} under {}",
                variant.id()
            );
        }
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
        ("matmul.wgsl", "TILED_WG", f64::from(TILED_WG)),
        (
            "lstm.wgsl",
            "MIN_RECURRENCE_WG",
            f64::from(MIN_RECURRENCE_WG),
        ),
        ("gru.wgsl", "LANES", LANES as f64),
        ("lstm.wgsl", "GATES", Cell::Lstm.gates() as f64),
        ("gru.wgsl", "GATES", Cell::Gru.gates() as f64),
        ("gru.wgsl", "MAX_HIDDEN", MAX_HIDDEN as f64),
        ("adam.wgsl", "CLIP_EPS", f64::from(optim::CLIP_EPS as f32)),
        (
            "lstm_reference.wgsl",
            "REFERENCE_WG",
            f64::from(REFERENCE_WG),
        ),
        (
            "gru_reference.wgsl",
            "REFERENCE_WG",
            f64::from(REFERENCE_WG),
        ),
        ("lstm_reference.wgsl", "GATES", Cell::Lstm.gates() as f64),
        ("gru_reference.wgsl", "GATES", Cell::Gru.gates() as f64),
    ];
    for (file, name, value) in constants {
        assert_eq!(wgsl_constant(file, name), value, "{name} of {file}");
    }
}

// ------------------------------------------------------------------ each kernel on the GPU

/// The GPU and its compiled kernels (None where there is no adapter and CI is not set).
fn setup() -> Option<(Gpu, Kernels)> {
    let gpu = common::gpu()?;
    let kernels = Kernels::new(&gpu, variant::choose(&gpu.info, 8).unwrap().0, 8).unwrap();
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

/// The buffers' values of a matmul case.
struct MatmulData {
    a: Vec<f32>,
    b: Vec<f32>,
    bias: Vec<f32>,
    /// C's buffer before the product.
    c0: Vec<f32>,
}

impl MatmulCase {
    /// Where C(i, j) sits in C's buffer when C starts at `off`.
    fn c_at(&self, off: usize, i: usize, j: usize) -> usize {
        off + i * self.c.1 + j
    }

    /// Random values for every buffer, each as long as its strides reach.
    fn data(&self, rng: &mut StdRng) -> MatmulData {
        let (m, n, k) = self.mnk;
        let extent = |(off, rs, cs): Strides, rows: usize, cols: usize| {
            off + (rows - 1) * rs + (cols - 1) * cs + 1
        };
        let c_end = self.c.0.max(self.copy_to.unwrap_or(0));
        MatmulData {
            a: random(rng, extent(self.a, m, k), 1.0),
            b: random(rng, extent(self.b, k, n), 1.0),
            bias: random(rng, self.bias.unwrap_or(0) + n, 1.0),
            c0: random(rng, self.c_at(c_end, m - 1, n), 1.0),
        }
    }

    /// C's buffer after the product on the GPU.
    fn on_gpu(&self, gpu: &Gpu, kernels: &Kernels, data: &MatmulData) -> Vec<f32> {
        let (a, b) = (
            storage_init(gpu, "a", &data.a),
            storage_init(gpu, "b", &data.b),
        );
        let bias = storage_init(gpu, "bias", &data.bias);
        let c = storage_init(gpu, "c", &data.c0);
        let mut gemm = Gemm::new(
            self.mnk,
            op(&a, self.a.0, self.a.1, self.a.2),
            op(&b, self.b.0, self.b.1, self.b.2),
            op(&c, self.c.0, self.c.1, 1),
        )
        .accumulate(self.accumulate)
        .copy_to(self.copy_to);
        if let Some(off) = self.bias {
            gemm = gemm.bias(&bias, off);
        }
        let mut rec = Recorder::new(gpu, kernels);
        rec.matmul(&gemm);
        run(gpu, kernels, &rec.finish());
        read(gpu, &c, data.c0.len())
    }

    /// C's buffer after the product, and each element's scale (Σ|a b| plus the bias or the
    /// value added to; 0 outside C and its copy).
    fn reference(&self, data: &MatmulData) -> (Vec<f64>, Vec<f64>) {
        let (m, n, k) = self.mnk;
        let mut want: Vec<f64> = data.c0.iter().map(|&v| f64::from(v)).collect();
        let mut scale = vec![0.0f64; want.len()];
        for i in 0..m {
            for j in 0..n {
                let products = (0..k).map(|kk| {
                    let x = f64::from(data.a[self.a.0 + i * self.a.1 + kk * self.a.2]);
                    x * f64::from(data.b[self.b.0 + kk * self.b.1 + j * self.b.2])
                });
                let (sum, abs) = products.fold((0.0, 0.0), |(s, a), p| (s + p, a + p.abs()));
                let at = self.c_at(self.c.0, i, j);
                let extra = match (self.accumulate, self.bias) {
                    (true, _) => want[at],
                    (false, Some(off)) => f64::from(data.bias[off + j]),
                    (false, None) => 0.0,
                };
                let targets = [Some(self.c.0), self.copy_to];
                for at in targets
                    .into_iter()
                    .flatten()
                    .map(|off| self.c_at(off, i, j))
                {
                    (want[at], scale[at]) = (sum + extra, abs + extra.abs());
                }
            }
        }
        (want, scale)
    }

    /// Runs the case on the GPU and compares every element of C's buffer with a CPU loop.
    fn check(&self, gpu: &Gpu, kernels: &Kernels, rng: &mut StdRng, what: &str) {
        let data = self.data(rng);
        let got = self.on_gpu(gpu, kernels, &data);
        let (want, scale) = self.reference(&data);
        // f32 accumulation of k products: the rounding errors add up like a random walk, about
        // √k ulps of Σ|a b| (plus one for the bias or the accumulated value). 4 √k ulps is
        // comfortably above that, and far below what a lost chunk, a wrong stride or a missing
        // bias would change. Elements outside C must be untouched (scale 0: exact).
        let tol = 4.0 * (self.mnk.2 as f64).sqrt().max(2.0) * f64::from(f32::EPSILON);
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
    let Some((gpu, _)) = setup() else {
        return;
    };
    // Every matmul variant (entry point and workgroup), with the same cases.
    for option in Variant::MATMULS {
        let kernels = Kernels::new(&gpu, Variant::new(option, 64), 8).unwrap();
        matmul_cases(&gpu, &kernels);
    }
}

/// The matmul cases of one variant's kernels.
fn matmul_cases(gpu: &Gpu, kernels: &Kernels) {
    let (gpu, kernels) = (gpu, kernels);
    let id = kernels.variant().id();
    let mut rng = StdRng::seed_from_u64(1);
    // C = A Bᵀ + bias, with a copy of C: A [37, 7] row-major at offset 3, B stored [45, 7] and
    // read transposed, C with row stride 50 at offset 5. 37 and 45 are not multiples of the
    // block a workgroup covers (32 to 128 per side), nor of an invocation's (4 or 8).
    MatmulCase {
        mnk: (37, 45, 7),
        a: (3, 7, 1),
        b: (0, 1, 7),
        c: (5, 50),
        bias: Some(2),
        accumulate: false,
        copy_to: Some(5 + 37 * 50),
    }
    .check(gpu, kernels, &mut rng, &format!("{id}: A Bᵀ + bias"));
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
    .check(
        gpu,
        kernels,
        &mut rng,
        &format!("{id}: C += Aᵀ B in chunks"),
    );
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
    .check(gpu, kernels, &mut rng, &format!("{id}: A B in two chunks"));
}

// ---------------------------------------------------------------- the recurrences

/// The buffers of a recurrence case: W_hh and b_hh sit at offset 3 and past W_hh in a flat
/// parameter buffer, as in the engine's.
struct RecurrenceBuffers {
    params: wgpu::Buffer,
    lengths: wgpu::Buffer,
    xw: wgpu::Buffer,
    out: wgpu::Buffer,
    cell: wgpu::Buffer,
    gates: wgpu::Buffer,
    d_out: wgpu::Buffer,
    d_xw: wgpu::Buffer,
    d_hw: wgpu::Buffer,
    carry: wgpu::Buffer,
}

/// Where W_hh starts in the parameter buffer of a recurrence case.
const W_HH_OFF: usize = 3;

impl RecurrenceBuffers {
    fn new(gpu: &Gpu, case: &recurrence::Case, data: &recurrence::Data) -> RecurrenceBuffers {
        let (rows, h) = (case.rows(), case.hidden);
        let gh = case.gates() * h;
        let params: Vec<f32> = [&[0.5f32; W_HH_OFF][..], &data.w_hh, &data.b_hh].concat();
        let lengths: Vec<u32> = case.lengths.iter().map(|&l| l as u32).collect();
        RecurrenceBuffers {
            params: storage_init(gpu, "params", &params),
            lengths: storage_init(gpu, "lengths", &lengths),
            xw: storage_init(gpu, "xw", &data.xw),
            out: storage(gpu, "out", rows * 2 * h),
            cell: storage(gpu, "cell", rows * h),
            gates: storage(gpu, "gates", rows * 4 * h),
            d_out: storage_init(gpu, "d_out", &data.d_out),
            d_xw: storage(gpu, "d_xw", rows * gh),
            d_hw: storage(gpu, "d_hw", rows * gh),
            carry: storage(gpu, "carry", case.batch().div_ceil(LANES) * LANES * 6 * h),
        }
    }
}

/// The uniform of the dispatch running steps `s_start .. s_start + s_count` of `case`.
fn recurrence_dims(case: &recurrence::Case, (s_start, s_count): (usize, usize)) -> RecurrenceDims {
    let h = case.hidden;
    RecurrenceDims {
        batch: case.batch() as u32,
        steps: case.steps as u32,
        hidden: h as u32,
        s_start: s_start as u32,
        s_count: s_count as u32,
        reverse: u32::from(case.reverse),
        w_hh_off: W_HH_OFF as u32,
        b_hh_off: (W_HH_OFF + case.gates() * h * h) as u32,
        out_stride: 2 * h as u32,
        out_col: case.out_col() as u32,
        pad: [0; 2],
    }
}

impl RecurrenceBuffers {
    /// The bindings of one LSTM forward dispatch (tuned or reference) with uniform `dims`.
    fn lstm_forward<'a>(&'a self, dims: &'a wgpu::Buffer) -> LstmForwardBindings<'a> {
        LstmForwardBindings {
            dims,
            params: &self.params,
            lengths: &self.lengths,
            xw: &self.xw,
            out: &self.out,
            cell: &self.cell,
            gates: &self.gates,
        }
    }

    /// The bindings of one LSTM backward dispatch with uniform `dims`.
    fn lstm_backward<'a>(&'a self, dims: &'a wgpu::Buffer) -> LstmBackwardBindings<'a> {
        LstmBackwardBindings {
            dims,
            params: &self.params,
            lengths: &self.lengths,
            cell_in: &self.cell,
            gates_in: &self.gates,
            d_out: &self.d_out,
            d_xw: &self.d_xw,
            carry: &self.carry,
        }
    }

    /// The bindings of one GRU forward dispatch with uniform `dims`.
    fn gru_forward<'a>(&'a self, dims: &'a wgpu::Buffer) -> GruForwardBindings<'a> {
        GruForwardBindings {
            dims,
            params: &self.params,
            lengths: &self.lengths,
            xw: &self.xw,
            out: &self.out,
            gates: &self.gates,
        }
    }

    /// The bindings of one GRU backward dispatch with uniform `dims`.
    fn gru_backward<'a>(&'a self, dims: &'a wgpu::Buffer) -> GruBackwardBindings<'a> {
        GruBackwardBindings {
            dims,
            params: &self.params,
            lengths: &self.lengths,
            out_in: &self.out,
            gates_in: &self.gates,
            d_out: &self.d_out,
            d_xw: &self.d_xw,
            d_hw: &self.d_hw,
            carry: &self.carry,
        }
    }
}

/// Records the forward kernel of `case` over one span of steps.
fn record_forward(
    rec: &mut Recorder,
    case: &recurrence::Case,
    b: &RecurrenceBuffers,
    dims: &wgpu::Buffer,
) {
    if case.lstm {
        rec.lstm_forward(&b.lstm_forward(dims), case.batch());
    } else {
        rec.gru_forward(&b.gru_forward(dims), case.batch());
    }
}

/// Records the backward kernel of `case` over one span of steps.
fn record_backward(
    rec: &mut Recorder,
    case: &recurrence::Case,
    b: &RecurrenceBuffers,
    dims: &wgpu::Buffer,
) {
    if case.lstm {
        rec.lstm_backward(&b.lstm_backward(dims), case.batch());
    } else {
        rec.gru_backward(&b.gru_backward(dims), case.batch());
    }
}

/// Runs `case` on the GPU: the forward spans in order, then the backward spans in reverse.
fn recurrence_on_gpu(
    gpu: &Gpu,
    kernels: &Kernels,
    case: &recurrence::Case,
    data: &recurrence::Data,
) -> recurrence::Outputs {
    let b = RecurrenceBuffers::new(gpu, case, data);
    let spans: Vec<(usize, usize)> = (0..case.steps)
        .step_by(case.per_dispatch)
        .map(|s| (s, case.per_dispatch.min(case.steps - s)))
        .collect();
    let mut rec = Recorder::new(gpu, kernels);
    for &span in &spans {
        let dims = rec.uniform(&recurrence_dims(case, span));
        record_forward(&mut rec, case, &b, &dims);
    }
    for &span in spans.iter().rev() {
        let dims = rec.uniform(&recurrence_dims(case, span));
        record_backward(&mut rec, case, &b, &dims);
    }
    run(gpu, kernels, &rec.finish());
    read_outputs(gpu, case, &b)
}

/// What a recurrence case's kernels wrote, back on the host.
fn read_outputs(gpu: &Gpu, case: &recurrence::Case, b: &RecurrenceBuffers) -> recurrence::Outputs {
    let (rows, h, gh) = (case.rows(), case.hidden, case.gates() * case.hidden);
    let read64 = |buffer: &wgpu::Buffer, n: usize| -> Vec<f64> {
        read(gpu, buffer, n).into_iter().map(f64::from).collect()
    };
    recurrence::Outputs {
        out: read64(&b.out, rows * 2 * h),
        cell: if case.lstm {
            read64(&b.cell, rows * h)
        } else {
            Vec::new()
        },
        gates: read64(&b.gates, rows * 4 * h),
        d_xw: read64(&b.d_xw, rows * gh),
        d_hw: if case.lstm {
            Vec::new()
        } else {
            read64(&b.d_hw, rows * gh)
        },
    }
}

/// Runs `case` on the GPU and compares everything it writes with the CPU loops.
fn check_recurrence(gpu: &Gpu, kernels: &Kernels, case: &recurrence::Case, seed: u64) {
    let data = case.data(seed);
    let want = case.reference(&data);
    let got = recurrence_on_gpu(gpu, kernels, case, &data);
    let what = format!("{}: {}", kernels.variant().id(), case_name(case));
    // Forward: the GPU sums each dot product of H terms in f32 (by fours), the reference in
    // f64: a few ulps per step, carried through at most 7 steps by weights of norm below 1;
    // 2e-5 of each tensor's scale, as tests/engines/gpu_engine.rs allows for predictions. The other
    // direction's columns of out must stay zero (they are compared too).
    // Backward: through the forward pass's f32 values and back through every step, with
    // W_hhᵀ products of G·H terms: 1e-4 of the scale, as tests/engines/gpu_engine.rs allows for
    // gradients. Scaling one term by 1.001 already fails it (checked by hand).
    assert_outputs_close(&got, &want, [2e-5, 1e-4], &what);
}

/// A case in words, for messages.
fn case_name(case: &recurrence::Case) -> String {
    format!(
        "{} B={} T={} H={} reverse={} lengths {:?}, {} steps per dispatch",
        if case.lstm { "LSTM" } else { "GRU" },
        case.batch(),
        case.steps,
        case.hidden,
        case.reverse,
        case.lengths,
        case.per_dispatch
    )
}

/// Compares everything a recurrence writes, forward tensors (h, c, gates) within `tol[0]` of
/// their scale and backward ones (d_xw, d_hw) within `tol[1]` (see [`assert_close`]).
fn assert_outputs_close(
    got: &recurrence::Outputs,
    want: &recurrence::Outputs,
    tol: [f64; 2],
    what: &str,
) {
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let compare = |got: &[f64], want: &[f64], tol: f64, name: &str| {
        assert_close(&f32s(got), want, tol, &format!("{what}: {name}"));
    };
    compare(&got.out, &want.out, tol[0], "h");
    compare(&got.cell, &want.cell, tol[0], "c");
    compare(&got.gates, &want.gates, tol[0], "gates");
    compare(&got.d_xw, &want.d_xw, tol[1], "d_xw");
    compare(&got.d_hw, &want.d_hw, tol[1], "d_hw");
}

/// The shapes every recurrence is tested on: batch 1 with an odd hidden size; a reverse
/// direction with lengths below T, two workgroups with lanes past the batch, the time loop in
/// dispatches of 2 steps (the carry between dispatches); H = 67, over one unit per invocation,
/// H mod 4 = 3, in dispatches of 3 steps; a reverse direction in one dispatch; H = 131, where
/// 64 invocations take their units in pairs and 32 four at a time (UNITS_PER_PASS), three of
/// them ending on a pass of one unit, reverse, in dispatches of 2 steps; H = 203 (H mod 4 = 3),
/// where 32 invocations end on passes of three or two of their four units and 64 on passes of
/// two or one of their pair, in dispatches of 1 step.
fn recurrence_cases(lstm: bool) -> Vec<recurrence::Case> {
    let case = |steps, hidden, lengths: &[usize], reverse, per_dispatch| recurrence::Case {
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
        case(5, 131, &[5, 2, 4, 5, 1], true, 2),
        case(3, 203, &[3, 2], false, 1),
    ]
}

#[test]
fn lstm_forward_and_backward_match_a_cpu_loop() {
    let Some((gpu, _)) = setup() else {
        return;
    };
    // Every recurrence workgroup: 32 to 256 invocations sharing the hidden units (two or four
    // at a time where each invocation has that many).
    for recurrence_wg in RECURRENCE_WGS {
        let variant = Variant::new(Variant::MATMULS[1], recurrence_wg);
        for (seed, case) in recurrence_cases(true).iter().enumerate() {
            let kernels = Kernels::new(&gpu, variant, case.hidden).unwrap();
            check_recurrence(&gpu, &kernels, case, seed as u64);
        }
    }
}

#[test]
fn gru_forward_and_backward_match_a_cpu_loop() {
    let Some((gpu, _)) = setup() else {
        return;
    };
    // Every recurrence workgroup: 32 to 256 invocations sharing the hidden units (two or four
    // at a time where each invocation has that many).
    for recurrence_wg in RECURRENCE_WGS {
        let variant = Variant::new(Variant::MATMULS[1], recurrence_wg);
        for (seed, case) in recurrence_cases(false).iter().enumerate() {
            let kernels = Kernels::new(&gpu, variant, case.hidden).unwrap();
            check_recurrence(&gpu, &kernels, case, 10 + seed as u64);
        }
    }
}

// ---------------------------------------------------------------- the reference kernels

/// Runs `case` through the reference kernels (reference.rs): one forward dispatch per step, then
/// one backward dispatch per step from the last, each with its own uniform, on the buffers and
/// bindings of the tuned kernels.
fn reference_on_gpu(
    gpu: &Gpu,
    refs: &ReferenceKernels,
    case: &recurrence::Case,
    data: &recurrence::Data,
) -> recurrence::Outputs {
    let b = RecurrenceBuffers::new(gpu, case, data);
    let dims = recurrence_dims(case, (0, case.steps));
    let uniforms = |backward| -> Vec<wgpu::Buffer> {
        reference::steps(&dims, backward)
            .iter()
            .map(|step| uniform(gpu, step))
            .collect()
    };
    let (forward, backward) = (uniforms(false), uniforms(true));
    let ran = if case.lstm {
        let f: Vec<_> = forward.iter().map(|d| b.lstm_forward(d)).collect();
        let bw: Vec<_> = backward.iter().map(|d| b.lstm_backward(d)).collect();
        refs.run(gpu, &dims, &f)
            .and_then(|()| refs.run(gpu, &dims, &bw))
    } else {
        let f: Vec<_> = forward.iter().map(|d| b.gru_forward(d)).collect();
        let bw: Vec<_> = backward.iter().map(|d| b.gru_backward(d)).collect();
        refs.run(gpu, &dims, &f)
            .and_then(|()| refs.run(gpu, &dims, &bw))
    };
    ran.unwrap();
    read_outputs(gpu, case, &b)
}

/// Runs `case` through the CPU engine's layer functions (src/engine/cpu/lstm.rs, gru.rs) in f64.
/// The GRU's take XW as the kernels do. The LSTM's forward computes its pre-activations from
/// the layer's input, `a = [x_t | h_prev] [W_ih | W_hh]ᵀ + b`: with x = XW, W_ih the identity
/// and b = b_hh, that is the kernels' `XW[t] + h_prev W_hhᵀ + b_hh`, exactly.
fn cpu_engine(case: &recurrence::Case, data: &recurrence::Data) -> recurrence::Outputs {
    let (rows, h, gh) = (case.rows(), case.hidden, case.gates() * case.hidden);
    let dims = Dims {
        batch: case.batch(),
        steps: case.steps,
        hidden: h,
        reverse: case.reverse,
        out_stride: 2 * h,
        out_col: case.out_col(),
        keep: true,
        lengths: &case.lengths,
    };
    let f64s = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let (xw, w_hh, b_hh, d_out) = (
        f64s(&data.xw),
        f64s(&data.w_hh),
        f64s(&data.b_hh),
        f64s(&data.d_out),
    );
    let mut r = recurrence::Outputs {
        out: vec![0.0; rows * 2 * h],
        gates: vec![0.0; rows * 4 * h],
        d_xw: vec![0.0; rows * gh],
        ..Default::default()
    };
    let mut carry = Carry::new(case.batch(), h, case.gates());
    let mut w_t = Packed::default();
    if case.lstm {
        let identity: Vec<f64> = (0..gh * gh)
            .map(|i| if i / gh == i % gh { 1.0 } else { 0.0 })
            .collect();
        pack_transposed(&[(&identity, gh), (&w_hh, h)], Some(&b_hh), &mut w_t);
        let mut xh = vec![0.0; case.batch() * (gh + h)];
        r.cell = vec![0.0; rows * h];
        lstm::forward(
            &dims,
            &xw,
            &w_t,
            &mut xh,
            &mut r.gates,
            &mut r.cell,
            &mut r.out,
        );
        lstm::backward(
            &dims,
            &w_hh,
            &r.gates,
            &r.cell,
            &d_out,
            &mut r.d_xw,
            &mut carry,
        );
    } else {
        pack_transposed(&[(&w_hh, h)], None, &mut w_t);
        gru::forward(
            &dims,
            &w_t,
            &b_hh,
            &xw,
            &mut r.gates,
            &mut r.out,
            &mut carry,
        );
        r.d_hw = vec![0.0; rows * gh];
        let (gates, out) = (&r.gates, &r.out);
        gru::backward(
            &dims,
            &w_hh,
            gates,
            out,
            &d_out,
            &mut r.d_xw,
            &mut r.d_hw,
            &mut carry,
        );
    }
    r
}

/// `outputs` with the gates of the reverse direction's padding steps zeroed: the kernels store
/// there the gates of a zero state, the CPU engine skips those steps (and keeps what it wrote).
fn without_padding_gates(
    case: &recurrence::Case,
    outputs: &recurrence::Outputs,
) -> recurrence::Outputs {
    let (h4, mut gates) = (4 * case.hidden, outputs.gates.clone());
    for t in 0..case.steps {
        for (b, &length) in case.lengths.iter().enumerate() {
            if case.reverse && t >= length {
                gates[(t * case.batch() + b) * h4..][..h4].fill(0.0);
            }
        }
    }
    recurrence::Outputs {
        out: outputs.out.clone(),
        cell: outputs.cell.clone(),
        gates,
        d_xw: outputs.d_xw.clone(),
        d_hw: outputs.d_hw.clone(),
    }
}

/// The reference kernels' shapes: the tuned kernels' (recurrence_cases: batch 1, odd hidden
/// sizes, lengths below T, both directions), three drawn at random (seeded), and sequences of
/// 1,200 and 1,100 steps, forward and reverse, with lengths below T (the tuned kernels in
/// dispatches of 300 and 275 steps; the reference kernels take one dispatch per step whatever
/// T is).
fn reference_cases(lstm: bool) -> Vec<recurrence::Case> {
    let mut rng = StdRng::seed_from_u64(if lstm { 7 } else { 8 });
    let mut cases = recurrence_cases(lstm);
    for _ in 0..3 {
        let steps = rng.random_range(1..=12);
        let batch = rng.random_range(1..=6);
        cases.push(recurrence::Case {
            lstm,
            steps,
            hidden: rng.random_range(1..=70),
            lengths: (0..batch).map(|_| rng.random_range(1..=steps)).collect(),
            reverse: rng.random_range(0..2) == 1,
            per_dispatch: rng.random_range(1..=steps),
        });
    }
    let long = |steps, hidden, lengths: &[usize], reverse, per_dispatch| recurrence::Case {
        lstm,
        steps,
        hidden,
        lengths: lengths.to_vec(),
        reverse,
        per_dispatch,
    };
    cases.push(long(1200, 13, &[1200, 1, 845], false, 300));
    cases.push(long(1100, 6, &[1100, 731], true, 275));
    cases
}

/// Holds the reference kernels of one cell to the CPU engine and to the tuned kernels (under the
/// variant the adapter gets for the case's hidden size) on every shape of [`reference_cases`].
fn check_reference_kernels(lstm: bool) {
    let Some((gpu, _)) = setup() else {
        return;
    };
    let refs = ReferenceKernels::new(&gpu).unwrap();
    for (seed, case) in reference_cases(lstm).iter().enumerate() {
        let data = case.data(100 + seed as u64);
        let got = reference_on_gpu(&gpu, &refs, case, &data);
        // Against the CPU engine (f64): as the tuned kernels against the CPU loops
        // (check_recurrence), f32 dot products of H terms against f64 ones, 2e-5 of each
        // tensor's scale forward and 1e-4 backward. The errors do not grow with T: the gates
        // (σ < 1) and PyTorch's weights (norm below 1) shrink an error from one step to the next
        // faster than new ones come in, forward and backward. Measured on lavapipe: at most
        // 7e-7 of the scale on every shape, the 1,200-step ones included.
        let want = cpu_engine(case, &data);
        assert_outputs_close(
            &without_padding_gates(case, &got),
            &without_padding_gates(case, &want),
            [2e-5, 1e-4],
            &format!("reference against the CPU engine: {}", case_name(case)),
        );
        // Against the tuned kernel: both in f32 on the same adapter (the same exp and tanh),
        // differing only in the order of each dot product's sum (by fours in vec4s, or one term
        // at a time): measured at most 7e-7 of the scale on lavapipe; 5e-6 forward and
        // backward, a margin of 7 (scaling one term by 1.001 fails it by far).
        let variant = variant::choose(&gpu.info, case.hidden).unwrap().0;
        let kernels = Kernels::new(&gpu, variant, case.hidden).unwrap();
        let tuned = recurrence_on_gpu(&gpu, &kernels, case, &data);
        assert_outputs_close(
            &got,
            &tuned,
            [5e-6, 5e-6],
            &format!("reference against {}: {}", variant.id(), case_name(case)),
        );
    }
}

#[test]
fn reference_lstm_matches_the_cpu_engine_and_the_tuned_kernel() {
    check_reference_kernels(true);
}

#[test]
fn reference_gru_matches_the_cpu_engine_and_the_tuned_kernel() {
    check_reference_kernels(false);
}

// ---------------------------------------------------------------- loss, norm and Adam

/// The loss kernel's inputs, and the epoch sums it adds to.
struct LossCase {
    pred: Vec<f32>,
    y: Vec<f32>,
    mask: Vec<f32>,
    use_masking: bool,
    sums_before: [f32; 4],
}

impl LossCase {
    /// Row `i`'s weight in the loss.
    fn weight(&self, i: usize) -> f64 {
        if self.use_masking {
            f64::from(self.mask[i])
        } else {
            1.0
        }
    }

    /// 1 / Σ w, as the host writes it into the step uniform.
    fn inv_weight(&self) -> f64 {
        1.0 / (0..self.pred.len()).map(|i| self.weight(i)).sum::<f64>()
    }

    /// d_pred and the sums after the kernel.
    fn on_gpu(&self, gpu: &Gpu, kernels: &Kernels) -> (Vec<f32>, Vec<f32>) {
        let rows = self.pred.len();
        let step = uniform(
            gpu,
            &Step {
                inv_weight: self.inv_weight() as f32,
                batches: 1.0,
                ..Step::default()
            },
        );
        let dims = uniform(
            gpu,
            &LossDims {
                rows: rows as u32,
                use_masking: u32::from(self.use_masking),
                pad: [0; 2],
            },
        );
        let (sums, d_pred) = (
            storage_init(gpu, "sums", &self.sums_before),
            storage(gpu, "d_pred", rows),
        );
        let (pred, y, mask) = (
            storage_init(gpu, "pred", &self.pred),
            storage_init(gpu, "y", &self.y),
            storage_init(gpu, "mask", &self.mask),
        );
        let mut rec = Recorder::new(gpu, kernels);
        rec.loss(&LossBindings {
            dims: &dims,
            pred: &pred,
            y: &y,
            mask: &mask,
            sums: &sums,
            d_pred: &d_pred,
            step: &step,
        });
        run(gpu, kernels, &rec.finish());
        (read(gpu, &d_pred, rows), read(gpu, &sums, 4))
    }

    /// d_pred and the sums, as loss.wgsl's header writes them.
    fn reference(&self) -> (Vec<f64>, [f64; 4]) {
        let (rows, inv_weight) = (self.pred.len(), self.inv_weight());
        let e = |i: usize| f64::from(self.pred[i]) - f64::from(self.y[i]);
        let sum = |f: &dyn Fn(usize) -> f64| (0..rows).map(f).sum::<f64>();
        let before = self.sums_before.map(f64::from);
        let d_pred = (0..rows)
            .map(|i| 2.0 * inv_weight * self.weight(i) * e(i))
            .collect();
        let sums = [
            before[0] + inv_weight * sum(&|i| self.weight(i) * e(i) * e(i)),
            before[1] + 1.0,
            before[2] + sum(&|i| f64::from(self.mask[i]) * e(i).abs()),
            before[3] + sum(&|i| f64::from(self.mask[i])),
        ];
        (d_pred, sums)
    }
}

#[test]
fn the_loss_kernel_matches_a_cpu_loop() {
    let Some((gpu, kernels)) = setup() else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(4);
    // More rows than the workgroup's invocations: each sums a strided share.
    let rows = 1000;
    let mut case = LossCase {
        pred: random(&mut rng, rows, 2.0),
        y: random(&mut rng, rows, 2.0),
        mask: (0..rows)
            .map(|_| f32::from(u8::from(rng.random_range(0.0..1.0) < 0.7)))
            .collect(),
        use_masking: true,
        // The sums accumulate onto what the epoch has so far.
        sums_before: [0.5, 2.0, 0.25, 3.0],
    };
    for use_masking in [true, false] {
        case.use_masking = use_masking;
        let (got_d, got_sums) = case.on_gpu(&gpu, &kernels);
        let (want_d, want_sums) = case.reference();
        let what = format!("loss, masking {use_masking}");
        // d_pred is three f32 products per element: 1e-6 of the scale is a few ulps.
        assert_close(&got_d, &want_d, 1e-6, &format!("{what}: d_pred"));
        // Each sum is a strided f32 sum of 4 terms, then a tree of 8 levels: at most about 12
        // ulps of the total (the terms are not negative); 1e-5 leaves room, while one row
        // missed or counted twice changes a sum of 1000 by about 1e-3.
        for (k, (g, w)) in got_sums.iter().zip(want_sums).enumerate() {
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

impl GpuAdam {
    /// One step with these gradients and this uniform; returns the norm, params, m and v.
    fn step(&self, gpu: &Gpu, kernels: &Kernels, grads: &[f32], step: &Step) -> [Vec<f32>; 4] {
        gpu.queue
            .write_buffer(&self.grads, 0, bytemuck::cast_slice(grads));
        gpu.queue
            .write_buffer(&self.step, 0, bytemuck::bytes_of(step));
        run(gpu, kernels, &self.dispatches);
        let n = grads.len();
        [
            read(gpu, &self.norm, 1),
            read(gpu, &self.params, n),
            read(gpu, &self.m, n),
            read(gpu, &self.v, n),
        ]
    }
}

/// The shared CPU optimizer (`hrcast::engine::optim`) in f64, on tensors of `sizes`.
struct CpuAdam {
    sizes: Vec<usize>,
    params: Vec<Vec<f64>>,
    state: AdamState<f64>,
    config: StepConfig,
}

impl CpuAdam {
    fn new(sizes: &[usize], init: &[f32], config: StepConfig) -> CpuAdam {
        let mut adam = CpuAdam {
            sizes: sizes.to_vec(),
            params: Vec::new(),
            state: AdamState::new(sizes.iter().copied()),
            config,
        };
        adam.params = adam.split(init);
        adam
    }

    /// A flat vector as tensors of `sizes`.
    fn split(&self, flat: &[f32]) -> Vec<Vec<f64>> {
        let mut at = 0;
        self.sizes
            .iter()
            .map(|&s| {
                at += s;
                flat[at - s..at].iter().map(|&x| f64::from(x)).collect()
            })
            .collect()
    }

    /// clip_grad_norm (when clipping) and AdamState::step; returns the norm before clipping.
    fn step(&mut self, grads: &[f32]) -> f64 {
        let mut g = self.split(grads);
        let clip = self.config.grad_clip;
        let norm = if clip > 0.0 {
            optim::clip_grad_norm(&mut g, clip)
        } else {
            g.iter().flatten().map(|x| x * x).sum::<f64>().sqrt()
        };
        let adam = AdamConfig::new(self.config.lr, self.config.weight_decay);
        self.state.step(&adam, &mut self.params, &g);
        norm
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
        let config = StepConfig {
            lr: 1e-2,
            weight_decay,
            grad_clip: clip,
            use_masking: true,
            seed: 0,
        };
        let init = random(&mut rng, n, 1.0);
        let gpu_adam = GpuAdam::new(&gpu, &kernels, &init);
        let mut cpu = CpuAdam::new(&sizes, &init, config);
        for t in 1..=3u64 {
            let grads = random(&mut rng, n, grad_scale);
            let [norm, params, m, v] =
                gpu_adam.step(&gpu, &kernels, &grads, &Step::new(&config, t, 0.0));
            let want_norm = cpu.step(&grads);
            let what = format!("clip {clip}, step {t}");
            // The norm: a strided f32 sum then a tree, a dozen ulps of Σ g²: 1e-5 relative.
            let got_norm = f64::from(norm[0]);
            assert!(
                (got_norm - want_norm).abs() <= 1e-5 * want_norm,
                "{what}: norm {got_norm} vs {want_norm}"
            );
            // Moments: a few f32 operations per step on values of one scale: 1e-5 of it.
            assert_close(&m, &cpu.state.exp_avg.concat(), 1e-5, &format!("{what}: m"));
            assert_close(
                &v,
                &cpu.state.exp_avg_sq.concat(),
                1e-5,
                &format!("{what}: v"),
            );
            // Parameters (|p| < 1.1) move by about lr = 1e-2 a step; f32 rounds p to 6e-8 and
            // the update to a few ulps of itself, so 2e-6 of the scale is 0.02 % of a step,
            // while a wrong bias correction, clip coefficient or decay term moves it by
            // percents of a step.
            let what = format!("{what}: params");
            assert_close(&params, &cpu.params.concat(), 2e-6, &what);
        }
    }
}
