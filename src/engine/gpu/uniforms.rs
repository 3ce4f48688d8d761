//! The uniform blocks the kernels read, each laid out exactly as the WGSL struct of the same
//! name (`#[repr(C)]`, 4-byte fields, padded to 16 bytes; `pad` is the WGSL's `_pad` members).
//! tests/engines/gpu_kernels.rs checks every size and offset against the WGSL with naga.

use super::kernels::MAX_LAYERS;
use crate::engine::optim::AdamConfig;
use crate::engine::{StepConfig, rng};

/// A uniform block with a WGSL twin of the same name.
pub trait Uniform: bytemuck::Pod {
    /// The WGSL struct's name: the Rust type's own.
    const WGSL_NAME: &'static str;
    /// Every field's name and byte offset, in declaration order (`pad` included).
    const FIELDS: &'static [(&'static str, usize)];
}

/// Declares uniform structs with their [`Uniform`] impls: one declaration per struct, so the
/// field list the test checks is the struct's own.
macro_rules! uniforms {
    ($($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident: $ty:ty,)* })*) => {$(
        $(#[$doc])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl Uniform for $name {
            const WGSL_NAME: &'static str = stringify!($name);
            const FIELDS: &'static [(&'static str, usize)] =
                &[$((stringify!($field), std::mem::offset_of!($name, $field)),)*];
        }
    )*};
}

uniforms! {
    /// `MatmulDims` of matmul.wgsl: `C = A B` through offsets and strides, one chunk of k.
    MatmulDims {
        /// Rows of C.
        m: u32,
        /// Columns of C.
        n: u32,
        /// The first k of this dispatch's chunk.
        k_start: u32,
        /// The chunk's length (at most `K_CHUNK`).
        k_count: u32,
        /// `A(m, k) = a[a_off + m·a_rs + k·a_cs]`.
        a_off: u32,
        /// A's row stride.
        a_rs: u32,
        /// A's column stride.
        a_cs: u32,
        /// `B(k, n) = b[b_off + k·b_rs + n·b_cs]`.
        b_off: u32,
        /// B's row stride.
        b_rs: u32,
        /// B's column stride.
        b_cs: u32,
        /// `C(m, n) = c[c_off + m·c_rs + n]`.
        c_off: u32,
        /// C's row stride.
        c_rs: u32,
        /// 1: add to C (every chunk after the first, weight gradients).
        accumulate: u32,
        /// 1: add `bias[bias_off + n]` (when not accumulating).
        has_bias: u32,
        /// Where the bias starts in its buffer.
        bias_off: u32,
        /// 1: also write the finished C at `c2_off` (the LSTM's two bias gradients).
        copy_c: u32,
        /// Where the copy of C starts.
        c2_off: u32,
        /// Padding to 16 bytes.
        pad: [u32; 3],
    }

    /// `RecurrenceDims` of recurrence.wgsl: one layer and direction of lstm.wgsl or gru.wgsl,
    /// steps `s_start .. s_start + s_count` of the time loop.
    RecurrenceDims {
        /// Sequences.
        batch: u32,
        /// Time steps T.
        steps: u32,
        /// Hidden size H.
        hidden: u32,
        /// The first processing step of this dispatch.
        s_start: u32,
        /// Processing steps of this dispatch.
        s_count: u32,
        /// 1 for the reverse direction (t = T - 1 - s).
        reverse: u32,
        /// Where W_hh starts in the parameters.
        w_hh_off: u32,
        /// Where b_hh starts in the parameters.
        b_hh_off: u32,
        /// Row stride of `out` (H × directions).
        out_stride: u32,
        /// This direction's first column in `out` (0 or H).
        out_col: u32,
        /// Padding to 16 bytes.
        pad: [u32; 2],
    }

    /// `DropoutDims` of elementwise.wgsl: the tensor `[T·B, width]` and the layer boundary.
    DropoutDims {
        /// Sequences.
        batch: u32,
        /// Time steps.
        steps: u32,
        /// Columns.
        width: u32,
        /// The layer boundary: the output of this layer (its seed in [`Step::seeds`]).
        layer: u32,
    }

    /// `LossDims` of loss.wgsl.
    LossDims {
        /// Prediction rows T·B.
        rows: u32,
        /// 1: the masked mean, 0: the plain mean over all rows.
        use_masking: u32,
        /// Padding to 16 bytes.
        pad: [u32; 2],
    }

    /// `AdamDims` of adam.wgsl.
    AdamDims {
        /// Parameters, flat.
        count: u32,
        /// Padding to 16 bytes.
        pad: [u32; 3],
    }

    /// `Step` of common.wgsl: what changes from one training step (or micro-batch) to the next,
    /// written before every submit.
    Step {
        /// The dropout seed of each layer boundary.
        seeds: [u32; MAX_LAYERS],
        /// Adam's `lr / (1 - β1^t)`.
        step_size: f32,
        /// Adam's `sqrt(1 - β2^t)`.
        bias2_sqrt: f32,
        /// L2 penalty added to the gradient.
        weight_decay: f32,
        /// Global gradient-norm clip (0: none).
        clip: f32,
        /// Adam's β1.
        beta1: f32,
        /// Adam's β2.
        beta2: f32,
        /// Adam's ε.
        eps: f32,
        /// Dropout probability between layers.
        dropout: f32,
        /// The first sequence of this submit within the batch (micro-batches; dropout's counter).
        first_sequence: u32,
        /// 1 / Σ w of the whole batch (the loss's weights), 0 when it is empty.
        inv_weight: f32,
        /// 1 on the submit that counts the batch in the epoch sums, else 0.
        batches: f32,
        /// Padding to 16 bytes.
        pad: u32,
    }
}

impl Step {
    /// The uniform of Adam step `t` (counting from 1) under `step`, with dropout probability
    /// `dropout`; the loss and micro-batch fields are left for the caller
    /// ([`Step::first_sequence`], [`Step::inv_weight`], [`Step::batches`]).
    pub fn new(step: &StepConfig, t: u64, dropout: f64) -> Step {
        let adam = AdamConfig::new(step.lr, step.weight_decay);
        let mut seeds = [0u32; MAX_LAYERS];
        for (l, s) in seeds.iter_mut().enumerate() {
            *s = rng::dropout_seed(step.seed, t, l as u32);
        }
        Step {
            seeds,
            step_size: adam.step_size(t) as f32,
            bias2_sqrt: adam.bias2_sqrt(t) as f32,
            weight_decay: adam.weight_decay as f32,
            clip: step.grad_clip as f32,
            beta1: adam.beta1 as f32,
            beta2: adam.beta2 as f32,
            eps: adam.eps as f32,
            dropout: dropout as f32,
            ..Step::default()
        }
    }
}
