//! The GPU buffers: helpers that make them, the buffers that live as long as the engine
//! ([`Persistent`]) and the activations of one batch shape ([`Activations`]).

use super::Gpu;
use super::kernels::LANES;
use super::uniforms::{Step, Uniform};
use crate::model::{Cell, ModelConfig};
use wgpu::util::DeviceExt;

/// Bytes per f32.
pub const F32: u64 = 4;

/// A zeroed storage buffer of `floats` f32 (at least 4), that can be written and read back.
pub fn storage(gpu: &Gpu, label: &str, floats: usize) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (floats.max(4) as u64) * F32,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// A storage buffer holding `data` (padded to at least 4 values).
pub fn storage_init<T: bytemuck::Pod + Default>(
    gpu: &Gpu,
    label: &str,
    data: &[T],
) -> wgpu::Buffer {
    let mut padded = data.to_vec();
    padded.resize(data.len().max(4), T::default());
    gpu.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(&padded),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
        })
}

/// A uniform buffer holding `value`, written once.
pub fn uniform<T: Uniform>(gpu: &Gpu, value: &T) -> wgpu::Buffer {
    gpu.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(T::WGSL_NAME),
            contents: bytemuck::bytes_of(value),
            usage: wgpu::BufferUsages::UNIFORM,
        })
}

/// A uniform buffer for a [`Step`], written before every submit.
pub fn step_uniform(gpu: &Gpu) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("step"),
        size: std::mem::size_of::<Step>() as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// The buffers that live as long as the engine.
pub struct Persistent {
    /// The parameters, flat in state_dict order.
    pub params: wgpu::Buffer,
    /// Their gradients (cleared at the start of each step, then accumulated).
    pub grads: wgpu::Buffer,
    /// Adam's first moments.
    pub m: wgpu::Buffer,
    /// Adam's second moments.
    pub v: wgpu::Buffer,
    /// The epoch sums of loss.wgsl: loss, batches, Σ |error|, valid steps.
    pub sums: wgpu::Buffer,
    /// The gradients' global norm.
    pub norm: wgpu::Buffer,
    /// The step uniform ([`Step`]).
    pub step: wgpu::Buffer,
}

impl Persistent {
    /// Uploads the parameters and Adam's moments (each flat, of the same length).
    pub fn new(gpu: &Gpu, params: &[f32], m: &[f32], v: &[f32]) -> Persistent {
        Persistent {
            params: storage_init(gpu, "params", params),
            grads: storage(gpu, "grads", params.len()),
            m: storage_init(gpu, "adam m", m),
            v: storage_init(gpu, "adam v", v),
            sums: storage(gpu, "epoch sums", 4),
            norm: storage(gpu, "grad norm", 4),
            step: step_uniform(gpu),
        }
    }
}

/// The shape a plan is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Sequences.
    pub batch: usize,
    /// Time steps.
    pub steps: usize,
    /// A training step (else an evaluation: the forward pass alone).
    pub training: bool,
    /// Masked loss (else the plain mean).
    pub use_masking: bool,
}

impl Shape {
    /// Rows of a time-major tensor: T·B.
    pub fn rows(&self) -> usize {
        self.batch * self.steps
    }
}

/// The batch, time-major, written before each submit.
pub struct Inputs {
    /// Features `[T·B, I]`.
    pub x: wgpu::Buffer,
    /// Targets `[T·B]`.
    pub y: wgpu::Buffer,
    /// Mask `[T·B]`.
    pub mask: wgpu::Buffer,
    /// Valid lengths `[B]` (u32).
    pub lengths: wgpu::Buffer,
}

/// Activations of one direction of one layer.
pub struct DirectionBuffers {
    /// `X W_ihᵀ + b_ih` `[T·B, G H]`.
    pub xw: wgpu::Buffer,
    /// The LSTM's c `[T·B, H]` (a stub for the GRU).
    pub cell: wgpu::Buffer,
    /// The gates after their activations `[T·B, 4H]`.
    pub gates: wgpu::Buffer,
    /// The gradient of `xw` (training).
    pub d_xw: wgpu::Buffer,
    /// The GRU's gradient of `h W_hhᵀ + b_hh` (training); the LSTM's is `d_xw`.
    pub d_hw: Option<wgpu::Buffer>,
    /// The backward pass's carry between dispatches (see lstm.wgsl, gru.wgsl).
    pub carry: wgpu::Buffer,
}

/// Activations of one layer.
pub struct LayerBuffers {
    /// h of both directions `[T·B, H × directions]`.
    pub out: wgpu::Buffer,
    /// Its gradient (training).
    pub d_out: Option<wgpu::Buffer>,
    /// The layer's input after dropout (layers above the first, with dropout).
    pub dropped: Option<wgpu::Buffer>,
    /// Its gradient (training, with dropout).
    pub d_dropped: Option<wgpu::Buffer>,
    /// Per direction.
    pub directions: Vec<DirectionBuffers>,
}

/// Everything one batch shape needs beyond the persistent buffers.
pub struct Activations {
    /// The batch.
    pub inputs: Inputs,
    /// Predictions `[T·B]`.
    pub pred: wgpu::Buffer,
    /// Their gradient.
    pub d_pred: wgpu::Buffer,
    /// Ones `[T·B]`: bias gradients are `1ᵀ dA`.
    pub ones: wgpu::Buffer,
    /// Per layer.
    pub layers: Vec<LayerBuffers>,
}

impl Activations {
    /// Allocates the buffers of `shape` for `config`.
    pub fn new(gpu: &Gpu, c: &ModelConfig, shape: Shape) -> Activations {
        let rows = shape.rows();
        let inputs = Inputs {
            x: storage(gpu, "x", rows * c.input_size),
            y: storage(gpu, "y", rows),
            mask: storage(gpu, "mask", rows),
            lengths: storage(gpu, "lengths", shape.batch),
        };
        let dropout = shape.training && c.dropout > 0.0;
        let width = c.hidden_size * c.directions();
        let layers = (0..c.num_layers)
            .map(|l| LayerBuffers {
                out: storage(gpu, "out", rows * width),
                d_out: shape.training.then(|| storage(gpu, "d_out", rows * width)),
                dropped: (dropout && l > 0).then(|| storage(gpu, "dropped", rows * width)),
                d_dropped: (dropout && l > 0).then(|| storage(gpu, "d_dropped", rows * width)),
                directions: (0..c.directions())
                    .map(|_| DirectionBuffers::new(gpu, c, shape))
                    .collect(),
            })
            .collect();
        Activations {
            inputs,
            pred: storage(gpu, "pred", rows),
            d_pred: storage(gpu, "d_pred", rows),
            ones: storage_init(gpu, "ones", &vec![1.0f32; rows]),
            layers,
        }
    }

    /// Layer `l`'s input: x, the previous layer's output, or that after dropout.
    pub fn input_of(&self, l: usize) -> &wgpu::Buffer {
        if l == 0 {
            return &self.inputs.x;
        }
        let layer = &self.layers[l];
        layer.dropped.as_ref().unwrap_or(&self.layers[l - 1].out)
    }

    /// The gradient of layer `l`'s input (`l > 0`, training).
    pub fn d_input_of(&self, l: usize) -> &wgpu::Buffer {
        self.layers[l]
            .d_dropped
            .as_ref()
            .unwrap_or_else(|| self.layers[l - 1].d_out())
    }
}

impl LayerBuffers {
    /// The gradient of the output (training plans only).
    pub fn d_out(&self) -> &wgpu::Buffer {
        self.d_out.as_ref().expect("a training plan")
    }
}

impl DirectionBuffers {
    fn new(gpu: &Gpu, c: &ModelConfig, shape: Shape) -> DirectionBuffers {
        let (rows, h, g) = (shape.rows(), c.hidden_size, c.model.gates());
        let lstm = c.model == Cell::Lstm;
        // The carry holds, per lane and unit, d_h_rec and d_c (LSTM) and the current step's d_a
        // (4 gates LSTM, 3 GRU).
        let carried = if lstm { 6 } else { 4 };
        let lanes = shape.batch.div_ceil(LANES) * LANES;
        DirectionBuffers {
            xw: storage(gpu, "xw", rows * g * h),
            cell: storage(gpu, "cell", if lstm { rows * h } else { 4 }),
            gates: storage(gpu, "gates", rows * 4 * h),
            d_xw: storage(gpu, "d_xw", if shape.training { rows * g * h } else { 4 }),
            d_hw: (shape.training && !lstm).then(|| storage(gpu, "d_hw", rows * g * h)),
            carry: storage(gpu, "carry", lanes * carried * h),
        }
    }
}
