//! Two-dimensional test surfaces (the explorer's loss landscapes): value and gradient at many
//! points at once, optionally written to a trajectory trace. Kernel: `shaders/surface.wgsl`;
//! the catalogue users see (names, domains, known minima) is `crate::explore::surfaces`.

pub mod cpu;

use crate::backend::kernel::{Arg, Grid};
use crate::backend::Backend;
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::ops::registry;
use crate::tensor::numel;

/// The formula a surface kernel evaluates. The discriminant is the `kind` the shader switches
/// on; `a` and `b` are the two parameters in [`SurfaceParams`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SurfaceKind {
    /// `½(u² + a·v²)` with (u, v) the point rotated by `b` degrees: a quadratic bowl of
    /// condition number `a`.
    Bowl = 0,
    /// `(1 − x)² + 100(y − x²)²`.
    Rosenbrock = 1,
    /// `(x² + y − 11)² + (x + y² − 7)²`.
    Himmelblau = 2,
    /// `(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²`.
    Beale = 3,
    /// `20 + Σ (t² − 10 cos 2πt)` over t = x, y.
    Rastrigin = 4,
    /// `(4 − 2.1x² + x⁴/3)x² + xy + (4y² − 4)y²`.
    SixHumpCamel = 5,
    /// `x² − y² + ½y⁴`: a saddle at the origin between minima at (0, ±1).
    Saddle = 6,
    /// `1 − exp(−(x² + y²))`: a well in a plateau where the gradient all but vanishes.
    Plateau = 7,
    /// `(x² − 1)² + 0.3x + y²`: a global minimum near x = −1.04 and a local one near x = 0.96.
    TwoBasin = 8,
}

impl SurfaceKind {
    /// Every kind, in shader order.
    pub const ALL: [SurfaceKind; 9] = [
        SurfaceKind::Bowl,
        SurfaceKind::Rosenbrock,
        SurfaceKind::Himmelblau,
        SurfaceKind::Beale,
        SurfaceKind::Rastrigin,
        SurfaceKind::SixHumpCamel,
        SurfaceKind::Saddle,
        SurfaceKind::Plateau,
        SurfaceKind::TwoBasin,
    ];
}

/// `row` value meaning "do not write the trace".
pub const NO_TRACE: u32 = u32::MAX;

/// One evaluation: mirrors `Params` in surface.wgsl byte for byte.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SurfaceParams {
    /// Points evaluated.
    pub n: u32,
    /// Elements from one point's x to the next point's x (2 for packed points; a parameter
    /// layout's alignment when each point is its own tensor).
    pub stride: u32,
    /// Trace row written (x, y, f, ‖∇f‖ for each point at `trace[(row·n + i)·4 ..]`), or
    /// [`NO_TRACE`].
    pub row: u32,
    /// `SurfaceKind as u32`.
    pub kind: u32,
    /// First parameter (the bowl's condition number).
    pub a: f32,
    /// Second parameter (the bowl's rotation in degrees).
    pub b: f32,
    /// Padding to 32 bytes.
    pub pad: [f32; 2],
}

impl SurfaceParams {
    /// `n` points of `kind` with parameters `a`, `b`, spaced `stride` elements apart, no trace.
    pub fn new(kind: SurfaceKind, n: usize, stride: usize, a: f32, b: f32) -> Self {
        Self { n: n as u32, stride: stride as u32, row: NO_TRACE, kind: kind as u32, a, b, pad: [0.0; 2] }
    }

    /// With trace row `row` written.
    pub fn traced(mut self, row: usize) -> Self {
        self.row = row as u32;
        self
    }

    /// The kind, or an error naming the number.
    pub fn surface_kind(&self) -> Result<SurfaceKind> {
        SurfaceKind::ALL
            .get(self.kind as usize)
            .copied()
            .ok_or_else(|| shape_error("surface", format!("unknown surface kind {}", self.kind)))
    }
}

/// Checks the shapes of one evaluation: `points` and `grads` hold `(n − 1)·stride + 2` or more
/// elements (the same shape), `values` is `[n]`, and a traced row fits in `trace`.
pub fn check(p: &SurfaceParams, values: &[usize], grads: &[usize], points: &[usize], trace: &[usize]) -> Result<()> {
    let op = "surface";
    p.surface_kind()?;
    let (n, stride) = (p.n as usize, p.stride as usize);
    if stride < 2 {
        return Err(shape_error(op, format!("stride {stride} is below 2 (x and y)")));
    }
    if numel(values) != n {
        return Err(shape_error(op, format!("values must hold {n} elements, got {}", ShapeDisplay(values))));
    }
    if grads != points {
        return Err(shape_error(
            op,
            format!("grads {} must have the shape of points {}", ShapeDisplay(grads), ShapeDisplay(points)),
        ));
    }
    let need = if n == 0 { 0 } else { (n - 1) * stride + 2 };
    if numel(points) < need {
        return Err(shape_error(
            op,
            format!("{n} points {stride} apart need {need} elements, points has {}", ShapeDisplay(points)),
        ));
    }
    if p.row != NO_TRACE && numel(trace) < (p.row as usize + 1) * n * 4 {
        return Err(shape_error(
            op,
            format!("trace row {} of {n} points does not fit in trace {}", p.row, ShapeDisplay(trace)),
        ));
    }
    Ok(())
}

/// Value and gradient of a 2-D test surface at `p.n` points: reads the points from `points`
/// (`p.stride` elements apart), writes `values` (`[n]`), the gradients at the points' places in
/// `grads` (same shape as `points`) and, when `p.row` is set, one trace row (x, y, f, ‖∇f‖ per
/// point) into `trace`; otherwise `trace` is not touched.
pub fn surface<B: Backend>(
    be: &B,
    p: &SurfaceParams,
    values: &mut B::Tensor,
    grads: &mut B::Tensor,
    points: &B::Tensor,
    trace: &mut B::Tensor,
) -> Result<()> {
    check(p, be.shape(values), be.shape(grads), be.shape(points), be.shape(trace))?;
    let args = &mut [Arg::Write(values), Arg::Read(points), Arg::Write(grads), Arg::Write(trace)];
    be.launch(&registry::SURFACE, bytemuck::bytes_of(p), args, Grid::Items(p.n as usize))
}
