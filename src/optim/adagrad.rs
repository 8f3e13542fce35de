//! `torch.optim.Adagrad` (`shaders/optim/adagrad.wgsl`).

use super::hyper::{coupled, GroupHyper, Head, StepScalars};
use super::registry::{num, Settings};
use super::rule::{rule_settings, GroupContext, UpdateRule};
use super::OptimizerConfig;
use crate::error::Result;
use serde_json::Value;

/// `torch.optim.Adagrad`'s settings.
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

/// Adagrad's own numbers in its block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdagradTerms {
    /// The decayed learning rate `lr / (1 + (t − 1)·lr_decay)`.
    pub clr: f32,
    /// Unused.
    pub pad: [f32; 6],
}

impl AdagradConfig {
    /// The block of one group for one step.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        let mut head = Head::base(s);
        head.eps = self.eps as f32;
        let clr = (s.lr / (1.0 + (s.t - 1.0) * self.lr_decay)) as f32;
        GroupHyper::new(head, AdagradTerms { clr, pad: [0.0; 6] })
    }
}

/// The CPU twin of `adagrad_step`. State: sum.
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let (h, t) = (&b.head, b.terms::<AdagradTerms>());
    let g = coupled(h, *p, g);
    s[0] += 1.0 * g * g;
    let std = s[0].sqrt() + h.eps;
    *p += -t.clr * (g / std);
}

/// From the run's settings (PyTorch's defaults for the rest).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = AdagradConfig::default();
    OptimizerConfig::Adagrad(AdagradConfig {
        lr: s.lr.unwrap_or(d.lr),
        eps: s.eps.unwrap_or(d.eps),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        ..d
    })
}

/// From torch.optim.Adagrad's constructor arguments.
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Adagrad(AdagradConfig {
        lr: num(h, "lr")?,
        lr_decay: num(h, "lr_decay")?,
        weight_decay: num(h, "weight_decay")?,
        initial_accumulator_value: num(h, "initial_accumulator_value")?,
        eps: num(h, "eps")?,
    }))
}

impl UpdateRule for AdagradConfig {
    fn initial_state(&self) -> f32 {
        self.initial_accumulator_value as f32
    }
    rule_settings!(ADAGRAD_STEP);
    fn state_names(&self) -> &'static [&'static str] {
        &["sum"]
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s)
    }
}
