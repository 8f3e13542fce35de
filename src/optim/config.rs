//! Optimizer configurations with PyTorch's names and defaults (torch.optim, 2.15), plus Lion
//! (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", as in lion-pytorch).
//! Hyperparameters are f64, as the Python floats PyTorch computes its step scalars from.

/// `torch.optim.SGD`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Momentum factor (default 0).
    pub momentum: f64,
    /// Dampening for momentum (default 0).
    pub dampening: f64,
    /// Coupled L2 penalty (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self { lr: 1e-3, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false }
    }
}

/// `torch.optim.Adam` and, with `decoupled_weight_decay`, `torch.optim.AdamW`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator after bias correction (default 1e-8).
    pub eps: f64,
    /// Weight decay: coupled L2 for Adam (default 0), decoupled for AdamW (default 1e-2).
    pub weight_decay: f64,
    /// Use the maximum of past second moments (default false).
    pub amsgrad: bool,
    /// AdamW: `p *= 1 − lr·wd` before the update instead of adding `wd·p` to the gradient.
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
        }
    }
}

impl AdamConfig {
    /// `torch.optim.AdamW`'s defaults (weight decay 1e-2, decoupled).
    pub fn adamw() -> Self {
        Self { weight_decay: 1e-2, decoupled_weight_decay: true, ..Self::default() }
    }
}

/// `torch.optim.RMSprop`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmspropConfig {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// Smoothing constant (default 0.99).
    pub alpha: f64,
    /// Added after the square root (default 1e-8).
    pub eps: f64,
    /// Coupled L2 penalty (default 0).
    pub weight_decay: f64,
    /// Momentum factor (default 0).
    pub momentum: f64,
    /// Normalise by the estimated variance of the gradient (default false).
    pub centered: bool,
}

impl Default for RmspropConfig {
    fn default() -> Self {
        Self { lr: 1e-2, alpha: 0.99, eps: 1e-8, weight_decay: 0.0, momentum: 0.0, centered: false }
    }
}

/// `torch.optim.Adagrad`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// Learning-rate decay per step (default 0).
    pub lr_decay: f64,
    /// Coupled L2 penalty (default 0).
    pub weight_decay: f64,
    /// Starting value of the squared-gradient sum (default 0).
    pub initial_accumulator_value: f64,
    /// Added after the square root (default 1e-10).
    pub eps: f64,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        Self { lr: 1e-2, lr_decay: 0.0, weight_decay: 0.0, initial_accumulator_value: 0.0, eps: 1e-10 }
    }
}

/// `torch.optim.Adamax`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamaxConfig {
    /// Learning rate (default 2e-3).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added inside the max (default 1e-8).
    pub eps: f64,
    /// Coupled L2 penalty (default 0).
    pub weight_decay: f64,
}

impl Default for AdamaxConfig {
    fn default() -> Self {
        Self { lr: 2e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0 }
    }
}

/// `torch.optim.NAdam`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NadamConfig {
    /// Learning rate (default 2e-3).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added after the square root (default 1e-8).
    pub eps: f64,
    /// Weight decay (default 0), coupled unless `decoupled_weight_decay`.
    pub weight_decay: f64,
    /// Momentum decay ψ (default 4e-3).
    pub momentum_decay: f64,
    /// `p *= 1 − lr·wd` instead of the coupled L2 term (default false).
    pub decoupled_weight_decay: bool,
}

impl Default for NadamConfig {
    fn default() -> Self {
        Self {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
        }
    }
}

/// `torch.optim.RAdam`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RadamConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to √v before bias correction (default 1e-8).
    pub eps: f64,
    /// Weight decay (default 0), coupled unless `decoupled_weight_decay`.
    pub weight_decay: f64,
    /// `p *= 1 − lr·wd` instead of the coupled L2 term (default false).
    pub decoupled_weight_decay: bool,
}

impl Default for RadamConfig {
    fn default() -> Self {
        Self { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0, decoupled_weight_decay: false }
    }
}

/// Lion (Chen et al. 2023): sign of an interpolated momentum, decoupled weight decay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LionConfig {
    /// Learning rate (default 1e-4).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.99)).
    pub betas: (f64, f64),
    /// Decoupled weight decay (default 0).
    pub weight_decay: f64,
}

impl Default for LionConfig {
    fn default() -> Self {
        Self { lr: 1e-4, betas: (0.9, 0.99), weight_decay: 0.0 }
    }
}

/// Every optimizer downhill has, "sorted in order of increasing complexity" as tinygrad puts it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerConfig {
    /// SGD with optional momentum, dampening, Nesterov and L2.
    Sgd(SgdConfig),
    /// Adagrad.
    Adagrad(AdagradConfig),
    /// RMSprop.
    Rmsprop(RmspropConfig),
    /// Adam / AdamW / AMSGrad.
    Adam(AdamConfig),
    /// Adamax.
    Adamax(AdamaxConfig),
    /// NAdam.
    Nadam(NadamConfig),
    /// RAdam.
    Radam(RadamConfig),
    /// Lion.
    Lion(LionConfig),
}

impl OptimizerConfig {
    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd(c) => c.lr,
            OptimizerConfig::Adagrad(c) => c.lr,
            OptimizerConfig::Rmsprop(c) => c.lr,
            OptimizerConfig::Adam(c) => c.lr,
            OptimizerConfig::Adamax(c) => c.lr,
            OptimizerConfig::Nadam(c) => c.lr,
            OptimizerConfig::Radam(c) => c.lr,
            OptimizerConfig::Lion(c) => c.lr,
        }
    }

    /// The weight decay.
    pub fn weight_decay(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd(c) => c.weight_decay,
            OptimizerConfig::Adagrad(c) => c.weight_decay,
            OptimizerConfig::Rmsprop(c) => c.weight_decay,
            OptimizerConfig::Adam(c) => c.weight_decay,
            OptimizerConfig::Adamax(c) => c.weight_decay,
            OptimizerConfig::Nadam(c) => c.weight_decay,
            OptimizerConfig::Radam(c) => c.weight_decay,
            OptimizerConfig::Lion(c) => c.weight_decay,
        }
    }

    /// The kernel that runs it.
    pub fn kind(&self) -> OptimKind {
        match self {
            OptimizerConfig::Sgd(_) => OptimKind::Sgd,
            OptimizerConfig::Adagrad(_) => OptimKind::Adagrad,
            OptimizerConfig::Rmsprop(_) => OptimKind::Rmsprop,
            OptimizerConfig::Adam(_) => OptimKind::Adam,
            OptimizerConfig::Adamax(_) => OptimKind::Adamax,
            OptimizerConfig::Nadam(_) => OptimKind::Nadam,
            OptimizerConfig::Radam(_) => OptimKind::Radam,
            OptimizerConfig::Lion(_) => OptimKind::Lion,
        }
    }

    /// Names of the per-parameter state tensors, as PyTorch's `state_dict` calls them; each is
    /// one slot of the flat state buffer.
    pub fn state_names(&self) -> &'static [&'static str] {
        match self {
            OptimizerConfig::Sgd(c) if c.momentum != 0.0 => &["momentum_buffer"],
            OptimizerConfig::Sgd(_) => &[],
            OptimizerConfig::Adagrad(_) => &["sum"],
            OptimizerConfig::Rmsprop(_) => &["square_avg", "momentum_buffer", "grad_avg"],
            OptimizerConfig::Adam(c) if c.amsgrad => &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
            OptimizerConfig::Adam(_) => &["exp_avg", "exp_avg_sq"],
            OptimizerConfig::Adamax(_) => &["exp_avg", "exp_inf"],
            OptimizerConfig::Nadam(_) | OptimizerConfig::Radam(_) => &["exp_avg", "exp_avg_sq"],
            OptimizerConfig::Lion(_) => &["exp_avg"],
        }
    }
}

/// The fused update kernels (`shaders/optim.wgsl` entry points and their CPU twins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimKind {
    /// `sgd_step`.
    Sgd,
    /// `adagrad_step`.
    Adagrad,
    /// `rmsprop_step`.
    Rmsprop,
    /// `adam_step` (Adam, AdamW, AMSGrad).
    Adam,
    /// `adamax_step`.
    Adamax,
    /// `nadam_step`.
    Nadam,
    /// `radam_step`.
    Radam,
    /// `lion_step`.
    Lion,
}
