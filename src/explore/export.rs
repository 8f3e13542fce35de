//! The explorer without a server: `--export` writes one self-contained page with trajectories
//! precomputed for a grid of learning rates (the page's lr slider picks among them), `--png` a
//! still of the race with the heat map, colour bar, minima and legend.

use super::api::{surface_values, SurfaceGridAnswer, SurfaceGridRequest, SurfaceRequest};
use super::presets::{self, lr_grid, Preset};
use super::run::{surface_grid, trajectories, RunSpec, Trajectory};
use super::surfaces::Surface;
use super::{page, still};
use crate::backend::Backend;
use crate::checkpoint::write_atomically;
use crate::error::Result;
use crate::schedule::Schedule;
use serde::Serialize;
use std::path::Path;

/// Heat-map samples per side in an exported page and a still.
pub const EXPORT_RESOLUTION: usize = 256;

/// What to export: one surface, one start, some racers.
#[derive(Clone, Debug)]
pub struct ExportSpec {
    /// The surface.
    pub surface: Surface,
    /// The start every racer shares.
    pub start: [f64; 2],
    /// Steps per run.
    pub steps: usize,
    /// The racers.
    pub presets: Vec<Preset>,
}

impl ExportSpec {
    /// Checks the racers' keys and the step count.
    pub fn new(surface: Surface, start: [f64; 2], steps: usize, keys: &[&str]) -> Result<Self> {
        if steps == 0 || steps > super::api::MAX_RACE_STEPS {
            return Err(crate::Error::InvalidArgument {
                what: "--steps".into(),
                detail: format!("{steps} must be in [1, {}]", super::api::MAX_RACE_STEPS),
            });
        }
        let presets = keys.iter().map(|k| presets::find(k)).collect::<Result<Vec<_>>>()?;
        Ok(Self { surface, start, steps, presets })
    }

    fn surface_request(&self) -> SurfaceRequest {
        SurfaceRequest { name: self.surface.info.name.into(), condition: None, rotation: None }
    }

    /// The run of racer `p` (a constant rate, as the page's exported sliders assume).
    fn run_spec(&self, p: &Preset) -> Result<RunSpec> {
        Ok(RunSpec {
            surface: self.surface.clone(),
            optimizer: p.optimizer.config()?,
            schedule: Schedule::Constant,
            steps: self.steps,
        })
    }
}

/// One racer in an export: its runs at every rate of the grid.
#[derive(Serialize)]
pub struct ExportedRun {
    /// The racer (its optimizer's lr is the default the slider starts at).
    pub preset: Preset,
    /// One trajectory per rate of [`ExportData::lrs`].
    pub trajectories: Vec<Trajectory>,
}

/// Everything an exported page shows.
#[derive(Serialize)]
pub struct ExportData {
    /// The device that computed it.
    pub device: String,
    /// The surface.
    pub surface: super::surfaces::SurfaceInfo,
    /// The surface request (name and parameters).
    pub surface_request: SurfaceRequest,
    /// The heat map.
    pub grid: SurfaceGridAnswer,
    /// The start.
    pub start: [f64; 2],
    /// Steps per run.
    pub steps: usize,
    /// The learning rates precomputed.
    pub lrs: Vec<f64>,
    /// The racers.
    pub runs: Vec<ExportedRun>,
}

/// Computes an export: each racer at every rate of [`lr_grid`] in one batch (a parameter group
/// per rate).
pub fn export_data<B: Backend>(be: &B, spec: &ExportSpec) -> Result<ExportData> {
    let grid =
        surface_values(be, &SurfaceGridRequest { surface: spec.surface_request(), resolution: EXPORT_RESOLUTION })?;
    let lrs = lr_grid();
    let mut runs = Vec::new();
    for p in &spec.presets {
        let starts = vec![spec.start; lrs.len()];
        runs.push(ExportedRun {
            preset: p.clone(),
            trajectories: trajectories(be, &spec.run_spec(p)?, &starts, &lrs)?,
        });
    }
    Ok(ExportData {
        device: be.describe(),
        surface: spec.surface.info.clone(),
        surface_request: spec.surface_request(),
        grid,
        start: spec.start,
        steps: spec.steps,
        lrs,
        runs,
    })
}

/// Writes the self-contained page to `path` (atomically).
pub fn write_page<B: Backend>(be: &B, spec: &ExportSpec, path: &Path) -> Result<()> {
    let data = export_data(be, spec)?;
    let json = serde_json::to_string(&data).map_err(|e| crate::Error::InvalidArgument {
        what: "--export".into(),
        detail: format!("cannot encode the data: {e}"),
    })?;
    write_atomically(path, page::with_data(&json).as_bytes())
}

/// Writes a PNG still of the race (each racer at its own default rate) to `path` (atomically).
pub fn write_png<B: Backend>(be: &B, spec: &ExportSpec, path: &Path) -> Result<()> {
    let grid = surface_grid(be, &spec.surface, EXPORT_RESOLUTION)?;
    let mut runs = Vec::new();
    for p in &spec.presets {
        runs.push((p.clone(), trajectories(be, &spec.run_spec(p)?, &[spec.start], &[p.optimizer.lr])?.remove(0)));
    }
    let png = still::render(&spec.surface, &grid, EXPORT_RESOLUTION, &runs, spec.start)
        .map_err(|e| crate::error::file_error(path, format!("cannot draw the still: {e}")))?;
    write_atomically(path, &png)
}
