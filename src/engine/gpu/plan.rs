//! A plan: the activation buffers and the recorded dispatches of one training step (or one
//! evaluation) of one batch shape. It is recorded in the order of the maths: [`forward`]
//! through the layers, [`loss_and_head`], [`backward`] down through the layers; the
//! [`update`] (clipping and Adam) is recorded once per engine and ends every step.
//!
//! [`forward`]: PlanRecorder::forward
//! [`loss_and_head`]: PlanRecorder::loss_and_head
//! [`backward`]: PlanRecorder::backward

use super::Gpu;
use super::bindings::*;
use super::buffers::{Activations, DirectionBuffers, Persistent, Shape};
use super::kernels::{Kernels, LOOP_BUDGET, RECURRENCE_WG};
use super::params::ParamOffsets;
use super::recorder::{Dispatch, Gemm, Recorder, op};
use super::uniforms::{AdamDims, DropoutDims, LossDims, RecurrenceDims};
use crate::model::{Cell, ModelConfig};

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

/// Steps one recurrence dispatch may cover under the loop budget. The kernels' dot products run
/// H/4 unrolled iterations plus H mod 4 single ones (in the backward pass, each with a loop over
/// the gates inside), per hidden unit an invocation handles.
pub fn steps_per_dispatch(config: &ModelConfig, backward: bool) -> usize {
    let h = config.hidden_size;
    let units = h.div_ceil(RECURRENCE_WG);
    let remainder = if backward {
        (h % 4) * (config.model.gates() + 1)
    } else {
        h % 4
    };
    let inner = h / 4 + remainder;
    (LOOP_BUDGET / (units * (inner + 3) + 4)).max(1)
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

    /// Layer by layer from the top: per direction the recurrence backward, the weight
    /// gradients and the input's gradient; then the dropout of the layer's input.
    fn backward(&mut self) {
        for l in (0..self.cx.config.num_layers).rev() {
            for d in 0..self.cx.config.directions() {
                self.recurrence_backward(l, d);
                self.weight_gradients(l, d);
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

    /// The time loop split into dispatches under the loop budget: (first step, steps).
    fn time_chunks(&self, backward: bool) -> Vec<(usize, usize)> {
        let (steps, per) = (
            self.shape.steps,
            steps_per_dispatch(self.cx.config, backward),
        );
        (0..steps)
            .step_by(per)
            .map(|s| (s, per.min(steps - s)))
            .collect()
    }

    /// The recurrence uniform of layer `l`, direction `d`, steps `s_start .. + s_count`.
    fn recurrence_dims(
        &self,
        l: usize,
        d: usize,
        (s_start, s_count): (usize, usize),
    ) -> RecurrenceDims {
        let h = self.cx.config.hidden_size;
        let p = self.cx.offsets.layer(l, d);
        RecurrenceDims {
            batch: self.shape.batch as u32,
            steps: self.shape.steps as u32,
            hidden: h as u32,
            s_start: s_start as u32,
            s_count: s_count as u32,
            reverse: d as u32,
            w_hh_off: p.w_hh as u32,
            b_hh_off: p.b_hh as u32,
            out_stride: self.width() as u32,
            out_col: (d * h) as u32,
            pad: [0; 2],
        }
    }

    /// The recurrence of layer `l`, direction `d`, forward through time.
    fn recurrence_forward(&mut self, l: usize, d: usize) {
        let (acts, params) = (self.acts, &self.cx.persistent.params);
        let (layer, batch) = (&acts.layers[l], self.shape.batch);
        let db = &layer.directions[d];
        for chunk in self.time_chunks(false) {
            let dims = self.rec.uniform(&self.recurrence_dims(l, d, chunk));
            match self.cx.config.model {
                Cell::Lstm => self.rec.lstm_forward(
                    &LstmForwardBindings {
                        dims: &dims,
                        params,
                        lengths: &acts.inputs.lengths,
                        xw: &db.xw,
                        out: &layer.out,
                        cell: &db.cell,
                        gates: &db.gates,
                    },
                    batch,
                ),
                Cell::Gru => self.rec.gru_forward(
                    &GruForwardBindings {
                        dims: &dims,
                        params,
                        lengths: &acts.inputs.lengths,
                        xw: &db.xw,
                        out: &layer.out,
                        gates: &db.gates,
                    },
                    batch,
                ),
            }
        }
    }

    /// The recurrence of layer `l`, direction `d`, backward through time: d_xw (and the GRU's
    /// d_hw) from d_out.
    fn recurrence_backward(&mut self, l: usize, d: usize) {
        let (acts, params) = (self.acts, &self.cx.persistent.params);
        let (layer, batch) = (&acts.layers[l], self.shape.batch);
        let db = &layer.directions[d];
        for chunk in self.time_chunks(true).into_iter().rev() {
            let dims = self.rec.uniform(&self.recurrence_dims(l, d, chunk));
            match &db.d_hw {
                None => self.rec.lstm_backward(
                    &LstmBackwardBindings {
                        dims: &dims,
                        params,
                        lengths: &acts.inputs.lengths,
                        cell_in: &db.cell,
                        gates_in: &db.gates,
                        d_out: layer.d_out(),
                        d_xw: &db.d_xw,
                        carry: &db.carry,
                    },
                    batch,
                ),
                Some(d_hw) => self.rec.gru_backward(
                    &GruBackwardBindings {
                        dims: &dims,
                        params,
                        lengths: &acts.inputs.lengths,
                        out_in: &layer.out,
                        gates_in: &db.gates,
                        d_out: layer.d_out(),
                        d_xw: &db.d_xw,
                        d_hw,
                        carry: &db.carry,
                    },
                    batch,
                ),
            }
        }
    }

    /// dW_ih, db_ih, dW_hh, db_hh of layer `l`, direction `d`, accumulated into the gradients.
    fn weight_gradients(&mut self, l: usize, d: usize) {
        let (i_l, gh, h) = (
            self.cx.config.layer_input(l),
            self.gates_width(),
            self.cx.config.hidden_size,
        );
        let (rows, batch, width) = (self.shape.rows(), self.shape.batch, self.width());
        let (grads, p) = (&self.cx.persistent.grads, self.cx.offsets.layer(l, d));
        let (acts, layer) = (self.acts, &self.acts.layers[l]);
        let db: &DirectionBuffers = &layer.directions[d];
        // The LSTM's d_hw is its d_xw: both biases get the same sum, computed once.
        let (d_hw, lstm) = match &db.d_hw {
            Some(d_hw) => (d_hw, false),
            None => (&db.d_xw, true),
        };
        // dW_ih = d_xwᵀ X
        self.rec.matmul(
            &Gemm::new(
                (gh, i_l, rows),
                op(&db.d_xw, 0, 1, gh),
                op(acts.input_of(l), 0, i_l, 1),
                op(grads, p.w_ih, i_l, 1),
            )
            .accumulate(true),
        );
        // db_ih = 1ᵀ d_xw (for the LSTM also db_hh)
        self.rec.matmul(
            &Gemm::new(
                (1, gh, rows),
                op(&acts.ones, 0, 0, 1),
                op(&db.d_xw, 0, gh, 1),
                op(grads, p.b_ih, gh, 1),
            )
            .accumulate(true)
            .copy_to(lstm.then_some(p.b_hh)),
        );
        // dW_hh = Σ_s d_hw[s]ᵀ h[s - 1]: rows of step t paired with rows of the previous step
        // in processing order (t - 1 forward, t + 1 reverse).
        let (a_off, b_row) = if d == 0 { (batch * gh, 0) } else { (0, batch) };
        self.rec.matmul(
            &Gemm::new(
                (gh, h, rows - batch),
                op(d_hw, a_off, 1, gh),
                op(&layer.out, b_row * width + d * h, width, 1),
                op(grads, p.w_hh, h, 1),
            )
            .accumulate(true),
        );
        // db_hh = 1ᵀ d_hw (GRU)
        if !lstm {
            self.rec.matmul(
                &Gemm::new(
                    (1, gh, rows),
                    op(&acts.ones, 0, 0, 1),
                    op(d_hw, 0, gh, 1),
                    op(grads, p.b_hh, gh, 1),
                )
                .accumulate(true),
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
