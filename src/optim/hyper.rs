//! The per-group block of numbers the fused update kernels read: hyperparameters plus the
//! step-dependent scalars (bias corrections and the like) that PyTorch computes in Python
//! float64 and hands to its float32 kernels. The host fills one block per parameter group each
//! step; `shaders/optim.wgsl` declares the same struct.

/// One parameter group's numbers for one step. Meanings of `beta*`, `c*` and `flag*` depend on
/// the optimizer (see `shaders/optim.wgsl`); flags are 0.0 or 1.0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GroupHyper {
    /// Learning rate.
    pub lr: f32,
    /// Weight decay (coupled L2 unless the optimizer decouples it).
    pub weight_decay: f32,
    /// β1, SGD's momentum, or RMSprop's alpha.
    pub beta1: f32,
    /// β2, or RMSprop's momentum.
    pub beta2: f32,
    /// ε.
    pub eps: f32,
    /// `1 − lr·wd` for decoupled weight decay.
    pub decay_factor: f32,
    /// `1 − β1` (lerp weight), or SGD's `1 − dampening`.
    pub one_minus_beta1: f32,
    /// `1 − β2`.
    pub one_minus_beta2: f32,
    /// Step-dependent scalar 0.
    pub c0: f32,
    /// Step-dependent scalar 1.
    pub c1: f32,
    /// Step-dependent scalar 2.
    pub c2: f32,
    /// Step-dependent scalar 3.
    pub c3: f32,
    /// Optimizer flag 0.
    pub flag0: f32,
    /// Optimizer flag 1.
    pub flag1: f32,
    /// Optimizer flag 2.
    pub flag2: f32,
    /// 0 none, 1 global L2-norm clip, 2 global ∞-norm clip, 3 clip by value, 4 global L1-norm clip.
    pub clip_mode: f32,
    /// max_norm for modes 1–2, the bound for mode 3.
    pub clip_value: f32,
    /// Padding to 20 floats.
    pub pad: [f32; 3],
}

/// f32 values per [`GroupHyper`].
pub const HYPER_LEN: usize = 20;

const _: () = assert!(std::mem::size_of::<GroupHyper>() == HYPER_LEN * 4);

/// 1.0 for true, 0.0 for false.
pub(crate) fn flag(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}
