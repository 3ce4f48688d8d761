//! The WGSL kernels of `shaders/`: their sources (each joined with the prelude), the constants
//! host and shaders share, and their compute pipelines with explicit layouts.

use super::Gpu;
pub use super::bindings::Kernel;
use super::bindings::{Bindings, Slot};
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

/// Invocations per workgroup of the recurrence kernels (`RECURRENCE_WG`, recurrence.wgsl).
pub const RECURRENCE_WG: usize = 64;
/// Sequences per recurrence workgroup, one per vec4 lane (`LANES`, recurrence.wgsl).
pub const LANES: usize = 4;
/// Largest hidden size the recurrence kernels hold in workgroup memory (`MAX_HIDDEN`,
/// recurrence.wgsl).
pub const MAX_HIDDEN: usize = 512;
/// Invocations per workgroup of the elementwise and reduction kernels (`ELEMENTWISE_WG`,
/// common.wgsl).
pub const ELEMENTWISE_WG: u32 = 256;
/// The matmul workgroup is `MATMUL_WG × MATMUL_WG` invocations (`MATMUL_WG`, matmul.wgsl).
pub const MATMUL_WG: u32 = 8;
/// Each matmul invocation computes a `MATMUL_TILE × MATMUL_TILE` block of C (`MATMUL_TILE`).
pub const MATMUL_TILE: u32 = 4;
/// The block of C one matmul workgroup covers, per side.
pub const MATMUL_BLOCK: u32 = MATMUL_WG * MATMUL_TILE;
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
    /// The entry point's `@workgroup_size`, from the constants it is written with.
    pub fn workgroup_size(self) -> [u32; 3] {
        match self {
            Kernel::Matmul => [MATMUL_WG, MATMUL_WG, 1],
            Kernel::LstmForward
            | Kernel::LstmBackward
            | Kernel::GruForward
            | Kernel::GruBackward => [RECURRENCE_WG as u32, 1, 1],
            Kernel::Dropout | Kernel::Loss | Kernel::GradNorm | Kernel::AdamStep => {
                [ELEMENTWISE_WG, 1, 1]
            }
        }
    }
}

/// One kernel's pipeline and the layouts of its bind groups.
struct Compiled {
    kernel: Kernel,
    pipeline: wgpu::ComputePipeline,
    groups: Vec<wgpu::BindGroupLayout>,
}

/// The compiled pipelines.
pub struct Kernels {
    compiled: Vec<Compiled>,
}

impl Kernels {
    /// Compiles every kernel with its explicit layout (validation errors become an error naming
    /// the file and entry point).
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
        let mut compiled = Vec::new();
        for kernel in Kernel::ALL {
            let (file, entry) = kernel.source();
            let module = &modules
                .iter()
                .find(|(n, _)| *n == file)
                .expect("every kernel's file is listed")
                .1;
            let what = format!("building {entry} of shaders/{file}");
            compiled.push(gpu.checked(&what, || Compiled::new(gpu, kernel, module))?);
        }
        Ok(Kernels { compiled })
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
        let compiled = self.get(B::KERNEL);
        B::LAYOUT
            .iter()
            .zip(b.groups())
            .zip(&compiled.groups)
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
                    label: Some(B::KERNEL.source().1),
                    layout,
                    entries: &entries,
                })
            })
            .collect()
    }
}

impl Compiled {
    /// The bind-group layouts of `kernel` (entry by entry, from its slots), its pipeline layout
    /// and its pipeline.
    fn new(gpu: &Gpu, kernel: Kernel, module: &wgpu::ShaderModule) -> Compiled {
        let entry = kernel.source().1;
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
                compilation_options: Default::default(),
                cache: None,
            });
        Compiled {
            kernel,
            pipeline,
            groups,
        }
    }
}
