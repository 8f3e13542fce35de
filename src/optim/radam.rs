//! `torch.optim.RAdam` (`shaders/optim/radam.wgsl`).

use super::hyper::{adam_moments, decay, flag, GroupHyper, Head, StepScalars};
use super::registry::{betas, flag_of, num, Settings};
use super::rule::{rule_settings, GroupContext, UpdateRule};
use super::OptimizerConfig;
use crate::error::Result;
use serde_json::Value;

/// `torch.optim.RAdam`'s settings.
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

/// RAdam's own numbers in its block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RadamTerms {
    /// `1 − β1^t`.
    pub bc1: f32,
    /// `√(1 − β2^t)`.
    pub sqrt_bc2: f32,
    /// The rectification term (when rectified).
    pub rect: f32,
    /// ρ_t > 5: the adaptive step applies.
    pub rectified: f32,
    /// Decoupled decay (and a non-zero decay).
    pub decoupled: f32,
    /// Unused.
    pub pad: [f32; 2],
}

impl RadamConfig {
    /// The block of one group for one step.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        let mut head = Head::base(s).with_betas(s.momentum, self.betas.1);
        head.eps = self.eps as f32;
        let b2 = self.betas.1;
        let bc1 = 1.0 - s.momentum.powf(s.t);
        let bc2 = 1.0 - b2.powf(s.t);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * s.t * b2.powf(s.t) / bc2;
        let mut terms = RadamTerms {
            bc1: bc1 as f32,
            sqrt_bc2: bc2.sqrt() as f32,
            decoupled: flag(self.decoupled_weight_decay && s.weight_decay != 0.0),
            ..Default::default()
        };
        if rho_t > 5.0 {
            let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).sqrt();
            terms.rect = rect as f32;
            terms.rectified = 1.0;
        }
        GroupHyper::new(head, terms)
    }
}

/// The CPU twin of `radam_step`. State: exp_avg, exp_avg_sq.
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let (h, t) = (&b.head, b.terms::<RadamTerms>());
    let g = decay(h, t.decoupled, p, g);
    adam_moments(h, s, g);
    let mhat = s[0] / t.bc1;
    let update = if t.rectified != 0.0 {
        let adaptive = t.sqrt_bc2 / (s[1].sqrt() + h.eps);
        mhat * h.lr * adaptive * t.rect
    } else {
        mhat * h.lr
    };
    *p += -update;
}

/// From the run's settings (PyTorch's defaults for the rest).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = RadamConfig::default();
    OptimizerConfig::Radam(RadamConfig {
        lr: s.lr.unwrap_or(d.lr),
        betas: (s.beta1.unwrap_or(d.betas.0), s.beta2.unwrap_or(d.betas.1)),
        eps: s.eps.unwrap_or(d.eps),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        ..d
    })
}

/// From torch.optim.RAdam's constructor arguments.
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Radam(RadamConfig {
        lr: num(h, "lr")?,
        betas: betas(h)?,
        eps: num(h, "eps")?,
        weight_decay: num(h, "weight_decay")?,
        decoupled_weight_decay: flag_of(h, "decoupled_weight_decay")?,
    }))
}

impl UpdateRule for RadamConfig {
    rule_settings!(RADAM_STEP, betas);
    fn state_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s)
    }
}
