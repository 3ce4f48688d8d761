//! The recurrences' part of a plan: each layer and direction's time loop, split into
//! dispatches that stay under the software adapters' loop cap, forward and backward.

use super::PlanRecorder;
use crate::engine::gpu::bindings::*;
use crate::engine::gpu::kernels::LOOP_BUDGET;
use crate::engine::gpu::uniforms::RecurrenceDims;
use crate::engine::gpu::variant::Variant;
use crate::model::{Cell, ModelConfig};

/// Steps one recurrence dispatch may cover under the loop budget. Per step, an invocation with
/// `units` hidden units (of `recurrence_wg` invocations) loops over them once (the forward
/// pass's store of h, the backward pass's gradients) and, in passes of `units_per_pass`
/// units, over the dot products: H/4 unrolled iterations plus H mod 4 single ones (in the
/// backward pass, each with a loop over the gates inside), and two short loops over the units
/// of the pass.
fn steps_per_dispatch(config: &ModelConfig, variant: &Variant, backward: bool) -> usize {
    let h = config.hidden_size;
    let units = h.div_ceil(variant.recurrence_wg as usize);
    let per_pass = variant.units_per_pass(h) as usize;
    let remainder = if backward {
        (h % 4) * (config.model.gates() + 1)
    } else {
        h % 4
    };
    let inner = h / 4 + remainder;
    let per_step = units.div_ceil(per_pass) * (inner + 2 * per_pass + 1) + units + 4;
    (LOOP_BUDGET / per_step).max(1)
}

impl PlanRecorder<'_> {
    /// The time loop split into dispatches under the loop budget: (first step, steps).
    fn time_chunks(&self, backward: bool) -> Vec<(usize, usize)> {
        let (steps, per) = (
            self.shape.steps,
            steps_per_dispatch(self.cx.config, self.cx.kernels.variant(), backward),
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
    pub(super) fn recurrence_forward(&mut self, l: usize, d: usize) {
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
    pub(super) fn recurrence_backward(&mut self, l: usize, d: usize) {
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
}
