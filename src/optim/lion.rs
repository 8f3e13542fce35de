//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", as lion-pytorch):
//! the sign of an interpolated momentum, decoupled weight decay (`shaders/optim/lion.wgsl`).

use super::hyper::{GroupHyper, Head, StepScalars};
use super::registry::{betas, num, Settings};
use super::rule::{rule_settings, GroupContext, UpdateRule};
use super::OptimizerConfig;
use crate::error::Result;
use serde_json::Value;

/// Lion's settings.
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

/// Lion has no numbers beyond the head; its terms are unused.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LionTerms {
    /// Unused.
    pub pad: [f32; 7],
}

impl LionConfig {
    /// The block of one group for one step.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        GroupHyper::new(Head::base(s).with_betas(s.momentum, self.betas.1), LionTerms::default())
    }
}

/// The CPU twin of `lion_step`: c = β1·m + (1−β1)·g; p = p·(1 − lr·wd) − lr·sign(c);
/// m = β2·m + (1−β2)·g. State: exp_avg.
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let h = &b.head;
    let c = h.beta1 * s[0] + h.one_minus_beta1 * g;
    let sign = if c > 0.0 {
        1.0
    } else if c < 0.0 {
        -1.0
    } else {
        0.0
    };
    *p = *p * h.decay_factor - h.lr * sign;
    s[0] = h.beta2 * s[0] + h.one_minus_beta2 * g;
}

/// From the run's settings (the paper's defaults for the rest).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = LionConfig::default();
    OptimizerConfig::Lion(LionConfig {
        lr: s.lr.unwrap_or(d.lr),
        betas: (s.beta1.unwrap_or(d.betas.0), s.beta2.unwrap_or(d.betas.1)),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
    })
}

/// From lion-pytorch's constructor arguments (`lr`, `betas`, `weight_decay`).
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Lion(LionConfig { lr: num(h, "lr")?, betas: betas(h)?, weight_decay: num(h, "weight_decay")? }))
}

impl UpdateRule for LionConfig {
    rule_settings!(LION_STEP, betas);
    fn state_names(&self) -> &'static [&'static str] {
        &["exp_avg"]
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s)
    }
}
