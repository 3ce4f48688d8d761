//! The reference recurrence kernels, `shaders/lstm_reference.wgsl` and `gru_reference.wgsl`:
//! the LSTM and GRU of lstm.wgsl and gru.wgsl written plainly, one invocation per (sequence,
//! hidden unit) and one dispatch per time step. They are for reading (docs/model.md starts there)
//! and for tests/engines/gpu_kernels.rs, which holds them to the CPU engine and to the tuned kernels;
//! training never runs them.
//!
//! Each reference entry point stands in for a tuned kernel ([`reference_of`]): it declares that
//! kernel's bindings (bindings.rs, checked by name with naga as the tuned ones are) and reads its
//! uniform, [`RecurrenceDims`], one per step ([`steps`]) with `s_start` the step. So a test runs
//! both on the same buffers, through the same bindings structs.

use super::Gpu;
use super::bindings::{Bindings, Kernel};
use super::kernels::Compiled;
use super::uniforms::RecurrenceDims;
use anyhow::{Result, anyhow};

/// A reference shader file as compiled: its own text, then the prelude `reference.wgsl`.
macro_rules! reference_shader {
    ($file:literal) => {
        (
            $file,
            concat!(
                include_str!(concat!("../../../shaders/", $file)),
                "\n",
                include_str!("../../../shaders/reference.wgsl"),
            ),
        )
    };
}

/// Every reference shader file, by name, as compiled (joined with its prelude).
pub const REFERENCE_SHADERS: [(&str, &str); 2] = [
    reference_shader!("lstm_reference.wgsl"),
    reference_shader!("gru_reference.wgsl"),
];

/// Invocations per workgroup of the reference kernels, one hidden unit each (`REFERENCE_WG`,
/// reference.wgsl).
pub const REFERENCE_WG: u32 = 64;

/// The reference entry point that stands in for a tuned recurrence kernel, with its file; None
/// for the kernels that have none.
pub fn reference_of(kernel: Kernel) -> Option<(&'static str, &'static str)> {
    match kernel {
        Kernel::LstmForward => Some(("lstm_reference.wgsl", "lstm_reference_forward")),
        Kernel::LstmBackward => Some(("lstm_reference.wgsl", "lstm_reference_backward")),
        Kernel::GruForward => Some(("gru_reference.wgsl", "gru_reference_forward")),
        Kernel::GruBackward => Some(("gru_reference.wgsl", "gru_reference_backward")),
        _ => None,
    }
}

/// The uniform of every dispatch of one pass over `dims`' steps, in dispatch order: steps
/// s = 0 .. T-1 forward, T-1 down to 0 backward, each with `s_start` = s and `s_count` = 1.
pub fn steps(dims: &RecurrenceDims, backward: bool) -> Vec<RecurrenceDims> {
    let step = |s| RecurrenceDims {
        s_start: s,
        s_count: 1,
        ..*dims
    };
    if backward {
        (0..dims.steps).rev().map(step).collect()
    } else {
        (0..dims.steps).map(step).collect()
    }
}

/// The grid of one reference dispatch: ⌈H / [`REFERENCE_WG`]⌉ workgroups across the hidden
/// units, one row of them per sequence.
pub fn grid(dims: &RecurrenceDims) -> [u32; 3] {
    [dims.hidden.div_ceil(REFERENCE_WG), dims.batch, 1]
}

/// The compiled reference kernels.
pub struct ReferenceKernels {
    compiled: Vec<Compiled>,
}

impl ReferenceKernels {
    /// Compiles the four reference entry points, each with the explicit layout of the tuned
    /// kernel it stands in for (validation errors become an error naming file and entry point).
    pub fn new(gpu: &Gpu) -> Result<ReferenceKernels> {
        let mut compiled = Vec::new();
        for kernel in Kernel::ALL {
            let Some((file, entry)) = reference_of(kernel) else {
                continue;
            };
            let (_, source) = REFERENCE_SHADERS
                .iter()
                .find(|(name, _)| *name == file)
                .expect("every reference file is listed");
            let what = format!("building {entry} of shaders/{file}");
            compiled.push(gpu.checked(&what, || {
                let module = gpu
                    .device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(entry),
                        source: wgpu::ShaderSource::Wgsl((*source).into()),
                    });
                Compiled::new(gpu, (kernel, entry), &module, &[])
            })?);
        }
        Ok(ReferenceKernels { compiled })
    }

    /// Runs one pass: a dispatch per element of `steps` (the bindings of one step, each with
    /// its own `dims` from [`steps`]), in order, over the grid of `dims` ([`grid`]), as one
    /// compute pass; waits for it.
    pub fn run<'a, B: Bindings<'a>>(
        &self,
        gpu: &Gpu,
        dims: &RecurrenceDims,
        steps: &[B],
    ) -> Result<()> {
        let compiled = self
            .compiled
            .iter()
            .find(|c| c.kernel == B::KERNEL)
            .ok_or_else(|| anyhow!("{:?} has no reference kernel", B::KERNEL))?;
        let groups: Vec<Vec<wgpu::BindGroup>> =
            steps.iter().map(|b| compiled.bind_groups(gpu, b)).collect();
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("reference"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&compiled.pipeline);
            let [x, y, z] = grid(dims);
            for step in &groups {
                for (i, g) in step.iter().enumerate() {
                    pass.set_bind_group(i as u32, g, &[]);
                }
                pass.dispatch_workgroups(x, y, z);
            }
        }
        gpu.queue.submit([encoder.finish()]);
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| anyhow!("waiting for the GPU failed (device lost?): {e}"))?;
        Ok(())
    }
}
