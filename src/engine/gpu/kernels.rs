//! The WGSL kernels of `shaders/`, compiled into compute pipelines, and the uniform blocks
//! they read (laid out exactly as the WGSL structs).

use super::Gpu;
use anyhow::Result;

/// Every shader file, by name, as compiled into the binary.
pub const SHADERS: [(&str, &str); 6] = [
    ("matmul.wgsl", include_str!("../../../shaders/matmul.wgsl")),
    ("lstm.wgsl", include_str!("../../../shaders/lstm.wgsl")),
    ("gru.wgsl", include_str!("../../../shaders/gru.wgsl")),
    (
        "elementwise.wgsl",
        include_str!("../../../shaders/elementwise.wgsl"),
    ),
    ("loss.wgsl", include_str!("../../../shaders/loss.wgsl")),
    ("adam.wgsl", include_str!("../../../shaders/adam.wgsl")),
];

/// Invocations per workgroup of the recurrence kernels (`WG` in lstm.wgsl and gru.wgsl).
pub const RECURRENCE_WG: usize = 64;
/// Sequences per recurrence workgroup, one per vec4 lane (`LANES`).
pub const LANES: usize = 4;
/// Largest hidden size the recurrence kernels hold in workgroup memory (`MAX_HIDDEN`).
pub const MAX_HIDDEN: usize = 512;
/// Invocations per workgroup of the elementwise and reduction kernels.
pub const ELEMENTWISE_WG: u32 = 256;
/// Output tile per matmul invocation (`TILE`) times the 8 × 8 workgroup.
pub const MATMUL_BLOCK: u32 = 32;
/// The longest sum one matmul dispatch does; longer ones are split (loop cap, SPEC §9).
pub const K_CHUNK: u32 = 16_384;
/// Loop iterations one invocation may run in one dispatch. Mesa's software adapters stop a
/// shader silently after 65,535 (SPEC §9); this leaves room for the loops around the time loop.
pub const LOOP_BUDGET: usize = 60_000;
/// Most recurrent layers: the step uniform holds 16 dropout seeds.
pub const MAX_LAYERS: usize = 16;
/// Largest grid dimension of a dispatch.
pub const MAX_GROUPS: u32 = 65_535;

/// The kernels, one pipeline per entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// matmul.wgsl
    Matmul,
    /// lstm.wgsl, forward
    LstmForward,
    /// lstm.wgsl, backward
    LstmBackward,
    /// gru.wgsl, forward
    GruForward,
    /// gru.wgsl, backward
    GruBackward,
    /// elementwise.wgsl
    Dropout,
    /// loss.wgsl
    Loss,
    /// adam.wgsl, the global norm
    GradNorm,
    /// adam.wgsl, the update
    AdamStep,
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 9] = [
        Kernel::Matmul,
        Kernel::LstmForward,
        Kernel::LstmBackward,
        Kernel::GruForward,
        Kernel::GruBackward,
        Kernel::Dropout,
        Kernel::Loss,
        Kernel::GradNorm,
        Kernel::AdamStep,
    ];

    /// The shader file and entry point.
    pub fn source(self) -> (&'static str, &'static str) {
        match self {
            Kernel::Matmul => ("matmul.wgsl", "matmul"),
            Kernel::LstmForward => ("lstm.wgsl", "lstm_forward"),
            Kernel::LstmBackward => ("lstm.wgsl", "lstm_backward"),
            Kernel::GruForward => ("gru.wgsl", "gru_forward"),
            Kernel::GruBackward => ("gru.wgsl", "gru_backward"),
            Kernel::Dropout => ("elementwise.wgsl", "dropout"),
            Kernel::Loss => ("loss.wgsl", "loss"),
            Kernel::GradNorm => ("adam.wgsl", "grad_norm"),
            Kernel::AdamStep => ("adam.wgsl", "adam_step"),
        }
    }
}

/// The compiled pipelines.
pub struct Kernels {
    pipelines: Vec<(Kernel, wgpu::ComputePipeline)>,
}

impl Kernels {
    /// Compiles every kernel (validation errors become an error naming the file).
    pub fn new(gpu: &Gpu) -> Result<Kernels> {
        let mut modules = Vec::new();
        for (name, source) in SHADERS {
            let module = gpu.checked(&format!("compiling shaders/{name}"), || {
                gpu.device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(name),
                        source: wgpu::ShaderSource::Wgsl(source.into()),
                    })
            })?;
            modules.push((name, module));
        }
        let mut pipelines = Vec::new();
        for kernel in Kernel::ALL {
            let (file, entry) = kernel.source();
            let module = &modules
                .iter()
                .find(|(n, _)| *n == file)
                .expect("every kernel's file is listed")
                .1;
            let pipeline = gpu.checked(&format!("building {entry} of shaders/{file}"), || {
                gpu.device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(entry),
                        layout: None,
                        module,
                        entry_point: Some(entry),
                        compilation_options: Default::default(),
                        cache: None,
                    })
            })?;
            pipelines.push((kernel, pipeline));
        }
        Ok(Kernels { pipelines })
    }

    /// The pipeline of a kernel.
    pub fn get(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        &self
            .pipelines
            .iter()
            .find(|(k, _)| *k == kernel)
            .expect("every kernel is compiled")
            .1
    }
}

/// `Dims` of matmul.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatmulDims {
    pub m: u32,
    pub n: u32,
    pub k_start: u32,
    pub k_count: u32,
    pub a_off: u32,
    pub a_rs: u32,
    pub a_cs: u32,
    pub b_off: u32,
    pub b_rs: u32,
    pub b_cs: u32,
    pub c_off: u32,
    pub c_rs: u32,
    pub accumulate: u32,
    pub has_bias: u32,
    pub bias_off: u32,
    pub copy_c: u32,
    pub c2_off: u32,
    pub pad: [u32; 3],
}

/// `Recurrence` of lstm.wgsl and gru.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RecurrenceDims {
    pub batch: u32,
    pub steps: u32,
    pub hidden: u32,
    pub s_start: u32,
    pub s_count: u32,
    pub reverse: u32,
    pub w_hh_off: u32,
    pub b_hh_off: u32,
    pub out_stride: u32,
    pub out_col: u32,
    pub pad: [u32; 2],
}

/// `Dropout` of elementwise.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DropoutDims {
    pub batch: u32,
    pub steps: u32,
    pub width: u32,
    pub layer: u32,
}

/// `Loss` of loss.wgsl and `Count` of adam.wgsl (a count and a flag).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct CountDims {
    pub n: u32,
    pub flag: u32,
    pub pad: [u32; 2],
}

/// `Step` of elementwise.wgsl and adam.wgsl: what changes from one training step to the next.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct StepUniform {
    pub seeds: [u32; MAX_LAYERS],
    pub step_size: f32,
    pub bias2_sqrt: f32,
    pub weight_decay: f32,
    pub clip: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub dropout: f32,
    /// The first sequence of this submit within the batch (micro-batches; dropout's counter).
    pub first_sequence: u32,
    /// 1 / Σ w of the whole batch (the loss's weights), 0 when it is empty.
    pub inv_weight: f32,
    /// 1 on the submit that counts the batch in the epoch sums, else 0.
    pub batches: f32,
    pub pad: u32,
}
