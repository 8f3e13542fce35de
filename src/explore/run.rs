//! Running the engine's own optimizers on a surface: trajectories (each start with its own
//! learning rate, every step traced) and basin maps (a grid of starts, one learning rate,
//! only where each ends). One flat buffer holds every trajectory's (x, y); each step is the
//! surface kernel (value and gradient at every point) and then the optimizer's fused update
//! over that buffer, exactly as a training step updates a model's parameters.

use super::surfaces::{Marker, Surface};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::ops::surface;
use crate::ops::surface::SurfaceParams;
use crate::optim::{Optimizer, OptimizerConfig, ParamGroup};
use crate::params::{ParamLayout, ALIGN};
use crate::schedule::Schedule;
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A point counts as diverged once it is more than this many region widths from the region's
/// centre (or anything about it is not finite).
pub const DIVERGE_SPANS: f64 = 100.0;
/// A run "reaches" a minimum when it ends within this fraction of the region's width of it.
pub const ARRIVAL_FRACTION: f64 = 0.02;
/// Basin-map class of a start that ended away from every known minimum.
pub const CLASS_OTHER: u8 = 254;
/// Basin-map class of a start that diverged.
pub const CLASS_DIVERGED: u8 = 255;

/// What every run shares: the surface, the optimizer, the schedule and the number of steps.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The surface.
    pub surface: Surface,
    /// The optimizer (its lr is the base lr unless a trajectory sets its own).
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule, stepped once per step as in training.
    pub schedule: Schedule,
    /// Optimizer steps.
    pub steps: usize,
}

/// One traced run: row t is the state after t steps.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Trajectory {
    /// (x, y) after each step, from the start (steps + 1 rows, fewer when it diverged).
    pub points: Vec<[f32; 2]>,
    /// f at each point.
    pub losses: Vec<f32>,
    /// ‖∇f‖ at each point.
    pub grad_norms: Vec<f32>,
    /// The first row that left the finite, bounded world (the rows above stop before it).
    pub diverged_at: Option<usize>,
}

/// Where every start of a grid ended.
#[derive(Clone, Debug)]
pub struct BasinMap {
    /// Starts per side.
    pub n: usize,
    /// Per start (row 0 = the region's top, column 0 its left): the index of the minimum
    /// reached ([`Surface::minima`] order), [`CLASS_OTHER`] or [`CLASS_DIVERGED`].
    pub classes: Vec<u8>,
    /// Per start: f where it ended (NaN when diverged).
    pub final_loss: Vec<f32>,
    /// The minima the classes index.
    pub minima: Vec<Marker>,
    /// Wall seconds from upload to read-back, on the backend that ran it.
    pub seconds: f64,
}

impl BasinMap {
    /// Start points × steps per second.
    pub fn throughput(&self, steps: usize) -> f64 {
        (self.n * self.n * steps) as f64 / self.seconds.max(1e-12)
    }
}

/// The batch of points one run steps: its layout, where each point is, and its optimizer.
struct Batch<B: Backend> {
    points: B::Tensor,
    grads: B::Tensor,
    values: B::Tensor,
    trace: B::Tensor,
    optimizer: Optimizer<B>,
    base_lrs: Vec<f64>,
    surface: SurfaceParams,
}

impl<B: Backend> Batch<B> {
    /// `starts` with one learning rate each: packed (x, y) pairs in one tensor when all rates
    /// are equal, else one `[2]` tensor per start (ALIGN apart) in its own parameter group.
    fn new(be: &B, spec: &RunSpec, starts: &[[f64; 2]], lrs: &[f64], traced: bool) -> Result<Self> {
        let n = starts.len();
        let shared = lrs.windows(2).all(|w| w[0] == w[1]);
        let (layout, stride, groups) = if shared {
            (ParamLayout::new(&[("xy", vec![n, 2])])?, 2, Vec::new())
        } else {
            let names: Vec<String> = (0..n).map(|i| format!("start{i}")).collect();
            let layout = ParamLayout::new(&names.iter().map(|s| (s.as_str(), vec![2])).collect::<Vec<_>>())?;
            let groups = names.iter().zip(lrs).map(|(s, &lr)| ParamGroup {
                params: vec![s.clone()],
                lr: Some(lr),
                weight_decay: None,
            });
            (layout, ALIGN, groups.collect())
        };
        let mut host = Tensor::zeros(&[layout.total()]);
        for (i, s) in starts.iter().enumerate() {
            host.data_mut()[i * stride..i * stride + 2].copy_from_slice(&[s[0] as f32, s[1] as f32]);
        }
        let mut config = spec.optimizer;
        config.set_lr(lrs[0]);
        let optimizer = Optimizer::new(be, config, &layout, &groups)?;
        let base_lrs = optimizer.lrs();
        let (a, b) = spec.surface.params();
        Ok(Self {
            points: be.upload(&host)?,
            grads: be.zeros(&[layout.total()])?,
            values: be.zeros(&[n])?,
            trace: if traced { be.zeros(&[spec.steps + 1, n, 4])? } else { be.zeros(&[4])? },
            optimizer,
            base_lrs,
            surface: SurfaceParams::new(spec.surface.info.kind, n, stride, a, b),
        })
    }

    /// Evaluates the surface at every point, writing trace row `row` when tracing.
    fn evaluate(&mut self, be: &B, row: Option<usize>) -> Result<()> {
        let p = match row {
            Some(r) => self.surface.traced(r),
            None => self.surface,
        };
        surface::surface(be, &p, &mut self.values, &mut self.grads, &self.points, &mut self.trace)
    }

    /// All the steps: the schedule's rates, the surface's gradient, the fused update; then the
    /// surface once more at the final points.
    /// Runs every step, or stops with [`Error::Interrupted`] at the first step that finds
    /// `cancel` set.
    fn run(&mut self, be: &B, spec: &RunSpec, traced: bool, cancel: &AtomicBool) -> Result<()> {
        let mut lrs = self.base_lrs.clone();
        for k in 0..spec.steps {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Interrupted(k as u64));
            }
            self.optimizer.apply_schedule(&spec.schedule, &self.base_lrs, &mut lrs, k as u64)?;
            self.evaluate(be, traced.then_some(k))?;
            self.optimizer.step(be, &mut self.points, &self.grads)?;
        }
        self.evaluate(be, traced.then_some(spec.steps))
    }
}

/// True when a point has diverged (see [`DIVERGE_SPANS`]).
pub fn diverged(surface: &Surface, x: f32, y: f32, f: f32) -> bool {
    let [[x0, x1], [y0, y1]] = surface.info.region;
    let limit = DIVERGE_SPANS * surface.span();
    !(x.is_finite() && y.is_finite() && f.is_finite())
        || (x as f64 - (x0 + x1) / 2.0).abs() > limit
        || (y as f64 - (y0 + y1) / 2.0).abs() > limit
}

fn check_starts(surface: &Surface, starts: &[[f64; 2]]) -> Result<()> {
    for (i, s) in starts.iter().enumerate() {
        if !(s[0].is_finite() && s[1].is_finite()) || diverged(surface, s[0] as f32, s[1] as f32, 0.0) {
            return Err(Error::InvalidArgument {
                what: "start".into(),
                detail: format!(
                    "start {i} ({}, {}) must be finite and within {DIVERGE_SPANS} region widths of {}",
                    s[0], s[1], surface.info.name
                ),
            });
        }
    }
    Ok(())
}

/// Runs `spec` from each start with its own learning rate (`lrs[i]`) and returns every step of
/// every run; starts and rates are processed in one batch.
pub fn trajectories<B: Backend>(be: &B, spec: &RunSpec, starts: &[[f64; 2]], lrs: &[f64]) -> Result<Vec<Trajectory>> {
    if starts.is_empty() || starts.len() != lrs.len() {
        return Err(Error::InvalidArgument {
            what: "trajectories".into(),
            detail: format!(
                "{} starts and {} learning rates; need one rate per start, at least one",
                starts.len(),
                lrs.len()
            ),
        });
    }
    check_starts(&spec.surface, starts)?;
    if let Some(bad) = lrs.iter().find(|lr| !(lr.is_finite() && **lr > 0.0)) {
        return Err(Error::InvalidArgument {
            what: "trajectories".into(),
            detail: format!("learning rate {bad} must be a finite number > 0"),
        });
    }
    let mut batch = Batch::new(be, spec, starts, lrs, true)?;
    batch.run(be, spec, true, &AtomicBool::new(false))?;
    let trace = be.read(&batch.trace)?;
    let n = starts.len();
    Ok((0..n)
        .map(|i| {
            let mut t =
                Trajectory { points: Vec::new(), losses: Vec::new(), grad_norms: Vec::new(), diverged_at: None };
            for row in 0..=spec.steps {
                let r = &trace.data()[(row * n + i) * 4..(row * n + i) * 4 + 4];
                if diverged(&spec.surface, r[0], r[1], r[2]) {
                    t.diverged_at = Some(row);
                    break;
                }
                t.points.push([r[0], r[1]]);
                t.losses.push(r[2]);
                t.grad_norms.push(r[3]);
            }
            t
        })
        .collect())
}

/// The start points of an n×n basin map: cell centres of the surface's region, row 0 at the
/// top (largest y), column 0 at the left.
pub fn grid_starts(surface: &Surface, n: usize) -> Vec<[f64; 2]> {
    let [[x0, x1], [y0, y1]] = surface.info.region;
    let mut starts = Vec::with_capacity(n * n);
    for row in 0..n {
        let y = y1 - (row as f64 + 0.5) / n as f64 * (y1 - y0);
        for col in 0..n {
            starts.push([x0 + (col as f64 + 0.5) / n as f64 * (x1 - x0), y]);
        }
    }
    starts
}

/// Runs `spec` from every start of an n×n grid over the surface's region, all in one batch
/// (one surface dispatch and one optimizer update per step on the GPU), and classifies where
/// each ended.
pub fn basin_map<B: Backend>(be: &B, spec: &RunSpec, n: usize) -> Result<BasinMap> {
    basin_map_unless_cancelled(be, spec, n, &AtomicBool::new(false))
}

/// [`basin_map`], stopped with [`Error::Interrupted`] between two steps once `cancel` is set
/// (the explorer sets it when the client that asked has gone).
pub fn basin_map_unless_cancelled<B: Backend>(
    be: &B,
    spec: &RunSpec,
    n: usize,
    cancel: &AtomicBool,
) -> Result<BasinMap> {
    let starts = grid_starts(&spec.surface, n);
    let clock = Instant::now();
    let lr = spec.optimizer.lr();
    let mut batch = Batch::new(be, spec, &starts, &[lr], false)?;
    batch.run(be, spec, false, cancel)?;
    let points = be.read(&batch.points)?;
    let values = be.read(&batch.values)?;
    let seconds = clock.elapsed().as_secs_f64();
    let minima = spec.surface.minima();
    let reach = ARRIVAL_FRACTION * spec.surface.span();
    let mut classes = Vec::with_capacity(n * n);
    let mut final_loss = Vec::with_capacity(n * n);
    for i in 0..n * n {
        let (x, y, f) = (points.data()[2 * i], points.data()[2 * i + 1], values.data()[i]);
        if diverged(&spec.surface, x, y, f) {
            classes.push(CLASS_DIVERGED);
            final_loss.push(f32::NAN);
            continue;
        }
        let near = minima.iter().position(|m| (x as f64 - m.at[0]).hypot(y as f64 - m.at[1]) <= reach);
        classes.push(near.map_or(CLASS_OTHER, |k| k as u8));
        final_loss.push(f);
    }
    Ok(BasinMap { n, classes, final_loss, minima, seconds })
}

/// f on an n×n grid of cell centres over the region (row 0 at the top), computed by the
/// surface kernel: the heat map behind the trajectories.
pub fn surface_grid<B: Backend>(be: &B, surface: &Surface, n: usize) -> Result<Vec<f32>> {
    let starts = grid_starts(surface, n);
    let host: Vec<f32> = starts.iter().flat_map(|s| [s[0] as f32, s[1] as f32]).collect();
    let points = be.upload(&Tensor::from_vec(&[n * n, 2], host)?)?;
    let (mut values, mut grads, mut trace) = (be.zeros(&[n * n])?, be.zeros(&[n * n, 2])?, be.zeros(&[4])?);
    let (a, b) = surface.params();
    let p = SurfaceParams::new(surface.info.kind, n * n, 2, a, b);
    surface::surface(be, &p, &mut values, &mut grads, &points, &mut trace)?;
    Ok(be.read(&values)?.data().to_vec())
}
