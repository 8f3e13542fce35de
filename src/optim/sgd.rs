//! `torch.optim.SGD`: momentum, dampening, Nesterov, coupled L2 (`shaders/optim/sgd.wgsl`).

use super::hyper::{coupled, flag, GroupHyper, Head, StepScalars};
use super::registry::{flag_of, num, Settings};
use super::rule::{out_of_range, rule_settings, GroupContext, UpdateRule};
use super::OptimizerConfig;
use crate::error::Result;
use serde_json::Value;

/// `torch.optim.SGD`'s settings.
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

/// SGD's own numbers in its block. Head: `beta1` = momentum, `one_minus_beta1` = 1 − dampening.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SgdTerms {
    /// Nesterov momentum.
    pub nesterov: f32,
    /// The first step: the momentum buffer starts as the gradient itself.
    pub first_step: f32,
    /// Momentum ≠ 0 (else there is no buffer).
    pub has_momentum: f32,
    /// Unused.
    pub pad: [f32; 4],
}

impl SgdConfig {
    /// State tensors, PyTorch's names.
    pub fn state_names(&self) -> &'static [&'static str] {
        if self.momentum != 0.0 {
            &["momentum_buffer"]
        } else {
            &[]
        }
    }

    /// The block of one group for one step.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        let mut head = Head::base(s);
        head.beta1 = s.momentum as f32;
        head.one_minus_beta1 = (1.0 - self.dampening) as f32;
        let terms = SgdTerms {
            nesterov: flag(self.nesterov),
            first_step: flag(s.t == 1.0),
            has_momentum: flag(s.momentum != 0.0),
            pad: [0.0; 4],
        };
        GroupHyper::new(head, terms)
    }
}

/// The CPU twin of `sgd_step` for element i. State: momentum_buffer.
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let (h, t) = (&b.head, b.terms::<SgdTerms>());
    let mut g = coupled(h, *p, g);
    if t.has_momentum != 0.0 {
        let buf = &mut s[0];
        *buf = if t.first_step != 0.0 { g } else { *buf * h.beta1 + h.one_minus_beta1 * g };
        g = if t.nesterov != 0.0 { g + h.beta1 * *buf } else { *buf };
    }
    *p += -h.lr * g;
}

/// From the run's settings (PyTorch's defaults for the rest).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = SgdConfig::default();
    OptimizerConfig::Sgd(SgdConfig {
        lr: s.lr.unwrap_or(d.lr),
        momentum: s.momentum.unwrap_or(d.momentum),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        nesterov: s.nesterov,
        ..d
    })
}

/// From torch.optim.SGD's constructor arguments.
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Sgd(SgdConfig {
        lr: num(h, "lr")?,
        momentum: num(h, "momentum")?,
        dampening: num(h, "dampening")?,
        weight_decay: num(h, "weight_decay")?,
        nesterov: flag_of(h, "nesterov")?,
    }))
}

impl UpdateRule for SgdConfig {
    fn validate(&self) -> Result<()> {
        // The one Nesterov check (the CLI's settings reach it through `registry::build`).
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(crate::Error::InvalidArgument {
                what: "nesterov".into(),
                detail: "needs momentum > 0 and zero dampening (as torch.optim.SGD)".into(),
            });
        }
        if self.momentum.is_nan() || self.momentum < 0.0 {
            return Err(out_of_range("Sgd", "momentum", self.momentum, "≥ 0"));
        }
        Ok(())
    }
    rule_settings!(SGD_STEP, momentum);
    fn state_names(&self) -> &'static [&'static str] {
        self.state_names()
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s)
    }
}
