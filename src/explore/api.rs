//! The explorer's JSON API, independent of HTTP: request types (unknown fields refused), their
//! checks, and the answers the server sends and `--export` embeds. Every limit is here.

use super::run::{basin_map_unless_cancelled, surface_grid, trajectories, RunSpec, Trajectory};
use super::surfaces::{catalogue, Marker, Surface, SurfaceInfo};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::optim::{registry, OptimizerConfig, Settings, OPTIMIZERS};
use crate::schedule::Schedule;
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Most steps of one race.
pub const MAX_RACE_STEPS: usize = 20_000;
/// Most runs in one race.
pub const MAX_RACE_RUNS: usize = 16;
/// Most starts per side of a basin map (1024² starts in one batch).
pub const MAX_BASIN_GRID: usize = 1024;
/// Most steps of a basin map.
pub const MAX_BASIN_STEPS: usize = 10_000;
/// Most start × step updates one basin-map request may ask for.
pub const MAX_BASIN_WORK: u64 = 2_000_000_000;
/// Most samples per side of a surface heat map.
pub const MAX_RESOLUTION: usize = 1024;

fn invalid(what: &str, detail: String) -> Error {
    Error::InvalidArgument { what: what.into(), detail }
}

/// A surface and its parameters.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SurfaceRequest {
    /// Catalogue name (`rosenbrock`).
    pub name: String,
    /// The bowl's condition number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<f64>,
    /// The bowl's rotation in degrees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<f64>,
}

impl SurfaceRequest {
    /// The surface, checked.
    pub fn surface(&self) -> Result<Surface> {
        Surface::new(&self.name, self.condition, self.rotation)
    }
}

/// An optimizer by its CLI name with the settings it takes (PyTorch's defaults for the rest).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerRequest {
    /// CLI name (`sgd`, `adamw`, …).
    pub name: String,
    /// Learning rate (required: the explorer is about it).
    pub lr: f64,
    /// SGD / RMSprop momentum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// Nesterov momentum (SGD).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nesterov: bool,
    /// Weight decay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// β1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta1: Option<f64>,
    /// β2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta2: Option<f64>,
    /// ε.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
}

impl OptimizerRequest {
    /// The configuration, checked as a training run's settings are.
    pub fn config(&self) -> Result<OptimizerConfig> {
        let settings = Settings {
            lr: Some(self.lr),
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            nesterov: self.nesterov,
            ..Default::default()
        };
        let config = registry::build(&self.name, &settings)?;
        if !config.is_elementwise() {
            return Err(invalid(
                "optimizer",
                format!(
                    "{} scales each tensor as a whole, so the explorer's independent points would interact",
                    self.name
                ),
            ));
        }
        Ok(config)
    }
}

/// A learning-rate schedule over the run's steps.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "lowercase")]
pub enum ScheduleRequest {
    /// The base rate throughout.
    #[default]
    Constant,
    /// StepLR: × `gamma` every `step_size` steps.
    Step {
        /// Steps between decays.
        step_size: u64,
        /// Decay factor.
        gamma: f64,
    },
    /// CosineAnnealingLR from the base rate to 0 over the run.
    Cosine,
    /// Linear warm-up from 1 % of the rate over `warmup_steps`, then cosine to 0.
    Warmup {
        /// Steps of warm-up.
        warmup_steps: u64,
    },
}

impl ScheduleRequest {
    /// The schedule for a run of `steps` steps.
    pub fn schedule(&self, steps: usize) -> Result<Schedule> {
        let steps = steps as u64;
        let s = match *self {
            ScheduleRequest::Constant => Schedule::Constant,
            ScheduleRequest::Step { step_size, gamma } => {
                if !(gamma.is_finite() && gamma > 0.0 && gamma <= 1.0) {
                    return Err(invalid("schedule", format!("gamma {gamma} must be in (0, 1]")));
                }
                Schedule::Step { step_size, gamma }
            }
            ScheduleRequest::Cosine => Schedule::CosineAnnealing { t_max: steps.max(1), eta_min: 0.0 },
            ScheduleRequest::Warmup { warmup_steps } => {
                if warmup_steps == 0 || warmup_steps >= steps {
                    return Err(invalid("schedule", format!("warmup_steps {warmup_steps} must be in [1, {steps})")));
                }
                Schedule::Sequential {
                    schedules: vec![
                        Schedule::Linear { start_factor: 0.01, end_factor: 1.0, total_iters: warmup_steps },
                        Schedule::CosineAnnealing { t_max: steps - warmup_steps, eta_min: 0.0 },
                    ],
                    milestones: vec![warmup_steps],
                }
            }
        };
        s.validate()?;
        Ok(s)
    }
}

/// One racer.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RaceRunRequest {
    /// Name in the legend.
    pub label: String,
    /// The optimizer.
    pub optimizer: OptimizerRequest,
}

/// `POST /api/race`: several optimizers from one start.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RaceRequest {
    /// The surface.
    pub surface: SurfaceRequest,
    /// (x, y) every run starts from.
    pub start: [f64; 2],
    /// Steps per run.
    pub steps: usize,
    /// The schedule every run follows.
    #[serde(default)]
    pub schedule: ScheduleRequest,
    /// The racers.
    pub runs: Vec<RaceRunRequest>,
}

/// One racer's path.
#[derive(Clone, Debug, Serialize)]
pub struct RaceRun {
    /// Legend name.
    pub label: String,
    /// The path (see [`Trajectory`]).
    #[serde(flatten)]
    pub trajectory: Trajectory,
}

/// The answer to a race.
#[derive(Clone, Debug, Serialize)]
pub struct RaceAnswer {
    /// One per racer, in request order.
    pub runs: Vec<RaceRun>,
    /// Wall seconds on the device.
    pub seconds: f64,
}

fn check_steps(what: &str, steps: usize, max: usize) -> Result<()> {
    if steps == 0 || steps > max {
        return Err(invalid(what, format!("steps {steps} must be in [1, {max}]")));
    }
    Ok(())
}

/// Runs a race.
pub fn race<B: Backend>(be: &B, r: &RaceRequest) -> Result<RaceAnswer> {
    let surface = r.surface.surface()?;
    check_steps("race", r.steps, MAX_RACE_STEPS)?;
    if r.runs.is_empty() || r.runs.len() > MAX_RACE_RUNS {
        return Err(invalid("race", format!("{} runs; between 1 and {MAX_RACE_RUNS}", r.runs.len())));
    }
    let schedule = r.schedule.schedule(r.steps)?;
    let clock = Instant::now();
    let mut runs = Vec::new();
    for run in &r.runs {
        let optimizer =
            run.optimizer.config().map_err(|e| invalid(&format!("runs[{:?}].optimizer", run.label), e.to_string()))?;
        let spec = RunSpec { surface: surface.clone(), optimizer, schedule: schedule.clone(), steps: r.steps };
        let trajectory = trajectories(be, &spec, &[r.start], &[optimizer.lr()])?.remove(0);
        runs.push(RaceRun { label: run.label.clone(), trajectory });
    }
    Ok(RaceAnswer { runs, seconds: clock.elapsed().as_secs_f64() })
}

/// `POST /api/basin`: one optimizer from every start of a grid.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasinRequest {
    /// The surface.
    pub surface: SurfaceRequest,
    /// The optimizer.
    pub optimizer: OptimizerRequest,
    /// Starts per side.
    pub grid: usize,
    /// Steps per start.
    pub steps: usize,
    /// The schedule.
    #[serde(default)]
    pub schedule: ScheduleRequest,
}

/// The answer to a basin map: per start (row 0 at the top), the class and the final loss as
/// base64 little-endian bytes (u8 and f32: 1024² starts would be 10+ MB as JSON numbers).
#[derive(Clone, Debug, Serialize)]
pub struct BasinAnswer {
    /// Starts per side.
    pub grid: usize,
    /// Steps per start.
    pub steps: usize,
    /// Class per start: index into `minima`, 254 elsewhere, 255 diverged.
    pub classes: String,
    /// f32 final loss per start (NaN when diverged).
    pub final_loss: String,
    /// The minima the classes index.
    pub minima: Vec<Marker>,
    /// Starts that reached each minimum, then elsewhere, then diverged.
    pub counts: Vec<usize>,
    /// Wall seconds on the device, from upload to read-back.
    pub seconds: f64,
    /// Start points × steps per second.
    pub throughput: f64,
}

/// Runs a basin map; it stops with [`crate::Error::Interrupted`] once `cancel` is set (the
/// server sets it when the client has gone).
pub fn basin<B: Backend>(be: &B, r: &BasinRequest, cancel: &AtomicBool) -> Result<BasinAnswer> {
    let surface = r.surface.surface()?;
    check_steps("basin", r.steps, MAX_BASIN_STEPS)?;
    if r.grid == 0 || r.grid > MAX_BASIN_GRID {
        return Err(invalid("basin", format!("grid {} must be in [1, {MAX_BASIN_GRID}]", r.grid)));
    }
    let work = (r.grid * r.grid) as u64 * r.steps as u64;
    if work > MAX_BASIN_WORK {
        return Err(invalid(
            "basin",
            format!(
                "grid² × steps = {work} updates is beyond the limit of {MAX_BASIN_WORK}; use fewer starts or steps"
            ),
        ));
    }
    let optimizer = r.optimizer.config().map_err(|e| invalid("optimizer", e.to_string()))?;
    let spec = RunSpec { surface, optimizer, schedule: r.schedule.schedule(r.steps)?, steps: r.steps };
    let map = basin_map_unless_cancelled(be, &spec, r.grid, cancel)?;
    let m = map.minima.len();
    let mut counts = vec![0usize; m + 2];
    for &c in &map.classes {
        counts[match c {
            super::run::CLASS_OTHER => m,
            super::run::CLASS_DIVERGED => m + 1,
            k => k as usize,
        }] += 1;
    }
    let loss_bytes: Vec<u8> = map.final_loss.iter().flat_map(|f| f.to_le_bytes()).collect();
    Ok(BasinAnswer {
        grid: r.grid,
        steps: r.steps,
        classes: base64(&map.classes),
        final_loss: base64(&loss_bytes),
        throughput: map.throughput(r.steps),
        minima: map.minima,
        counts,
        seconds: map.seconds,
    })
}

/// `POST /api/surface`: the heat map.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SurfaceGridRequest {
    /// The surface.
    pub surface: SurfaceRequest,
    /// Samples per side.
    pub resolution: usize,
}

/// f on the grid (row 0 at the top) as base64 little-endian f32, with its range.
#[derive(Clone, Debug, Serialize)]
pub struct SurfaceGridAnswer {
    /// Samples per side.
    pub resolution: usize,
    /// base64 f32 values.
    pub values: String,
    /// Smallest value on the grid.
    pub min: f32,
    /// Largest value on the grid.
    pub max: f32,
    /// The surface's lowest known value (the global minimum), for log scales.
    pub floor: f64,
}

/// Computes a heat map.
pub fn surface_values<B: Backend>(be: &B, r: &SurfaceGridRequest) -> Result<SurfaceGridAnswer> {
    let surface = r.surface.surface()?;
    if r.resolution < 2 || r.resolution > MAX_RESOLUTION {
        return Err(invalid("surface", format!("resolution {} must be in [2, {MAX_RESOLUTION}]", r.resolution)));
    }
    let values = surface_grid(be, &surface, r.resolution)?;
    let (min, max) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let floor = surface.minima().iter().map(|m| m.value).fold(f64::INFINITY, f64::min);
    let bytes: Vec<u8> = values.iter().flat_map(|f| f.to_le_bytes()).collect();
    Ok(SurfaceGridAnswer { resolution: r.resolution, values: base64(&bytes), min, max, floor })
}

/// An optimizer the page offers.
#[derive(Clone, Debug, Serialize)]
pub struct OptimizerInfo {
    /// CLI name.
    pub name: &'static str,
    /// PyTorch's class.
    pub torch: &'static str,
    /// The settings it takes.
    pub takes: &'static [&'static str],
}

/// `GET /api/info`: what the page needs to build its menus.
#[derive(Clone, Debug, Serialize)]
pub struct Info {
    /// The device computing (as `downhill devices` names it).
    pub device: String,
    /// Every surface.
    pub surfaces: Vec<SurfaceInfo>,
    /// Every optimizer.
    pub optimizers: Vec<OptimizerInfo>,
    /// The racers the page offers.
    pub presets: Vec<super::presets::Preset>,
    /// The learning rates an exported page precomputes (the slider's range).
    pub lr_grid: Vec<f64>,
    /// The limits above, by name.
    pub limits: Limits,
}

/// The request limits.
#[derive(Clone, Debug, Serialize)]
pub struct Limits {
    /// [`MAX_RACE_STEPS`].
    pub race_steps: usize,
    /// [`MAX_RACE_RUNS`].
    pub race_runs: usize,
    /// [`MAX_BASIN_GRID`].
    pub basin_grid: usize,
    /// [`MAX_BASIN_STEPS`].
    pub basin_steps: usize,
    /// [`MAX_BASIN_WORK`].
    pub basin_work: u64,
    /// [`MAX_RESOLUTION`].
    pub resolution: usize,
}

/// The info for a server computing on `device`.
pub fn info(device: String) -> Info {
    Info {
        device,
        surfaces: catalogue(),
        optimizers: OPTIMIZERS.iter().map(|o| OptimizerInfo { name: o.name, torch: o.torch, takes: o.takes }).collect(),
        presets: super::presets::presets(),
        lr_grid: super::presets::lr_grid(),
        limits: Limits {
            race_steps: MAX_RACE_STEPS,
            race_runs: MAX_RACE_RUNS,
            basin_grid: MAX_BASIN_GRID,
            basin_steps: MAX_BASIN_STEPS,
            basin_work: MAX_BASIN_WORK,
            resolution: MAX_RESOLUTION,
        },
    }
}

/// Standard base64 with padding (RFC 4648), for the binary arrays in answers.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let v = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(ABC[(v >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, coded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }
}
