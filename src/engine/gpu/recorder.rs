//! The recorder: one method per kernel, taking that kernel's bindings and deriving the grid of
//! workgroups from the kernel's workgroup size. What it records is a list of [`Dispatch`]es,
//! submitted later (many times over) by [`submit`].

use super::Gpu;
use super::bindings::*;
use super::buffers;
use super::kernels::*;
use super::uniforms::{MatmulDims, Uniform};

/// One recorded dispatch: a kernel, its bind groups and its grid.
pub struct Dispatch {
    /// The kernel.
    pub kernel: Kernel,
    groups: Vec<wgpu::BindGroup>,
    workgroups: [u32; 3],
}

/// Where a matmul operand lives: `X(i, j) = buffer[off + i·rs + j·cs]` (see matmul.wgsl).
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    /// The buffer.
    pub buffer: &'a wgpu::Buffer,
    /// The first element.
    pub off: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride (C's is 1).
    pub cs: usize,
}

/// [`Operand`] in one line.
pub fn op(buffer: &wgpu::Buffer, off: usize, rs: usize, cs: usize) -> Operand<'_> {
    Operand {
        buffer,
        off,
        rs,
        cs,
    }
}

/// One product `C[m, n] (+)= A[m, k] B[k, n] (+ bias)`: what matmul.wgsl computes.
#[derive(Clone, Copy)]
pub struct Gemm<'a> {
    /// Rows of C.
    pub m: usize,
    /// Columns of C.
    pub n: usize,
    /// The length of the sum.
    pub k: usize,
    /// A.
    pub a: Operand<'a>,
    /// B.
    pub b: Operand<'a>,
    /// C (its `cs` is 1).
    pub c: Operand<'a>,
    /// `bias[off + n]`, added when not accumulating.
    pub bias: Option<(&'a wgpu::Buffer, usize)>,
    /// Add to C instead of writing it.
    pub accumulate: bool,
    /// Also write the finished C at this offset of C's buffer (same strides).
    pub copy_to: Option<usize>,
}

impl<'a> Gemm<'a> {
    /// `C = A B`, written.
    pub fn new(
        (m, n, k): (usize, usize, usize),
        a: Operand<'a>,
        b: Operand<'a>,
        c: Operand<'a>,
    ) -> Gemm<'a> {
        Gemm {
            m,
            n,
            k,
            a,
            b,
            c,
            bias: None,
            accumulate: false,
            copy_to: None,
        }
    }

    /// `C = A B + bias`, with the bias at `off` of `buffer`.
    pub fn bias(self, buffer: &'a wgpu::Buffer, off: usize) -> Gemm<'a> {
        Gemm {
            bias: Some((buffer, off)),
            ..self
        }
    }

    /// `C += A B`.
    pub fn accumulate(self, accumulate: bool) -> Gemm<'a> {
        Gemm { accumulate, ..self }
    }

    /// Also write the finished C at `off` of C's buffer.
    pub fn copy_to(self, off: Option<usize>) -> Gemm<'a> {
        Gemm {
            copy_to: off,
            ..self
        }
    }

    /// The uniform of chunk `chunk` of `chunks` along k.
    fn dims(&self, chunk: u32, chunks: u32) -> MatmulDims {
        let k_start = chunk * K_CHUNK;
        MatmulDims {
            m: self.m as u32,
            n: self.n as u32,
            k_start,
            k_count: (self.k as u32 - k_start.min(self.k as u32)).min(K_CHUNK),
            a_off: self.a.off as u32,
            a_rs: self.a.rs as u32,
            a_cs: self.a.cs as u32,
            b_off: self.b.off as u32,
            b_rs: self.b.rs as u32,
            b_cs: self.b.cs as u32,
            c_off: self.c.off as u32,
            c_rs: self.c.rs as u32,
            accumulate: u32::from(self.accumulate || chunk > 0),
            has_bias: u32::from(self.bias.is_some()),
            bias_off: self.bias.map_or(0, |(_, off)| off) as u32,
            copy_c: u32::from(self.copy_to.is_some() && chunk + 1 == chunks),
            c2_off: self.copy_to.unwrap_or(0) as u32,
            pad: [0; 3],
        }
    }
}

/// A grid of `ELEMENTWISE_WG`-wide workgroups covering `n` elements: x up to [`MAX_GROUPS`],
/// the rest in y (`grid_index` of common.wgsl).
pub fn elementwise_grid(n: usize) -> [u32; 3] {
    let groups = (n as u32).div_ceil(ELEMENTWISE_WG).max(1);
    let x = groups.min(MAX_GROUPS);
    [x, groups.div_ceil(x), 1]
}

/// The grid of a recurrence kernel: one workgroup per [`LANES`] sequences.
fn recurrence_grid(batch: usize) -> [u32; 3] {
    [batch.div_ceil(LANES) as u32, 1, 1]
}

/// Records dispatches on a device with its compiled kernels.
pub struct Recorder<'a> {
    gpu: &'a Gpu,
    kernels: &'a Kernels,
    dispatches: Vec<Dispatch>,
}

impl<'a> Recorder<'a> {
    /// An empty recording.
    pub fn new(gpu: &'a Gpu, kernels: &'a Kernels) -> Recorder<'a> {
        Recorder {
            gpu,
            kernels,
            dispatches: Vec::new(),
        }
    }

    /// A uniform buffer holding `value`, for a `dims` binding.
    pub fn uniform<T: Uniform>(&self, value: &T) -> wgpu::Buffer {
        buffers::uniform(self.gpu, value)
    }

    /// The dispatches recorded.
    pub fn finish(self) -> Vec<Dispatch> {
        self.dispatches
    }

    fn push<'b, B: Bindings<'b>>(&mut self, bindings: &B, workgroups: [u32; 3]) {
        self.dispatches.push(Dispatch {
            kernel: B::KERNEL,
            groups: self.kernels.bind_groups(self.gpu, bindings),
            workgroups,
        });
    }

    /// `matmul`: `gemm`, as one dispatch per [`K_CHUNK`] of k (the first writes, the others
    /// add), each with its own [`MatmulBindings::dims`].
    pub fn matmul(&mut self, gemm: &Gemm) {
        let chunks = (gemm.k as u32).div_ceil(K_CHUNK).max(1);
        // Each workgroup covers a block of C, its size the variant's.
        let [cols, rows] = self.kernels.variant().matmul_block();
        let workgroups = [
            (gemm.n as u32).div_ceil(cols),
            (gemm.m as u32).div_ceil(rows),
            1,
        ];
        for chunk in 0..chunks {
            let dims = self.uniform(&gemm.dims(chunk, chunks));
            let bindings = MatmulBindings {
                dims: &dims,
                a: gemm.a.buffer,
                b: gemm.b.buffer,
                c: gemm.c.buffer,
                // Without a bias any read-only buffer will do: A's.
                bias: gemm.bias.map_or(gemm.a.buffer, |(buffer, _)| buffer),
            };
            self.push(&bindings, workgroups);
        }
    }

    /// `lstm_forward` over `batch` sequences.
    pub fn lstm_forward(&mut self, bindings: &LstmForwardBindings, batch: usize) {
        self.push(bindings, recurrence_grid(batch));
    }

    /// `lstm_backward` over `batch` sequences.
    pub fn lstm_backward(&mut self, bindings: &LstmBackwardBindings, batch: usize) {
        self.push(bindings, recurrence_grid(batch));
    }

    /// `gru_forward` over `batch` sequences.
    pub fn gru_forward(&mut self, bindings: &GruForwardBindings, batch: usize) {
        self.push(bindings, recurrence_grid(batch));
    }

    /// `gru_backward` over `batch` sequences.
    pub fn gru_backward(&mut self, bindings: &GruBackwardBindings, batch: usize) {
        self.push(bindings, recurrence_grid(batch));
    }

    /// `dropout` over `elements` values.
    pub fn dropout(&mut self, bindings: &DropoutBindings, elements: usize) {
        self.push(bindings, elementwise_grid(elements));
    }

    /// `loss`: one workgroup.
    pub fn loss(&mut self, bindings: &LossBindings) {
        self.push(bindings, [1, 1, 1]);
    }

    /// `grad_norm`: one workgroup.
    pub fn grad_norm(&mut self, bindings: &GradNormBindings) {
        self.push(bindings, [1, 1, 1]);
    }

    /// `adam_step` over `count` parameters.
    pub fn adam_step(&mut self, bindings: &AdamStepBindings, count: usize) {
        self.push(bindings, elementwise_grid(count));
    }
}

/// Records `dispatches` in one compute pass, after clearing `clear` if given, and submits it
/// (one submit, no waiting).
pub fn submit<'d>(
    gpu: &Gpu,
    kernels: &Kernels,
    clear: Option<&wgpu::Buffer>,
    dispatches: impl IntoIterator<Item = &'d Dispatch>,
) {
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    if let Some(buffer) = clear {
        encoder.clear_buffer(buffer, 0, None);
    }
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("step"),
            timestamp_writes: None,
        });
        for d in dispatches {
            pass.set_pipeline(kernels.pipeline(d.kernel));
            for (i, g) in d.groups.iter().enumerate() {
                pass.set_bind_group(i as u32, g, &[]);
            }
            let [x, y, z] = d.workgroups;
            pass.dispatch_workgroups(x, y, z);
        }
    }
    gpu.queue.submit([encoder.finish()]);
    let _ = gpu.device.poll(wgpu::PollType::Poll);
}
