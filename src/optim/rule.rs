//! `UpdateRule`: what each optimizer's file says about itself, so `Optimizer`, the trainer and
//! the run ask the rule instead of matching on its name: its kernel, its PyTorch settings (lr,
//! weight decay, momentum or β), its state slots and layout, its per-group step block, its own
//! clip and validation, and the hooks where it differs (its groups, its initial state, a
//! running product, an auxiliary-gradient pass). `RuleDevice` is its device side: the buffers
//! it keeps and how it records a step (by default the one fused dispatch), its auxiliary
//! gradient and its train/eval switch. Both are implemented in `optim/<name>.rs`.

use super::fused;
use super::hyper::{GroupHyper, StepScalars, HYPER_LEN};
use super::optimizer::GroupSettings;
use super::schedule_free::ScheduleFreeGroup;
use super::ParamGroup;
use crate::backend::kernel::Kernel;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::params::{ParamLayout, ParamView};
use crate::tensor::Tensor;

/// The error of a rule setting `what = v` outside `range`, naming the optimizer.
pub(crate) fn out_of_range(optimizer: &str, what: &str, v: f64, range: &str) -> Error {
    Error::InvalidArgument { what: optimizer.into(), detail: format!("{what} = {v} must be {range}") }
}

/// A parameter's state tensors: (name, slot, elements, shape) each.
pub type StateTensors = Vec<(&'static str, usize, usize, Vec<usize>)>;

/// The settings every rule reads straight from its config's fields: its kernel (a line of
/// `optim::kernels`), `lr`, `weight_decay` and, where the config has them, `betas` (the Adam
/// family; momentum is β1) or `momentum` (SGD, RMSprop, Muon).
macro_rules! rule_settings {
    ($kernel:ident) => {
        fn kernel(&self) -> &'static crate::backend::kernel::Kernel {
            &super::kernels::$kernel
        }
        fn lr(&self) -> f64 {
            self.lr
        }
        fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
        fn weight_decay(&self) -> f64 {
            self.weight_decay
        }
    };
    ($kernel:ident, betas) => {
        rule_settings!($kernel);
        fn betas(&self) -> Option<(f64, f64)> {
            Some(self.betas)
        }
    };
    ($kernel:ident, momentum) => {
        rule_settings!($kernel);
        fn momentum(&self) -> f64 {
            self.momentum
        }
    };
}
pub(crate) use rule_settings;

/// One parameter group as a rule's block sees it.
#[derive(Debug)]
pub struct GroupContext<'a> {
    /// The group's index (0: the default group, the tensors in no `ParamGroup`).
    pub index: usize,
    /// The group's running numbers (schedule-free AdamW's lr_max and weight sum; the others
    /// leave them alone).
    pub running: &'a mut ScheduleFreeGroup,
}

/// One optimizer's update rule.
pub trait UpdateRule: std::fmt::Debug {
    /// The kernel of its step (its line in `optim::kernels`).
    fn kernel(&self) -> &'static Kernel;
    /// The learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate.
    fn set_lr(&mut self, lr: f64);
    /// The weight decay.
    fn weight_decay(&self) -> f64;
    /// Adam-family (β1, β2), if the rule has them.
    fn betas(&self) -> Option<(f64, f64)> {
        None
    }
    /// What OneCycle cycles: the momentum, or β1; 0 for a rule with neither.
    fn momentum(&self) -> f64 {
        self.betas().map_or(0.0, |b| b.0)
    }
    /// PyTorch's names of the saved state slots, in slot order.
    fn state_names(&self) -> &'static [&'static str];
    /// Slots after the saved ones that the step uses as scratch (not saved).
    fn scratch_slots(&self) -> usize {
        0
    }
    /// True when the step is the one fused elementwise dispatch (no per-tensor pass): what the
    /// explorer's 2-D surfaces can run.
    fn is_elementwise(&self) -> bool {
        true
    }
    /// The step's block for one group from the step scalars (the clip is filled in after).
    fn block(&self, s: &StepScalars, group: GroupContext<'_>) -> GroupHyper;
    /// Refuses settings of its own that PyTorch refuses (the shared ones, lr, weight decay and
    /// betas, are checked for every rule by `Optimizer::new`).
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// A clip of its own (LAMB's `max_grad_norm`, clip mode 5), used when no other is set.
    fn own_clip(&self) -> Option<f64> {
        None
    }
    /// Parameter groups the rule makes itself from the caller's (Muon: the 2-D tensors), or
    /// None to use the caller's as they are.
    fn param_groups(&self, _layout: &ParamLayout, _groups: &[ParamGroup]) -> Result<Option<Vec<ParamGroup>>> {
        Ok(None)
    }
    /// The default group's (lr, weight decay, momentum): the rule's own, or another rule's for
    /// the tensors it does not update itself (Muon's AdamW).
    fn default_group(&self) -> (f64, f64, f64) {
        (self.lr(), self.weight_decay(), self.momentum())
    }
    /// The value every state slot starts at (Adagrad's `initial_accumulator_value`).
    fn initial_state(&self) -> f32 {
        0.0
    }
    /// Elements of the norm buffer the step reads: the global norm, and for LAMB one trust
    /// ratio per chunk after it.
    fn norm_len(&self, _layout: &ParamLayout) -> usize {
        1
    }
    /// The factor a running product kept across steps takes at step `t` (NAdam's μ_t, with the
    /// default group's momentum), or None for rules without one.
    fn running_product(&self, _momentum: f64, _t: f64) -> Option<f64> {
        None
    }
    /// How one parameter's state is laid out when it is not one full-size tensor per named
    /// slot: (name, slot, elements, shape) per state tensor (Muon's 2-D weights keep only a
    /// momentum buffer, Adafactor's statistics are rows and columns), or None.
    fn state_of(&self, _view: &ParamView) -> Option<StateTensors> {
        None
    }
    /// True when each group keeps running numbers and the parameters may be in an eval mode
    /// (schedule-free AdamW's lr_max and weight sum, and its x ↔ y switch): saved and restored
    /// with the state.
    fn keeps_running_groups(&self) -> bool {
        false
    }
    /// Every how many steps the trainer runs the rule's auxiliary-gradient pass (Sophia-G's
    /// Hessian estimate from labels sampled from the model, which needs the cross-entropy
    /// loss), or None for rules without one.
    fn auxiliary_interval(&self) -> Option<u64> {
        None
    }
    /// The setting that counts the rows behind one step's gradient (Sophia-G's `bs`), for a
    /// run to set from its batch, accumulation and replicas; None for rules without one.
    fn rows_per_step(&mut self) -> Option<&mut f64> {
        None
    }
    /// The rule's device side for backend `B` (its own buffers and passes); the default is
    /// [`Fused`]: the one fused dispatch per step.
    fn device<B: Backend>(&self, _be: &B, _cx: DeviceContext<'_, B>) -> Result<Box<dyn RuleDevice<B>>>
    where
        Self: Sized,
    {
        Ok(Box::new(Fused))
    }
}

/// What a rule's device side sees of the optimizer during one pass: the shared buffers, this
/// step's table and its host copy, and the groups' settings.
pub struct Shared<'a, B: Backend> {
    /// The rule's kernel.
    pub kernel: &'static Kernel,
    /// The parameter layout.
    pub layout: &'a ParamLayout,
    /// The flat state buffer (every slot).
    pub state: &'a mut B::Tensor,
    /// The group of every ALIGN-element chunk.
    pub chunk_groups: &'a B::U32Buffer,
    /// The norm buffer (`norm[0]` the global norm; LAMB's trust ratios after it).
    pub norm: &'a mut B::Tensor,
    /// This step's table (a step's blocks; passes that are not steps write their own).
    pub table: &'a B::Tensor,
    /// The host copy of the table, to write another table from.
    pub table_host: &'a mut Tensor,
    /// Each group's current settings, the default group first.
    pub groups: &'a [GroupSettings],
    /// This step's place in the table ring (rules with their own ring of tables use it too).
    pub ring: usize,
}

impl<B: Backend> Shared<'_, B> {
    /// One fused dispatch of the rule's kernel over the flat buffers with `table`.
    pub fn record(&mut self, be: &B, params: &mut B::Tensor, grads: &B::Tensor, table: &B::Tensor) -> Result<()> {
        fused::record(be, self.kernel, params, grads, self.state, table, self.chunk_groups, self.norm)
    }

    /// Fills the host table with one block per group from `block`, given each group's settings
    /// (t = 1): the tables of the passes that are not steps (schedule-free AdamW's y ↔ x switch,
    /// Sophia-G's Hessian EMA).
    pub fn fill_table_host(&mut self, block: impl Fn(&StepScalars) -> GroupHyper) {
        for (gi, g) in self.groups.iter().enumerate() {
            let scalars =
                StepScalars { lr: g.lr, weight_decay: g.weight_decay, momentum: g.momentum, t: 1.0, mu_product: 1.0 };
            let block = bytemuck::cast::<GroupHyper, [f32; HYPER_LEN]>(block(&scalars));
            self.table_host.data_mut()[gi * HYPER_LEN..(gi + 1) * HYPER_LEN].copy_from_slice(&block);
        }
    }
}

/// A rule's device side: the buffers it keeps beside the shared state and how it records its
/// passes. The defaults are the one fused dispatch per step and no other pass; a rule that
/// needs more implements this in its file and returns it from [`UpdateRule::device`].
pub trait RuleDevice<B: Backend> {
    /// Records a step, after the step table is written and the clip's norm computed.
    fn record_step(&mut self, be: &B, params: &mut B::Tensor, grads: &B::Tensor, mut s: Shared<'_, B>) -> Result<()> {
        let table = s.table;
        s.record(be, params, grads, table)
    }
    /// An auxiliary-gradient pass (Sophia-G's Hessian EMA from ĝ); false when the rule has none.
    fn auxiliary_gradient(
        &mut self,
        _be: &B,
        _params: &mut B::Tensor,
        _grads: &B::Tensor,
        _s: Shared<'_, B>,
    ) -> Result<bool> {
        Ok(false)
    }
    /// Moves the parameters between the train and the eval weights (schedule-free AdamW's
    /// y ↔ x); only called for rules that [`UpdateRule::keeps_running_groups`].
    fn switch(&mut self, _be: &B, _params: &mut B::Tensor, _to_eval: bool, _s: Shared<'_, B>) -> Result<()> {
        Ok(())
    }
}

/// The device side of the rules that need nothing beyond the shared buffers.
pub struct Fused;

impl<B: Backend> RuleDevice<B> for Fused {}

/// Where a rule's device side is made: the layout, the state buffer (Muon views its scratch
/// slot) and the host copy of the chunk groups (Adafactor's tensor table names each tensor's).
pub struct DeviceContext<'a, B: Backend> {
    /// The parameter layout.
    pub layout: &'a ParamLayout,
    /// The flat state buffer.
    pub state: &'a B::Tensor,
    /// The group of every chunk, on the host.
    pub chunk_groups: &'a [u32],
    /// How many groups there are.
    pub groups: usize,
}
