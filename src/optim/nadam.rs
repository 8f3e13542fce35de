//! `torch.optim.NAdam` (`shaders/optim/nadam.wgsl`).

use super::hyper::{adam_moments, decay, flag, GroupHyper, Head, StepScalars};
use super::registry::{betas, flag_of, num, Settings};
use super::rule::{rule_settings, GroupContext, UpdateRule};
use super::OptimizerConfig;
use crate::error::Result;
use serde_json::Value;

/// `torch.optim.NAdam`'s settings.
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

/// NAdam's own numbers in its block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct NadamTerms {
    /// `1 − β2^t`.
    pub bc2: f32,
    /// `−lr·(1 − μ_t)/(1 − Πμ)`, the gradient's coefficient.
    pub grad_coef: f32,
    /// `−lr·μ_{t+1}/(1 − Πμ·μ_{t+1})`, the first moment's coefficient.
    pub avg_coef: f32,
    /// Decoupled decay (and a non-zero decay).
    pub decoupled: f32,
    /// Unused.
    pub pad: [f32; 3],
}

impl NadamConfig {
    /// μ_t, the momentum at step t.
    pub fn mu(&self, momentum: f64, t: f64) -> f64 {
        momentum * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay))
    }

    /// The block of one group for one step (`s.mu_product` already includes μ_t).
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        let mut head = Head::base(s).with_betas(s.momentum, self.betas.1);
        head.eps = self.eps as f32;
        let (mu, mu_next) = (self.mu(s.momentum, s.t), self.mu(s.momentum, s.t + 1.0));
        let terms = NadamTerms {
            bc2: (1.0 - self.betas.1.powf(s.t)) as f32,
            grad_coef: (-s.lr * (1.0 - mu) / (1.0 - s.mu_product)) as f32,
            avg_coef: ((-s.lr * mu_next) / (1.0 - s.mu_product * mu_next)) as f32,
            decoupled: flag(self.decoupled_weight_decay && s.weight_decay != 0.0),
            pad: [0.0; 3],
        };
        GroupHyper::new(head, terms)
    }
}

/// The CPU twin of `nadam_step`. State: exp_avg, exp_avg_sq.
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let (h, t) = (&b.head, b.terms::<NadamTerms>());
    let g = decay(h, t.decoupled, p, g);
    adam_moments(h, s, g);
    let denom = (s[1] / t.bc2).sqrt() + h.eps;
    *p += t.grad_coef * (g / denom);
    *p += t.avg_coef * (s[0] / denom);
}

/// From the run's settings (PyTorch's defaults for the rest).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = NadamConfig::default();
    OptimizerConfig::Nadam(NadamConfig {
        lr: s.lr.unwrap_or(d.lr),
        betas: (s.beta1.unwrap_or(d.betas.0), s.beta2.unwrap_or(d.betas.1)),
        eps: s.eps.unwrap_or(d.eps),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        ..d
    })
}

/// From torch.optim.NAdam's constructor arguments.
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Nadam(NadamConfig {
        lr: num(h, "lr")?,
        betas: betas(h)?,
        eps: num(h, "eps")?,
        weight_decay: num(h, "weight_decay")?,
        momentum_decay: num(h, "momentum_decay")?,
        decoupled_weight_decay: flag_of(h, "decoupled_weight_decay")?,
    }))
}

impl UpdateRule for NadamConfig {
    fn running_product(&self, momentum: f64, t: f64) -> Option<f64> {
        Some(self.mu(momentum, t))
    }
    rule_settings!(NADAM_STEP, betas);
    fn state_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s)
    }
}
