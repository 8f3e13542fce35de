//! Adafactor (Shazeer & Stern 2018, as `torch.optim.Adafactor`): second moments factored into
//! row and column statistics for tensors of two or more dimensions (over the last two, batched
//! over the leading ones), a plain EMA for vectors, relative step sizes and update clipping by
//! RMS (`shaders/optim/adafactor.wgsl`). Every quantity it needs is per tensor, so its kernel
//! runs one workgroup per tensor (statistics, the mean of the row statistics, the norms of the
//! weight and of the update, then the update): ONE dispatch per step, nothing read back.

use super::hyper::{lerp, GroupHyper, Head, StepScalars};
use super::registry::{num, Settings};
use super::rule::{rule_settings, DeviceContext, GroupContext, RuleDevice, Shared, StateTensors, UpdateRule};
use super::OptimizerConfig;
use crate::backend::Backend;
use crate::error::Result;
use crate::params::ParamView;
use crate::params::ALIGN;
use serde_json::Value;

/// `torch.optim.Adafactor`'s settings (its defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdafactorConfig {
    /// Learning rate, the cap of the relative step ρ_t = min(lr, 1/√t) (default 1e-2).
    pub lr: f64,
    /// The second moments' weight is t^beta2_decay (default −0.8).
    pub beta2_decay: f64,
    /// ε1, the floor of the second moments (None: float32's epsilon 2^-23, as torch).
    pub eps1: Option<f64>,
    /// ε2, the floor of the weight's RMS in the step size (default 1e-3).
    pub eps2: f64,
    /// d, the update clipping threshold on RMS(u) (default 1).
    pub d: f64,
    /// Decoupled weight decay, scaled by lr (default 0).
    pub weight_decay: f64,
}

impl Default for AdafactorConfig {
    fn default() -> Self {
        Self { lr: 1e-2, beta2_decay: -0.8, eps1: None, eps2: 1e-3, d: 1.0, weight_decay: 0.0 }
    }
}

/// Adafactor's own numbers in its block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdafactorTerms {
    /// The EMA weight `t^beta2_decay` (1 − β̂2_t).
    pub weight: f32,
    /// ρ_t = min(lr, 1/√t).
    pub rho: f32,
    /// ε1.
    pub eps1: f32,
    /// ε1², the floor of the second-moment estimate.
    pub eps1_sq: f32,
    /// ε2.
    pub eps2: f32,
    /// d.
    pub d: f32,
    /// Unused.
    pub pad: f32,
}

/// One tensor as the kernel sees it: 5 u32 each (see [`tensor_table`]).
pub const META_LEN: usize = 5;

/// The kernel's tensor table: (offset, numel, n, m, group) per tensor, where [n, m] are the
/// last two dimensions of a tensor of two or more (m = 0 marks a vector: one EMA per element).
pub fn tensor_table(views: &[ParamView], group_of: impl Fn(&ParamView) -> u32) -> Vec<u32> {
    views
        .iter()
        .flat_map(|v| {
            let (n, m) = factors(&v.shape);
            [v.offset as u32, v.len() as u32, n as u32, m as u32, group_of(v)]
        })
        .collect()
}

/// The factored dimensions [n, m] of a shape, or (numel, 0) for fewer than two dimensions.
pub fn factors(shape: &[usize]) -> (usize, usize) {
    match shape {
        [.., n, m] => (*n, *m),
        _ => (shape.iter().product(), 0),
    }
}

/// The state of one tensor as torch names it: (name, slot, elements, shape). Matrices keep
/// `row_var` [..., n, 1] in slot 0 and `col_var` [..., 1, m] in slot 1, vectors `variance`.
pub fn state_layout(v: &ParamView) -> Vec<(&'static str, usize, usize, Vec<usize>)> {
    let (n, m) = factors(&v.shape);
    if m == 0 {
        return vec![("variance", 0, v.len(), v.shape.clone())];
    }
    let batch = v.len() / (n * m).max(1);
    let lead = &v.shape[..v.shape.len() - 2];
    let with = |a: usize, b: usize| lead.iter().copied().chain([a, b]).collect::<Vec<_>>();
    vec![("row_var", 0, batch * n, with(n, 1)), ("col_var", 1, batch * m, with(1, m))]
}

impl AdafactorConfig {
    /// From `torch.optim.Adafactor`'s constructor arguments (`eps` is the pair (ε1, ε2)).
    pub fn from_reference(h: &Value) -> Result<Self> {
        let eps = &h["eps"];
        Ok(Self {
            lr: num(h, "lr")?,
            beta2_decay: num(h, "beta2_decay")?,
            eps1: eps[0].as_f64(),
            eps2: eps[1].as_f64().ok_or_else(|| crate::Error::InvalidArgument {
                what: "Adafactor".into(),
                detail: "eps[1] (ε2) is missing".into(),
            })?,
            d: num(h, "d")?,
            weight_decay: num(h, "weight_decay")?,
        })
    }

    /// ε1 as torch resolves it.
    pub fn eps1(&self) -> f64 {
        self.eps1.unwrap_or(f32::EPSILON as f64)
    }

    /// The block of one group for step `s.t`.
    pub fn block(&self, s: &StepScalars) -> GroupHyper {
        let eps1 = self.eps1();
        let terms = AdafactorTerms {
            weight: s.t.powf(self.beta2_decay) as f32,
            rho: s.lr.min(1.0 / s.t.sqrt()) as f32,
            eps1: eps1 as f32,
            eps1_sq: (eps1 * eps1) as f32,
            eps2: self.eps2 as f32,
            d: self.d as f32,
            pad: 0.0,
        };
        GroupHyper::new(Head::base(s), terms)
    }
}

/// The CPU twin of `adafactor_step` for one tensor: `p`, `g` its elements (`clip` applied to
/// each gradient as it is read), `r` and `c` its regions of state slots 0 and 1, (n, m) its
/// factors (m = 0: a vector). Allocates nothing: as the kernel, one pass sums ‖u‖² and a second
/// recomputes u for the update.
#[allow(clippy::too_many_arguments, reason = "one tensor's slices and factors, as the kernel binds them")]
pub(crate) fn step_tensor(
    b: &GroupHyper,
    n: usize,
    m: usize,
    p: &mut [f32],
    g: &[f32],
    clip: impl Fn(f32) -> f32 + Copy,
    r: &mut [f32],
    c: &mut [f32],
) {
    let h = &b.head;
    let t: AdafactorTerms = b.terms();
    let numel = p.len();
    let norm = |x: &mut dyn Iterator<Item = f32>| x.map(|v| v as f64 * v as f64).sum::<f64>().sqrt() as f32;
    // α from the weight before the decay.
    let alpha = (t.eps2).max(norm(&mut p.iter().copied()) / (numel as f32).sqrt()) * t.rho;
    let g = |i: usize| clip(g[i]);
    if m == 0 {
        for (i, ri) in r.iter_mut().enumerate() {
            *ri = lerp(*ri, g(i) * g(i), t.weight);
        }
    } else {
        for bi in 0..numel / (n * m) {
            let at = |i: usize, j: usize| g(bi * n * m + i * m + j);
            let (rr, cc) = (&mut r[bi * n..(bi + 1) * n], &mut c[bi * m..(bi + 1) * m]);
            for (i, ri) in rr.iter_mut().enumerate() {
                let s = norm(&mut (0..m).map(|j| at(i, j)));
                *ri = lerp(*ri, s * s / m as f32, t.weight);
            }
            for (j, cj) in cc.iter_mut().enumerate() {
                let s = norm(&mut (0..n).map(|i| at(i, j)));
                *cj = lerp(*cj, s * s / n as f32, t.weight);
            }
        }
    }
    // u in index order, through `visit(i, u_i)`: the same values for the norm and the update.
    let (r, c) = (&*r, &*c);
    let each_u = |visit: &mut dyn FnMut(usize, f32)| {
        if m == 0 {
            for (i, ri) in r.iter().enumerate() {
                visit(i, 1.0 / ri.max(t.eps1_sq).sqrt() * g(i));
            }
            return;
        }
        for bi in 0..numel / (n * m) {
            let (rr, cc) = (&r[bi * n..(bi + 1) * n], &c[bi * m..(bi + 1) * m]);
            let mean = (rr.iter().map(|&v| v as f64).sum::<f64>() / n as f64) as f32;
            let floor = mean.max(t.eps1);
            for (i, ri) in rr.iter().enumerate() {
                for (j, cj) in cc.iter().enumerate() {
                    let k = bi * n * m + i * m + j;
                    let v = ri * cj / floor;
                    visit(k, 1.0 / v.max(t.eps1_sq).sqrt() * g(k));
                }
            }
        }
    };
    let mut sumsq = 0f64;
    each_u(&mut |_, u| sumsq += u as f64 * u as f64);
    let denom = (sumsq.sqrt() as f32 / ((numel as f32).sqrt() * t.d)).max(1.0);
    let step = -alpha / denom;
    each_u(&mut |i, u| {
        p[i] *= h.decay_factor;
        p[i] += step * u;
    });
}

/// From the run's settings (torch's defaults for the rest).
pub(crate) fn from_settings(s: &Settings) -> OptimizerConfig {
    let d = AdafactorConfig::default();
    OptimizerConfig::Adafactor(AdafactorConfig {
        lr: s.lr.unwrap_or(d.lr),
        weight_decay: s.weight_decay.unwrap_or(d.weight_decay),
        ..d
    })
}

/// From `torch.optim.Adafactor`'s constructor arguments.
pub(crate) fn from_torch(h: &Value) -> Result<OptimizerConfig> {
    Ok(OptimizerConfig::Adafactor(AdafactorConfig::from_reference(h)?))
}

impl UpdateRule for AdafactorConfig {
    fn state_of(&self, v: &ParamView) -> Option<StateTensors> {
        Some(state_layout(v))
    }
    fn device<B: Backend>(&self, be: &B, cx: DeviceContext<'_, B>) -> Result<Box<dyn RuleDevice<B>>> {
        let table = tensor_table(cx.layout.views(), |v| cx.chunk_groups[v.offset / ALIGN]);
        Ok(Box::new(AdafactorDevice::<B> { tensors: be.upload_u32(&table)? }))
    }
    rule_settings!(ADAFACTOR_STEP);
    fn state_names(&self) -> &'static [&'static str] {
        &["row_var", "col_var"]
    }
    /// One workgroup per tensor (its row and column statistics).
    fn is_elementwise(&self) -> bool {
        false
    }
    fn block(&self, s: &StepScalars, _group: GroupContext<'_>) -> GroupHyper {
        self.block(s)
    }
}

/// Adafactor's device side: its tensor table (offset, numel, n, m, group per tensor), read by
/// its one-workgroup-per-tensor kernel in place of the fused step.
struct AdafactorDevice<B: Backend> {
    tensors: B::U32Buffer,
}

impl<B: Backend> RuleDevice<B> for AdafactorDevice<B> {
    fn record_step(&mut self, be: &B, params: &mut B::Tensor, grads: &B::Tensor, s: Shared<'_, B>) -> Result<()> {
        super::fused::record_adafactor(be, params, grads, s.state, s.table, &self.tensors, s.norm)
    }
}
