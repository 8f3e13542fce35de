//! `OptimizerConfig`: one of the optimizers (each in its own file, behind its `UpdateRule`), from
//! one table that also makes `OptimKind`.
//! Hyperparameters are f64, as the Python floats PyTorch computes its step scalars from.

use super::rule::{DeviceContext, RuleDevice, UpdateRule};
use super::{
    AdafactorConfig, AdagradConfig, AdamConfig, AdamaxConfig, LambConfig, LionConfig, MuonConfig, NadamConfig,
    RadamConfig, RmspropConfig, ScheduleFreeConfig, SgdConfig, SophiaConfig,
};
use crate::backend::Backend;
use crate::error::Result;

/// The table of optimizers: one line each (variant, its config in `optim/<name>.rs`, its doc).
/// Generates [`OptimizerConfig`], [`OptimKind`] and the one dispatch to each config's
/// [`UpdateRule`] (`rule`, `rule_mut`, `kind`, `device`), so nothing else matches on a name.
macro_rules! optimizers {
    ($($(#[$doc:meta])* $variant:ident($config:ty);)*) => {
        /// Every optimizer downhill has, "sorted in order of increasing complexity" as tinygrad
        /// puts it.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum OptimizerConfig {
            $($(#[$doc])* $variant($config),)*
        }

        /// Which optimizer a config is (its name in messages).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum OptimKind {
            $($(#[$doc])* $variant,)*
        }

        impl OptimizerConfig {
            /// The optimizer's update rule (its file): every per-optimizer answer comes from it.
            pub fn rule(&self) -> &dyn UpdateRule {
                match self {
                    $(OptimizerConfig::$variant(c) => c,)*
                }
            }

            /// [`OptimizerConfig::rule`], to change a setting.
            pub fn rule_mut(&mut self) -> &mut dyn UpdateRule {
                match self {
                    $(OptimizerConfig::$variant(c) => c,)*
                }
            }

            /// The rule's device side on `be` (its own buffers and passes; see
            /// [`UpdateRule::device`]).
            pub fn device<B: Backend>(&self, be: &B, cx: DeviceContext<'_, B>) -> Result<Box<dyn RuleDevice<B>>> {
                match self {
                    $(OptimizerConfig::$variant(c) => c.device(be, cx),)*
                }
            }

            /// Which optimizer this is.
            pub fn kind(&self) -> OptimKind {
                match self {
                    $(OptimizerConfig::$variant(_) => OptimKind::$variant,)*
                }
            }
        }
    };
}

optimizers! {
    /// SGD with optional momentum, dampening, Nesterov and L2.
    Sgd(SgdConfig);
    /// Adagrad.
    Adagrad(AdagradConfig);
    /// RMSprop.
    Rmsprop(RmspropConfig);
    /// Adam / AdamW / AMSGrad.
    Adam(AdamConfig);
    /// Adamax.
    Adamax(AdamaxConfig);
    /// NAdam.
    Nadam(NadamConfig);
    /// RAdam.
    Radam(RadamConfig);
    /// Lion.
    Lion(LionConfig);
    /// Sophia-G.
    Sophia(SophiaConfig);
    /// Schedule-free AdamW.
    ScheduleFree(ScheduleFreeConfig);
    /// LAMB.
    Lamb(LambConfig);
    /// Adafactor.
    Adafactor(AdafactorConfig);
    /// Muon for 2-D weights, AdamW for the rest.
    Muon(MuonConfig);
}

impl OptimizerConfig {
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
}
