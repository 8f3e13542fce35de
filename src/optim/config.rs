//! `OptimizerConfig`: one of the optimizers (each in its own file), and `OptimKind`, its kernel.
//! Hyperparameters are f64, as the Python floats PyTorch computes its step scalars from.

use super::hyper::{GroupHyper, StepScalars};
use super::rule::{DeviceContext, GroupContext, RuleDevice, UpdateRule};
use super::{
    AdafactorConfig, AdagradConfig, AdamConfig, AdamaxConfig, LambConfig, LionConfig, MuonConfig, NadamConfig,
    RadamConfig, RmspropConfig, ScheduleFreeConfig, SgdConfig, SophiaConfig,
};
use crate::backend::Backend;
use crate::error::Result;

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
    /// The optimizer's update rule (its file): every per-optimizer answer comes from it.
    pub fn rule(&self) -> &dyn UpdateRule {
        match self {
            OptimizerConfig::Sgd(c) => c,
            OptimizerConfig::Adagrad(c) => c,
            OptimizerConfig::Rmsprop(c) => c,
            OptimizerConfig::Adam(c) => c,
            OptimizerConfig::Adamax(c) => c,
            OptimizerConfig::Nadam(c) => c,
            OptimizerConfig::Radam(c) => c,
            OptimizerConfig::Lion(c) => c,
            OptimizerConfig::Sophia(c) => c,
            OptimizerConfig::ScheduleFree(c) => c,
            OptimizerConfig::Lamb(c) => c,
            OptimizerConfig::Adafactor(c) => c,
            OptimizerConfig::Muon(c) => c,
        }
    }

    /// [`OptimizerConfig::rule`], to change a setting.
    pub fn rule_mut(&mut self) -> &mut dyn UpdateRule {
        match self {
            OptimizerConfig::Sgd(c) => c,
            OptimizerConfig::Adagrad(c) => c,
            OptimizerConfig::Rmsprop(c) => c,
            OptimizerConfig::Adam(c) => c,
            OptimizerConfig::Adamax(c) => c,
            OptimizerConfig::Nadam(c) => c,
            OptimizerConfig::Radam(c) => c,
            OptimizerConfig::Lion(c) => c,
            OptimizerConfig::Sophia(c) => c,
            OptimizerConfig::ScheduleFree(c) => c,
            OptimizerConfig::Lamb(c) => c,
            OptimizerConfig::Adafactor(c) => c,
            OptimizerConfig::Muon(c) => c,
        }
    }

    /// The rule's device side on `be` (its own buffers and passes; see [`UpdateRule::device`]).
    pub fn device<B: Backend>(&self, be: &B, cx: DeviceContext<'_, B>) -> Result<Box<dyn RuleDevice<B>>> {
        match self {
            OptimizerConfig::Sgd(c) => c.device(be, cx),
            OptimizerConfig::Adagrad(c) => c.device(be, cx),
            OptimizerConfig::Rmsprop(c) => c.device(be, cx),
            OptimizerConfig::Adam(c) => c.device(be, cx),
            OptimizerConfig::Adamax(c) => c.device(be, cx),
            OptimizerConfig::Nadam(c) => c.device(be, cx),
            OptimizerConfig::Radam(c) => c.device(be, cx),
            OptimizerConfig::Lion(c) => c.device(be, cx),
            OptimizerConfig::Sophia(c) => c.device(be, cx),
            OptimizerConfig::ScheduleFree(c) => c.device(be, cx),
            OptimizerConfig::Lamb(c) => c.device(be, cx),
            OptimizerConfig::Adafactor(c) => c.device(be, cx),
            OptimizerConfig::Muon(c) => c.device(be, cx),
        }
    }

    /// Which optimizer this is.
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

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        self.rule().lr()
    }

    /// Sets the learning rate.
    pub fn set_lr(&mut self, lr: f64) {
        self.rule_mut().set_lr(lr)
    }

    /// The weight decay.
    pub fn weight_decay(&self) -> f64 {
        self.rule().weight_decay()
    }

    /// What OneCycle cycles: SGD/RMSprop/Muon momentum or the Adam family's β1 (0 for Adagrad
    /// and Adafactor).
    pub fn momentum(&self) -> f64 {
        self.rule().momentum()
    }

    /// The Adam family's (β1, β2).
    pub fn betas(&self) -> Option<(f64, f64)> {
        self.rule().betas()
    }

    /// PyTorch's names of the state slots, in slot order.
    pub fn state_names(&self) -> &'static [&'static str] {
        self.rule().state_names()
    }

    /// True when the step is the one fused elementwise dispatch.
    pub fn is_elementwise(&self) -> bool {
        self.rule().is_elementwise()
    }

    /// Scratch slots after the saved ones (LAMB's u, Muon's U).
    pub fn scratch_slots(&self) -> usize {
        self.rule().scratch_slots()
    }

    /// The default group's block for step scalars `s` (schedule-free from fresh running numbers).
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        self.rule().block(s, GroupContext { index: 1, running: &mut Default::default() })
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
