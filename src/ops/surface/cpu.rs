//! CPU twin of `shaders/surface.wgsl`: each surface's value and gradient, generic over f32 (the
//! path) and f64 (gradient checks), and the op over many points.

use super::{SurfaceKind, SurfaceParams, NO_TRACE};
use crate::backend::cpu::float::Float;
use rayon::prelude::*;

/// Points per parallel task.
const TASK: usize = 4096;

/// `(f, ∂f/∂x, ∂f/∂y)` of `kind` at (x, y), parameters `a`, `b` as in [`SurfaceParams`].
pub fn value_grad<F: Float>(kind: SurfaceKind, a: F, b: F, x: F, y: F) -> (F, F, F) {
    let c = F::c;
    match kind {
        SurfaceKind::Bowl => {
            let theta = b * c(std::f64::consts::PI / 180.0);
            let (cs, sn) = (theta.cos(), theta.sin());
            let u = cs * x + sn * y;
            let v = cs * y - sn * x;
            let f = c(0.5) * (u * u + a * v * v);
            (f, u * cs - a * v * sn, u * sn + a * v * cs)
        }
        SurfaceKind::Rosenbrock => {
            let d = y - x * x;
            let e = F::one() - x;
            (e * e + c(100.0) * d * d, c(-2.0) * e - c(400.0) * x * d, c(200.0) * d)
        }
        SurfaceKind::Himmelblau => {
            let p = x * x + y - c(11.0);
            let q = x + y * y - c(7.0);
            (p * p + q * q, c(4.0) * x * p + c(2.0) * q, c(2.0) * p + c(4.0) * y * q)
        }
        SurfaceKind::Beale => {
            let (y2, y3) = (y * y, y * y * y);
            let t1 = c(1.5) - x + x * y;
            let t2 = c(2.25) - x + x * y2;
            let t3 = c(2.625) - x + x * y3;
            let f = t1 * t1 + t2 * t2 + t3 * t3;
            let gx = c(2.0) * (t1 * (y - F::one()) + t2 * (y2 - F::one()) + t3 * (y3 - F::one()));
            let gy = c(2.0) * x * (t1 + c(2.0) * t2 * y + c(3.0) * t3 * y2);
            (f, gx, gy)
        }
        SurfaceKind::Rastrigin => {
            let w = c(2.0 * std::f64::consts::PI);
            let f = c(20.0) + x * x - c(10.0) * (w * x).cos() + y * y - c(10.0) * (w * y).cos();
            (f, c(2.0) * x + c(10.0) * w * (w * x).sin(), c(2.0) * y + c(10.0) * w * (w * y).sin())
        }
        SurfaceKind::SixHumpCamel => {
            let (x2, y2) = (x * x, y * y);
            let f = (c(4.0) - c(2.1) * x2 + x2 * x2 / c(3.0)) * x2 + x * y + (c(4.0) * y2 - c(4.0)) * y2;
            let gx = c(8.0) * x - c(8.4) * x2 * x + c(2.0) * x2 * x2 * x + y;
            let gy = x - c(8.0) * y + c(16.0) * y2 * y;
            (f, gx, gy)
        }
        SurfaceKind::Saddle => {
            let y2 = y * y;
            (x * x - y2 + c(0.5) * y2 * y2, c(2.0) * x, c(-2.0) * y + c(2.0) * y2 * y)
        }
        SurfaceKind::Plateau => {
            let e = (-(x * x + y * y)).exp();
            (F::one() - e, c(2.0) * x * e, c(2.0) * y * e)
        }
        SurfaceKind::TwoBasin => {
            let d = x * x - F::one();
            (d * d + c(0.3) * x + y * y, c(4.0) * x * d + c(0.3), c(2.0) * y)
        }
    }
}

/// The op: for each point i (x at `points[i·stride]`, y after it) writes `values[i]`, the
/// gradient at the same place in `grads`, and, when `p.row` is not [`NO_TRACE`], the trace row
/// `(x, y, f, ‖∇f‖)` at `trace[(row·n + i)·4 ..]`. Elements between points are left alone.
pub fn surface(
    p: &SurfaceParams,
    kind: SurfaceKind,
    values: &mut [f32],
    grads: &mut [f32],
    points: &[f32],
    trace: &mut [f32],
) {
    let (n, stride) = (p.n as usize, p.stride as usize);
    let trace_row = if p.row == NO_TRACE {
        &mut trace[..0]
    } else {
        &mut trace[p.row as usize * n * 4..(p.row as usize + 1) * n * 4]
    };
    let point = |i: usize| {
        let (x, y) = (points[i * stride], points[i * stride + 1]);
        let (f, gx, gy) = value_grad(kind, p.a, p.b, x, y);
        (x, y, f, gx, gy)
    };
    // Each point's numbers depend on that point only, so the split cannot change them.
    values.par_chunks_mut(TASK).zip(grads.par_chunks_mut(TASK * stride)).enumerate().for_each(|(t, (vals, gs))| {
        for (j, v) in vals.iter_mut().enumerate() {
            let (_, _, f, gx, gy) = point(t * TASK + j);
            *v = f;
            gs[j * stride] = gx;
            gs[j * stride + 1] = gy;
        }
    });
    trace_row.par_chunks_mut(4 * TASK).enumerate().for_each(|(t, rows)| {
        for (j, r) in rows.chunks_exact_mut(4).enumerate() {
            let (x, y, f, gx, gy) = point(t * TASK + j);
            r.copy_from_slice(&[x, y, f, (gx * gx + gy * gy).sqrt()]);
        }
    });
}

/// The twin as the op table calls it (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::surface::SurfaceParams;

    /// `surface`: (values, points, grads, trace).
    pub fn surface(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: SurfaceParams = params("surface", bytes)?;
        let [CpuBuf::Write(values), CpuBuf::Read(points), CpuBuf::Write(grads), CpuBuf::Write(trace)] = bufs else {
            return Err(bad_buffers("surface", bufs));
        };
        super::surface(&p, p.surface_kind()?, values, grads, points, trace);
        Ok(())
    }
}
