//! `torch.optim.Adam`, `AdamW` (decoupled decay) and AMSGrad (`shaders/optim/adam.wgsl`).

use super::fused::{elements, ElementUpdate};
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
    let t = b.terms::<AdamTerms>();
    let g = decay(&b.head, t.decoupled, p, g);
    moments_and_step(b, p, g, s, t.amsgrad != 0.0);
}

/// The update after the decay: the moments, then the step with `√v̂ + ε` in the denominator
/// (v̂ the running maximum of v with AMSGrad).
#[inline(always)]
fn moments_and_step(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3], amsgrad: bool) {
    let (h, t) = (&b.head, b.terms::<AdamTerms>());
    adam_moments(h, s, g);
    let v = if amsgrad {
        s[2] = s[2].max(s[1]);
        s[2]
    } else {
        s[1]
    };
    let denom = v.sqrt() / t.sqrt_bc2 + h.eps;
    *p += -t.step_size * (s[0] / denom);
}

/// What the fused driver runs for `adam_step`: [`update`], except that a group without
/// AMSGrad whose decay is decoupled (AdamW) or absent (Adam's default) gets an element loop
/// without the other cases' branches (LLVM keeps such invariant branches inside the vector
/// loop as selects; AdamW over 10 M parameters on one thread ran 4–8 % faster without them).
/// Each loop does the same operations as [`update`] for its case, so the bits are the same.
pub(crate) struct AdamUpdate;

impl ElementUpdate for AdamUpdate {
    #[inline(always)]
    fn update(&self, h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
        update(h, p, g, s)
    }

    #[inline(always)]
    fn run<C: Fn(f32) -> f32, const S: usize>(
        &self,
        h: &GroupHyper,
        p: &mut [f32],
        g: &[f32],
        slots: [&mut [f32]; 3],
        clip: C,
    ) {
        let t = h.terms::<AdamTerms>();
        if t.amsgrad == 0.0 && t.decoupled != 0.0 {
            let decoupled = |b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]| {
                *p *= b.head.decay_factor;
                moments_and_step(b, p, g, s, false)
            };
            elements::<S>(decoupled, h, p, g, slots, clip)
        } else if t.amsgrad == 0.0 && h.head.weight_decay == 0.0 {
            elements::<S>(|b, p, g, s| moments_and_step(b, p, g, s, false), h, p, g, slots, clip)
        } else {
            elements::<S>(update, h, p, g, slots, clip)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fused_drivers_lighter_loops_give_the_general_updates_bits() {
        let mut rng = crate::rng::Rng::new(7);
        let mut numbers = |n: usize, lo: f64, hi: f64| (0..n).map(|_| rng.uniform(lo, hi) as f32).collect::<Vec<f32>>();
        let (p0, g, m0, v0) =
            (numbers(100, -1.0, 1.0), numbers(100, -1.0, 1.0), numbers(100, -0.1, 0.1), numbers(100, 0.0, 0.01));
        let cases = [
            ("Adam", AdamConfig::default(), 0.0),
            ("Adam + L2", AdamConfig::default(), 0.1),
            ("AdamW", AdamConfig::adamw(), 0.01),
            ("AMSGrad", AdamConfig { amsgrad: true, ..AdamConfig::adamw() }, 0.01),
        ];
        for (name, config, weight_decay) in cases {
            let s = StepScalars { lr: 1e-3, weight_decay, momentum: 0.9, t: 3.0, mu_product: 1.0 };
            let h = config.block(&s);
            let run = |light: bool| {
                let (mut p, mut m, mut v, mut vmax) = (p0.clone(), m0.clone(), v0.clone(), v0.clone());
                let slots = [&mut m[..], &mut v[..], &mut vmax[..]];
                if light {
                    AdamUpdate.run::<_, 3>(&h, &mut p, &g, slots, |g| g);
                } else {
                    elements::<3>(update, &h, &mut p, &g, slots, |g| g);
                }
                [p, m, v, vmax].concat().iter().map(|x| x.to_bits()).collect::<Vec<u32>>()
            };
            assert_eq!(run(true), run(false), "{name}");
        }
    }
}
