//! Muon (`torch.optim.Muon`, Keller Jordan's): momentum orthogonalised by a Newton–Schulz
//! iteration, for 2-D weights; every other tensor goes to AdamW in the same step, as
//! practitioners use it (`shaders/optim/muon.wgsl` for the elementwise part). A step is one
//! elementwise dispatch over the flat buffer (the momentum of the 2-D tensors, written into a
//! scratch slot as U, and AdamW for the rest), then per 2-D tensor Σu² (1), U/max(‖U‖_F, ε)
//! (1), `ns_steps` iterations of three matmuls and four scale/axpy ops (7 each), and the
//! decayed update of the weight (2): 4 + 7·ns_steps dispatches per 2-D tensor. The iteration
//! runs in float32 (torch's reference runs it in bfloat16; see docs/ARCHITECTURE.md).

use super::hyper::{flag, lerp, GroupHyper, Head, StepScalars};
use super::registry::{num, Settings};
use super::{adam, AdamConfig, OptimizerConfig};
use crate::error::{Error, Result};
use serde_json::Value;

/// How the step is scaled for a [A, B] weight (torch's `adjust_lr_fn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjustLr {
    /// `√max(1, A/B)` (torch's default, None / "original").
    Original,
    /// `0.2·√max(A, B)` (Moonshot's, "match_rms_adamw").
    MatchRmsAdamw,
    /// `√(A/B)` ("spectral_unclamped").
    SpectralUnclamped,
}

impl AdjustLr {
    /// The ratio for a [rows, cols] weight.
    pub fn ratio(self, rows: usize, cols: usize) -> f64 {
        let (a, b) = (rows as f64, cols as f64);
        match self {
            AdjustLr::Original => (a / b).max(1.0).sqrt(),
            AdjustLr::MatchRmsAdamw => 0.2 * a.max(b).sqrt(),
            AdjustLr::SpectralUnclamped => (a / b).sqrt(),
        }
    }
}

/// Muon's settings (torch's defaults), and the AdamW that takes the other tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MuonConfig {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decoupled weight decay (default 0.1).
    pub weight_decay: f64,
    /// μ (default 0.95).
    pub momentum: f64,
    /// Nesterov momentum (default true).
    pub nesterov: bool,
    /// (a, b, c) of the quintic iteration (default (3.4445, −4.7750, 2.0315)).
    pub ns_coefficients: (f64, f64, f64),
    /// The floor of ‖U‖_F (default 1e-7).
    pub eps: f64,
    /// Newton–Schulz iterations (default 5).
    pub ns_steps: usize,
    /// The per-shape step scale.
    pub adjust_lr: AdjustLr,
    /// AdamW for the tensors that are not 2-D (biases, norms' gains).
    pub adamw: AdamConfig,
}

impl Default for MuonConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            weight_decay: 0.1,
            momentum: 0.95,
            nesterov: true,
            ns_coefficients: (3.4445, -4.775, 2.0315),
            eps: 1e-7,
            ns_steps: 5,
            adjust_lr: AdjustLr::Original,
            adamw: AdamConfig::adamw(),
        }
    }
}

/// Muon's own numbers in its block (the 2-D tensors' group; the other group is AdamW's block,
/// whose last term is 0).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MuonTerms {
    /// Nesterov momentum.
    pub nesterov: f32,
    /// Unused.
    pub pad: [f32; 5],
    /// 1 marks Muon's group (AdamW's block has 0 here).
    pub muon: f32,
}

impl MuonConfig {
    /// From `torch.optim.Muon`'s constructor arguments (AdamW at its defaults).
    pub fn from_reference(h: &Value) -> Result<Self> {
        let c = &h["ns_coefficients"];
        let coef = |i: usize| {
            c[i].as_f64().ok_or_else(|| Error::InvalidArgument {
                what: "Muon".into(),
                detail: "ns_coefficients must be three numbers".into(),
            })
        };
        let adjust_lr = match h["adjust_lr_fn"].as_str() {
            None | Some("original") => AdjustLr::Original,
            Some("match_rms_adamw") => AdjustLr::MatchRmsAdamw,
            Some("spectral_unclamped") => AdjustLr::SpectralUnclamped,
            Some(other) => {
                return Err(Error::InvalidArgument {
                    what: "Muon".into(),
                    detail: format!("unknown adjust_lr_fn {other:?}"),
                })
            }
        };
        Ok(Self {
            lr: num(h, "lr")?,
            weight_decay: num(h, "weight_decay")?,
            momentum: num(h, "momentum")?,
            nesterov: h["nesterov"].as_bool().unwrap_or(true),
            ns_coefficients: (coef(0)?, coef(1)?, coef(2)?),
            eps: num(h, "eps")?,
            ns_steps: num(h, "ns_steps")? as usize,
            adjust_lr,
            adamw: AdamConfig::adamw(),
        })
    }

    /// The block of Muon's group (the 2-D tensors) for one step: the momentum's numbers.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        let head = Head::base(s).with_betas(s.momentum, 0.0);
        GroupHyper::new(head, MuonTerms { nesterov: flag(self.nesterov), pad: [0.0; 5], muon: 1.0 })
    }
}

/// The CPU twin of `muon_step`'s elementwise part. Muon's group: buf = lerp(buf, g, 1 − μ)
/// (slot 0), U = lerp(g, buf, μ) with Nesterov, else buf, into slot 2. AdamW's group: Adam's
/// update (slots 0 and 1).
#[inline(always)]
pub(crate) fn update(b: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
    let t: MuonTerms = b.terms();
    if t.muon == 0.0 {
        return adam::update(b, p, g, s);
    }
    let h = &b.head;
    s[0] = lerp(s[0], g, h.one_minus_beta1);
    s[2] = if t.nesterov != 0.0 { lerp(g, s[0], h.beta1) } else { s[0] };
}

/// From the run's settings: Muon's lr, momentum, Nesterov and weight decay (the AdamW part
/// keeps torch's AdamW defaults).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = MuonConfig::default();
    OptimizerConfig::Muon(MuonConfig {
        lr: s.lr.unwrap_or(d.lr),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        momentum: s.momentum.unwrap_or(d.momentum),
        nesterov: if s.momentum.is_some() { s.nesterov } else { d.nesterov },
        ..d
    })
}

/// From `torch.optim.Muon`'s constructor arguments.
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Muon(MuonConfig::from_reference(h)?))
}
