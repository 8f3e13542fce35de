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
use super::rule::{rule_settings, DeviceContext, GroupContext, RuleDevice, Shared, StateTensors, UpdateRule};
use super::ParamGroup;
use super::{adam, AdamConfig, OptimizerConfig};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::ops::{elementwise, matmul, reduce};
use crate::params::ParamLayout;
use crate::params::ParamView;
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

impl UpdateRule for MuonConfig {
    fn device<B: Backend>(&self, be: &B, cx: DeviceContext<'_, B>) -> Result<Box<dyn RuleDevice<B>>> {
        Ok(Box::new(MuonDevice { config: *self, matrices: MuonMatrix::all(be, cx.layout, cx.state)? }))
    }
    fn param_groups(&self, layout: &ParamLayout, groups: &[ParamGroup]) -> Result<Option<Vec<ParamGroup>>> {
        muon_split(self, layout, groups).map(Some)
    }
    /// The default group is AdamW's (the tensors that are not 2-D).
    fn default_group(&self) -> (f64, f64, f64) {
        (self.adamw.lr, self.adamw.weight_decay, self.adamw.betas.0)
    }
    /// 2-D weights keep Muon's momentum buffer; the rest AdamW's two moments.
    fn state_of(&self, v: &ParamView) -> Option<StateTensors> {
        let names: &[&'static str] = if v.shape.len() == 2 { &["momentum_buffer"] } else { &["exp_avg", "exp_avg_sq"] };
        Some(names.iter().enumerate().map(|(slot, &name)| (name, slot, v.len(), v.shape.clone())).collect())
    }
    rule_settings!(MUON_STEP, momentum);
    fn state_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }
    /// Its U (the Newton–Schulz input) in a scratch slot.
    fn scratch_slots(&self) -> usize {
        1
    }
    /// Newton–Schulz runs per 2-D tensor after the fused step.
    fn is_elementwise(&self) -> bool {
        false
    }
    /// The default group (index 0) holds the tensors that are not 2-D, which AdamW updates.
    fn block(&self, s: &StepScalars, group: GroupContext<'_>) -> GroupHyper {
        if group.index == 0 {
            self.adamw.block(s)
        } else {
            self.block(s)
        }
    }
}

/// Muon's parameter groups: the 2-D tensors in one (Muon's lr and decay), the rest in the
/// default group (AdamW's). Fails on a layout without 2-D tensors, and on groups of the caller's.
fn muon_split(c: &MuonConfig, layout: &ParamLayout, groups: &[ParamGroup]) -> Result<Vec<ParamGroup>> {
    if !groups.is_empty() {
        return Err(Error::InvalidArgument {
            what: "muon".into(),
            detail: "it makes its own parameter groups (2-D weights to Muon, the rest to AdamW); pass none".into(),
        });
    }
    let matrices: Vec<String> = layout.views().iter().filter(|v| v.shape.len() == 2).map(|v| v.name.clone()).collect();
    if matrices.is_empty() {
        return Err(Error::InvalidArgument {
            what: "muon".into(),
            detail: "it orthogonalises 2-D weights and this model has none; use adamw".into(),
        });
    }
    Ok(vec![ParamGroup { params: matrices, lr: Some(c.lr), weight_decay: Some(c.weight_decay) }])
}

/// One 2-D tensor's Newton–Schulz buffers: U (a view of the scratch state slot the update
/// kernel writes), the iterate X, the Gram matrix and its square (r × r, r = min(rows, cols)),
/// the product, and ‖U‖².
struct MuonMatrix<B: Backend> {
    offset: usize,
    rows: usize,
    cols: usize,
    u: B::Tensor,
    x: B::Tensor,
    gram: B::Tensor,
    gram2: B::Tensor,
    product: B::Tensor,
    sumsq: B::Tensor,
}

impl<B: Backend> MuonMatrix<B> {
    /// The buffers of every 2-D tensor of `layout`, U viewing slot 2 of `state`.
    fn all(be: &B, layout: &ParamLayout, state: &B::Tensor) -> Result<Vec<Self>> {
        let n = layout.total();
        layout
            .views()
            .iter()
            .filter(|v| v.shape.len() == 2)
            .map(|v| {
                let (rows, cols) = (v.shape[0], v.shape[1]);
                let r = rows.min(cols);
                Ok(Self {
                    offset: v.offset,
                    rows,
                    cols,
                    u: be.view(state, 2 * n + v.offset, &[rows, cols])?,
                    x: be.zeros(&[rows, cols])?,
                    gram: be.zeros(&[r, r])?,
                    gram2: be.zeros(&[r, r])?,
                    product: be.zeros(&[rows, cols])?,
                    sumsq: be.zeros(&[1])?,
                })
            })
            .collect()
    }

    /// X = U/max(‖U‖, ε); `ns_steps` times G = X·Xᵀ, G2 = c·G·G + b·G, X = a·X + G2·X (for a
    /// tall tensor the same on the transpose: G = XᵀX, X = a·X + X·G2); then
    /// p = p·(1 − lr·wd) − lr·ratio·X. 4 + 7·ns_steps dispatches.
    fn step(&mut self, be: &B, c: &MuonConfig, params: &mut B::Tensor, lr: f64, wd: f64) -> Result<()> {
        use crate::tensor::MatmulForm::{Nn, Nt, Tn};
        let (a, b, cc) = c.ns_coefficients;
        reduce::sum_squares(be, &mut self.sumsq, &self.u)?;
        elementwise::div_by_norm(be, &mut self.x, &self.u, &self.sumsq, c.eps as f32)?;
        let tall = self.rows > self.cols;
        for _ in 0..c.ns_steps {
            matmul::matmul(be, if tall { Tn } else { Nt }, &mut self.gram, &self.x, &self.x, false)?;
            matmul::matmul(be, Nn, &mut self.gram2, &self.gram, &self.gram, false)?;
            elementwise::scale(be, &mut self.gram2, cc as f32)?;
            elementwise::axpy(be, &mut self.gram2, b as f32, &self.gram)?;
            if tall {
                matmul::matmul(be, Nn, &mut self.product, &self.x, &self.gram2, false)?;
            } else {
                matmul::matmul(be, Nn, &mut self.product, &self.gram2, &self.x, false)?;
            }
            elementwise::scale(be, &mut self.x, a as f32)?;
            elementwise::axpy(be, &mut self.x, 1.0, &self.product)?;
        }
        let mut w = be.view(params, self.offset, &[self.rows, self.cols])?;
        elementwise::scale(be, &mut w, (1.0 - lr * wd) as f32)?;
        elementwise::axpy(be, &mut w, (-lr * c.adjust_lr.ratio(self.rows, self.cols)) as f32, &self.x)
    }
}

/// Muon's device side: its config and each 2-D tensor's Newton–Schulz buffers, run after the
/// fused step (momentum into U, AdamW for the rest).
struct MuonDevice<B: Backend> {
    config: MuonConfig,
    matrices: Vec<MuonMatrix<B>>,
}

impl<B: Backend> RuleDevice<B> for MuonDevice<B> {
    fn record_step(&mut self, be: &B, params: &mut B::Tensor, grads: &B::Tensor, mut s: Shared<'_, B>) -> Result<()> {
        let table = s.table;
        s.record(be, params, grads, table)?;
        // Group 1 holds the 2-D tensors (`muon_split`).
        let g = &s.groups[1];
        for m in &mut self.matrices {
            m.step(be, &self.config, params, g.lr, g.weight_decay)?;
        }
        Ok(())
    }
}
