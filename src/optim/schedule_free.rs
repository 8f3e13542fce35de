//! Schedule-free AdamW (Defazio et al. 2024, `schedulefree.AdamWScheduleFree` 1.4.1, the
//! for-loop path): no momentum buffer and no schedule; the parameters hold y, an interpolation
//! of the SGD-like sequence z (state) and the average x, which evaluation uses
//! (`shaders/optim/schedule_free.wgsl`). The same kernel switches the parameters between y
//! (train mode) and x (eval mode): `Optimizer::eval_mode` / `train_mode`.

use super::hyper::{flag, GroupHyper, Head, StepScalars};
use super::registry::{betas, num, Settings};
use super::rule::{out_of_range, rule_settings, DeviceContext, GroupContext, RuleDevice, Shared, UpdateRule};
use super::OptimizerConfig;
use crate::backend::Backend;
use crate::error::Result;
use serde_json::Value;

/// `AdamWScheduleFree`'s settings (its defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScheduleFreeConfig {
    /// Learning rate (default 0.0025).
    pub lr: f64,
    /// (β1, β2): β1 mixes x and z, β2 is the second moment's decay (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε (default 1e-8).
    pub eps: f64,
    /// Weight decay, taken at y (default 0).
    pub weight_decay: f64,
    /// Linear warm-up of the rate over this many steps (default 0).
    pub warmup_steps: u64,
    /// r: the averaging weight's power of the step number (default 0).
    pub r: f64,
    /// The averaging weight's power of the largest rate so far (default 2).
    pub weight_lr_power: f64,
}

impl Default for ScheduleFreeConfig {
    fn default() -> Self {
        Self {
            lr: 0.0025,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            warmup_steps: 0,
            r: 0.0,
            weight_lr_power: 2.0,
        }
    }
}

/// Schedule-free AdamW's own numbers in its block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ScheduleFreeTerms {
    /// 0: a step; 1: move the parameters towards z by `switch_weight` (eval/train switch).
    pub switch: f32,
    /// The first step: z starts as a copy of the parameters.
    pub first_step: f32,
    /// `1 − β2^(k+1)`.
    pub bc2: f32,
    /// The averaging weight `weight / weight_sum`.
    pub ckp1: f32,
    /// `lr_t·(β1·(1 − ckp1) − 1)`, y's step along the normalised gradient.
    pub y_coef: f32,
    /// The switch's lerp weight: `1 − 1/β1` to eval mode, `1 − β1` back to train mode.
    pub switch_weight: f32,
    /// Unused.
    pub pad: f32,
}

/// Per-group running numbers the reference keeps in its param group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScheduleFreeGroup {
    /// The largest scheduled rate so far (−1 before the first step).
    pub lr_max: f64,
    /// Σ of the averaging weights so far.
    pub weight_sum: f64,
}

impl Default for ScheduleFreeGroup {
    fn default() -> Self {
        Self { lr_max: -1.0, weight_sum: 0.0 }
    }
}

impl ScheduleFreeConfig {
    /// From `AdamWScheduleFree`'s constructor arguments.
    pub fn from_reference(h: &Value) -> Result<Self> {
        Ok(Self {
            lr: num(h, "lr")?,
            betas: betas(h)?,
            eps: num(h, "eps")?,
            weight_decay: num(h, "weight_decay")?,
            warmup_steps: num(h, "warmup_steps")? as u64,
            r: num(h, "r")?,
            weight_lr_power: num(h, "weight_lr_power")?,
        })
    }

    /// The block of one group for step `s.t` (from 1), advancing the group's running numbers
    /// as the reference does in Python float64.
    pub fn block(&self, s: &StepScalars, group: &mut ScheduleFreeGroup) -> GroupHyper {
        let k = s.t - 1.0;
        let (b1, b2) = (s.momentum, self.betas.1);
        let sched = if k < self.warmup_steps as f64 { (k + 1.0) / self.warmup_steps as f64 } else { 1.0 };
        let lr = s.lr * sched;
        group.lr_max = group.lr_max.max(lr);
        let weight = (k + 1.0).powf(self.r) * group.lr_max.powf(self.weight_lr_power);
        group.weight_sum += weight;
        let ckp1 = if group.weight_sum != 0.0 { weight / group.weight_sum } else { 0.0 };
        let mut head = Head::base(s).with_betas(b1, b2);
        head.lr = lr as f32;
        head.eps = self.eps as f32;
        let terms = ScheduleFreeTerms {
            first_step: flag(s.t == 1.0),
            bc2: (1.0 - b2.powf(k + 1.0)) as f32,
            ckp1: ckp1 as f32,
            y_coef: (lr * (b1 * (1.0 - ckp1) - 1.0)) as f32,
            ..Default::default()
        };
        GroupHyper::new(head, terms)
    }

    /// The block that moves train-mode parameters y to eval-mode x (`to_eval`), or back.
    pub fn switch_block(&self, s: &StepScalars, to_eval: bool) -> GroupHyper {
        let b1 = s.momentum;
        let switch_weight = if to_eval { 1.0 - 1.0 / b1 } else { 1.0 - b1 };
        let terms = ScheduleFreeTerms { switch: 1.0, switch_weight: switch_weight as f32, ..Default::default() };
        GroupHyper::new(Head::base(s).with_betas(b1, self.betas.1), terms)
    }
}

/// The CPU twin of `schedule_free_step`. A step (state: z, exp_avg_sq; p is y):
/// z = p at the first step; v = β2·v + (1−β2)·g·g; gn = g / (sqrt(v/bc2) + eps);
/// gn += wd·y; y = lerp(y, z, ckp1); y += y_coef·gn; z −= lr·gn. A switch: p = lerp(p, z, w).
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let h = &b.head;
    let t: ScheduleFreeTerms = b.terms();
    if t.switch != 0.0 {
        *p = super::hyper::lerp(*p, s[0], t.switch_weight);
        return;
    }
    if t.first_step != 0.0 {
        s[0] = *p;
    }
    s[1] = s[1] * h.beta2 + h.one_minus_beta2 * g * g;
    let denom = (s[1] / t.bc2).sqrt() + h.eps;
    let mut gn = g / denom;
    if h.weight_decay != 0.0 {
        gn += h.weight_decay * *p;
    }
    *p = super::hyper::lerp(*p, s[0], t.ckp1);
    *p += t.y_coef * gn;
    s[0] -= h.lr * gn;
}

/// From the run's settings (the reference's defaults for the rest).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = ScheduleFreeConfig::default();
    OptimizerConfig::ScheduleFree(ScheduleFreeConfig {
        lr: s.lr.unwrap_or(d.lr),
        betas: (s.beta1.unwrap_or(d.betas.0), s.beta2.unwrap_or(d.betas.1)),
        eps: s.eps.unwrap_or(d.eps),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        ..d
    })
}

/// From `AdamWScheduleFree`'s constructor arguments.
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::ScheduleFree(ScheduleFreeConfig::from_reference(h)?))
}

impl UpdateRule for ScheduleFreeConfig {
    fn keeps_running_groups(&self) -> bool {
        true
    }
    fn device<B: Backend>(&self, _be: &B, _cx: DeviceContext<'_, B>) -> Result<Box<dyn RuleDevice<B>>> {
        Ok(Box::new(ScheduleFreeDevice::<B> { config: *self, switch_table: None, zero_grads: None }))
    }
    fn validate(&self) -> Result<()> {
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(out_of_range("ScheduleFree", "eps", self.eps, "> 0"));
        }
        for (name, v) in [("r", self.r), ("weight_lr_power", self.weight_lr_power)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(out_of_range("ScheduleFree", name, v, "a finite number ≥ 0"));
            }
        }
        Ok(())
    }
    rule_settings!(SCHEDULE_FREE_STEP, betas);
    fn state_names(&self) -> &'static [&'static str] {
        &["z", "exp_avg_sq"]
    }
    fn block(&self, s: &StepScalars, group: GroupContext<'_>) -> GroupHyper {
        self.block(s, group.running)
    }
}

/// Schedule-free AdamW's device side: the table of its y ↔ x switch and the all-zero gradient
/// the switch binds (both made at the first switch, then kept).
struct ScheduleFreeDevice<B: Backend> {
    config: ScheduleFreeConfig,
    switch_table: Option<B::Tensor>,
    zero_grads: Option<B::Tensor>,
}

impl<B: Backend> RuleDevice<B> for ScheduleFreeDevice<B> {
    /// `p = lerp(p, z, 1 − 1/β1)` to eval mode, `lerp(p, z, 1 − β1)` back: one dispatch.
    fn switch(&mut self, be: &B, params: &mut B::Tensor, to_eval: bool, mut s: Shared<'_, B>) -> Result<()> {
        let c = self.config;
        s.fill_table_host(|scalars| c.switch_block(scalars, to_eval));
        match &mut self.switch_table {
            Some(t) => be.write(t, s.table_host)?,
            None => self.switch_table = Some(be.upload(s.table_host)?),
        }
        if self.zero_grads.is_none() {
            self.zero_grads = Some(be.zeros(&[s.layout.total()])?);
        }
        let (table, zero) =
            (self.switch_table.as_ref().expect("written above"), self.zero_grads.as_ref().expect("made above"));
        s.record(be, params, zero, table)
    }
}
