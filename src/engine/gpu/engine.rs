//! [`GpuEngine`]: the model's parameters, gradients and Adam moments live in GPU buffers, flat
//! in state_dict order. For each batch shape a [`Plan`] holds the activation buffers and the
//! list of dispatches of one training step (or one evaluation); a step uploads the batch and
//! the step's uniform, records the dispatches in one compute pass and submits, reading nothing
//! back. Loss and MAE sums accumulate on the GPU and are read once per epoch.
//!
//! A batch whose buffers would exceed what the adapter binds (wgpu's default is 128 MiB per
//! storage binding: batch 256 x 500 steps x hidden 128 needs 256 MiB of LSTM gates) runs as
//! micro-batches of equal size, one submit each, into the same buffers: the gradients
//! accumulate (they are cleared at the start of a step), the loss is normalized by the whole
//! batch's weight, dropout draws each sequence's own mask, and clipping and Adam run once at
//! the end, so the step is the same step. [`Engine::batch_note`] says so for the log.

use super::Gpu;
use super::kernels::*;
use crate::engine::optim::{AdamConfig, AdamState};
use crate::engine::{Engine, KernelTime, StepConfig, StepCounts, TrainSums, rng};
use crate::model::{Batch, Cell, ModelConfig, Params};
use anyhow::{Result, bail, ensure};
use std::collections::HashMap;
use wgpu::util::DeviceExt;

/// A plan is made per (batch, steps, training, masked loss).
type PlanKey = (usize, usize, bool, bool);

/// Plans kept at once (training and evaluation, each a full and a last, partial batch).
const MAX_PLANS: usize = 4;

/// One recorded dispatch.
struct Dispatch {
    kernel: Kernel,
    groups: Vec<wgpu::BindGroup>,
    workgroups: [u32; 3],
}

/// Buffers and dispatches for one batch shape.
struct Plan {
    x: wgpu::Buffer,
    y: wgpu::Buffer,
    mask: wgpu::Buffer,
    lengths: wgpu::Buffer,
    pred: wgpu::Buffer,
    dispatches: Vec<Dispatch>,
}

/// The GPU engine.
pub struct GpuEngine {
    gpu: Gpu,
    kernels: Kernels,
    config: ModelConfig,
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    offsets: Vec<usize>,
    n_params: usize,
    params: wgpu::Buffer,
    grads: wgpu::Buffer,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    sums: wgpu::Buffer,
    norm: wgpu::Buffer,
    step_uniform: wgpu::Buffer,
    adam_step: u64,
    plans: HashMap<PlanKey, Plan>,
    /// Clipping and Adam: the dispatches that end every training step.
    update: Vec<Dispatch>,
    last_counts: StepCounts,
}

const F32: u64 = 4;

fn storage(gpu: &Gpu, label: &str, floats: usize) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (floats.max(4) as u64) * F32,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

fn storage_init(gpu: &Gpu, label: &str, data: &[f32]) -> wgpu::Buffer {
    let mut padded = data.to_vec();
    padded.resize(data.len().max(4), 0.0);
    gpu.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(&padded),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
        })
}

fn uniform<T: bytemuck::Pod>(gpu: &Gpu, value: &T) -> wgpu::Buffer {
    gpu.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("dims"),
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM,
        })
}

/// A 2-D grid of workgroups covering `n` elements, 256 per workgroup.
fn grid(n: usize) -> [u32; 3] {
    let groups = (n as u32).div_ceil(ELEMENTWISE_WG).max(1);
    let x = groups.min(MAX_GROUPS);
    [x, groups.div_ceil(x), 1]
}

/// Where a matmul operand lives: a buffer, an offset and two strides (see matmul.wgsl).
#[derive(Clone, Copy)]
struct Operand<'a> {
    buffer: &'a wgpu::Buffer,
    off: usize,
    rs: usize,
    cs: usize,
}

fn op(buffer: &wgpu::Buffer, off: usize, rs: usize, cs: usize) -> Operand<'_> {
    Operand {
        buffer,
        off,
        rs,
        cs,
    }
}

/// Recording context: the engine's device, pipelines and persistent buffers.
struct Recorder<'a> {
    e: &'a GpuEngine,
    out: Vec<Dispatch>,
}

impl Recorder<'_> {
    /// A bind group of `buffers` at consecutive bindings from `first` (the bindings an entry
    /// point uses, as its automatic layout holds them).
    fn bind(
        &self,
        kernel: Kernel,
        group: u32,
        first: u32,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let layout = self.e.kernels.get(kernel).get_bind_group_layout(group);
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: first + i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.e
            .gpu
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &layout,
                entries: &entries,
            })
    }

    fn push(&mut self, kernel: Kernel, groups: Vec<wgpu::BindGroup>, workgroups: [u32; 3]) {
        self.out.push(Dispatch {
            kernel,
            groups,
            workgroups,
        });
    }

    /// `dst = src ⊙ mask` of the dropout after `layer` (forward on outputs, backward on their
    /// gradients: the same mask).
    fn dropout(
        &mut self,
        batch: usize,
        steps: usize,
        width: usize,
        layer: usize,
        src: &wgpu::Buffer,
        dst: &wgpu::Buffer,
    ) {
        let dims = DropoutDims {
            batch: batch as u32,
            steps: steps as u32,
            width: width as u32,
            layer: layer as u32,
        };
        let u = uniform(&self.e.gpu, &dims);
        let group = self.bind(Kernel::Dropout, 0, 0, &[&u, &self.e.step_uniform, src, dst]);
        self.push(Kernel::Dropout, vec![group], grid(batch * steps * width));
    }

    /// `C[m, n] (+)= A B (+ bias)`, split into chunks of K_CHUNK along k.
    #[allow(clippy::too_many_arguments)]
    fn matmul(
        &mut self,
        m: usize,
        n: usize,
        k: usize,
        a: Operand,
        b: Operand,
        c: Operand,
        bias: Option<usize>,
        accumulate: bool,
    ) {
        self.matmul_copy(m, n, k, a, b, c, bias, accumulate, None);
    }

    /// [`Self::matmul`], also writing the finished C at offset `copy_to` of C's buffer.
    #[allow(clippy::too_many_arguments)]
    fn matmul_copy(
        &mut self,
        m: usize,
        n: usize,
        k: usize,
        a: Operand,
        b: Operand,
        c: Operand,
        bias: Option<usize>,
        accumulate: bool,
        copy_to: Option<usize>,
    ) {
        let chunks = (k as u32).div_ceil(K_CHUNK).max(1);
        for chunk in 0..chunks {
            let k_start = chunk * K_CHUNK;
            let dims = MatmulDims {
                m: m as u32,
                n: n as u32,
                k_start,
                k_count: (k as u32 - k_start.min(k as u32)).min(K_CHUNK),
                a_off: a.off as u32,
                a_rs: a.rs as u32,
                a_cs: a.cs as u32,
                b_off: b.off as u32,
                b_rs: b.rs as u32,
                b_cs: b.cs as u32,
                c_off: c.off as u32,
                c_rs: c.rs as u32,
                accumulate: u32::from(accumulate || chunk > 0),
                has_bias: u32::from(bias.is_some()),
                bias_off: bias.unwrap_or(0) as u32,
                copy_c: u32::from(copy_to.is_some() && chunk + 1 == chunks),
                c2_off: copy_to.unwrap_or(0) as u32,
                pad: [0; 3],
            };
            let u = uniform(&self.e.gpu, &dims);
            let group = self.bind(
                Kernel::Matmul,
                0,
                0,
                &[&u, a.buffer, b.buffer, c.buffer, &self.e.params],
            );
            let workgroups = [
                (n as u32).div_ceil(MATMUL_BLOCK),
                (m as u32).div_ceil(MATMUL_BLOCK),
                1,
            ];
            self.push(Kernel::Matmul, vec![group], workgroups);
        }
    }
}

/// Activations of one direction of one layer.
struct DirectionBuffers {
    xw: wgpu::Buffer,
    cell: wgpu::Buffer,
    gates: wgpu::Buffer,
    d_xw: wgpu::Buffer,
    d_hw: Option<wgpu::Buffer>,
    carry: wgpu::Buffer,
}

impl GpuEngine {
    /// Uploads a model and its optimizer state to `gpu`. Fails with a clear message where the
    /// model does not fit the kernels or the adapter.
    pub fn new(
        gpu: Gpu,
        config: &ModelConfig,
        params: &Params<f32>,
        adam: &AdamState<f32>,
    ) -> Result<GpuEngine> {
        ensure!(
            config.hidden_size <= MAX_HIDDEN,
            "hidden size {} exceeds the GPU engine's maximum of {MAX_HIDDEN}; use --device cpu",
            config.hidden_size
        );
        ensure!(
            config.num_layers <= MAX_LAYERS,
            "{} layers exceed the GPU engine's maximum of {MAX_LAYERS}; use --device cpu",
            config.num_layers
        );
        let kernels = Kernels::new(&gpu)?;
        let mut offsets = Vec::new();
        let mut total = 0;
        for v in &params.values {
            offsets.push(total);
            total += v.len();
        }
        // grad_norm sums the gradients with one workgroup: n / 256 iterations per invocation.
        let max_params = LOOP_BUDGET * ELEMENTWISE_WG as usize;
        ensure!(
            total <= max_params,
            "the model has {total} parameters, more than the GPU engine's {max_params}; use fewer \
             layers, a smaller hidden size or --device cpu"
        );
        let flat = |values: &[Vec<f32>]| values.concat();
        let mut engine = GpuEngine {
            params: storage_init(&gpu, "params", &flat(&params.values)),
            grads: storage(&gpu, "grads", total),
            m: storage_init(&gpu, "adam m", &flat(&adam.exp_avg)),
            v: storage_init(&gpu, "adam v", &flat(&adam.exp_avg_sq)),
            sums: storage(&gpu, "epoch sums", 4),
            norm: storage(&gpu, "grad norm", 4),
            step_uniform: gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("step"),
                size: std::mem::size_of::<StepUniform>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            kernels,
            config: config.clone(),
            names: params.names.clone(),
            shapes: params.shapes.clone(),
            offsets,
            n_params: total,
            adam_step: adam.step,
            plans: HashMap::new(),
            update: Vec::new(),
            last_counts: StepCounts::default(),
            gpu,
        };
        engine.update = engine.record_update();
        Ok(engine)
    }

    /// Steps one recurrence dispatch may cover under the loop budget. The kernels' dot products
    /// run H/4 unrolled iterations plus H mod 4 single ones (in the backward pass, each with a
    /// loop over the gates inside), per hidden unit an invocation handles.
    fn steps_per_dispatch(&self, backward: bool) -> usize {
        let h = self.config.hidden_size;
        let units = h.div_ceil(RECURRENCE_WG);
        let remainder = if backward {
            (h % 4) * (self.config.model.gates() + 1)
        } else {
            h % 4
        };
        let inner = h / 4 + remainder;
        (LOOP_BUDGET / (units * (inner + 3) + 4)).max(1)
    }

    /// Builds the plan of a batch shape: buffers and dispatches.
    fn plan(&self, (batch, steps, training, use_masking): PlanKey) -> Result<Plan> {
        let c = &self.config;
        let (h, g, dirs, layers) = (c.hidden_size, c.model.gates(), c.directions(), c.num_layers);
        let rows = batch * steps;
        let width = h * dirs;
        let gpu = &self.gpu;
        let x = storage(gpu, "x", rows * c.input_size);
        let y = storage(gpu, "y", rows);
        let mask = storage(gpu, "mask", rows);
        let lengths = storage(gpu, "lengths", batch);
        let pred = storage(gpu, "pred", rows);
        let d_pred = storage(gpu, "d_pred", rows);
        let ones = storage_init(gpu, "ones", &vec![1.0; rows]);
        let dropout = training && c.dropout > 0.0;
        // The recurrence runs one workgroup per LANES sequences; its carry holds, per lane and
        // unit, d_h_rec and d_c (LSTM) and the current step's d_a (4 gates LSTM, 3 GRU).
        let recurrence_groups = [batch.div_ceil(LANES) as u32, 1, 1];
        let carried = match c.model {
            Cell::Lstm => 6,
            Cell::Gru => 4,
        };
        // Per layer: its output, its input (x, the previous output, or that after dropout),
        // and the gradients of both.
        let outs: Vec<wgpu::Buffer> = (0..layers)
            .map(|_| storage(gpu, "out", rows * width))
            .collect();
        let dropped: Vec<Option<wgpu::Buffer>> = (0..layers)
            .map(|l| (dropout && l > 0).then(|| storage(gpu, "dropped", rows * width)))
            .collect();
        let d_outs: Vec<Option<wgpu::Buffer>> = (0..layers)
            .map(|_| training.then(|| storage(gpu, "d_out", rows * width)))
            .collect();
        let d_dropped: Vec<Option<wgpu::Buffer>> = (0..layers)
            .map(|l| (dropout && l > 0).then(|| storage(gpu, "d_dropped", rows * width)))
            .collect();
        let dir_buffers: Vec<Vec<DirectionBuffers>> = (0..layers)
            .map(|_| {
                (0..dirs)
                    .map(|_| DirectionBuffers {
                        xw: storage(gpu, "xw", rows * g * h),
                        cell: storage(
                            gpu,
                            "cell",
                            if c.model == Cell::Lstm { rows * h } else { 4 },
                        ),
                        gates: storage(gpu, "gates", rows * 4 * h),
                        d_xw: storage(gpu, "d_xw", if training { rows * g * h } else { 4 }),
                        d_hw: (training && c.model == Cell::Gru)
                            .then(|| storage(gpu, "d_hw", rows * g * h)),
                        carry: storage(gpu, "carry", batch.div_ceil(LANES) * LANES * carried * h),
                    })
                    .collect()
            })
            .collect();
        let input_of = |l: usize| -> &wgpu::Buffer {
            if l == 0 {
                &x
            } else {
                dropped[l].as_ref().unwrap_or(&outs[l - 1])
            }
        };
        let d_input_of = |l: usize| -> &wgpu::Buffer {
            d_dropped[l]
                .as_ref()
                .unwrap_or_else(|| d_outs[l - 1].as_ref().expect("training"))
        };

        let mut rec = Recorder {
            e: self,
            out: Vec::new(),
        };
        let param = |l: usize, d: usize, k: usize| self.offsets[(l * dirs + d) * 4 + k];
        let head_w = self.offsets[layers * dirs * 4];
        let head_b = head_w + width;
        let (fwd_kernel, bwd_kernel) = match c.model {
            Cell::Lstm => (Kernel::LstmForward, Kernel::LstmBackward),
            Cell::Gru => (Kernel::GruForward, Kernel::GruBackward),
        };
        let chunks = |per: usize| -> Vec<(usize, usize)> {
            (0..steps)
                .step_by(per)
                .map(|s| (s, per.min(steps - s)))
                .collect()
        };
        let rec_dims = |l: usize, d: usize, s_start: usize, s_count: usize| RecurrenceDims {
            batch: batch as u32,
            steps: steps as u32,
            hidden: h as u32,
            s_start: s_start as u32,
            s_count: s_count as u32,
            reverse: d as u32,
            w_hh_off: param(l, d, 1) as u32,
            b_hh_off: param(l, d, 3) as u32,
            out_stride: width as u32,
            out_col: (d * h) as u32,
            pad: [0; 2],
        };

        // ---- forward
        for l in 0..layers {
            let i_l = c.layer_input(l);
            if l > 0
                && let Some(dst) = &dropped[l]
            {
                rec.dropout(batch, steps, width, l - 1, &outs[l - 1], dst);
            }
            for (d, db) in dir_buffers[l].iter().enumerate() {
                rec.matmul(
                    rows,
                    g * h,
                    i_l,
                    op(input_of(l), 0, i_l, 1),
                    op(&self.params, param(l, d, 0), 1, i_l),
                    op(&db.xw, 0, g * h, 1),
                    Some(param(l, d, 2)),
                    false,
                );
                for (s_start, s_count) in chunks(self.steps_per_dispatch(false)) {
                    let u = uniform(gpu, &rec_dims(l, d, s_start, s_count));
                    let buffers: Vec<&wgpu::Buffer> = match c.model {
                        Cell::Lstm => vec![
                            &u,
                            &self.params,
                            &lengths,
                            &db.xw,
                            &outs[l],
                            &db.cell,
                            &db.gates,
                        ],
                        Cell::Gru => vec![&u, &self.params, &lengths, &db.xw, &outs[l], &db.gates],
                    };
                    let group = rec.bind(fwd_kernel, 0, 0, &buffers);
                    rec.push(fwd_kernel, vec![group], recurrence_groups);
                }
            }
        }
        let top = &outs[layers - 1];
        rec.matmul(
            rows,
            1,
            width,
            op(top, 0, width, 1),
            op(&self.params, head_w, 1, 0),
            op(&pred, 0, 1, 1),
            Some(head_b),
            false,
        );

        if training {
            // ---- loss
            let u = uniform(
                gpu,
                &CountDims {
                    n: rows as u32,
                    flag: u32::from(use_masking),
                    pad: [0; 2],
                },
            );
            let group = rec.bind(
                Kernel::Loss,
                0,
                0,
                &[
                    &u,
                    &pred,
                    &y,
                    &mask,
                    &self.sums,
                    &d_pred,
                    &self.step_uniform,
                ],
            );
            rec.push(Kernel::Loss, vec![group], [1, 1, 1]);
            // ---- head
            let d_top = d_outs[layers - 1].as_ref().expect("training");
            rec.matmul(
                rows,
                width,
                1,
                op(&d_pred, 0, 1, 0),
                op(&self.params, head_w, 0, 1),
                op(d_top, 0, width, 1),
                None,
                false,
            );
            // Weight gradients accumulate into grads, cleared at the start of each step (a
            // batch run as micro-batches adds each one's share).
            rec.matmul(
                1,
                width,
                rows,
                op(&d_pred, 0, 0, 1),
                op(top, 0, width, 1),
                op(&self.grads, head_w, width, 1),
                None,
                true,
            );
            rec.matmul(
                1,
                1,
                rows,
                op(&ones, 0, 0, 1),
                op(&d_pred, 0, 1, 1),
                op(&self.grads, head_b, 1, 1),
                None,
                true,
            );
            // ---- layers, top down
            for l in (0..layers).rev() {
                let i_l = c.layer_input(l);
                let d_out = d_outs[l].as_ref().expect("training");
                for (d, db) in dir_buffers[l].iter().enumerate() {
                    let mut dispatch_chunks = chunks(self.steps_per_dispatch(true));
                    dispatch_chunks.reverse();
                    for (s_start, s_count) in dispatch_chunks {
                        let u = uniform(gpu, &rec_dims(l, d, s_start, s_count));
                        let base = rec.bind(bwd_kernel, 0, 0, &[&u, &self.params, &lengths]);
                        let rest: Vec<&wgpu::Buffer> = match (c.model, &db.d_hw) {
                            (Cell::Gru, Some(d_hw)) => {
                                vec![&outs[l], &db.gates, d_out, &db.d_xw, d_hw, &db.carry]
                            }
                            _ => vec![&db.cell, &db.gates, d_out, &db.d_xw, &db.carry],
                        };
                        let group = rec.bind(bwd_kernel, 1, 0, &rest);
                        rec.push(bwd_kernel, vec![base, group], recurrence_groups);
                    }
                    let d_hw = db.d_hw.as_ref().unwrap_or(&db.d_xw);
                    // dW_ih = d_xwᵀ X, db_ih = 1ᵀ d_xw (for the LSTM also db_hh: d_hw = d_xw)
                    rec.matmul(
                        g * h,
                        i_l,
                        rows,
                        op(&db.d_xw, 0, 1, g * h),
                        op(input_of(l), 0, i_l, 1),
                        op(&self.grads, param(l, d, 0), i_l, 1),
                        None,
                        true,
                    );
                    let lstm = db.d_hw.is_none();
                    rec.matmul_copy(
                        1,
                        g * h,
                        rows,
                        op(&ones, 0, 0, 1),
                        op(&db.d_xw, 0, g * h, 1),
                        op(&self.grads, param(l, d, 2), g * h, 1),
                        None,
                        true,
                        lstm.then(|| param(l, d, 3)),
                    );
                    // dW_hh = Σ_s d_hw[s]ᵀ h[s - 1]: rows of step t paired with rows of the
                    // previous step in processing order (t - 1 forward, t + 1 reverse).
                    let (a_off, b_row) = if d == 0 {
                        (batch * g * h, 0)
                    } else {
                        (0, batch)
                    };
                    rec.matmul(
                        g * h,
                        h,
                        rows - batch,
                        op(d_hw, a_off, 1, g * h),
                        op(&outs[l], b_row * width + d * h, width, 1),
                        op(&self.grads, param(l, d, 1), h, 1),
                        None,
                        true,
                    );
                    if !lstm {
                        rec.matmul(
                            1,
                            g * h,
                            rows,
                            op(&ones, 0, 0, 1),
                            op(d_hw, 0, g * h, 1),
                            op(&self.grads, param(l, d, 3), g * h, 1),
                            None,
                            true,
                        );
                    }
                    // dX = d_xw W_ih, summed over directions
                    if l > 0 {
                        rec.matmul(
                            rows,
                            i_l,
                            g * h,
                            op(&db.d_xw, 0, g * h, 1),
                            op(&self.params, param(l, d, 0), i_l, 1),
                            op(d_input_of(l), 0, i_l, 1),
                            None,
                            d > 0,
                        );
                    }
                }
                if l > 0
                    && let Some(src) = &d_dropped[l]
                {
                    let dst = d_outs[l - 1].as_ref().expect("training");
                    rec.dropout(batch, steps, width, l - 1, src, dst);
                }
            }
        }
        Ok(Plan {
            x,
            y,
            mask,
            lengths,
            pred,
            dispatches: rec.out,
        })
    }

    /// The dispatches of clipping and Adam, recorded once: the end of every training step.
    fn record_update(&self) -> Vec<Dispatch> {
        let mut rec = Recorder {
            e: self,
            out: Vec::new(),
        };
        let u = uniform(
            &self.gpu,
            &CountDims {
                n: self.n_params as u32,
                flag: 0,
                pad: [0; 2],
            },
        );
        let base = rec.bind(Kernel::GradNorm, 0, 0, &[&u, &self.grads]);
        let norm = rec.bind(Kernel::GradNorm, 1, 0, &[&self.norm]);
        rec.push(Kernel::GradNorm, vec![base, norm], [1, 1, 1]);
        let base = rec.bind(
            Kernel::AdamStep,
            0,
            0,
            &[&u, &self.grads, &self.step_uniform],
        );
        let update = rec.bind(
            Kernel::AdamStep,
            1,
            1,
            &[&self.norm, &self.params, &self.m, &self.v],
        );
        rec.push(Kernel::AdamStep, vec![base, update], grid(self.n_params));
        rec.out
    }

    /// The largest buffer a plan may bind: the adapter's binding and buffer limits.
    fn max_buffer_bytes(&self) -> u64 {
        let limits = &self.gpu.limits;
        limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
    }

    /// How a batch of `batch` sequences of `steps` steps runs: the sequence ranges of its
    /// micro-batches. One range (the whole batch) unless one of the step's buffers would exceed
    /// what the adapter binds or allocates, or a dispatch grid its limit; then the batch splits
    /// into as few equal micro-batches as fit. Fails where a single sequence does not fit.
    fn micro_batches(&self, batch: usize, steps: usize) -> Result<Vec<std::ops::Range<usize>>> {
        let c = &self.config;
        let max_bytes = self.max_buffer_bytes();
        // The widest per-row buffer: gates [rows, 4H]; xw and d_xw are [rows, gates · H].
        let row_floats = (4 * c.hidden_size)
            .max(c.hidden_size * c.directions())
            .max(c.input_size);
        let row_bytes = row_floats as u64 * F32;
        let max_rows =
            (max_bytes / row_bytes).min(u64::from(MAX_GROUPS) * u64::from(MATMUL_BLOCK)) as usize;
        let fit = max_rows / steps.max(1);
        if fit == 0 {
            bail!(
                "one sequence of {steps} steps needs {} MiB of GPU buffer for its gates, more \
                 than this adapter's {} MiB per buffer; use shorter sequences (--seq-len) or \
                 --device cpu",
                (steps as u64 * row_bytes) >> 20,
                max_bytes >> 20
            );
        }
        let parts = batch.div_ceil(fit).max(1);
        let size = batch.div_ceil(parts);
        Ok((0..batch)
            .step_by(size.max(1))
            .map(|b0| b0..(b0 + size).min(batch))
            .collect())
    }

    /// Uploads sequences `seqs` of a batch and submits their plan's dispatches, preceded by
    /// clearing the gradients (`clear_grads`) and followed by `update`; returns the plan's key.
    fn run(
        &mut self,
        batch: &Batch<f32>,
        seqs: std::ops::Range<usize>,
        training: bool,
        use_masking: bool,
        clear_grads: bool,
        update: bool,
    ) -> Result<PlanKey> {
        let (b, t, inputs) = (seqs.len(), batch.steps, batch.inputs);
        let key = (b, t, training, use_masking);
        if !self.plans.contains_key(&key) {
            // A step or an evaluation uses at most two shapes (the full batch and the last,
            // partial one); more than MAX_PLANS means the shapes changed: free the old ones.
            if self.plans.len() >= MAX_PLANS {
                self.plans.clear();
            }
            let plan = self
                .gpu
                .checked("preparing the GPU buffers", || self.plan(key))??;
            self.plans.insert(key, plan);
        }
        let plan = &self.plans[&key];
        let q = &self.gpu.queue;
        let time_major = |values: &[f32], width: usize| {
            crate::engine::layout::to_time_major(
                &values[seqs.start * t * width..seqs.end * t * width],
                b,
                t,
                width,
            )
        };
        q.write_buffer(
            &plan.x,
            0,
            bytemuck::cast_slice(&time_major(&batch.x, inputs)),
        );
        q.write_buffer(&plan.y, 0, bytemuck::cast_slice(&time_major(&batch.y, 1)));
        q.write_buffer(
            &plan.mask,
            0,
            bytemuck::cast_slice(&time_major(&batch.mask, 1)),
        );
        let lengths: Vec<u32> = batch.lengths[seqs].iter().map(|&l| l as u32).collect();
        q.write_buffer(&plan.lengths, 0, bytemuck::cast_slice(&lengths));
        let after: &[Dispatch] = if update { &self.update } else { &[] };
        self.submit(clear_grads, plan.dispatches.iter().chain(after));
        Ok(key)
    }

    /// Records `dispatches` in one compute pass, after clearing the gradients if `clear_grads`,
    /// and submits it (one submit, no waiting).
    fn submit<'d>(&self, clear_grads: bool, dispatches: impl Iterator<Item = &'d Dispatch>) {
        let mut encoder = self.gpu.device.create_command_encoder(&Default::default());
        if clear_grads {
            encoder.clear_buffer(&self.grads, 0, None);
        }
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("step"),
                timestamp_writes: None,
            });
            for d in dispatches {
                pass.set_pipeline(self.kernels.get(d.kernel));
                for (i, g) in d.groups.iter().enumerate() {
                    pass.set_bind_group(i as u32, g, &[]);
                }
                let [x, y, z] = d.workgroups;
                pass.dispatch_workgroups(x, y, z);
            }
        }
        self.gpu.queue.submit([encoder.finish()]);
        let _ = self.gpu.device.poll(wgpu::PollType::Poll);
    }

    /// Submits, alone, the dispatches of `kernel` in a training step of `batch`'s shape (the
    /// first micro-batch's plan), on the buffers the last step left, and waits; returns how
    /// many there were. Run a training step of this shape first. For profiling and benches:
    /// after it the engine's state is whatever those dispatches made of it.
    pub fn run_kernel(&self, batch: &Batch<f32>, masking: bool, kernel: Kernel) -> Result<usize> {
        let seqs = self.micro_batches(batch.batch, batch.steps)?[0].len();
        let Some(plan) = self.plans.get(&(seqs, batch.steps, true, masking)) else {
            bail!("run_kernel: no training step of this shape has run yet");
        };
        let dispatches: Vec<&Dispatch> = plan
            .dispatches
            .iter()
            .chain(&self.update)
            .filter(|d| d.kernel == kernel)
            .collect();
        self.submit(false, dispatches.iter().copied());
        self.finish()?;
        Ok(dispatches.len())
    }

    /// The gradients of the last training step (state_dict order, before clipping), read
    /// back: for tests and inspection, never on the training path.
    pub fn gradients(&self) -> Result<Vec<Vec<f32>>> {
        Ok(self.unflatten(&self.read_f32(&self.grads, self.n_params)?))
    }

    fn read_f32(&self, buffer: &wgpu::Buffer, floats: usize) -> Result<Vec<f32>> {
        Ok(bytemuck::pod_collect_to_vec(
            &self.gpu.read(buffer, floats as u64 * F32)?,
        ))
    }

    fn unflatten(&self, flat: &[f32]) -> Vec<Vec<f32>> {
        self.offsets
            .iter()
            .zip(&self.shapes)
            .map(|(&o, s)| flat[o..o + s.iter().product::<usize>()].to_vec())
            .collect()
    }
}

impl Engine for GpuEngine {
    fn describe(&self) -> String {
        format!(
            "GPU engine on {} ({})",
            super::describe(&self.gpu.info),
            if super::is_software(&self.gpu.info) {
                "software adapter"
            } else {
                "hardware adapter"
            }
        )
    }

    fn train_step(&mut self, batch: &Batch<f32>, step: &StepConfig) -> Result<()> {
        self.adam_step += 1;
        let adam = AdamConfig::new(step.lr, step.weight_decay);
        let mut seeds = [0u32; MAX_LAYERS];
        for (l, s) in seeds.iter_mut().enumerate() {
            *s = rng::dropout_seed(step.seed, self.adam_step, l as u32);
        }
        let uniform = StepUniform {
            seeds,
            step_size: adam.step_size(self.adam_step) as f32,
            bias2_sqrt: adam.bias2_sqrt(self.adam_step) as f32,
            weight_decay: adam.weight_decay as f32,
            clip: step.grad_clip as f32,
            beta1: adam.beta1 as f32,
            beta2: adam.beta2 as f32,
            eps: adam.eps as f32,
            dropout: self.config.dropout as f32,
            ..StepUniform::default()
        };
        // 1 / Σ w of the whole batch, the loss's normalization in every micro-batch.
        let weight: f64 = if step.use_masking {
            batch.mask.iter().map(|&m| f64::from(m)).sum()
        } else {
            (batch.batch * batch.steps) as f64
        };
        let inv_weight = if weight > 0.0 {
            (1.0 / weight) as f32
        } else {
            0.0
        };
        let parts = self.micro_batches(batch.batch, batch.steps)?;
        let last = parts.len() - 1;
        let mut dispatches = 0;
        for (i, seqs) in parts.iter().enumerate() {
            let uniform = StepUniform {
                first_sequence: seqs.start as u32,
                inv_weight,
                batches: if i == 0 { 1.0 } else { 0.0 },
                ..uniform
            };
            // Each submit sees the uniform written just before it (writes are ordered with
            // submits), so every micro-batch has its own.
            self.gpu
                .queue
                .write_buffer(&self.step_uniform, 0, bytemuck::bytes_of(&uniform));
            let key = self.run(
                batch,
                seqs.clone(),
                true,
                step.use_masking,
                i == 0,
                i == last,
            )?;
            dispatches += self.plans[&key].dispatches.len();
        }
        self.last_counts = StepCounts {
            dispatches: dispatches + self.update.len(),
            submits: parts.len(),
            readbacks: 0,
        };
        Ok(())
    }

    fn take_train_sums(&mut self) -> Result<TrainSums> {
        let s = self.read_f32(&self.sums, 4)?;
        self.gpu
            .queue
            .write_buffer(&self.sums, 0, bytemuck::cast_slice(&[0.0f32; 4]));
        Ok(TrainSums {
            loss: f64::from(s[0]),
            batches: s[1] as u64,
            abs_error: f64::from(s[2]),
            valid_steps: f64::from(s[3]),
        })
    }

    fn predict(&mut self, batch: &Batch<f32>) -> Result<Vec<f32>> {
        let mut pred = Vec::with_capacity(batch.batch * batch.steps);
        for seqs in self.micro_batches(batch.batch, batch.steps)? {
            let b = seqs.len();
            let key = self.run(batch, seqs, false, true, false, false)?;
            let part = self.read_f32(&self.plans[&key].pred, b * batch.steps)?;
            pred.extend(crate::engine::layout::to_batch_first(
                &part,
                b,
                batch.steps,
                1,
            ));
        }
        Ok(pred)
    }

    fn params(&self) -> Result<Params<f32>> {
        let flat = self.read_f32(&self.params, self.n_params)?;
        Ok(Params {
            names: self.names.clone(),
            shapes: self.shapes.clone(),
            values: self.unflatten(&flat),
        })
    }

    fn step_counts(&self) -> StepCounts {
        self.last_counts
    }

    fn adapter(&self) -> (String, String) {
        (
            self.gpu.info.name.clone(),
            format!("{:?}", self.gpu.info.backend).to_lowercase(),
        )
    }

    fn batch_note(&self, batch: usize, steps: usize) -> Option<String> {
        let parts = self.micro_batches(batch, steps).ok()?;
        (parts.len() > 1).then(|| {
            format!(
                "GPU engine: a batch of {batch} x {steps} steps exceeds this adapter's {} MiB per \
                 buffer; each step runs as {} micro-batches of up to {} sequences (one submit \
                 each, gradients accumulated: the same step)",
                self.max_buffer_bytes() >> 20,
                parts.len(),
                parts[0].len()
            )
        })
    }

    fn profile(&mut self, batch: &Batch<f32>, step: &StepConfig) -> Result<Vec<KernelTime>> {
        self.train_step(batch, step)?;
        self.finish()?;
        let mut times = Vec::new();
        for kernel in Kernel::ALL {
            let start = std::time::Instant::now();
            let dispatches = self.run_kernel(batch, step.use_masking, kernel)?;
            if dispatches > 0 {
                times.push(KernelTime {
                    kernel: kernel.source().1.to_string(),
                    dispatches,
                    ms: start.elapsed().as_secs_f64() * 1e3,
                });
            }
        }
        times.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        Ok(times)
    }

    fn finish(&self) -> Result<()> {
        self.gpu
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| anyhow::anyhow!("waiting for the GPU failed (device lost?): {e}"))?;
        Ok(())
    }

    fn gemm_gflops(&self, n: usize, repeats: usize) -> Result<f64> {
        let gpu = &self.gpu;
        let a = storage_init(
            gpu,
            "gemm a",
            &(0..n * n).map(|i| (i % 7) as f32 * 0.1).collect::<Vec<_>>(),
        );
        let c = storage(gpu, "gemm c", n * n);
        let mut rec = Recorder {
            e: self,
            out: Vec::new(),
        };
        rec.matmul(
            n,
            n,
            n,
            op(&a, 0, n, 1),
            op(&a, 0, 1, n),
            op(&c, 0, n, 1),
            None,
            false,
        );
        let dispatches = rec.out;
        let run = || {
            self.submit(false, dispatches.iter());
            self.finish()
        };
        run()?;
        let mut best = f64::MAX;
        for _ in 0..repeats {
            let start = std::time::Instant::now();
            run()?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        Ok(2.0 * (n as f64).powi(3) / best / 1e9)
    }

    fn optimizer(&self) -> Result<AdamState<f32>> {
        let m = self.read_f32(&self.m, self.n_params)?;
        let v = self.read_f32(&self.v, self.n_params)?;
        Ok(AdamState {
            step: self.adam_step,
            exp_avg: self.unflatten(&m),
            exp_avg_sq: self.unflatten(&v),
        })
    }
}
