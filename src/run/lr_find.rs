//! `downhill lr-find`: Smith's learning-rate range test, as fastai's `lr_find` and Lightning's
//! `Tuner.lr_find` run it. The rate grows exponentially from `start_lr` to `end_lr` over at
//! most one epoch of steps (one rate per step); each step's loss is smoothed (an exponential
//! moving average with β = 0.98, bias-corrected); the sweep stops when the smoothed loss passes
//! 4× its best or the loss stops being finite. The suggestion is Lightning's — the rate where
//! the smoothed loss falls fastest (the most negative `np.gradient`, the first 10 points left
//! out) — looked for only up to the smoothed loss's lowest point: past it the loss is rising
//! towards divergence, and a wobble there can look steeper than the real descent (Lightning
//! searches the whole curve, all but its last point). The model's weights, optimizer state,
//! schedule and position are put back afterwards.

use super::parts::build_trainer;
use super::prepared::Prepared;
use crate::backend::Backend;
use crate::config::RunConfig;
use crate::data::Dataset;
use crate::device::{self, Device, DeviceRequest};
use crate::error::{file_error, Error, Result};
use crate::schedule::Schedule;
use crate::train::Trainer;
use std::path::Path;

/// The sweep's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LrFindSettings {
    /// The first rate.
    pub start_lr: f64,
    /// The last rate (reached when the sweep runs all its steps).
    pub end_lr: f64,
    /// Steps of the sweep (fewer when an epoch has fewer).
    pub steps: u64,
}

impl Default for LrFindSettings {
    /// Lightning's defaults: 1e-8 to 1 over 100 steps.
    fn default() -> Self {
        LrFindSettings { start_lr: 1e-8, end_lr: 1.0, steps: 100 }
    }
}

impl LrFindSettings {
    /// Refuses a sweep that cannot run: rates not finite and positive, start ≥ end, < 2 steps.
    pub fn check(&self) -> Result<()> {
        let bad = |what: &str, detail: String| Error::InvalidArgument { what: what.into(), detail };
        for (what, lr) in [("start_lr", self.start_lr), ("end_lr", self.end_lr)] {
            if !(lr.is_finite() && lr > 0.0) {
                return Err(bad(what, format!("{lr} must be a finite rate > 0")));
            }
        }
        if self.start_lr >= self.end_lr {
            return Err(bad("start_lr", format!("{} must be below end_lr {}", self.start_lr, self.end_lr)));
        }
        if self.steps < 2 {
            return Err(bad("steps", format!("{} must be at least 2", self.steps)));
        }
        Ok(())
    }
}

/// What the sweep saw.
#[derive(Clone, Debug, PartialEq)]
pub struct LrFind {
    /// The rate of each step.
    pub lrs: Vec<f64>,
    /// Each step's mean loss.
    pub losses: Vec<f64>,
    /// The smoothed losses.
    pub smoothed: Vec<f64>,
    /// The suggested rate, when enough points were left to take a gradient.
    pub suggestion: Option<f64>,
    /// Why the sweep ended.
    pub ended: String,
}

/// EMA factor of the smoothed loss (fastai, Lightning).
const BETA: f64 = 0.98;
/// The sweep stops when the smoothed loss passes this multiple of its best.
const DIVERGE: f64 = 4.0;
/// Points left out of the suggestion at the start (Lightning's `skip_begin`).
const SKIP_BEGIN: usize = 10;

/// Runs the range test on `trainer` over `data` and puts the trainer back as it was.
pub fn lr_range_test<B: Backend>(
    be: &B,
    trainer: &mut Trainer<B>,
    data: &Dataset,
    s: &LrFindSettings,
) -> Result<LrFind> {
    s.check()?;
    let steps = s.steps.min(trainer.steps_in_epoch(data.len())).max(1);
    let saved = (
        trainer.model.params.read_all(be)?,
        trainer.optimizer.state(be)?,
        trainer.schedule(),
        trainer.steps(),
        trainer.rng_state(),
    );
    let result = sweep(be, trainer, data, s, steps);
    let (params, state, (schedule, base), at, rng) = saved;
    trainer.model.load(be, &params)?;
    trainer.optimizer.load_state(be, &state)?;
    trainer.set_schedule(schedule, &base)?;
    trainer.restore_position(be, at, rng)?;
    result
}

fn sweep<B: Backend>(
    be: &B,
    trainer: &mut Trainer<B>,
    data: &Dataset,
    s: &LrFindSettings,
    steps: u64,
) -> Result<LrFind> {
    let groups = trainer.schedule().1.len();
    let ratio = (s.end_lr / s.start_lr).powf(1.0 / (steps - 1).max(1) as f64);
    let order = trainer.epoch_order(data.len());
    let mut out = LrFind { lrs: vec![], losses: vec![], smoothed: vec![], suggestion: None, ended: String::new() };
    let (mut avg, mut best) = (0.0, f64::INFINITY);
    for k in 0..steps {
        let lr = s.start_lr * ratio.powf(k as f64);
        trainer.set_schedule(Schedule::Constant, &vec![lr; groups])?;
        let loss = match trainer.run_steps(be, data, &order, k..k + 1, &mut |_| Ok(())) {
            Ok(span) => span.loss_sum / span.micro_batches.max(1) as f64,
            Err(Error::Diverged(_)) => f64::NAN,
            Err(e) => return Err(e),
        };
        if !loss.is_finite() {
            out.ended = format!("the loss stopped being finite at lr {lr:.3e}");
            break;
        }
        avg = BETA * avg + (1.0 - BETA) * loss;
        let smooth = avg / (1.0 - BETA.powi(k as i32 + 1));
        out.lrs.push(lr);
        out.losses.push(loss);
        out.smoothed.push(smooth);
        if k > 0 && smooth > DIVERGE * best {
            out.ended = format!("the smoothed loss passed {DIVERGE}× its best at lr {lr:.3e}");
            break;
        }
        best = best.min(smooth);
    }
    if out.ended.is_empty() {
        out.ended = format!("all {} steps ran (to lr {:.3e})", out.lrs.len(), out.lrs.last().copied().unwrap_or(0.0));
    }
    out.suggestion = steepest(&out.lrs, &out.smoothed);
    Ok(out)
}

/// The suggestion: the rate at the most negative gradient (numpy's, central differences
/// inside, one-sided at the ends) of the smoothed loss between its 11th point and its lowest;
/// None with fewer than 2 points there.
pub fn steepest(lrs: &[f64], smoothed: &[f64]) -> Option<f64> {
    let lowest = (0..smoothed.len()).min_by(|&a, &b| smoothed[a].total_cmp(&smoothed[b]))?;
    if lowest < SKIP_BEGIN + 1 {
        return None;
    }
    let y = &smoothed[SKIP_BEGIN..=lowest];
    let n = y.len();
    let grad = |i: usize| match i {
        0 => y[1] - y[0],
        i if i == n - 1 => y[n - 1] - y[n - 2],
        i => (y[i + 1] - y[i - 1]) / 2.0,
    };
    let at = (0..n).min_by(|&a, &b| grad(a).total_cmp(&grad(b)))?;
    Some(lrs[SKIP_BEGIN + at])
}

/// The range test for `cfg` on the device `device` asks for (data, model and optimizer as
/// `train` builds them for one replica).
pub fn lr_find(cfg: &RunConfig, device: &DeviceRequest, s: &LrFindSettings) -> Result<(LrFind, String)> {
    s.check()?;
    if super::lm::is_language_model(cfg) {
        return Err(Error::InvalidArgument {
            what: "lr-find".into(),
            detail: "language models on text are not supported yet; it runs on image and table data".into(),
        });
    }
    let opened = device::open(device)?;
    let data = Prepared::load(cfg, None)?;
    match &opened.device {
        Device::Cpu(be) => on(be, cfg, &data, s),
        Device::Gpu(be) => on(be.as_ref(), cfg, &data, s),
    }
}

fn on<B: Backend>(be: &B, cfg: &RunConfig, data: &Prepared, s: &LrFindSettings) -> Result<(LrFind, String)> {
    let (mut trainer, _, _) = build_trainer(be, cfg, data, 1)?;
    Ok((lr_range_test(be, &mut trainer, &data.train, s)?, be.describe()))
}

/// Writes `lr_find.csv` (lr, loss, smoothed) and `lr_find.png` (the smoothed loss over a log
/// rate axis, the raw losses faint, the suggestion marked) into `dir`.
pub fn write_outputs(dir: &Path, found: &LrFind) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, format!("cannot create the folder: {e}")))?;
    let mut csv = String::from("lr,loss,smoothed_loss\n");
    for ((lr, l), s) in found.lrs.iter().zip(&found.losses).zip(&found.smoothed) {
        csv.push_str(&format!("{lr:e},{l},{s}\n"));
    }
    crate::checkpoint::write_atomically(&dir.join("lr_find.csv"), csv.as_bytes())?;
    crate::report::plot_lr_find(&dir.join("lr_find.png"), found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;

    #[test]
    fn the_sweep_puts_the_weights_state_and_position_back() {
        let cfg = RunConfig { hidden: vec![16], ..RunConfig::default() };
        let be = CpuBackend::new();
        let data = Prepared::load(&cfg, None).unwrap();
        let (mut trainer, _, _) = build_trainer(&be, &cfg, &data, 1).unwrap();
        let before =
            (trainer.model.params.read_all(&be).unwrap(), trainer.steps(), trainer.rng_state(), trainer.schedule());
        let s = LrFindSettings { start_lr: 1e-5, end_lr: 1.0, steps: 20 };
        let found = lr_range_test(&be, &mut trainer, &data.train, &s).unwrap();
        assert_eq!(found.lrs.len(), found.losses.len());
        assert_eq!(found.lrs[0], 1e-5);
        let after =
            (trainer.model.params.read_all(&be).unwrap(), trainer.steps(), trainer.rng_state(), trainer.schedule());
        assert_eq!(before, after);
    }

    #[test]
    fn the_suggestion_is_the_steepest_descent_before_the_lowest_point() {
        let lrs: Vec<f64> = (0..30).map(|k| 10f64.powi(k - 20)).collect();
        // Flat for 12 points, falling faster and faster to point 20, then rising with a wobble
        // whose drop (24 → 25) is steeper than any before the lowest point.
        let lowest = 2.0 - 0.01 * 81.0;
        let mut y: Vec<f64> = (0..30usize)
            .map(|k| match k {
                0..=11 => 2.0,
                12..=20 => 2.0 - 0.01 * ((k - 11) * (k - 11)) as f64,
                _ => lowest + (k - 20) as f64,
            })
            .collect();
        y[25] = y[24] - 3.0; // still above the lowest point
        assert_eq!(steepest(&lrs, &y), Some(lrs[20]));
        assert_eq!(steepest(&lrs[..5], &y[..5]), None, "too few points");
    }
}
