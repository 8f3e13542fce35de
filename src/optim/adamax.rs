//! `torch.optim.Adamax` (`shaders/optim/adamax.wgsl`).

use super::hyper::{coupled, lerp, GroupHyper, Head, StepScalars};
use super::registry::{betas, num, Settings};
use super::rule::{rule_settings, GroupContext, UpdateRule};
use super::OptimizerConfig;
use crate::error::Result;
use serde_json::Value;

/// `torch.optim.Adamax`'s settings.
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

/// Adamax's own numbers in its block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamaxTerms {
    /// `lr / (1 − β1^t)`.
    pub step_size: f32,
    /// Unused.
    pub pad: [f32; 6],
}

impl AdamaxConfig {
    /// The block of one group for one step.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        let mut head = Head::base(s).with_betas(s.momentum, self.betas.1);
        head.eps = self.eps as f32;
        let step_size = (s.lr / (1.0 - s.momentum.powf(s.t))) as f32;
        GroupHyper::new(head, AdamaxTerms { step_size, pad: [0.0; 6] })
    }
}

/// The CPU twin of `adamax_step`. State: exp_avg, exp_inf.
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let (h, t) = (&b.head, b.terms::<AdamaxTerms>());
    let g = coupled(h, *p, g);
    s[0] = lerp(s[0], g, h.one_minus_beta1);
    s[1] = (s[1] * h.beta2).max(g.abs() + h.eps);
    *p += -t.step_size * (s[0] / s[1]);
}

/// From the run's settings (PyTorch's defaults for the rest).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = AdamaxConfig::default();
    OptimizerConfig::Adamax(AdamaxConfig {
        lr: s.lr.unwrap_or(d.lr),
        betas: (s.beta1.unwrap_or(d.betas.0), s.beta2.unwrap_or(d.betas.1)),
        eps: s.eps.unwrap_or(d.eps),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
    })
}

/// From torch.optim.Adamax's constructor arguments.
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Adamax(AdamaxConfig {
        lr: num(h, "lr")?,
        betas: betas(h)?,
        eps: num(h, "eps")?,
        weight_decay: num(h, "weight_decay")?,
    }))
}

impl UpdateRule for AdamaxConfig {
    rule_settings!(ADAMAX_STEP, betas);
    fn state_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_inf"]
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s)
    }
}
