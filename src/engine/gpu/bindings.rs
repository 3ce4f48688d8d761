//! How host and shaders meet: the [`Kernel`]s (shader file and entry point) and, for every
//! kernel, a struct of the buffers one dispatch binds, its
//! fields named as the WGSL variables and listed in binding order, each with the way the kernel
//! uses it. The same declaration gives the kernel's explicit bind-group layouts (see
//! [`Slot::layout_entry`]), so a binding is added in one place here and one in the shader;
//! tests/engines/gpu_kernels.rs checks every slot (group, binding, name, access) against the WGSL
//! globals that the kernel's entry point uses.

/// How a kernel uses a buffer it binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `var<uniform>`: a small block of dimensions or the step's values.
    Uniform,
    /// `var<storage, read>`: read only.
    Read,
    /// `var<storage, read_write>`: written (and maybe read).
    ReadWrite,
}

/// One entry of a bind-group layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// `@binding(n)` within its group.
    pub binding: u32,
    /// The WGSL variable's name (the bindings struct's field).
    pub name: &'static str,
    /// How the kernel uses it.
    pub access: Access,
}

impl Slot {
    /// The wgpu layout entry of this slot, visible to compute shaders.
    pub fn layout_entry(&self) -> wgpu::BindGroupLayoutEntry {
        let buffer = |ty| wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        wgpu::BindGroupLayoutEntry {
            binding: self.binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: match self.access {
                Access::Uniform => buffer(wgpu::BufferBindingType::Uniform),
                Access::Read => buffer(wgpu::BufferBindingType::Storage { read_only: true }),
                Access::ReadWrite => buffer(wgpu::BufferBindingType::Storage { read_only: false }),
            },
            count: None,
        }
    }
}

/// The buffers of one dispatch of a kernel.
pub trait Bindings<'a> {
    /// The kernel they are for.
    const KERNEL: Kernel;
    /// The kernel's bind-group layouts: `LAYOUT[g]` lists group g's slots in binding order.
    const LAYOUT: &'static [&'static [Slot]];
    /// The buffers, group by group, in the order of [`Self::LAYOUT`].
    fn groups(&self) -> Vec<Vec<&'a wgpu::Buffer>>;
}

use super::variant::MatmulKernel;

/// Declares a kernel's bindings struct and its [`Bindings`] impl from one list of slots.
macro_rules! bindings {
    ($(
        $(#[$doc:meta])*
        $name:ident for $kernel:ident {
            $(group $group:literal {
                $($(#[$fdoc:meta])* $binding:literal => $field:ident: $access:ident,)*
            })*
        }
    )*) => {$(
        $(#[$doc])*
        pub struct $name<'a> {
            $($($(#[$fdoc])* pub $field: &'a wgpu::Buffer,)*)*
        }

        impl<'a> Bindings<'a> for $name<'a> {
            const KERNEL: Kernel = Kernel::$kernel;
            const LAYOUT: &'static [&'static [Slot]] = &[$(&[$(Slot {
                binding: $binding,
                name: stringify!($field),
                access: Access::$access,
            },)*],)*];

            fn groups(&self) -> Vec<Vec<&'a wgpu::Buffer>> {
                vec![$(vec![$(self.$field,)*],)*]
            }
        }

        // The groups are numbered 0, 1, ... in order: LAYOUT's index is the group.
        const _: () = {
            let groups: &[u32] = &[$($group,)*];
            let mut i = 0;
            while i < groups.len() {
                assert!(groups[i] == i as u32);
                i += 1;
            }
        };
    )*};
}

bindings! {
    /// `matmul` (matmul.wgsl): `C (+)= A B (+ bias)` through strides.
    MatmulBindings for Matmul {
        group 0 {
            /// `MatmulDims`: sizes, offsets, strides, flags.
            0 => dims: Uniform,
            /// A, read through `a_off`, `a_rs`, `a_cs`.
            1 => a: Read,
            /// B, read through `b_off`, `b_rs`, `b_cs`.
            2 => b: Read,
            /// C, written (or added to) at `c_off` with row stride `c_rs`.
            3 => c: ReadWrite,
            /// The bias at `bias_off` (any read-only buffer when `has_bias` is 0).
            4 => bias: Read,
        }
    }

    /// `lstm_forward` (lstm.wgsl): one layer and direction through steps of the time loop.
    LstmForwardBindings for LstmForward {
        group 0 {
            /// `RecurrenceDims`: shape, direction, steps, W_hh and b_hh offsets, out columns.
            0 => dims: Uniform,
            /// All parameters, flat (W_hh, b_hh).
            1 => params: Read,
            /// Each sequence's valid length (u32).
            2 => lengths: Read,
            /// `X W_ihᵀ + b_ih` of every step `[T·B, 4H]`.
            3 => xw: Read,
            /// h, in this direction's columns of `[T·B, H × directions]`.
            4 => out: ReadWrite,
            /// c `[T·B, H]`.
            5 => cell: ReadWrite,
            /// The gates i, f, g, o after their activations `[T·B, 4H]`.
            6 => gates: ReadWrite,
        }
    }

    /// `lstm_backward` (lstm.wgsl): backpropagation through steps of the time loop.
    LstmBackwardBindings for LstmBackward {
        group 0 {
            /// `RecurrenceDims`, as in the forward pass.
            0 => dims: Uniform,
            /// All parameters, flat (W_hh).
            1 => params: Read,
            /// Each sequence's valid length (u32).
            2 => lengths: Read,
        }
        group 1 {
            /// c of the forward pass.
            0 => cell_in: Read,
            /// The gates of the forward pass.
            1 => gates_in: Read,
            /// dL/dh from above, laid out as `out`.
            2 => d_out: Read,
            /// d_a, the gates' pre-activation gradients `[T·B, 4H]`.
            3 => d_xw: ReadWrite,
            /// Per workgroup: d_h_rec and d_c between dispatches, the step's d_a.
            4 => carry: ReadWrite,
        }
    }

    /// `gru_forward` (gru.wgsl): one layer and direction through steps of the time loop.
    GruForwardBindings for GruForward {
        group 0 {
            /// `RecurrenceDims`: shape, direction, steps, W_hh and b_hh offsets, out columns.
            0 => dims: Uniform,
            /// All parameters, flat (W_hh, b_hh).
            1 => params: Read,
            /// Each sequence's valid length (u32).
            2 => lengths: Read,
            /// `X W_ihᵀ + b_ih` of every step `[T·B, 3H]`.
            3 => xw: Read,
            /// h, in this direction's columns of `[T·B, H × directions]`.
            4 => out: ReadWrite,
            /// r, z, n and hw_n `[T·B, 4H]`.
            5 => gates: ReadWrite,
        }
    }

    /// `gru_backward` (gru.wgsl): backpropagation through steps of the time loop.
    GruBackwardBindings for GruBackward {
        group 0 {
            /// `RecurrenceDims`, as in the forward pass.
            0 => dims: Uniform,
            /// All parameters, flat (W_hh).
            1 => params: Read,
            /// Each sequence's valid length (u32).
            2 => lengths: Read,
        }
        group 1 {
            /// h of the forward pass (h_prev of each step).
            0 => out_in: Read,
            /// The gates of the forward pass.
            1 => gates_in: Read,
            /// dL/dh from above, laid out as `out`.
            2 => d_out: Read,
            /// `[d_ar, d_az, d_an]` `[T·B, 3H]`: the gradient of `X W_ihᵀ + b_ih`.
            3 => d_xw: ReadWrite,
            /// `[d_ar, d_az, d_hw_n]` `[T·B, 3H]`: the gradient of `h W_hhᵀ + b_hh`.
            4 => d_hw: ReadWrite,
            /// Per workgroup: d_h_rec between dispatches, the step's d_hw.
            5 => carry: ReadWrite,
        }
    }

    /// `dropout` (elementwise.wgsl): `dst = src ⊙ mask` at one layer boundary.
    DropoutBindings for Dropout {
        group 0 {
            /// `DropoutDims`: the tensor's shape and the layer boundary.
            0 => dims: Uniform,
            /// `Step`: the seeds, p, the micro-batch's first sequence.
            1 => step: Uniform,
            /// The layer's output (or, backward, the gradient after the dropout).
            2 => src: Read,
            /// The masked copy.
            3 => dst: ReadWrite,
        }
    }

    /// `loss` (loss.wgsl): masked MSE, its gradient and the epoch sums.
    LossBindings for Loss {
        group 0 {
            /// `LossDims`: rows and the masking flag.
            0 => dims: Uniform,
            /// The predictions `[T·B]`.
            1 => pred: Read,
            /// The targets `[T·B]`.
            2 => y: Read,
            /// The mask `[T·B]`.
            3 => mask: Read,
            /// The epoch sums: loss, batches, Σ |error|, valid steps.
            4 => sums: ReadWrite,
            /// dL/dpred `[T·B]`.
            5 => d_pred: ReadWrite,
            /// `Step`: 1 / Σ w and whether this submit counts the batch.
            6 => step: Uniform,
        }
    }

    /// `grad_norm` (adam.wgsl): the gradients' global L2 norm.
    GradNormBindings for GradNorm {
        group 0 {
            /// `AdamDims`: the parameter count.
            0 => dims: Uniform,
            /// The gradients, flat.
            1 => grads: Read,
        }
        group 1 {
            /// The norm `[1]`.
            0 => norm: ReadWrite,
        }
    }

    /// `adam_step` (adam.wgsl): clipping and Adam, one parameter per invocation.
    AdamStepBindings for AdamStep {
        group 0 {
            /// `AdamDims`: the parameter count.
            0 => dims: Uniform,
            /// The gradients, flat.
            1 => grads: Read,
            /// `Step`: Adam's factors, weight decay, the clip.
            2 => step: Uniform,
        }
        group 1 {
            /// The norm `grad_norm` wrote.
            1 => norm_in: Read,
            /// The parameters, updated.
            2 => params: ReadWrite,
            /// Adam's first moments.
            3 => m: ReadWrite,
            /// Adam's second moments.
            4 => v: ReadWrite,
        }
    }
}

/// The kernels, one pipeline per entry point (compiled by `kernels::Kernels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// matmul.wgsl
    Matmul,
    /// lstm.wgsl, forward
    LstmForward,
    /// lstm.wgsl, backward
    LstmBackward,
    /// gru.wgsl, forward
    GruForward,
    /// gru.wgsl, backward
    GruBackward,
    /// elementwise.wgsl
    Dropout,
    /// loss.wgsl
    Loss,
    /// adam.wgsl, the global norm
    GradNorm,
    /// adam.wgsl, the update
    AdamStep,
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 9] = [
        Kernel::Matmul,
        Kernel::LstmForward,
        Kernel::LstmBackward,
        Kernel::GruForward,
        Kernel::GruBackward,
        Kernel::Dropout,
        Kernel::Loss,
        Kernel::GradNorm,
        Kernel::AdamStep,
    ];

    /// The shader file and the kernel's name: its entry point, except for the matmul, whose
    /// entry point is the variant's ([`Kernel::entry_points`]).
    pub fn source(self) -> (&'static str, &'static str) {
        match self {
            Kernel::Matmul => ("matmul.wgsl", "matmul"),
            Kernel::LstmForward => ("lstm.wgsl", "lstm_forward"),
            Kernel::LstmBackward => ("lstm.wgsl", "lstm_backward"),
            Kernel::GruForward => ("gru.wgsl", "gru_forward"),
            Kernel::GruBackward => ("gru.wgsl", "gru_backward"),
            Kernel::Dropout => ("elementwise.wgsl", "dropout"),
            Kernel::Loss => ("loss.wgsl", "loss"),
            Kernel::GradNorm => ("adam.wgsl", "grad_norm"),
            Kernel::AdamStep => ("adam.wgsl", "adam_step"),
        }
    }

    /// The entry points that compute this kernel (one per matmul variant, else its own).
    pub fn entry_points(self) -> Vec<&'static str> {
        match self {
            Kernel::Matmul => MatmulKernel::ALL.iter().map(|m| m.entry()).collect(),
            other => vec![other.source().1],
        }
    }

    /// The kernel's bind-group layouts, group by group (its bindings struct's).
    pub fn layout(self) -> &'static [&'static [Slot]] {
        match self {
            Kernel::Matmul => MatmulBindings::LAYOUT,
            Kernel::LstmForward => LstmForwardBindings::LAYOUT,
            Kernel::LstmBackward => LstmBackwardBindings::LAYOUT,
            Kernel::GruForward => GruForwardBindings::LAYOUT,
            Kernel::GruBackward => GruBackwardBindings::LAYOUT,
            Kernel::Dropout => DropoutBindings::LAYOUT,
            Kernel::Loss => LossBindings::LAYOUT,
            Kernel::GradNorm => GradNormBindings::LAYOUT,
            Kernel::AdamStep => AdamStepBindings::LAYOUT,
        }
    }
}
