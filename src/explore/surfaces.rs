//! The catalogue of the explorer's surfaces: names, formulas, the region shown, the known
//! minima (and the saddle) to mark, and a start point that shows something. The math itself is
//! the kernel `ops::surface` (WGSL with a CPU twin).

use crate::error::{Error, Result};
use crate::ops::surface::cpu::value_grad;
use crate::ops::surface::SurfaceKind;
use serde::Serialize;

/// What a marked point is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MarkerKind {
    /// The lowest value of the surface.
    Global,
    /// A local minimum above the global one.
    Local,
    /// A saddle point (gradient zero, not a minimum).
    Saddle,
}

/// A point of interest on a surface.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Marker {
    /// Its kind.
    pub kind: MarkerKind,
    /// (x, y).
    pub at: [f64; 2],
    /// f there.
    pub value: f64,
}

/// One surface as users see it.
#[derive(Clone, Debug, Serialize)]
pub struct SurfaceInfo {
    /// Name in requests and on the command line (`rosenbrock`).
    pub name: &'static str,
    /// Display title.
    pub title: &'static str,
    /// The formula, in plain text.
    pub formula: &'static str,
    /// The kernel that computes it.
    #[serde(skip)]
    pub kind: SurfaceKind,
    /// Region shown: [[x_min, x_max], [y_min, y_max]].
    pub region: [[f64; 2]; 2],
    /// A start point that shows the surface's character.
    pub start: [f64; 2],
    /// Known minima (and saddles), to mark and to classify where a run ends.
    pub markers: Vec<Marker>,
    /// Whether it takes the condition-number and rotation controls (the bowl).
    pub conditioned: bool,
}

/// The bowl's condition number unless a request sets it.
pub const DEFAULT_CONDITION: f64 = 10.0;
/// The bowl's rotation in degrees unless a request sets it.
pub const DEFAULT_ROTATION: f64 = 30.0;
/// The largest condition number accepted (f32 still resolves the narrow axis at 1e4).
pub const MAX_CONDITION: f64 = 1e4;

fn m(kind: MarkerKind, x: f64, y: f64, value: f64) -> Marker {
    Marker { kind, at: [x, y], value }
}

/// Every surface, in menu order.
pub fn catalogue() -> Vec<SurfaceInfo> {
    use MarkerKind::{Global, Local, Saddle};
    let s = |name, title, formula, kind, region, start, markers| SurfaceInfo {
        name,
        title,
        formula,
        kind,
        region,
        start,
        markers,
        conditioned: kind == SurfaceKind::Bowl,
    };
    vec![
        s(
            "bowl",
            "Quadratic bowl",
            "½(u² + κ·v²), (u, v) = (x, y) rotated by θ",
            SurfaceKind::Bowl,
            [[-2.0, 2.0], [-2.0, 2.0]],
            [-1.6, 1.2],
            vec![m(Global, 0.0, 0.0, 0.0)],
        ),
        s(
            "rosenbrock",
            "Rosenbrock",
            "(1 − x)² + 100(y − x²)²",
            SurfaceKind::Rosenbrock,
            [[-2.0, 2.0], [-1.0, 3.0]],
            [-1.5, 2.5],
            vec![m(Global, 1.0, 1.0, 0.0)],
        ),
        s(
            "himmelblau",
            "Himmelblau",
            "(x² + y − 11)² + (x + y² − 7)²",
            SurfaceKind::Himmelblau,
            [[-5.0, 5.0], [-5.0, 5.0]],
            [0.0, 0.0],
            vec![
                m(Global, 3.0, 2.0, 0.0),
                m(Global, -2.805118086952569, 3.1313125182504145, 0.0),
                m(Global, -3.7793102533775667, -3.283185991285963, 0.0),
                m(Global, 3.584428340330336, -1.8481265269641145, 0.0),
            ],
        ),
        s(
            "beale",
            "Beale",
            "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
            SurfaceKind::Beale,
            [[-4.5, 4.5], [-4.5, 4.5]],
            [1.0, 1.4],
            vec![m(Global, 3.0, 0.5, 0.0)],
        ),
        s(
            "rastrigin",
            "Rastrigin",
            "20 + x² − 10 cos 2πx + y² − 10 cos 2πy",
            SurfaceKind::Rastrigin,
            [[-5.12, 5.12], [-5.12, 5.12]],
            [3.3, -2.7],
            vec![m(Global, 0.0, 0.0, 0.0)],
        ),
        s(
            "camel",
            "Six-hump camel",
            "(4 − 2.1x² + x⁴/3)x² + xy + (4y² − 4)y²",
            SurfaceKind::SixHumpCamel,
            [[-2.5, 2.5], [-1.5, 1.5]],
            [-2.0, -1.0],
            vec![
                m(Global, 0.08984201311596135, -0.712656403018416, -1.0316284534898772),
                m(Global, -0.08984201311596135, 0.712656403018416, -1.0316284534898772),
                m(Local, -1.7036067149198766, 0.7960835686763644, -0.21546382438371547),
                m(Local, 1.7036067149198766, -0.7960835686763644, -0.21546382438371547),
                m(Local, -1.6071047530507296, -0.5686514548750649, 2.104250310311257),
                m(Local, 1.6071047530507296, 0.5686514548750649, 2.104250310311257),
            ],
        ),
        s(
            "saddle",
            "Saddle",
            "x² − y² + ½y⁴",
            SurfaceKind::Saddle,
            [[-2.0, 2.0], [-2.0, 2.0]],
            [-1.8, 0.001],
            vec![m(Global, 0.0, 1.0, -0.5), m(Global, 0.0, -1.0, -0.5), m(Saddle, 0.0, 0.0, 0.0)],
        ),
        s(
            "plateau",
            "Plateau",
            "1 − exp(−(x² + y²))",
            SurfaceKind::Plateau,
            [[-3.0, 3.0], [-3.0, 3.0]],
            [2.2, 1.8],
            vec![m(Global, 0.0, 0.0, 0.0)],
        ),
        s(
            "two-basin",
            "Two basins",
            "(x² − 1)² + 0.3x + y²",
            SurfaceKind::TwoBasin,
            [[-2.0, 2.0], [-2.0, 2.0]],
            [1.7, 1.5],
            vec![
                m(Global, -1.0355787140885504, 0.0, -0.30542848374391596),
                m(Local, 0.9601495555173876, 0.0, 0.29414648102826285),
            ],
        ),
    ]
}

/// Every surface name, comma-separated (for messages).
pub fn names() -> String {
    catalogue().iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// A surface with its parameters set: what a run evaluates.
#[derive(Clone, Debug)]
pub struct Surface {
    /// The catalogue entry.
    pub info: SurfaceInfo,
    /// The bowl's condition number (1 elsewhere).
    pub condition: f64,
    /// The bowl's rotation in degrees (0 elsewhere).
    pub rotation: f64,
}

impl Surface {
    /// The surface called `name`; `condition` and `rotation` apply to the bowl only (its
    /// defaults when None) and are refused elsewhere.
    pub fn new(name: &str, condition: Option<f64>, rotation: Option<f64>) -> Result<Self> {
        let bad = |detail: String| Error::InvalidArgument { what: "surface".into(), detail };
        let info = catalogue()
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| bad(format!("unknown {name:?}; expected one of {}", names())))?;
        if !info.conditioned && (condition.is_some() || rotation.is_some()) {
            return Err(bad(format!("{name} takes no condition number or rotation (only bowl does)")));
        }
        let condition = condition.unwrap_or(if info.conditioned { DEFAULT_CONDITION } else { 1.0 });
        let rotation = rotation.unwrap_or(if info.conditioned { DEFAULT_ROTATION } else { 0.0 });
        if !(condition.is_finite() && (1.0..=MAX_CONDITION).contains(&condition)) {
            return Err(bad(format!("condition number {condition} must be in [1, {MAX_CONDITION}]")));
        }
        if !(rotation.is_finite() && rotation.abs() <= 360.0) {
            return Err(bad(format!("rotation {rotation} must be a finite angle in [−360, 360] degrees")));
        }
        Ok(Self { info, condition, rotation })
    }

    /// The kernel's (a, b) parameters.
    pub fn params(&self) -> (f32, f32) {
        (self.condition as f32, self.rotation as f32)
    }

    /// f at (x, y), in f64 (the CPU twin's formula), for the host side (markers, checks).
    pub fn value(&self, x: f64, y: f64) -> f64 {
        value_grad(self.info.kind, self.condition, self.rotation, x, y).0
    }

    /// Width of the larger side of the region shown.
    pub fn span(&self) -> f64 {
        let [[x0, x1], [y0, y1]] = self.info.region;
        (x1 - x0).max(y1 - y0)
    }

    /// The minima (global and local) a run can end in, in marker order.
    pub fn minima(&self) -> Vec<Marker> {
        self.info.markers.iter().copied().filter(|m| m.kind != MarkerKind::Saddle).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_marker_is_a_stationary_point_with_the_value_it_claims() {
        for info in catalogue() {
            let s = Surface::new(info.name, None, None).unwrap();
            for m in &info.markers {
                let (f, gx, gy) = value_grad(info.kind, s.condition, s.rotation, m.at[0], m.at[1]);
                assert!((f - m.value).abs() < 1e-9, "{}: f{:?} = {f}, marked {}", info.name, m.at, m.value);
                assert!(gx.hypot(gy) < 1e-6, "{}: gradient at {:?} is ({gx}, {gy})", info.name, m.at);
            }
            let [[x0, x1], [y0, y1]] = info.region;
            assert!((x0..=x1).contains(&info.start[0]) && (y0..=y1).contains(&info.start[1]), "{}", info.name);
        }
    }
}
