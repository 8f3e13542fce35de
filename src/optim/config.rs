//! `OptimizerConfig`: one of the optimizers (each in its own file), and `OptimKind`, its kernel.
//! Hyperparameters are f64, as the Python floats PyTorch computes its step scalars from.

use super::hyper::{GroupHyper, StepScalars};
use super::{
    AdafactorConfig, AdagradConfig, AdamConfig, AdamaxConfig, LambConfig, LionConfig, MuonConfig, NadamConfig,
    RadamConfig, RmspropConfig, ScheduleFreeConfig, SgdConfig, SophiaConfig,
};

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
    /// Sophia-G.
    Sophia(SophiaConfig),
    /// Schedule-free AdamW.
    ScheduleFree(ScheduleFreeConfig),
    /// LAMB.
    Lamb(LambConfig),
    /// Adafactor.
    Adafactor(AdafactorConfig),
    /// Muon for 2-D weights, AdamW for the rest.
    Muon(MuonConfig),
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
            OptimizerConfig::Sophia(c) => c.lr,
            OptimizerConfig::ScheduleFree(c) => c.lr,
            OptimizerConfig::Lamb(c) => c.lr,
            OptimizerConfig::Adafactor(c) => c.lr,
            OptimizerConfig::Muon(c) => c.lr,
        }
    }

    /// Sets the learning rate.
    pub fn set_lr(&mut self, lr: f64) {
        match self {
            OptimizerConfig::Sgd(c) => c.lr = lr,
            OptimizerConfig::Adagrad(c) => c.lr = lr,
            OptimizerConfig::Rmsprop(c) => c.lr = lr,
            OptimizerConfig::Adam(c) => c.lr = lr,
            OptimizerConfig::Adamax(c) => c.lr = lr,
            OptimizerConfig::Nadam(c) => c.lr = lr,
            OptimizerConfig::Radam(c) => c.lr = lr,
            OptimizerConfig::Lion(c) => c.lr = lr,
            OptimizerConfig::Sophia(c) => c.lr = lr,
            OptimizerConfig::ScheduleFree(c) => c.lr = lr,
            OptimizerConfig::Lamb(c) => c.lr = lr,
            OptimizerConfig::Adafactor(c) => c.lr = lr,
            OptimizerConfig::Muon(c) => c.lr = lr,
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
            OptimizerConfig::Sophia(c) => c.weight_decay,
            OptimizerConfig::ScheduleFree(c) => c.weight_decay,
            OptimizerConfig::Lamb(c) => c.weight_decay,
            OptimizerConfig::Adafactor(c) => c.weight_decay,
            OptimizerConfig::Muon(c) => c.weight_decay,
        }
    }

    /// The momentum a schedule may cycle: SGD's or RMSprop's momentum, the Adam family's and
    /// Lion's β1; 0 for Adagrad.
    pub fn momentum(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd(c) => c.momentum,
            OptimizerConfig::Rmsprop(c) => c.momentum,
            OptimizerConfig::Adam(c) => c.betas.0,
            OptimizerConfig::Adamax(c) => c.betas.0,
            OptimizerConfig::Nadam(c) => c.betas.0,
            OptimizerConfig::Radam(c) => c.betas.0,
            OptimizerConfig::Lion(c) => c.betas.0,
            OptimizerConfig::Sophia(c) => c.betas.0,
            OptimizerConfig::ScheduleFree(c) => c.betas.0,
            OptimizerConfig::Lamb(c) => c.betas.0,
            OptimizerConfig::Muon(c) => c.momentum,
            OptimizerConfig::Adagrad(_) | OptimizerConfig::Adafactor(_) => 0.0,
        }
    }

    /// (β1, β2) of the optimizers that have them.
    pub fn betas(&self) -> Option<(f64, f64)> {
        match self {
            OptimizerConfig::Adam(c) => Some(c.betas),
            OptimizerConfig::Adamax(c) => Some(c.betas),
            OptimizerConfig::Nadam(c) => Some(c.betas),
            OptimizerConfig::Radam(c) => Some(c.betas),
            OptimizerConfig::Lion(c) => Some(c.betas),
            OptimizerConfig::Sophia(c) => Some(c.betas),
            OptimizerConfig::ScheduleFree(c) => Some(c.betas),
            OptimizerConfig::Lamb(c) => Some(c.betas),
            _ => None,
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
            OptimizerConfig::Sophia(_) => OptimKind::Sophia,
            OptimizerConfig::ScheduleFree(_) => OptimKind::ScheduleFree,
            OptimizerConfig::Lamb(_) => OptimKind::Lamb,
            OptimizerConfig::Adafactor(_) => OptimKind::Adafactor,
            OptimizerConfig::Muon(_) => OptimKind::Muon,
        }
    }

    /// Names of the per-parameter state tensors, as PyTorch's `state_dict` calls them; each is
    /// one slot of the flat state buffer.
    pub fn state_names(&self) -> &'static [&'static str] {
        match self {
            OptimizerConfig::Sgd(c) => c.state_names(),
            OptimizerConfig::Adagrad(_) => &["sum"],
            OptimizerConfig::Rmsprop(_) => &["square_avg", "momentum_buffer", "grad_avg"],
            OptimizerConfig::Adam(c) => c.state_names(),
            OptimizerConfig::Adamax(_) => &["exp_avg", "exp_inf"],
            OptimizerConfig::Nadam(_) | OptimizerConfig::Radam(_) => &["exp_avg", "exp_avg_sq"],
            OptimizerConfig::Lion(_) => &["exp_avg"],
            OptimizerConfig::Sophia(_) => &["exp_avg", "hessian"],
            OptimizerConfig::ScheduleFree(_) => &["z", "exp_avg_sq"],
            OptimizerConfig::Lamb(_) => &["exp_avg", "exp_avg_sq"],
            OptimizerConfig::Adafactor(_) => &["row_var", "col_var"],
            OptimizerConfig::Muon(_) => &["exp_avg", "exp_avg_sq"],
        }
    }

    /// Whether each element's update depends on that element alone (LAMB's trust ratio and
    /// Adafactor's statistics couple the elements of a tensor): what the explorer needs to step independent points together.
    pub fn is_elementwise(&self) -> bool {
        !matches!(self, OptimizerConfig::Lamb(_) | OptimizerConfig::Adafactor(_) | OptimizerConfig::Muon(_))
    }

    /// State slots the update uses beyond the named ones (LAMB keeps its update u in one);
    /// they are not part of the saved state.
    pub fn scratch_slots(&self) -> usize {
        match self {
            OptimizerConfig::Lamb(_) | OptimizerConfig::Muon(_) => 1,
            _ => 0,
        }
    }

    /// One group's block for one step (clipping is set by the caller). Schedule-free AdamW's
    /// block depends on running sums the `Optimizer` keeps; here it is that of a first step.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        match self {
            OptimizerConfig::Sgd(c) => c.block(s),
            OptimizerConfig::Adagrad(c) => c.block(s),
            OptimizerConfig::Rmsprop(c) => c.block(s),
            OptimizerConfig::Adam(c) => c.block(s),
            OptimizerConfig::Adamax(c) => c.block(s),
            OptimizerConfig::Nadam(c) => c.block(s),
            OptimizerConfig::Radam(c) => c.block(s),
            OptimizerConfig::Lion(c) => c.block(s),
            OptimizerConfig::Sophia(c) => c.block(s),
            OptimizerConfig::ScheduleFree(c) => c.block(s, &mut Default::default()),
            OptimizerConfig::Lamb(c) => c.block(s, 0),
            OptimizerConfig::Adafactor(c) => c.block(s),
            OptimizerConfig::Muon(c) => c.block(s),
        }
    }
}

/// The fused update kernels (the `*_step` entry points of `shaders/optim/`) and their CPU twins.
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
    /// `sophia_step` (Sophia-G's step and its Hessian EMA).
    Sophia,
    /// `schedule_free_step` (schedule-free AdamW's step and its y ↔ x switch).
    ScheduleFree,
    /// `lamb_step` (LAMB's two phases around the trust ratios).
    Lamb,
    /// `adafactor_step` (per tensor; not the elementwise fused step).
    Adafactor,
    /// `muon_step` (momentum into U and AdamW; Newton–Schulz follows on the matmuls).
    Muon,
}

impl OptimKind {
    /// The kernel of the rule's step (`optim::kernels`).
    pub fn kernel(self) -> &'static crate::backend::kernel::Kernel {
        use super::kernels as k;
        match self {
            OptimKind::Sgd => &k::SGD_STEP,
            OptimKind::Adagrad => &k::ADAGRAD_STEP,
            OptimKind::Rmsprop => &k::RMSPROP_STEP,
            OptimKind::Adam => &k::ADAM_STEP,
            OptimKind::Adamax => &k::ADAMAX_STEP,
            OptimKind::Nadam => &k::NADAM_STEP,
            OptimKind::Radam => &k::RADAM_STEP,
            OptimKind::Lion => &k::LION_STEP,
            OptimKind::Sophia => &k::SOPHIA_STEP,
            OptimKind::ScheduleFree => &k::SCHEDULE_FREE_STEP,
            OptimKind::Lamb => &k::LAMB_STEP,
            OptimKind::Adafactor => &k::ADAFACTOR_STEP,
            OptimKind::Muon => &k::MUON_STEP,
        }
    }
}
