//! `UpdateRule`: what each optimizer's file says about itself, so `Optimizer` and
//! `OptimizerConfig` ask the rule instead of matching on its name: its kernel, its PyTorch
//! settings (lr, weight decay, momentum or β), its state slots, its per-group step block and
//! its own clip. Implemented by each config in `optim/<name>.rs`.

use super::hyper::{GroupHyper, StepScalars};
use super::schedule_free::ScheduleFreeGroup;
use super::ParamGroup;
use crate::backend::kernel::Kernel;
use crate::error::{Error, Result};
use crate::params::{ParamLayout, ParamView};

/// The error of a rule setting `what = v` outside `range`, naming the optimizer.
pub(crate) fn out_of_range(optimizer: &str, what: &str, v: f64, range: &str) -> Error {
    Error::InvalidArgument { what: optimizer.into(), detail: format!("{what} = {v} must be {range}") }
}

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
    fn state_of(&self, _view: &ParamView) -> Option<Vec<(&'static str, usize, usize, Vec<usize>)>> {
        None
    }
    /// True when each group keeps running numbers and the parameters may be in an eval mode
    /// (schedule-free AdamW's lr_max and weight sum, and its x ↔ y switch): saved and restored
    /// with the state.
    fn keeps_running_groups(&self) -> bool {
        false
    }
}
