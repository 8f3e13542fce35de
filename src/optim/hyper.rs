//! The per-group block of numbers the fused update kernels read: a head every optimizer shares
//! (learning rate, decay, betas…), seven numbers of the optimizer's own (its typed `*Terms`
//! struct, named in its file and in its WGSL `Group`), and the clipping settings. The host
//! fills one block per parameter group each step, with the step-dependent scalars (bias
//! corrections and the like) that PyTorch computes in Python float64 and hands to its float32
//! kernels. `shaders/optim/prologue.wgsl` declares the same layout.

/// The numbers every optimizer's block starts with.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Head {
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
    /// `1 − β1` (lerp weight), SGD's `1 − dampening`, or RMSprop's `1 − alpha`.
    pub one_minus_beta1: f32,
    /// `1 − β2`.
    pub one_minus_beta2: f32,
}

/// How gradients are clipped inside the update.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ClipBlock {
    /// 0 none, 1 global L2-norm clip, 2 global ∞-norm clip, 3 clip by value, 4 global L1-norm clip,
    /// 5 LAMB's global clip (`g / max(‖g‖₂/value, 1)`, timm's formula).
    pub mode: f32,
    /// max_norm for the norm modes, the bound for mode 3.
    pub value: f32,
    /// Padding to 20 floats per block.
    pub pad: [f32; 3],
}

/// Floats of an optimizer's own terms.
pub const TERMS_LEN: usize = 7;

/// One parameter group's numbers for one step.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GroupHyper {
    /// The shared numbers.
    pub head: Head,
    /// The optimizer's own numbers, as its `*Terms` struct lays them out.
    pub terms: [f32; TERMS_LEN],
    /// Clipping.
    pub clip: ClipBlock,
}

/// f32 values per [`GroupHyper`].
pub const HYPER_LEN: usize = 20;

const _: () = assert!(std::mem::size_of::<GroupHyper>() == HYPER_LEN * 4);

/// What a step's block is computed from, for one group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepScalars {
    /// The group's learning rate now.
    pub lr: f64,
    /// The group's weight decay.
    pub weight_decay: f64,
    /// The group's momentum / β1 now (OneCycle cycles it).
    pub momentum: f64,
    /// The step number, from 1.
    pub t: f64,
    /// NAdam's running product of μ (1 for the others).
    pub mu_product: f64,
}

impl Head {
    /// The head with the learning rate and decay of `s` and nothing else set.
    pub fn base(s: &StepScalars) -> Self {
        Self {
            lr: s.lr as f32,
            weight_decay: s.weight_decay as f32,
            decay_factor: (1.0 - s.lr * s.weight_decay) as f32,
            ..Default::default()
        }
    }

    /// With β1, β2 and their complements set.
    pub fn with_betas(mut self, b1: f64, b2: f64) -> Self {
        self.beta1 = b1 as f32;
        self.beta2 = b2 as f32;
        self.one_minus_beta1 = (1.0 - b1) as f32;
        self.one_minus_beta2 = (1.0 - b2) as f32;
        self
    }
}

impl GroupHyper {
    /// A block of `head` and an optimizer's typed `terms` (which must be 7 f32s).
    pub fn new<T: bytemuck::Pod>(head: Head, terms: T) -> Self {
        Self { head, terms: bytemuck::cast(terms), clip: ClipBlock::default() }
    }

    /// The terms as the optimizer's typed struct.
    pub fn terms<T: bytemuck::Pod>(&self) -> T {
        bytemuck::cast(self.terms)
    }
}

/// 1.0 for true, 0.0 for false.
pub(crate) fn flag(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// ATen's lerp: `a + w·(b − a)` for w < 0.5, else `b − (b − a)·(1 − w)`.
pub(crate) fn lerp(a: f32, b: f32, w: f32) -> f32 {
    if w < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

/// `g + wd·p` when the decay is coupled and non-zero.
pub(crate) fn coupled(h: &Head, p: f32, g: f32) -> f32 {
    if h.weight_decay != 0.0 {
        g + h.weight_decay * p
    } else {
        g
    }
}

/// Decoupled decay shrinks the weight and leaves the gradient; otherwise the decay joins it.
pub(crate) fn decay(h: &Head, decoupled: f32, p: &mut f32, g: f32) -> f32 {
    if decoupled != 0.0 {
        *p *= h.decay_factor;
        g
    } else {
        coupled(h, *p, g)
    }
}

/// The Adam-family moments, in state slots 0 and 1: m = lerp(m, g, 1 − β1),
/// v = β2·v + (1 − β2)·g·g.
pub(crate) fn adam_moments(h: &Head, s: &mut [f32; 3], g: f32) {
    s[0] = lerp(s[0], g, h.one_minus_beta1);
    s[1] = s[1] * h.beta2 + h.one_minus_beta2 * g * g;
}
