//! `UpdateRule`: what each optimizer's file says about itself, so `Optimizer` and
//! `OptimizerConfig` ask the rule instead of matching on its name: its kernel, its PyTorch
//! settings (lr, weight decay, momentum or β), its state slots, its per-group step block and
//! its own clip. Implemented by each config in `optim/<name>.rs`.

use super::hyper::{GroupHyper, StepScalars};
use super::schedule_free::ScheduleFreeGroup;
use crate::backend::kernel::Kernel;
use crate::error::{Error, Result};

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
}
