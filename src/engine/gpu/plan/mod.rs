//! A plan: the activation buffers and the recorded dispatches of one training step (or one
//! evaluation) of one batch shape. It is recorded in the order of the maths: `forward` through
//! the layers, `loss_and_head`, `backward` down through the layers (methods of the plan's
//! recorder, one per stage); the [`update`] (clipping and Adam) is recorded once per engine and
//! ends every step. The recurrences' time loops are in plan/recurrence.rs.

mod recurrence;

use super::Gpu;
use super::bindings::*;
use super::buffers::{Activations, Persistent, Shape};
use super::kernels::Kernels;
use super::params::ParamOffsets;
use super::recorder::{Dispatch, Gemm, Recorder, op};
use super::uniforms::{AdamDims, DropoutDims, LossDims};
use crate::model::ModelConfig;

/// What plans are recorded against: the engine's device, pipelines, model and buffers.
pub struct Context<'a> {
    /// The device.
    pub gpu: &'a Gpu,
    /// The pipelines.
    pub kernels: &'a Kernels,
    /// The model.
    pub config: &'a ModelConfig,
    /// Where each parameter tensor lives.
    pub offsets: &'a ParamOffsets,
    /// Parameters, gradients, moments, sums, the step uniform.
    pub persistent: &'a Persistent,
}

/// Buffers and dispatches for one batch shape.
pub struct Plan {
    /// The activations (the batch's inputs and the predictions among them).
    pub acts: Activations,
    /// The step's dispatches, without the update.
    pub dispatches: Vec<Dispatch>,
}

impl Plan {
    /// Allocates the buffers of `shape` and records its dispatches.
    pub fn new(cx: &Context, shape: Shape) -> Plan {
        let acts = Activations::new(cx.gpu, cx.config, shape);
        let mut plan = PlanRecorder {
            cx,
            shape,
            acts: &acts,
            rec: Recorder::new(cx.gpu, cx.kernels),
        };
        plan.forward();
        if shape.training {
            plan.loss_and_head();
            plan.backward();
        }
        let dispatches = plan.rec.finish();
        Plan { acts, dispatches }
    }
}

/// The dispatches of clipping and Adam, recorded once: the end of every training step.
pub fn update(cx: &Context) -> Vec<Dispatch> {
    let p = cx.persistent;
    let count = cx.offsets.total;
    let mut rec = Recorder::new(cx.gpu, cx.kernels);
    let dims = rec.uniform(&AdamDims {
        count: count as u32,
        pad: [0; 3],
    });
    rec.grad_norm(&GradNormBindings {
        dims: &dims,
        grads: &p.grads,
        norm: &p.norm,
    });
    let bindings = AdamStepBindings {
        dims: &dims,
        grads: &p.grads,
        step: &p.step,
        norm_in: &p.norm,
        params: &p.params,
        m: &p.m,
        v: &p.v,
    };
    rec.adam_step(&bindings, count);
    rec.finish()
}

/// Records one plan.
struct PlanRecorder<'a> {
    cx: &'a Context<'a>,
    shape: Shape,
    acts: &'a Activations,
    rec: Recorder<'a>,
}

impl PlanRecorder<'_> {
    /// Layer by layer: dropout of the input (above the first), then per direction the input
    /// projection of all steps and the recurrence; then the head.
    fn forward(&mut self) {
        for l in 0..self.cx.config.num_layers {
            if let Some(dropped) = &self.acts.layers[l].dropped {
                self.dropout(l - 1, &self.acts.layers[l - 1].out, dropped);
            }
            for d in 0..self.cx.config.directions() {
                self.input_projection(l, d);
                self.recurrence_forward(l, d);
            }
        }
        self.head_forward();
    }

    /// The loss and d_pred, then the head's backward pass: d_top and the head's gradients.
    fn loss_and_head(&mut self) {
        let (p, acts, rows) = (self.cx.persistent, self.acts, self.shape.rows());
        let dims = self.rec.uniform(&LossDims {
            rows: rows as u32,
            use_masking: u32::from(self.shape.use_masking),
            pad: [0; 2],
        });
        self.rec.loss(&LossBindings {
            dims: &dims,
            pred: &acts.pred,
            y: &acts.inputs.y,
            mask: &acts.inputs.mask,
            sums: &p.sums,
            d_pred: &acts.d_pred,
            step: &p.step,
        });
        let width = self.width();
        let head = self.cx.offsets.head;
        let top = acts.layers.last().expect("a layer");
        // d_top = d_pred head.weight
        self.rec.matmul(&Gemm::new(
            (rows, width, 1),
            op(&acts.d_pred, 0, 1, 0),
            op(&p.params, head.weight, 0, 1),
            op(top.d_out(), 0, width, 1),
        ));
        // Weight gradients accumulate into grads, cleared at the start of each step (a batch
        // run as micro-batches adds each one's share): d head.weight = d_predᵀ top.
        self.rec.matmul(
            &Gemm::new(
                (1, width, rows),
                op(&acts.d_pred, 0, 0, 1),
                op(&top.out, 0, width, 1),
                op(&p.grads, head.weight, width, 1),
            )
            .accumulate(true),
        );
        // d head.bias = 1ᵀ d_pred
        self.rec.matmul(
            &Gemm::new(
                (1, 1, rows),
                op(&acts.ones, 0, 0, 1),
                op(&acts.d_pred, 0, 1, 1),
                op(&p.grads, head.bias, 1, 1),
            )
            .accumulate(true),
        );
    }

    /// Layer by layer from the top: per direction the recurrence backward, the weight and bias
    /// gradients and the input's gradient; then the dropout of the layer's input.
    fn backward(&mut self) {
        for l in (0..self.cx.config.num_layers).rev() {
            for d in 0..self.cx.config.directions() {
                self.recurrence_backward(l, d);
                self.weight_gradients(l, d);
                self.bias_gradients(l, d);
                if l > 0 {
                    self.input_gradient(l, d);
                }
            }
            if let Some(d_dropped) = &self.acts.layers[l].d_dropped {
                self.dropout(l - 1, d_dropped, self.acts.layers[l - 1].d_out());
            }
        }
    }

    /// H × directions: the width of a layer's output.
    fn width(&self) -> usize {
        self.cx.config.hidden_size * self.cx.config.directions()
    }

    /// G H: the width of the gates.
    fn gates_width(&self) -> usize {
        self.cx.config.hidden_size * self.cx.config.model.gates()
    }

    /// `dst = src ⊙ mask` of the dropout after `layer` (forward on outputs, backward on their
    /// gradients: the same mask).
    fn dropout(&mut self, layer: usize, src: &wgpu::Buffer, dst: &wgpu::Buffer) {
        let dims = self.rec.uniform(&DropoutDims {
            batch: self.shape.batch as u32,
            steps: self.shape.steps as u32,
            width: self.width() as u32,
            layer: layer as u32,
        });
        let bindings = DropoutBindings {
            dims: &dims,
            step: &self.cx.persistent.step,
            src,
            dst,
        };
        self.rec
            .dropout(&bindings, self.shape.rows() * self.width());
    }

    /// `XW = X W_ihᵀ + b_ih` of every step at once.
    fn input_projection(&mut self, l: usize, d: usize) {
        let (i_l, gh) = (self.cx.config.layer_input(l), self.gates_width());
        let params = &self.cx.persistent.params;
        let p = self.cx.offsets.layer(l, d);
        self.rec.matmul(
            &Gemm::new(
                (self.shape.rows(), gh, i_l),
                op(self.acts.input_of(l), 0, i_l, 1),
                op(params, p.w_ih, 1, i_l),
                op(&self.acts.layers[l].directions[d].xw, 0, gh, 1),
            )
            .bias(params, p.b_ih),
        );
    }

    /// The head: `pred = top head.weightᵀ + head.bias`.
    fn head_forward(&mut self) {
        let (width, head) = (self.width(), self.cx.offsets.head);
        let params = &self.cx.persistent.params;
        let top = &self.acts.layers.last().expect("a layer").out;
        self.rec.matmul(
            &Gemm::new(
                (self.shape.rows(), 1, width),
                op(top, 0, width, 1),
                op(params, head.weight, 1, 0),
                op(&self.acts.pred, 0, 1, 1),
            )
            .bias(params, head.bias),
        );
    }

    /// dW_ih and dW_hh of layer `l`, direction `d`, accumulated into the gradients.
    fn weight_gradients(&mut self, l: usize, d: usize) {
        let (i_l, gh, h) = (
            self.cx.config.layer_input(l),
            self.gates_width(),
            self.cx.config.hidden_size,
        );
        let (rows, batch, width) = (self.shape.rows(), self.shape.batch, self.width());
        let (grads, p) = (&self.cx.persistent.grads, self.cx.offsets.layer(l, d));
        let layer = &self.acts.layers[l];
        let db = &layer.directions[d];
        // dW_ih = d_xwᵀ X
        self.rec.matmul(
            &Gemm::new(
                (gh, i_l, rows),
                op(&db.d_xw, 0, 1, gh),
                op(self.acts.input_of(l), 0, i_l, 1),
                op(grads, p.w_ih, i_l, 1),
            )
            .accumulate(true),
        );
        // dW_hh = Σ_s d_hw[s]ᵀ h[s - 1]: rows of step t paired with rows of the previous step
        // in processing order (t - 1 forward, t + 1 reverse). The LSTM's d_hw is its d_xw.
        let (a_off, b_row) = if d == 0 { (batch * gh, 0) } else { (0, batch) };
        self.rec.matmul(
            &Gemm::new(
                (gh, h, rows - batch),
                op(db.d_hw.as_ref().unwrap_or(&db.d_xw), a_off, 1, gh),
                op(&layer.out, b_row * width + d * h, width, 1),
                op(grads, p.w_hh, h, 1),
            )
            .accumulate(true),
        );
    }

    /// db_ih and db_hh of layer `l`, direction `d`, accumulated into the gradients: `1ᵀ d_xw`
    /// and `1ᵀ d_hw`. The LSTM's d_hw is its d_xw: both biases get the same sum, computed once.
    fn bias_gradients(&mut self, l: usize, d: usize) {
        let (gh, rows) = (self.gates_width(), self.shape.rows());
        let (grads, p) = (&self.cx.persistent.grads, self.cx.offsets.layer(l, d));
        let (ones, db) = (&self.acts.ones, &self.acts.layers[l].directions[d]);
        // (d_a, where its sum goes, where a copy goes)
        let sums = match &db.d_hw {
            None => vec![(&db.d_xw, p.b_ih, Some(p.b_hh))],
            Some(d_hw) => vec![(&db.d_xw, p.b_ih, None), (d_hw, p.b_hh, None)],
        };
        for (d_a, off, copy_to) in sums {
            self.rec.matmul(
                &Gemm::new(
                    (1, gh, rows),
                    op(ones, 0, 0, 1),
                    op(d_a, 0, gh, 1),
                    op(grads, off, gh, 1),
                )
                .accumulate(true)
                .copy_to(copy_to),
            );
        }
    }

    /// dX = d_xw W_ih, summed over directions (the first writes, the second adds).
    fn input_gradient(&mut self, l: usize, d: usize) {
        let (i_l, gh) = (self.cx.config.layer_input(l), self.gates_width());
        let p = self.cx.offsets.layer(l, d);
        self.rec.matmul(
            &Gemm::new(
                (self.shape.rows(), i_l, gh),
                op(&self.acts.layers[l].directions[d].d_xw, 0, gh, 1),
                op(&self.cx.persistent.params, p.w_ih, i_l, 1),
                op(self.acts.d_input_of(l), 0, i_l, 1),
            )
            .accumulate(d > 0),
        );
    }
}
