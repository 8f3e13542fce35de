//! `torch.optim.RMSprop`: centered and momentum variants (`shaders/optim/rmsprop.wgsl`).

use super::hyper::{coupled, flag, lerp, GroupHyper, Head, StepScalars};
use super::registry::{flag_of, num, Settings};
use super::rule::{rule_settings, GroupContext, UpdateRule};
use super::OptimizerConfig;
use crate::error::Result;
use serde_json::Value;

/// `torch.optim.RMSprop`'s settings.
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

/// RMSprop's own numbers. Head: `beta1` = alpha, `one_minus_beta1` = 1 − alpha, `beta2` = momentum.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RmspropTerms {
    /// Centered RMSprop.
    pub centered: f32,
    /// Momentum > 0.
    pub has_momentum: f32,
    /// Unused.
    pub pad: [f32; 5],
}

impl RmspropConfig {
    /// The block of one group for one step.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        let mut head = Head::base(s);
        head.beta1 = self.alpha as f32;
        head.one_minus_beta1 = (1.0 - self.alpha) as f32;
        head.beta2 = s.momentum as f32;
        head.eps = self.eps as f32;
        let terms = RmspropTerms { centered: flag(self.centered), has_momentum: flag(s.momentum > 0.0), pad: [0.0; 5] };
        GroupHyper::new(head, terms)
    }
}

/// The CPU twin of `rmsprop_step`. State: square_avg, momentum_buffer, grad_avg.
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let (h, t) = (&b.head, b.terms::<RmspropTerms>());
    let g = coupled(h, *p, g);
    s[0] = s[0] * h.beta1 + h.one_minus_beta1 * g * g;
    let mut avg = if t.centered != 0.0 {
        s[2] = lerp(s[2], g, h.one_minus_beta1);
        let ga = s[2];
        (s[0] + -ga * ga).sqrt()
    } else {
        s[0].sqrt()
    };
    avg += h.eps;
    if t.has_momentum != 0.0 {
        s[1] = s[1] * h.beta2 + g / avg;
        *p += -h.lr * s[1];
    } else {
        *p += -h.lr * (g / avg);
    }
}

/// From the run's settings (PyTorch's defaults for the rest).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = RmspropConfig::default();
    OptimizerConfig::Rmsprop(RmspropConfig {
        lr: s.lr.unwrap_or(d.lr),
        eps: s.eps.unwrap_or(d.eps),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        momentum: s.momentum.unwrap_or(d.momentum),
        ..d
    })
}

/// From torch.optim.RMSprop's constructor arguments.
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Rmsprop(RmspropConfig {
        lr: num(h, "lr")?,
        alpha: num(h, "alpha")?,
        eps: num(h, "eps")?,
        weight_decay: num(h, "weight_decay")?,
        momentum: num(h, "momentum")?,
        centered: flag_of(h, "centered")?,
    }))
}

impl UpdateRule for RmspropConfig {
    rule_settings!(RMSPROP_STEP, momentum);
    fn state_names(&self) -> &'static [&'static str] {
        &["square_avg", "momentum_buffer", "grad_avg"]
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s)
    }
}
