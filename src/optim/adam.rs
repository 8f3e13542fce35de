//! `torch.optim.Adam`, `AdamW` (decoupled decay) and AMSGrad (`shaders/optim/adam.wgsl`).

use super::hyper::{adam_moments, decay, flag, GroupHyper, Head, StepScalars};
use super::registry::{betas, flag_of, num, Settings};
use super::rule::{rule_settings, GroupContext, UpdateRule};
use super::OptimizerConfig;
use crate::error::Result;
use serde_json::Value;

/// `torch.optim.Adam` and, with `decoupled_weight_decay`, `torch.optim.AdamW`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator after bias correction (default 1e-8).
    pub eps: f64,
    /// Weight decay: coupled L2 for Adam (default 0), decoupled for AdamW (default 1e-2).
    pub weight_decay: f64,
    /// Use the maximum of past second moments (default false).
    pub amsgrad: bool,
    /// AdamW: `p *= 1 − lr·wd` before the update instead of adding `wd·p` to the gradient.
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
        }
    }
}

/// Adam's own numbers in its block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamTerms {
    /// `lr / (1 − β1^t)`.
    pub step_size: f32,
    /// `√(1 − β2^t)`.
    pub sqrt_bc2: f32,
    /// AMSGrad.
    pub amsgrad: f32,
    /// AdamW's decoupled decay (and a non-zero decay).
    pub decoupled: f32,
    /// Unused.
    pub pad: [f32; 3],
}

impl AdamConfig {
    /// `torch.optim.AdamW`'s defaults (weight decay 1e-2, decoupled).
    pub fn adamw() -> Self {
        Self { weight_decay: 1e-2, decoupled_weight_decay: true, ..Self::default() }
    }

    /// State tensors, PyTorch's names.
    pub fn state_names(&self) -> &'static [&'static str] {
        if self.amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        }
    }

    /// The block of one group for one step.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        let mut head = Head::base(s).with_betas(s.momentum, self.betas.1);
        head.eps = self.eps as f32;
        let bc1 = 1.0 - s.momentum.powf(s.t);
        let bc2 = 1.0 - self.betas.1.powf(s.t);
        let terms = AdamTerms {
            step_size: (s.lr / bc1) as f32,
            sqrt_bc2: bc2.sqrt() as f32,
            amsgrad: flag(self.amsgrad),
            decoupled: flag(self.decoupled_weight_decay && s.weight_decay != 0.0),
            pad: [0.0; 3],
        };
        GroupHyper::new(head, terms)
    }
}

/// The CPU twin of `adam_step`. State: exp_avg, exp_avg_sq, max_exp_avg_sq.
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let (h, t) = (&b.head, b.terms::<AdamTerms>());
    let g = decay(h, t.decoupled, p, g);
    adam_moments(h, s, g);
    let v = if t.amsgrad != 0.0 {
        s[2] = s[2].max(s[1]);
        s[2]
    } else {
        s[1]
    };
    let denom = v.sqrt() / t.sqrt_bc2 + h.eps;
    *p += -t.step_size * (s[0] / denom);
}

fn with_settings(d: AdamConfig, s: &Settings) -> OptimizerConfig {
    OptimizerConfig::Adam(AdamConfig {
        lr: s.lr.unwrap_or(d.lr),
        betas: (s.beta1.unwrap_or(d.betas.0), s.beta2.unwrap_or(d.betas.1)),
        eps: s.eps.unwrap_or(d.eps),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        ..d
    })
}

/// Adam from the run's settings (PyTorch's defaults for the rest).
pub(crate) fn adam_from_settings(s: &Settings) -> OptimizerConfig {
    with_settings(AdamConfig::default(), s)
}

/// AdamW from the run's settings (PyTorch's defaults for the rest).
pub(crate) fn adamw_from_settings(s: &Settings) -> OptimizerConfig {
    with_settings(AdamConfig::adamw(), s)
}

fn torch(h: &Value, decoupled: bool) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Adam(AdamConfig {
        lr: num(h, "lr")?,
        betas: betas(h)?,
        eps: num(h, "eps")?,
        weight_decay: num(h, "weight_decay")?,
        amsgrad: flag_of(h, "amsgrad")?,
        decoupled_weight_decay: decoupled,
    }))
}

/// From torch.optim.Adam's constructor arguments.
pub(crate) fn adam_from_torch(h: &Value) -> Result<OptimizerConfig> {
    torch(h, false)
}

/// From torch.optim.AdamW's constructor arguments.
pub(crate) fn adamw_from_torch(h: &Value) -> Result<OptimizerConfig> {
    torch(h, true)
}

impl UpdateRule for AdamConfig {
    rule_settings!(ADAM_STEP, betas);
    fn state_names(&self) -> &'static [&'static str] {
        self.state_names()
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s)
    }
}
