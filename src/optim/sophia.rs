//! Sophia-G (Liu et al. 2023, the official `SophiaG`, sophia-opt 0.2.2): a sign step of the
//! momentum, clipped coordinate-wise by a diagonal Hessian estimate, with decoupled weight
//! decay (`shaders/optim/sophia.wgsl`). The same kernel also runs the Hessian's EMA
//! (`Optimizer::update_hessian`) from a Gauss-Newton-Bartlett gradient ĝ.

use super::hyper::{flag, GroupHyper, Head, StepScalars};
use super::registry::{betas, num, Settings};
use super::rule::{out_of_range, rule_settings, DeviceContext, GroupContext, RuleDevice, Shared, UpdateRule};
use super::OptimizerConfig;
use crate::backend::Backend;
use crate::error::Result;
use serde_json::Value;

/// Sophia-G's settings (the official defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SophiaConfig {
    /// Learning rate (default 1e-4).
    pub lr: f64,
    /// (β1, β2): the momentum's and the Hessian EMA's decay (default (0.965, 0.99)).
    pub betas: (f64, f64),
    /// ρ, the clipping threshold's scale (default 0.04).
    pub rho: f64,
    /// Decoupled weight decay (default 0.1).
    pub weight_decay: f64,
    /// `bs`, the batch size `step()` multiplies the Hessian EMA by (the reference's default
    /// 5120; the official GPT-2 script passes tokens per batch).
    pub bs: f64,
    /// k: the Hessian estimate is refreshed every k steps (the official script's default 10).
    pub hessian_interval: u64,
}

impl Default for SophiaConfig {
    fn default() -> Self {
        Self { lr: 1e-4, betas: (0.965, 0.99), rho: 0.04, weight_decay: 0.1, bs: 5120.0, hessian_interval: 10 }
    }
}

/// Sophia-G's own numbers in its block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SophiaTerms {
    /// `ρ·bs`, the Python product, as f32.
    pub rho_bs: f32,
    /// 1: this pass updates the Hessian EMA from the gradient (ĝ) and nothing else.
    pub hessian_pass: f32,
    /// Unused.
    pub pad: [f32; 5],
}

impl SophiaConfig {
    /// The block of one group for one step.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        let head = Head::base(s).with_betas(s.momentum, self.betas.1);
        GroupHyper::new(head, SophiaTerms { rho_bs: (self.rho * self.bs) as f32, ..Default::default() })
    }

    /// The block of a Hessian pass: `h = β2·h + (1 − β2)·ĝ·ĝ`.
    pub fn hessian_block(&self, s: &StepScalars) -> GroupHyper {
        let head = Head::base(s).with_betas(s.momentum, self.betas.1);
        GroupHyper::new(head, SophiaTerms { hessian_pass: flag(true), ..Default::default() })
    }
}

/// The CPU twin of `sophia_step`. A step: p = p·(1 − lr·wd); m = β1·m + (1−β1)·g;
/// ratio = min(|m| / (ρ·bs·h + 1e-15), 1); p = p − lr·sign(m)·ratio. A Hessian pass:
/// h = β2·h + (1−β2)·ĝ·ĝ. State: exp_avg, hessian.
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let h = &b.head;
    let t: SophiaTerms = b.terms();
    if t.hessian_pass != 0.0 {
        s[1] = s[1] * h.beta2 + h.one_minus_beta2 * g * g;
        return;
    }
    *p *= h.decay_factor;
    let m = s[0] * h.beta1 + h.one_minus_beta1 * g;
    s[0] = m;
    let ratio = (m.abs() / (s[1] * t.rho_bs + 1e-15)).min(1.0);
    let sign = if m > 0.0 {
        1.0
    } else if m < 0.0 {
        -1.0
    } else {
        0.0
    };
    *p += -h.lr * sign * ratio;
}

impl SophiaConfig {
    /// From `SophiaG`'s constructor arguments (`lr`, `betas`, `rho`, `weight_decay`) and
    /// `step()`'s `bs`; k is the training script's setting.
    pub fn from_reference(h: &Value, bs: f64, hessian_interval: u64) -> Result<Self> {
        Ok(Self {
            lr: num(h, "lr")?,
            betas: betas(h)?,
            rho: num(h, "rho")?,
            weight_decay: num(h, "weight_decay")?,
            bs,
            hessian_interval,
        })
    }
}

/// From the run's settings (the official defaults for the rest; the trainer sets `bs` to the
/// rows of one optimizer step).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = SophiaConfig::default();
    OptimizerConfig::Sophia(SophiaConfig {
        lr: s.lr.unwrap_or(d.lr),
        betas: (s.beta1.unwrap_or(d.betas.0), s.beta2.unwrap_or(d.betas.1)),
        rho: s.rho.unwrap_or(d.rho),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        hessian_interval: s.hessian_interval.unwrap_or(d.hessian_interval),
        ..d
    })
}

/// From `SophiaG`'s constructor arguments (`bs` at its `step()` default, k at the official
/// script's).
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    let d = SophiaConfig::default();
    Ok(OptimizerConfig::Sophia(SophiaConfig::from_reference(h, d.bs, d.hessian_interval)?))
}

impl UpdateRule for SophiaConfig {
    fn auxiliary_interval(&self) -> Option<u64> {
        Some(self.hessian_interval)
    }
    fn rows_per_step(&mut self) -> Option<&mut f64> {
        Some(&mut self.bs)
    }
    fn device<B: Backend>(&self, _be: &B, _cx: DeviceContext<'_, B>) -> Result<Box<dyn RuleDevice<B>>> {
        Ok(Box::new(SophiaDevice::<B> { config: *self, hessian_table: None }))
    }
    fn validate(&self) -> Result<()> {
        if !(self.rho.is_finite() && self.rho > 0.0) {
            return Err(out_of_range("Sophia", "rho", self.rho, "> 0"));
        }
        if !(self.bs.is_finite() && self.bs >= 1.0) {
            return Err(out_of_range("Sophia", "bs", self.bs, "≥ 1"));
        }
        if self.hessian_interval == 0 {
            return Err(out_of_range("Sophia", "hessian_interval", 0.0, "≥ 1 (a Hessian estimate every k steps)"));
        }
        Ok(())
    }
    rule_settings!(SOPHIA_STEP, betas);
    fn state_names(&self) -> &'static [&'static str] {
        &["exp_avg", "hessian"]
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s)
    }
}

/// Sophia-G's device side: the constant table of its Hessian pass (written at the first).
struct SophiaDevice<B: Backend> {
    config: SophiaConfig,
    hessian_table: Option<B::Tensor>,
}

impl<B: Backend> RuleDevice<B> for SophiaDevice<B> {
    /// The Hessian EMA, `h = β2·h + (1 − β2)·ĝ·ĝ`, from `grads` ĝ: one dispatch of the kernel in
    /// its Hessian mode; the parameters do not change.
    fn auxiliary_gradient(
        &mut self,
        be: &B,
        params: &mut B::Tensor,
        grads: &B::Tensor,
        mut s: Shared<'_, B>,
    ) -> Result<bool> {
        if self.hessian_table.is_none() {
            let c = self.config;
            s.fill_table_host(|scalars| c.hessian_block(scalars));
            self.hessian_table = Some(be.upload(s.table_host)?);
        }
        let table = self.hessian_table.as_ref().expect("written above");
        s.record(be, params, grads, table)?;
        Ok(true)
    }
}
