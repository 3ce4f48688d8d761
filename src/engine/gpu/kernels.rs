//! The WGSL kernels of `shaders/`: their sources (each joined with the prelude), the constants
//! host and shaders share, and their compute pipelines with explicit layouts.

use super::Gpu;
pub use super::bindings::Kernel;
use super::bindings::{Bindings, Slot};
use super::variant::{MIN_RECURRENCE_WG, Variant};
use anyhow::Result;

/// A shader file as compiled: its own text, then the prelude(s) it uses (WGSL lets a module use
/// a declaration before it appears, and the file's line numbers in naga's messages stay its own).
macro_rules! shader {
    ($file:literal $(, $prelude:literal)*) => {
        (
            $file,
            concat!(
                include_str!(concat!("../../../shaders/", $file)),
                $("\n", include_str!(concat!("../../../shaders/", $prelude)),)*
            ),
        )
    };
}

/// Every shader file, by name, as compiled into the binary (joined with its preludes).
pub const SHADERS: [(&str, &str); 6] = [
    shader!("matmul.wgsl", "common.wgsl"),
    shader!("lstm.wgsl", "recurrence.wgsl", "common.wgsl"),
    shader!("gru.wgsl", "recurrence.wgsl", "common.wgsl"),
    shader!("elementwise.wgsl", "common.wgsl"),
    shader!("loss.wgsl", "common.wgsl"),
    shader!("adam.wgsl", "common.wgsl"),
];

/// Sequences per recurrence workgroup, one per vec4 lane (`LANES`, recurrence.wgsl).
pub const LANES: usize = 4;
/// Largest hidden size the recurrence kernels hold in workgroup memory (`MAX_HIDDEN`,
/// recurrence.wgsl).
pub const MAX_HIDDEN: usize = 512;
/// Invocations per workgroup of the elementwise and reduction kernels (`ELEMENTWISE_WG`,
/// common.wgsl).
pub const ELEMENTWISE_WG: u32 = 256;
/// The longest sum one matmul dispatch does; longer ones are split (the loop cap of
/// docs/adapters.md).
pub const K_CHUNK: u32 = 16_384;
/// Loop iterations one invocation may run in one dispatch. Mesa's software adapters (lavapipe,
/// llvmpipe) stop a shader silently after 65,535 (docs/adapters.md); this leaves room for the
/// loops around the time loop.
pub const LOOP_BUDGET: usize = 60_000;
/// Most recurrent layers: the step uniform holds 16 dropout seeds (`MAX_LAYERS`, common.wgsl).
pub const MAX_LAYERS: usize = 16;
/// Largest grid dimension of a dispatch.
pub const MAX_GROUPS: u32 = 65_535;

impl Kernel {
    /// The `@workgroup_size` the kernel runs with under `variant`.
    pub fn workgroup_size(self, variant: &Variant) -> [u32; 3] {
        match self {
            Kernel::Matmul => [variant.matmul_wg[0], variant.matmul_wg[1], 1],
            Kernel::LstmForward
            | Kernel::LstmBackward
            | Kernel::GruForward
            | Kernel::GruBackward => [variant.recurrence_wg, 1, 1],
            Kernel::Dropout | Kernel::Loss | Kernel::GradNorm | Kernel::AdamStep => {
                [ELEMENTWISE_WG, 1, 1]
            }
        }
    }

    /// The entry point that computes this kernel under `variant`.
    pub fn entry(self, variant: &Variant) -> &'static str {
        match self {
            Kernel::Matmul => variant.matmul.entry(),
            other => other.source().1,
        }
    }
}

// Each recurrence invocation keeps at most MAX_HIDDEN / MIN_RECURRENCE_WG units in registers
// (`UNITS`, recurrence.wgsl), so no variant may have fewer invocations.
const _: () = assert!(MAX_HIDDEN.is_multiple_of(MIN_RECURRENCE_WG as usize));

/// One entry point's pipeline and the layouts of its bind groups, laid out as a kernel's
/// bindings (the tuned kernels here, and the reference kernels of reference.rs).
pub(super) struct Compiled {
    pub(super) kernel: Kernel,
    entry: &'static str,
    pub(super) pipeline: wgpu::ComputePipeline,
    groups: Vec<wgpu::BindGroupLayout>,
}

/// The compiled pipelines of one variant.
pub struct Kernels {
    variant: Variant,
    compiled: Vec<Compiled>,
}

impl Kernels {
    /// Compiles every kernel of `variant`, for a model of `hidden` units, with its explicit
    /// layout (validation errors become an error naming the file and entry point).
    pub fn new(gpu: &Gpu, variant: Variant, hidden: usize) -> Result<Kernels> {
        super::variant::check(&variant, &gpu.limits)?;
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
        let mut compiled = Vec::new();
        for kernel in Kernel::ALL {
            let (file, entry) = (kernel.source().0, kernel.entry(&variant));
            let module = &modules
                .iter()
                .find(|(n, _)| *n == file)
                .expect("every kernel's file is listed")
                .1;
            let what = format!("building {entry} of shaders/{file}");
            let constants = variant.constants(entry, hidden);
            compiled.push(gpu.checked(&what, || {
                Compiled::new(gpu, (kernel, entry), module, &constants)
            })?);
        }
        Ok(Kernels { variant, compiled })
    }

    /// The variant these pipelines run.
    pub fn variant(&self) -> &Variant {
        &self.variant
    }

    /// The entry point that computes `kernel`.
    pub fn entry(&self, kernel: Kernel) -> &'static str {
        self.get(kernel).entry
    }

    fn get(&self, kernel: Kernel) -> &Compiled {
        self.compiled
            .iter()
            .find(|c| c.kernel == kernel)
            .expect("every kernel is compiled")
    }

    /// The pipeline of a kernel.
    pub fn pipeline(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        &self.get(kernel).pipeline
    }

    /// The bind groups of one dispatch of `B`'s kernel.
    pub fn bind_groups<'a, B: Bindings<'a>>(&self, gpu: &Gpu, b: &B) -> Vec<wgpu::BindGroup> {
        self.get(B::KERNEL).bind_groups(gpu, b)
    }
}

impl Compiled {
    /// The bind-group layouts of `kernel` (entry by entry, from its slots), its pipeline layout
    /// and the pipeline of `entry` in `module` with the overridable `constants`.
    pub(super) fn new(
        gpu: &Gpu,
        (kernel, entry): (Kernel, &'static str),
        module: &wgpu::ShaderModule,
        constants: &[(&str, f64)],
    ) -> Compiled {
        let groups: Vec<wgpu::BindGroupLayout> = kernel
            .layout()
            .iter()
            .map(|slots| {
                let entries: Vec<wgpu::BindGroupLayoutEntry> =
                    slots.iter().map(Slot::layout_entry).collect();
                gpu.device
                    .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: Some(entry),
                        entries: &entries,
                    })
            })
            .collect();
        let layout = gpu
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(entry),
                bind_group_layouts: &groups.iter().map(Some).collect::<Vec<_>>(),
                immediate_size: 0,
            });
        let pipeline = gpu
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&layout),
                module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants,
                    ..Default::default()
                },
                cache: None,
            });
        Compiled {
            kernel,
            entry,
            pipeline,
            groups,
        }
    }

    /// The bind groups of one dispatch with the buffers of `b` (bindings of this kernel).
    pub(super) fn bind_groups<'a, B: Bindings<'a>>(
        &self,
        gpu: &Gpu,
        b: &B,
    ) -> Vec<wgpu::BindGroup> {
        B::LAYOUT
            .iter()
            .zip(b.groups())
            .zip(&self.groups)
            .map(|((slots, buffers), layout)| {
                let entries: Vec<wgpu::BindGroupEntry> = slots
                    .iter()
                    .zip(buffers)
                    .map(|(slot, buffer)| wgpu::BindGroupEntry {
                        binding: slot.binding,
                        resource: buffer.as_entire_binding(),
                    })
                    .collect();
                gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(self.entry),
                    layout,
                    entries: &entries,
                })
            })
            .collect()
    }
}
