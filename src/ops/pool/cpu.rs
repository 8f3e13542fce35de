//! CPU twins of `shaders/pool.wgsl`, loop for loop.

use crate::backend::cpu::float::Float;
use crate::ops::conv::cpu::source;
use crate::ops::Window2d;

/// Max pooling: `out` gets each window's first maximum and `indices` its `h·W + w`.
pub fn max_pool_forward<F: Float>(out: &mut [F], indices: &mut [F], x: &[F], g: &Window2d) {
    let (h, w, p) = (g.h as isize, g.w as isize, g.out_plane());
    for (t, o) in out.iter_mut().enumerate() {
        let plane = t / p;
        let (i, j) = ((t % p) / g.ow as usize, (t % p) % g.ow as usize);
        let x = &x[plane * g.in_plane()..][..g.in_plane()];
        let (mut best, mut best_idx) = (F::c(f64::NEG_INFINITY), -1isize);
        for a in 0..g.kh as usize {
            let hi = (i * g.sh as usize + a * g.dh as usize) as isize - g.ph as isize;
            if hi < 0 || hi >= h {
                continue;
            }
            for b in 0..g.kw as usize {
                let wi = (j * g.sw as usize + b * g.dw as usize) as isize - g.pw as isize;
                if wi < 0 || wi >= w {
                    continue;
                }
                let idx = hi * w + wi;
                let v = x[idx as usize];
                if best_idx < 0 || v > best || v.to_f64().is_nan() {
                    best = v;
                    best_idx = idx;
                }
            }
        }
        *o = best;
        indices[t] = F::c(best_idx as f64);
    }
}

/// Max pooling backward: `dx[h, w]` sums `dy` over the windows whose index chose `h·W + w`.
pub fn max_pool_backward<F: Float>(dx: &mut [F], dy: &[F], indices: &[F], g: &Window2d) {
    let w = g.w as usize;
    for (t, d) in dx.iter_mut().enumerate() {
        let plane = t / g.in_plane();
        let (y, x) = ((t % g.in_plane()) / w, t % w);
        let mut acc = F::zero();
        for a in 0..g.kh as usize {
            let Some(i) = source(y, a, g.ph, g.dh, g.sh, g.oh) else { continue };
            for b in 0..g.kw as usize {
                let Some(j) = source(x, b, g.pw, g.dw, g.sw, g.ow) else { continue };
                let o = plane * g.out_plane() + i * g.ow as usize + j;
                if indices[o].to_f64() as usize == y * w + x {
                    acc += dy[o];
                }
            }
        }
        *d = acc;
    }
}

/// The divisor of window (i, j): kh·kw with `count_include_pad` (flags bit 0), else the number
/// of in-bounds elements.
pub(crate) fn divisor(g: &Window2d, i: usize, j: usize) -> usize {
    if g.flags & 1 != 0 {
        return (g.kh * g.kw) as usize;
    }
    let span = |o: usize, s: u32, p: u32, k: u32, n: u32| {
        let start = (o * s as usize) as isize - p as isize;
        let end = (start + k as isize).min(n as isize);
        (end - start.max(0)).max(0) as usize
    };
    span(i, g.sh, g.ph, g.kh, g.h) * span(j, g.sw, g.pw, g.kw, g.w)
}

/// Average pooling (no dilation): each window's in-bounds sum over [`divisor`].
pub fn avg_pool_forward<F: Float>(out: &mut [F], x: &[F], g: &Window2d) {
    let (h, w, p) = (g.h as isize, g.w as isize, g.out_plane());
    for (t, o) in out.iter_mut().enumerate() {
        let plane = t / p;
        let (i, j) = ((t % p) / g.ow as usize, (t % p) % g.ow as usize);
        let x = &x[plane * g.in_plane()..][..g.in_plane()];
        let mut acc = F::zero();
        for a in 0..g.kh as isize {
            let hi = (i * g.sh as usize) as isize - g.ph as isize + a;
            if hi < 0 || hi >= h {
                continue;
            }
            for b in 0..g.kw as isize {
                let wi = (j * g.sw as usize) as isize - g.pw as isize + b;
                if wi >= 0 && wi < w {
                    acc += x[(hi * w + wi) as usize];
                }
            }
        }
        *o = acc / F::c(divisor(g, i, j) as f64);
    }
}

/// Average pooling backward: each input element sums `dy / divisor` of the windows covering it.
pub fn avg_pool_backward<F: Float>(dx: &mut [F], dy: &[F], g: &Window2d) {
    let w = g.w as usize;
    for (t, d) in dx.iter_mut().enumerate() {
        let plane = t / g.in_plane();
        let (y, x) = ((t % g.in_plane()) / w, t % w);
        let mut acc = F::zero();
        for a in 0..g.kh as usize {
            let Some(i) = source(y, a, g.ph, 1, g.sh, g.oh) else { continue };
            for b in 0..g.kw as usize {
                let Some(j) = source(x, b, g.pw, 1, g.sw, g.ow) else { continue };
                acc += dy[plane * g.out_plane() + i * g.ow as usize + j] / F::c(divisor(g, i, j) as f64);
            }
        }
        *d = acc;
    }
}

/// The CPU path's entry points: shape checks, then the twins on the tensors' storage.
pub(crate) mod run {
    use crate::backend::cpu::{access, access2, CpuTensor};
    use crate::error::Result;
    use crate::ops::pool::check;
    use crate::ops::Window2d;

    pub fn max_pool_forward(out: &CpuTensor, indices: &CpuTensor, x: &CpuTensor, g: &Window2d) -> Result<()> {
        check("max_pool_forward", &x.shape, &out.shape, Some(&indices.shape), g)?;
        access2("max_pool_forward", out, indices, [x], |o, i, [x]| super::max_pool_forward(o, i, x, g))
    }

    pub fn max_pool_backward(dx: &CpuTensor, dy: &CpuTensor, indices: &CpuTensor, g: &Window2d) -> Result<()> {
        check("max_pool_backward", &dx.shape, &dy.shape, Some(&indices.shape), g)?;
        access("max_pool_backward", dx, [dy, indices], |d, [dy, i]| super::max_pool_backward(d, dy, i, g))
    }

    pub fn avg_pool_forward(out: &CpuTensor, x: &CpuTensor, g: &Window2d) -> Result<()> {
        check("avg_pool_forward", &x.shape, &out.shape, None, g)?;
        access("avg_pool_forward", out, [x], |o, [x]| super::avg_pool_forward(o, x, g))
    }

    pub fn avg_pool_backward(dx: &CpuTensor, dy: &CpuTensor, g: &Window2d) -> Result<()> {
        check("avg_pool_backward", &dx.shape, &dy.shape, None, g)?;
        access("avg_pool_backward", dx, [dy], |d, [dy]| super::avg_pool_backward(d, dy, g))
    }
}
