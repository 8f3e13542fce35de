//! The racers the page offers (and `--export` / `--png` take by key): each of downhill's
//! optimizers, SGD three ways, with a colour and a learning rate that shows it working on most
//! surfaces.

use super::api::OptimizerRequest;
use crate::error::{Error, Result};
use serde::Serialize;

/// One racer.
#[derive(Clone, Debug, Serialize)]
pub struct Preset {
    /// Key in URLs and on the command line (`momentum`).
    pub key: &'static str,
    /// Legend name.
    pub label: &'static str,
    /// Trajectory colour (CSS hex), chosen to stand out on the viridis heat map.
    pub colour: &'static str,
    /// The optimizer with its starting learning rate.
    pub optimizer: OptimizerRequest,
}

fn preset(key: &'static str, label: &'static str, colour: &'static str, name: &str, lr: f64) -> Preset {
    Preset { key, label, colour, optimizer: OptimizerRequest { name: name.into(), lr, ..Default::default() } }
}

/// Every racer, in legend order.
pub fn presets() -> Vec<Preset> {
    let mut momentum = preset("momentum", "Momentum", "#ff9f1c", "sgd", 0.01);
    momentum.optimizer.momentum = Some(0.9);
    let mut nesterov = preset("nesterov", "Nesterov", "#3a86ff", "sgd", 0.01);
    nesterov.optimizer.momentum = Some(0.9);
    nesterov.optimizer.nesterov = true;
    vec![
        preset("sgd", "SGD", "#ff1f1f", "sgd", 0.01),
        momentum,
        nesterov,
        preset("adagrad", "Adagrad", "#b5179e", "adagrad", 0.5),
        preset("rmsprop", "RMSprop", "#00e5ff", "rmsprop", 0.01),
        preset("adam", "Adam", "#ff5ec4", "adam", 0.05),
        preset("adamw", "AdamW", "#a0522d", "adamw", 0.05),
        preset("adamax", "Adamax", "#c0c0c0", "adamax", 0.05),
        preset("nadam", "NAdam", "#7cfc00", "nadam", 0.05),
        preset("radam", "RAdam", "#9b5de5", "radam", 0.05),
        preset("lion", "Lion", "#111111", "lion", 0.01),
        preset("adamw-schedule-free", "Schedule-free AdamW", "#f4a261", "adamw-schedule-free", 0.05),
    ]
}

/// The racer with `key`.
pub fn find(key: &str) -> Result<Preset> {
    presets().into_iter().find(|p| p.key == key).ok_or_else(|| Error::InvalidArgument {
        what: "optimizer".into(),
        detail: format!(
            "unknown {key:?}; expected one of {}",
            presets().iter().map(|p| p.key).collect::<Vec<_>>().join(", ")
        ),
    })
}

/// The learning rates an exported page precomputes: 1e-4 to 1, four per decade (the page's
/// slider range).
pub fn lr_grid() -> Vec<f64> {
    (0..=16).map(|k| 10f64.powf(-4.0 + k as f64 / 4.0)).collect()
}
