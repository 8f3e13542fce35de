//! LAMB (You et al. 2019, Algorithm 2, as timm 1.0.31's `Lamb`): Adam's bias-corrected ratio
//! plus weight decay, scaled per tensor by the trust ratio ‖w‖/‖u‖ (`shaders/optim/lamb.wgsl`).
//! A step is three dispatches over the flat buffer: phase 0 (moments, the update u into a
//! scratch slot, decoupled decay), the per-tensor trust ratios (`ops::segment_norm::trust_ratio`, one
//! workgroup per tensor), phase 1 (p −= lr·trust·u); a global `max_grad_norm` adds the
//! gradient's sum of squares before them.

use super::hyper::{lerp, GroupHyper, Head, StepScalars, HYPER_LEN};
use super::optimizer::TABLE_RING;
use super::registry::{betas, flag_of, num, Settings};
use super::rule::{rule_settings, DeviceContext, GroupContext, RuleDevice, Shared, UpdateRule};
use super::OptimizerConfig;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::ops::segment_norm;
use serde_json::Value;

/// timm `Lamb`'s settings (its defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LambConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε, outside the square root, after the bias correction (default 1e-6).
    pub eps: f64,
    /// Weight decay (default 0.01): added to the update inside the trust ratio, or decoupled.
    pub weight_decay: f64,
    /// Bias-correct the moments (default true).
    pub bias_correction: bool,
    /// m = lerp(m, g, 1 − β1) (default true); else m = β1·m + g.
    pub grad_averaging: bool,
    /// Global gradient clipping, g / max(‖g‖/max_grad_norm, 1) (default Some(1.0)).
    pub max_grad_norm: Option<f64>,
    /// Clip the trust ratio at 1 (LAMBC; default false).
    pub trust_clip: bool,
    /// Apply the trust ratio to tensors without weight decay too (default false).
    pub always_adapt: bool,
    /// Decoupled decay p −= lr·wd·p before the norms (default false).
    pub decoupled_decay: bool,
}

impl Default for LambConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-6,
            weight_decay: 0.01,
            bias_correction: true,
            grad_averaging: true,
            max_grad_norm: Some(1.0),
            trust_clip: false,
            always_adapt: false,
            decoupled_decay: false,
        }
    }
}

/// Bits of [`LambTerms::flags`].
const DECOUPLED: u32 = 1;
const AVERAGING: u32 = 2;
const ADAPT: u32 = 4;
const TRUST_CLIP: u32 = 8;

/// LAMB's own numbers in its block. The last one is the trust ratio of the element's tensor:
/// the CPU driver puts the per-chunk value there; the kernel reads it from `norm[1 + chunk]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LambTerms {
    /// 0: moments and u; 1: apply the trust ratio and step.
    pub phase: f32,
    /// `1 − β1^t` (1 without bias correction).
    pub bc1: f32,
    /// `√(1 − β2^t)` (1 without bias correction).
    pub sqrt_bc2: f32,
    /// Bits: 1 decoupled decay, 2 grad averaging, 4 adapt (wd ≠ 0 or always_adapt), 8 trust clip.
    pub flags: f32,
    /// `−lr·wd` (decoupled decay).
    pub neg_lr_wd: f32,
    /// Unused.
    pub pad: f32,
    /// The trust ratio (phase 1, CPU path).
    pub trust: f32,
}

impl LambConfig {
    /// From timm `Lamb`'s constructor arguments; options downhill does not implement
    /// (`caution`, `corrected_weight_decay`) must be off.
    pub fn from_reference(h: &Value) -> Result<Self> {
        for key in ["caution", "corrected_weight_decay"] {
            if h[key].as_bool() == Some(true) {
                return Err(Error::InvalidArgument {
                    what: "LAMB".into(),
                    detail: format!("{key} is not implemented"),
                });
            }
        }
        Ok(Self {
            lr: num(h, "lr")?,
            betas: betas(h)?,
            eps: num(h, "eps")?,
            weight_decay: num(h, "weight_decay")?,
            bias_correction: flag_of(h, "bias_correction")?,
            grad_averaging: flag_of(h, "grad_averaging")?,
            max_grad_norm: h["max_grad_norm"].as_f64(),
            trust_clip: flag_of(h, "trust_clip")?,
            always_adapt: flag_of(h, "always_adapt")?,
            decoupled_decay: flag_of(h, "decoupled_decay")?,
        })
    }

    /// The block of one group for phase `phase` of step `s.t`.
    pub fn block(&self, s: &StepScalars, phase: u32) -> GroupHyper {
        let (b1, b2) = (s.momentum, self.betas.1);
        let (bc1, bc2) = if self.bias_correction { (1.0 - b1.powf(s.t), 1.0 - b2.powf(s.t)) } else { (1.0, 1.0) };
        let mut flags = 0;
        if self.decoupled_decay {
            flags |= DECOUPLED;
        }
        if self.grad_averaging {
            flags |= AVERAGING;
        }
        if s.weight_decay != 0.0 || self.always_adapt {
            flags |= ADAPT;
        }
        if self.trust_clip {
            flags |= TRUST_CLIP;
        }
        let mut head = Head::base(s).with_betas(b1, b2);
        head.eps = self.eps as f32;
        let terms = LambTerms {
            phase: phase as f32,
            bc1: bc1 as f32,
            sqrt_bc2: bc2.sqrt() as f32,
            flags: flags as f32,
            neg_lr_wd: (-s.lr * s.weight_decay) as f32,
            ..Default::default()
        };
        GroupHyper::new(head, terms)
    }
}

/// The CPU twin of `lamb_step`. Phase 0: m = lerp(m, g, 1 − β1) (or β1·m + g); v = β2·v +
/// (1 − β2)·g·g; u = (m/bc1) / (√v/√bc2 + ε); decay: p += (−lr·wd)·p, or u += wd·p; u into
/// slot 2. Phase 1: u ·= trust (min(trust, 1) with trust clip) when adapting; p += (−lr)·u.
/// State: exp_avg, exp_avg_sq, and the scratch slot u.
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let h = &b.head;
    let t: LambTerms = b.terms();
    let flags = t.flags as u32;
    if t.phase == 0.0 {
        s[0] = if flags & AVERAGING != 0 { lerp(s[0], g, h.one_minus_beta1) } else { s[0] * h.beta1 + g };
        s[1] = s[1] * h.beta2 + h.one_minus_beta2 * g * g;
        let mut u = (s[0] / t.bc1) / (s[1].sqrt() / t.sqrt_bc2 + h.eps);
        if h.weight_decay != 0.0 {
            if flags & DECOUPLED != 0 {
                *p += t.neg_lr_wd * *p;
            } else {
                u += h.weight_decay * *p;
            }
        }
        s[2] = u;
    } else {
        let mut u = s[2];
        if flags & ADAPT != 0 {
            let trust = if flags & TRUST_CLIP != 0 { t.trust.min(1.0) } else { t.trust };
            u *= trust;
        }
        *p += -h.lr * u;
    }
}

/// From the run's settings (timm's defaults for the rest, `max_grad_norm` 1 included).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = LambConfig::default();
    OptimizerConfig::Lamb(LambConfig {
        lr: s.lr.unwrap_or(d.lr),
        betas: (s.beta1.unwrap_or(d.betas.0), s.beta2.unwrap_or(d.betas.1)),
        eps: s.eps.unwrap_or(d.eps),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        ..d
    })
}

/// From timm `Lamb`'s constructor arguments.
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Lamb(LambConfig::from_reference(h)?))
}

impl UpdateRule for LambConfig {
    fn device<B: Backend>(&self, be: &B, cx: DeviceContext<'_, B>) -> Result<Box<dyn RuleDevice<B>>> {
        let segments = be.upload_u32(&segment_norm::segments(cx.layout))?;
        let phase_tables = (0..TABLE_RING).map(|_| be.zeros(&[cx.groups, HYPER_LEN])).collect::<Result<_>>()?;
        Ok(Box::new(LambDevice::<B> { segments, phase_tables }))
    }
    fn norm_len(&self, layout: &crate::params::ParamLayout) -> usize {
        1 + layout.chunks()
    }
    rule_settings!(LAMB_STEP, betas);
    fn state_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }
    /// The trust-ratio update u in a scratch slot.
    fn scratch_slots(&self) -> usize {
        1
    }
    /// Three dispatches around the per-tensor trust ratios.
    fn is_elementwise(&self) -> bool {
        false
    }
    fn own_clip(&self) -> Option<f64> {
        self.max_grad_norm
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s, 0)
    }
}

/// Where LAMB's phase flag sits in a block: the first of the terms, after the 8-float head.
const PHASE: usize = 8;

/// LAMB's device side: its layout's tensors as (offset, length) pairs for the trust ratios,
/// and a ring of phase-1 tables.
struct LambDevice<B: Backend> {
    segments: B::U32Buffer,
    phase_tables: Vec<B::Tensor>,
}

impl<B: Backend> RuleDevice<B> for LambDevice<B> {
    /// Phase 0, the per-tensor trust ratios, then phase 1 (the same blocks with the phase set).
    fn record_step(&mut self, be: &B, params: &mut B::Tensor, grads: &B::Tensor, mut s: Shared<'_, B>) -> Result<()> {
        let table = s.table;
        s.record(be, params, grads, table)?;
        let n = s.layout.total();
        segment_norm::trust_ratio(be, s.norm, params, s.state, 2 * n, &self.segments)?;
        for gi in 0..s.groups.len() {
            s.table_host.data_mut()[gi * HYPER_LEN + PHASE] = 1.0;
        }
        let ring = s.ring % self.phase_tables.len();
        let phase_table = &mut self.phase_tables[ring];
        be.write(phase_table, s.table_host)?;
        s.record(be, params, grads, phase_table)
    }
}
