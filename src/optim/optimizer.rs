//! `Optimizer`: state buffers, parameter groups, clipping and the step count around the fused
//! update kernel. One `step` is, on the GPU path, a small table write plus ONE dispatch (and one
//! reduction before it when clipping by norm), recorded with the rest of the training step.

use super::config::OptimizerConfig;
use super::hyper::{ClipBlock, GroupHyper, StepScalars, HYPER_LEN};
use super::rule::GroupContext;
use super::rule::{DeviceContext, RuleDevice, Shared};
use super::schedule_free::ScheduleFreeGroup;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::ops::elementwise;
use crate::ops::reduce;
use crate::params::{ParamLayout, ALIGN};
use crate::schedule::Schedule;
use crate::tensor::Tensor;

/// Step tables in the ring (see `Optimizer::tables`).
pub(crate) const TABLE_RING: usize = 8;

/// The shared buffers as a rule's device side sees them ([`Shared`]), with the table of ring
/// entry `ring`; a macro so the borrows stay disjoint from `self.device`.
macro_rules! shared {
    ($s:ident, $ring:expr) => {
        Shared {
            kernel: $s.config.rule().kernel(),
            layout: &$s.layout,
            state: &mut $s.state,
            chunk_groups: &$s.chunk_groups,
            norm: &mut $s.norm,
            table: &$s.tables[$ring],
            table_host: &mut $s.table_host,
            groups: &$s.groups,
            ring: $ring,
        }
    };
}

/// A parameter group: tensors (by name) that get their own learning rate or weight decay, as
/// torch.optim's param groups. Tensors in no group use the optimizer's own settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamGroup {
    /// Parameter names, e.g. `["fc1.bias", "fc2.bias"]`.
    pub params: Vec<String>,
    /// Learning rate for these tensors (the optimizer's when None).
    pub lr: Option<f64>,
    /// Weight decay for these tensors (the optimizer's when None), e.g. 0 for biases.
    pub weight_decay: Option<f64>,
}

/// Gradient clipping, applied on the device inside the step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Clip {
    /// No clipping.
    #[default]
    None,
    /// torch.nn.utils.clip_grad_norm_ with norm_type 2: scale all gradients by
    /// min(max_norm / (‖g‖₂ + 1e-6), 1).
    L2Norm(f64),
    /// clip_grad_norm_ with norm_type inf: the same with ‖g‖∞.
    InfNorm(f64),
    /// clip_grad_norm_ with norm_type 1: the same with ‖g‖₁.
    L1Norm(f64),
    /// torch.nn.utils.clip_grad_value_: clamp every gradient to [−v, v].
    Value(f64),
}

/// Everything needed to continue an optimizer exactly where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState {
    /// Steps taken.
    pub step: u64,
    /// NAdam's running product of μ (a float32 scalar, as PyTorch keeps it); 1 otherwise.
    pub mu_product: f32,
    /// Current learning rate of each group (default group first).
    pub lrs: Vec<f64>,
    /// Current momentum / β1 of each group (OneCycle cycles it).
    pub momenta: Vec<f64>,
    /// State tensors named `<param>.<state>`, e.g. `fc1.weight.exp_avg`, PyTorch's state names.
    pub tensors: Vec<(String, Tensor)>,
    /// Schedule-free AdamW's running (lr_max, weight_sum) of each group (empty for the others).
    pub schedule_free: Vec<(f64, f64)>,
    /// Schedule-free AdamW: the parameters saved with this state are the eval-mode x.
    pub eval_mode: bool,
}

/// Where one state tensor lives: its parameter (view index), its name, its slot of the flat
/// state buffer, and its element count and shape.
struct StateEntry {
    view: usize,
    name: &'static str,
    slot: usize,
    len: usize,
    shape: Vec<usize>,
}

/// One group's settings.
#[derive(Clone, Debug)]
pub struct GroupSettings {
    /// Its learning rate.
    pub lr: f64,
    /// Its weight decay.
    pub weight_decay: f64,
    /// SGD momentum, Adam-family β1 or RMSprop momentum: what OneCycle cycles.
    pub momentum: f64,
    /// Schedule-free AdamW's running numbers (unused by the others).
    pub schedule_free: ScheduleFreeGroup,
}

/// An optimizer bound to one parameter layout on one backend.
pub struct Optimizer<B: Backend> {
    config: OptimizerConfig,
    layout: ParamLayout,
    groups: Vec<GroupSettings>,
    chunk_groups: B::U32Buffer,
    /// A ring of step tables: step t writes table t mod RING, which recorded steps no longer
    /// read unless they are RING steps old, so writing it rarely forces a submit and several
    /// steps can share one.
    tables: Vec<B::Tensor>,
    /// Host copy of the table, refilled each step (no allocation per step).
    table_host: Tensor,
    state: B::Tensor,
    /// `norm[0]`, the global gradient norm the clip reads, as its own `[1]` view (the whole of
    /// `norm` except for LAMB, whose `norm` also holds a trust ratio per chunk).
    norm_head: B::Tensor,
    /// The rule's device side: its own buffers and passes (LAMB's trust ratios and phases,
    /// Adafactor's tensor table, Muon's Newton–Schulz buffers, Sophia's Hessian table,
    /// schedule-free AdamW's switch).
    device: Box<dyn RuleDevice<B>>,
    /// Schedule-free AdamW: the parameters hold x (eval mode) rather than y.
    eval_mode: bool,
    norm: B::Tensor,
    step: u64,
    mu_product: f32,
    clip: Clip,
}

impl<B: Backend> Optimizer<B> {
    /// An optimizer for the tensors of `layout`, with `groups` overriding settings for some.
    pub fn new(be: &B, config: OptimizerConfig, layout: &ParamLayout, groups: &[ParamGroup]) -> Result<Self> {
        validate(&config)?;
        let rule = config.rule();
        let own_groups = rule.param_groups(layout, groups)?;
        let groups = own_groups.as_deref().unwrap_or(groups);
        let (lr, weight_decay, momentum) = rule.default_group();
        let mut settings =
            vec![GroupSettings { lr, weight_decay, momentum, schedule_free: ScheduleFreeGroup::default() }];
        let mut chunk_groups = vec![0u32; layout.chunks()];
        let mut claimed: Vec<Option<usize>> = vec![None; layout.views().len()];
        for (gi, group) in groups.iter().enumerate() {
            settings.push(GroupSettings {
                lr: group.lr.unwrap_or(config.lr()),
                weight_decay: group.weight_decay.unwrap_or(config.weight_decay()),
                momentum: config.momentum(),
                schedule_free: ScheduleFreeGroup::default(),
            });
            for name in &group.params {
                let view = layout.get(name)?;
                let vi = layout.views().iter().position(|v| v.name == *name).expect("found");
                if let Some(other) = claimed[vi] {
                    return Err(Error::InvalidArgument {
                        what: "parameter groups".into(),
                        detail: format!("{name} is in group {other} and group {gi}; a tensor belongs to one group"),
                    });
                }
                claimed[vi] = Some(gi);
                let first = view.offset / ALIGN;
                for c in chunk_groups.iter_mut().skip(first).take(view.len().div_ceil(ALIGN)) {
                    *c = gi as u32 + 1;
                }
            }
        }
        let slots = config.state_names().len() + config.scratch_slots();
        let mut state = be.zeros(&[slots * layout.total()])?;
        let cx = DeviceContext { layout, state: &state, chunk_groups: &chunk_groups, groups: settings.len() };
        let device = config.device(be, cx)?;
        let norm = be.zeros(&[config.rule().norm_len(layout)])?;
        let initial = config.rule().initial_state();
        if initial != 0.0 {
            elementwise::fill(be, &mut state, initial)?;
        }
        Ok(Self {
            chunk_groups: be.upload_u32(&chunk_groups)?,
            tables: (0..TABLE_RING).map(|_| be.zeros(&[settings.len(), HYPER_LEN])).collect::<Result<_>>()?,
            table_host: Tensor::zeros(&[settings.len(), HYPER_LEN]),
            norm_head: be.view(&norm, 0, &[1])?,
            norm,
            device,
            eval_mode: false,
            state,
            groups: settings,
            layout: layout.clone(),
            config,
            step: 0,
            mu_product: 1.0,
            clip: Clip::None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Number of groups, the default group (tensors in no [`ParamGroup`]) first.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Each group's current learning rate.
    pub fn lrs(&self) -> Vec<f64> {
        self.groups.iter().map(|g| g.lr).collect()
    }

    /// Sets what `schedule` gives step `k` (0-based): each group's rate from its base rate in
    /// `base` (written through `lrs`, the caller's reused buffer of the same length) and, for
    /// OneCycle, the momentum.
    pub fn apply_schedule(&mut self, schedule: &Schedule, base: &[f64], lrs: &mut [f64], k: u64) -> Result<()> {
        for (lr, &b) in lrs.iter_mut().zip(base) {
            *lr = schedule.lr(b, k);
        }
        self.set_lrs(lrs)?;
        if let Some(m) = schedule.momentum(k) {
            self.set_momentum(m);
        }
        Ok(())
    }

    /// Sets each group's learning rate (a schedule does this before every step).
    pub fn set_lrs(&mut self, lrs: &[f64]) -> Result<()> {
        if lrs.len() != self.groups.len() {
            return Err(Error::InvalidArgument {
                what: "set_lrs".into(),
                detail: format!("{} learning rates for {} groups", lrs.len(), self.groups.len()),
            });
        }
        for (g, &lr) in self.groups.iter_mut().zip(lrs) {
            g.lr = lr;
        }
        Ok(())
    }

    /// Sets every group's momentum (SGD, RMSprop) or β1 (Adam family), as OneCycleLR does.
    pub fn set_momentum(&mut self, momentum: f64) {
        for g in &mut self.groups {
            g.momentum = momentum;
        }
    }

    /// Sets gradient clipping for the following steps. LAMB with a `max_grad_norm` clips by that
    /// itself, so it refuses a second clip.
    pub fn set_clip(&mut self, clip: Clip) -> Result<()> {
        if clip != Clip::None && self.own_clip() {
            return Err(Error::InvalidArgument {
                what: "LAMB".into(),
                detail: "it clips by its own max_grad_norm; set that to None to clip another way".into(),
            });
        }
        self.clip = clip;
        Ok(())
    }

    /// LAMB with a `max_grad_norm`: the update kernel clips by it (mode 5).
    fn own_clip(&self) -> bool {
        self.config.rule().own_clip().is_some()
    }

    /// One update of the flat `params` from the flat `grads` (both laid out by this optimizer's
    /// layout). Nothing is read back.
    pub fn step(&mut self, be: &B, params: &mut B::Tensor, grads: &B::Tensor) -> Result<()> {
        self.step_inner(be, params, grads, None)
    }

    /// As [`Optimizer::step`], given `Σ grads²` already computed (a `[1]` tensor; the trainer's
    /// divergence guard computes it every step): an L2-norm clip copies it instead of reducing
    /// the gradients once more.
    pub fn step_with_sum_squares(
        &mut self,
        be: &B,
        params: &mut B::Tensor,
        grads: &B::Tensor,
        sum_squares: &B::Tensor,
    ) -> Result<()> {
        self.step_inner(be, params, grads, Some(sum_squares))
    }

    fn step_inner(
        &mut self,
        be: &B,
        params: &mut B::Tensor,
        grads: &B::Tensor,
        sum_squares: Option<&B::Tensor>,
    ) -> Result<()> {
        let n = self.layout.total();
        for (what, t) in [("params", &*params), ("grads", grads)] {
            if be.shape(t) != [n] {
                return Err(Error::Shape {
                    op: "Optimizer::step",
                    detail: format!("{what} must be the flat [{n}] buffer of the layout, got {:?}", be.shape(t)),
                });
            }
        }
        if self.eval_mode {
            return Err(Error::InvalidArgument {
                what: "Optimizer::step".into(),
                detail: "schedule-free AdamW is in eval mode (the parameters hold x); call train_mode first".into(),
            });
        }
        self.step += 1;
        let t = self.step as f64;
        if let Some(factor) = self.config.rule().running_product(self.groups[0].momentum, t) {
            self.mu_product *= factor as f32;
        }
        for gi in 0..self.groups.len() {
            let block = bytemuck::cast::<GroupHyper, [f32; HYPER_LEN]>(self.block(gi, t));
            self.table_host.data_mut()[gi * HYPER_LEN..(gi + 1) * HYPER_LEN].copy_from_slice(&block);
        }
        let ring = self.step as usize % TABLE_RING;
        be.write(&mut self.tables[ring], &self.table_host)?;
        let lamb_clip = self.own_clip();
        match self.clip {
            Clip::L2Norm(_) => match sum_squares {
                Some(s) => elementwise::copy(be, &mut self.norm_head, s)?,
                None => reduce::sum_squares(be, &mut self.norm_head, grads)?,
            },
            Clip::InfNorm(_) => reduce::max_abs(be, &mut self.norm_head, grads)?,
            Clip::L1Norm(_) => reduce::sum_abs(be, &mut self.norm_head, grads)?,
            _ if lamb_clip => match sum_squares {
                Some(s) => elementwise::copy(be, &mut self.norm_head, s)?,
                None => reduce::sum_squares(be, &mut self.norm_head, grads)?,
            },
            _ => {}
        }
        self.device.record_step(be, params, grads, shared!(self, ring))?;
        Ok(())
    }

    /// Schedule-free AdamW: puts the eval-mode weights x into `params` (which hold the
    /// train-mode y), for evaluation and checkpoints: `p = lerp(p, z, 1 − 1/β1)`, one dispatch.
    /// A no-op for other optimizers and when already in eval mode.
    pub fn eval_mode(&mut self, be: &B, params: &mut B::Tensor) -> Result<()> {
        self.switch_mode(be, params, true)
    }

    /// Schedule-free AdamW: back to the train-mode y, `p = lerp(p, z, 1 − β1)`. A no-op for other
    /// optimizers and when already in train mode.
    pub fn train_mode(&mut self, be: &B, params: &mut B::Tensor) -> Result<()> {
        self.switch_mode(be, params, false)
    }

    /// Whether the parameters hold schedule-free AdamW's eval-mode x.
    pub fn is_eval_mode(&self) -> bool {
        self.eval_mode
    }

    fn switch_mode(&mut self, be: &B, params: &mut B::Tensor, to_eval: bool) -> Result<()> {
        if !self.config.rule().keeps_running_groups() {
            return Ok(());
        }
        // Before the first step z does not exist yet and y = x = the parameters.
        if self.eval_mode == to_eval || self.step == 0 {
            self.eval_mode = to_eval && self.step > 0;
            return Ok(());
        }
        let ring = self.step as usize % TABLE_RING;
        self.device.switch(be, params, to_eval, shared!(self, ring))?;
        self.eval_mode = to_eval;
        Ok(())
    }

    /// Sophia-G's Hessian EMA, `h = β2·h + (1 − β2)·ĝ·ĝ`, from `hessian_grads` ĝ (the gradient
    /// of the loss against labels sampled from the model's own predictions): one dispatch of
    /// the update kernel in its Hessian mode. The parameters and the step count do not change.
    pub fn update_hessian(&mut self, be: &B, params: &mut B::Tensor, hessian_grads: &B::Tensor) -> Result<()> {
        let ring = self.step as usize % TABLE_RING;
        if !self.device.auxiliary_gradient(be, params, hessian_grads, shared!(self, ring))? {
            return Err(Error::InvalidArgument {
                what: "update_hessian".into(),
                detail: format!("only Sophia-G keeps a Hessian estimate, not {:?}", self.config.kind()),
            });
        }
        Ok(())
    }

    /// The global gradient norm before clipping, as of the last step that clipped by norm
    /// (reads one number back from the device).
    pub fn last_grad_norm(&self, be: &B) -> Result<Option<f64>> {
        let v = be.read(&self.norm)?.data()[0] as f64;
        Ok(match self.clip {
            Clip::L2Norm(_) => Some(v.sqrt()),
            Clip::InfNorm(_) | Clip::L1Norm(_) => Some(v),
            _ => None,
        })
    }

    /// The step's numbers for one group (PyTorch's float64 scalars, rounded to f32): the
    /// optimizer's own block (its file) and the clipping settings.
    fn block(&mut self, gi: usize, t: f64) -> GroupHyper {
        let g = &mut self.groups[gi];
        let scalars = StepScalars {
            lr: g.lr,
            weight_decay: g.weight_decay,
            momentum: g.momentum,
            t,
            mu_product: self.mu_product as f64,
        };
        let mut h = self.config.rule().block(&scalars, GroupContext { index: gi, running: &mut g.schedule_free });
        let (mode, value) = match (self.clip, self.config.rule().own_clip()) {
            (Clip::None, Some(v)) => (5.0, v),
            (clip, _) => Self::clip_mode(clip),
        };
        h.clip = ClipBlock { mode, value: value as f32, pad: [0.0; 3] };
        h
    }

    /// The clip's mode number and value in a block.
    fn clip_mode(clip: Clip) -> (f32, f64) {
        match clip {
            Clip::None => (0.0, 0.0),
            Clip::L2Norm(v) => (1.0, v),
            Clip::InfNorm(v) => (2.0, v),
            Clip::Value(v) => (3.0, v),
            Clip::L1Norm(v) => (4.0, v),
        }
    }

    /// Every state tensor, slot by slot. A tensor's state starts at its view's offset in its
    /// slot; Adafactor's row and column statistics are smaller than the tensor.
    fn state_layout(&self) -> Vec<StateEntry> {
        let views = self.layout.views();
        let rule = self.config.rule();
        if views.first().is_some_and(|v| rule.state_of(v).is_some()) {
            let mut out = Vec::new();
            for (view, v) in views.iter().enumerate() {
                for (name, slot, len, shape) in rule.state_of(v).unwrap_or_default() {
                    out.push(StateEntry { view, name, slot, len, shape });
                }
            }
            return out;
        }
        let mut out = Vec::new();
        for (slot, &name) in self.config.state_names().iter().enumerate() {
            for (view, v) in views.iter().enumerate() {
                out.push(StateEntry { view, name, slot, len: v.len(), shape: v.shape.clone() });
            }
        }
        out
    }

    /// The state as host tensors under PyTorch's names, plus the step count and schedules'
    /// current values (for checkpoints).
    pub fn state(&self, be: &B) -> Result<OptimizerState> {
        let flat = be.read(&self.state)?;
        let n = self.layout.total();
        let mut tensors = Vec::new();
        for StateEntry { view, name, slot, len, shape } in self.state_layout() {
            let v = &self.layout.views()[view];
            let start = slot * n + v.offset;
            let data = flat.data()[start..start + len].to_vec();
            tensors.push((format!("{}.{name}", v.name), Tensor::from_vec(&shape, data)?));
        }
        Ok(OptimizerState {
            step: self.step,
            mu_product: self.mu_product,
            lrs: self.lrs(),
            momenta: self.groups.iter().map(|g| g.momentum).collect(),
            tensors,
            schedule_free: if self.config.rule().keeps_running_groups() {
                self.groups.iter().map(|g| (g.schedule_free.lr_max, g.schedule_free.weight_sum)).collect()
            } else {
                Vec::new()
            },
            eval_mode: self.eval_mode,
        })
    }

    /// Restores a state taken with [`Optimizer::state`] from an optimizer of the same
    /// configuration and layout.
    pub fn load_state(&mut self, be: &B, state: &OptimizerState) -> Result<()> {
        if state.lrs.len() != self.groups.len() || state.momenta.len() != self.groups.len() {
            return Err(Error::InvalidArgument {
                what: "optimizer state".into(),
                detail: format!("saved for {} groups, this optimizer has {}", state.lrs.len(), self.groups.len()),
            });
        }
        let n = self.layout.total();
        let names = self.config.state_names();
        // Scratch slots (LAMB's u) follow the named ones and start at zero.
        let slots = names.len() + self.config.scratch_slots();
        let mut flat = vec![0.0f32; slots * n];
        for StateEntry { view, name, slot, len, shape } in self.state_layout() {
            let v = &self.layout.views()[view];
            let key = format!("{}.{name}", v.name);
            let t = state.tensors.iter().find(|(k, _)| *k == key).map(|(_, t)| t).ok_or_else(|| {
                Error::InvalidArgument { what: "optimizer state".into(), detail: format!("missing {key}") }
            })?;
            if t.shape() != shape.as_slice() {
                return Err(Error::Shape {
                    op: "Optimizer::load_state",
                    detail: format!("{key} is {:?} in the state but {shape:?} for the model", t.shape()),
                });
            }
            flat[slot * n + v.offset..slot * n + v.offset + len].copy_from_slice(t.data());
        }
        be.write(&mut self.state, &Tensor::from_vec(&[slots * n], flat)?)?;
        self.step = state.step;
        self.mu_product = state.mu_product;
        for ((g, &lr), &m) in self.groups.iter_mut().zip(&state.lrs).zip(&state.momenta) {
            g.lr = lr;
            g.momentum = m;
        }
        if self.config.rule().keeps_running_groups() {
            if state.schedule_free.len() != self.groups.len() {
                return Err(Error::InvalidArgument {
                    what: "optimizer state".into(),
                    detail: format!(
                        "schedule-free AdamW needs (lr_max, weight_sum) for each of {} groups, the state has {}",
                        self.groups.len(),
                        state.schedule_free.len()
                    ),
                });
            }
            for (g, &(lr_max, weight_sum)) in self.groups.iter_mut().zip(&state.schedule_free) {
                g.schedule_free = ScheduleFreeGroup { lr_max, weight_sum };
            }
            // The parameters loaded with this state are x when it was taken in eval mode.
            self.eval_mode = state.eval_mode && state.step > 0;
        }
        Ok(())
    }
}

/// Refuses hyperparameters PyTorch refuses (negative rates, betas outside [0, 1), …).
fn validate(config: &OptimizerConfig) -> Result<()> {
    let bad = |what: &str, v: f64, range: &str| {
        Err(Error::InvalidArgument {
            what: format!("{:?}", config.kind()),
            detail: format!("{what} = {v} must be {range}"),
        })
    };
    let lr = config.lr();
    if lr.is_nan() || lr < 0.0 {
        return bad("lr", lr, "≥ 0");
    }
    if config.weight_decay().is_nan() || config.weight_decay() < 0.0 {
        return bad("weight_decay", config.weight_decay(), "≥ 0");
    }
    if let Some((b1, b2)) = config.betas() {
        for (name, b) in [("betas[0]", b1), ("betas[1]", b2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(name, b, "in [0, 1)");
            }
        }
    }
    config.rule().validate()
}
