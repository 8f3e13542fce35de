//! Learning-rate schedules matching torch.optim.lr_scheduler: each is a pure function of the
//! step count k (the number of `scheduler.step()` calls so far) and the group's base lr, in f64,
//! so a run can resume anywhere. ReduceLROnPlateau, driven by a metric, is the stateful one.

use crate::error::{Error, Result};
use std::f64::consts::PI;

/// A schedule: `lr(base, k)` is the learning rate in effect for the (k+1)-th optimizer step.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// The base lr throughout.
    Constant,
    /// StepLR: `base · γ^⌊k / step_size⌋`.
    Step {
        /// Steps between decays.
        step_size: u64,
        /// Decay factor.
        gamma: f64,
    },
    /// MultiStepLR: `base · γ^(milestones ≤ k)`.
    MultiStep {
        /// Steps at which to decay, increasing.
        milestones: Vec<u64>,
        /// Decay factor.
        gamma: f64,
    },
    /// ExponentialLR: `base · γ^k`.
    Exponential {
        /// Decay per step.
        gamma: f64,
    },
    /// CosineAnnealingLR: `η_min + (base − η_min)(1 + cos(πk/T_max))/2`, for every k (past
    /// T_max it rises again, as torch's recursive form does).
    CosineAnnealing {
        /// Half period.
        t_max: u64,
        /// Floor.
        eta_min: f64,
    },
    /// CosineAnnealingWarmRestarts: cosine cycles of length T_0, T_0·T_mult, …
    CosineWarmRestarts {
        /// First cycle length.
        t_0: u64,
        /// Cycle growth factor (≥ 1).
        t_mult: u64,
        /// Floor.
        eta_min: f64,
    },
    /// LinearLR (warm-up): `base · (start + (end − start)·min(k, total)/total)`.
    Linear {
        /// Factor at k = 0.
        start_factor: f64,
        /// Factor from k = total_iters on.
        end_factor: f64,
        /// Steps to go from start to end.
        total_iters: u64,
    },
    /// OneCycleLR (cosine, two phases): rises from max_lr/div_factor to max_lr over
    /// pct_start·total_steps − 1 steps, then falls to initial/final_div_factor; momentum cycles
    /// the other way between max_momentum and base_momentum. Ignores the optimizer's lr.
    OneCycle {
        /// Peak learning rate.
        max_lr: f64,
        /// Steps in the cycle.
        total_steps: u64,
        /// Fraction of the cycle spent rising (default 0.3).
        pct_start: f64,
        /// initial lr = max_lr / div_factor (default 25).
        div_factor: f64,
        /// min lr = initial lr / final_div_factor (default 1e4).
        final_div_factor: f64,
        /// Momentum at the peak lr (default 0.85).
        base_momentum: f64,
        /// Momentum at the ends (default 0.95).
        max_momentum: f64,
    },
    /// SequentialLR: `schedules[i]` runs from `milestones[i−1]` on, with its own step count
    /// restarting at 0 at its milestone.
    Sequential {
        /// The schedules in order.
        schedules: Vec<Schedule>,
        /// Where each schedule after the first starts (one fewer than schedules).
        milestones: Vec<u64>,
    },
}

/// torch's `_annealing_cos`: `end + (start − end)/2 · (cos(π·pct) + 1)`.
fn annealing_cos(start: f64, end: f64, pct: f64) -> f64 {
    let cos_out = (PI * pct).cos() + 1.0;
    end + (start - end) / 2.0 * cos_out
}

impl Schedule {
    /// OneCycleLR with PyTorch's defaults for everything but `max_lr` and `total_steps`.
    pub fn one_cycle(max_lr: f64, total_steps: u64) -> Self {
        Schedule::OneCycle {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            base_momentum: 0.85,
            max_momentum: 0.95,
        }
    }

    /// Checks the parameters (positive lengths, milestones in order, …).
    pub fn validate(&self) -> Result<()> {
        let bad = |detail: String| Err(Error::InvalidArgument { what: "schedule".into(), detail });
        match self {
            Schedule::Step { step_size: 0, .. } => bad("StepLR step_size must be ≥ 1".into()),
            Schedule::MultiStep { milestones, .. } if milestones.windows(2).any(|w| w[0] > w[1]) => {
                bad(format!("MultiStepLR milestones must increase: {milestones:?}"))
            }
            Schedule::CosineAnnealing { t_max: 0, .. } => bad("CosineAnnealingLR T_max must be ≥ 1".into()),
            Schedule::CosineWarmRestarts { t_0, t_mult, .. } if *t_0 == 0 || *t_mult == 0 => {
                bad("CosineAnnealingWarmRestarts needs T_0 ≥ 1 and T_mult ≥ 1".into())
            }
            Schedule::Linear { total_iters: 0, .. } => bad("LinearLR total_iters must be ≥ 1".into()),
            Schedule::OneCycle { total_steps, pct_start, .. } => {
                let end = pct_start * *total_steps as f64 - 1.0;
                if *total_steps < 2 || !(end > 0.0 && end < *total_steps as f64 - 1.0) {
                    bad(format!("OneCycleLR needs total_steps ≥ 2 and 0 < pct_start·total_steps − 1 < total_steps − 1 (got {total_steps}, {pct_start})"))
                } else {
                    Ok(())
                }
            }
            Schedule::Sequential { schedules, milestones } => {
                if schedules.len() != milestones.len() + 1 {
                    return bad(format!(
                        "SequentialLR: {} schedules need {} milestones, got {}",
                        schedules.len(),
                        schedules.len().saturating_sub(1),
                        milestones.len()
                    ));
                }
                schedules.iter().try_for_each(Schedule::validate)
            }
            _ => Ok(()),
        }
    }

    /// The learning rate for the (k+1)-th step of a group whose base lr is `base`.
    pub fn lr(&self, base: f64, k: u64) -> f64 {
        let kf = k as f64;
        match self {
            Schedule::Constant => base,
            Schedule::Step { step_size, gamma } => base * gamma.powi((k / step_size) as i32),
            Schedule::MultiStep { milestones, gamma } => {
                base * gamma.powi(milestones.iter().filter(|&&m| m <= k).count() as i32)
            }
            Schedule::Exponential { gamma } => base * gamma.powf(kf),
            Schedule::CosineAnnealing { t_max, eta_min } => {
                eta_min + (base - eta_min) * (1.0 + (PI * kf / *t_max as f64).cos()) / 2.0
            }
            Schedule::CosineWarmRestarts { t_0, t_mult, eta_min } => {
                let (t_cur, t_i) = if k < *t_0 || *t_mult == 1 {
                    ((k % t_0) as f64, *t_0 as f64)
                } else {
                    let (t0, m) = (*t_0 as f64, *t_mult as f64);
                    let n = ((kf / t0 * (m - 1.0) + 1.0).ln() / m.ln()).floor();
                    (kf - t0 * (m.powf(n) - 1.0) / (m - 1.0), t0 * m.powf(n))
                };
                eta_min + (base - eta_min) * (1.0 + (PI * t_cur / t_i).cos()) / 2.0
            }
            Schedule::Linear { start_factor, end_factor, total_iters } => {
                let done = k.min(*total_iters) as f64 / *total_iters as f64;
                base * (start_factor + (end_factor - start_factor) * done)
            }
            Schedule::OneCycle { max_lr, total_steps, pct_start, div_factor, final_div_factor, .. } => {
                let initial = max_lr / div_factor;
                let min_lr = initial / final_div_factor;
                let (end1, end2) = (pct_start * *total_steps as f64 - 1.0, *total_steps as f64 - 1.0);
                if kf <= end1 {
                    annealing_cos(initial, *max_lr, kf / end1)
                } else {
                    annealing_cos(*max_lr, min_lr, (kf - end1) / (end2 - end1))
                }
            }
            Schedule::Sequential { schedules, milestones } => {
                let idx = milestones.iter().filter(|&&m| m <= k).count();
                let start = if idx == 0 { 0 } else { milestones[idx - 1] };
                schedules[idx].lr(base, k - start)
            }
        }
    }

    /// The momentum OneCycleLR sets for the (k+1)-th step (None for the other schedules).
    pub fn momentum(&self, k: u64) -> Option<f64> {
        match self {
            Schedule::OneCycle { total_steps, pct_start, base_momentum, max_momentum, .. } => {
                let kf = k as f64;
                let (end1, end2) = (pct_start * *total_steps as f64 - 1.0, *total_steps as f64 - 1.0);
                Some(if kf <= end1 {
                    annealing_cos(*max_momentum, *base_momentum, kf / end1)
                } else {
                    annealing_cos(*base_momentum, *max_momentum, (kf - end1) / (end2 - end1))
                })
            }
            Schedule::Sequential { schedules, milestones } => {
                let idx = milestones.iter().filter(|&&m| m <= k).count();
                let start = if idx == 0 { 0 } else { milestones[idx - 1] };
                schedules[idx].momentum(k - start)
            }
            _ => None,
        }
    }
}

/// ReduceLROnPlateau (mode "min", relative threshold): multiplies the lr by `factor` once the
/// metric has not improved for more than `patience` epochs, then waits `cooldown` epochs.
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceLrOnPlateau {
    /// Multiplier on each reduction (default 0.1).
    pub factor: f64,
    /// Epochs without improvement tolerated (default 10).
    pub patience: u64,
    /// Relative improvement that counts (default 1e-4).
    pub threshold: f64,
    /// Epochs to wait after a reduction (default 0).
    pub cooldown: u64,
    /// Lower bound on the lr (default 0).
    pub min_lr: f64,
    /// Reductions smaller than this are skipped (default 1e-8).
    pub eps: f64,
    best: f64,
    bad_epochs: u64,
    cooldown_left: u64,
}

impl Default for ReduceLrOnPlateau {
    fn default() -> Self {
        Self {
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            best: f64::INFINITY,
            bad_epochs: 0,
            cooldown_left: 0,
        }
    }
}

impl ReduceLrOnPlateau {
    /// Feeds one epoch's metric (lower is better); returns the new lr for a group at `lr`.
    pub fn step(&mut self, metric: f64, lr: f64) -> f64 {
        if metric < self.best * (1.0 - self.threshold) {
            self.best = metric;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_epochs = 0;
        }
        if self.bad_epochs > self.patience {
            self.cooldown_left = self.cooldown;
            self.bad_epochs = 0;
            let new_lr = (lr * self.factor).max(self.min_lr);
            if lr - new_lr > self.eps {
                return new_lr;
            }
        }
        lr
    }
}
