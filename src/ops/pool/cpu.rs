//! CPU twins of `shaders/pool.wgsl`, loop for loop.

use crate::backend::cpu::float::Float;
use crate::ops::conv::cpu::source;
use crate::ops::Window2d;
use rayon::prelude::*;

/// The kernel offsets `a` whose position `i·stride − pad + a·dil` falls inside `0..len`, as
/// (a, position) pairs, for output position `i`.
pub(crate) fn taps(i: usize, k: u32, stride: u32, pad: u32, dil: u32, len: u32, out: &mut Vec<(usize, usize)>) {
    out.clear();
    for a in 0..k as usize {
        let pos = (i * stride as usize + a * dil as usize) as isize - pad as isize;
        if pos >= 0 && pos < len as isize {
            out.push((a, pos as usize));
        }
    }
}

/// Max pooling: `out` gets each window's first maximum (row by row; a NaN wins) and
/// `indices` its `h·W + w`.
pub fn max_pool_forward<F: Float>(out: &mut [F], indices: &mut [F], x: &[F], g: &Window2d) {
    let (w, p) = (g.w as usize, g.out_plane());
    let mut tap = Vec::new();
    let rows: Vec<Vec<(usize, usize)>> = (0..g.oh as usize)
        .map(|i| {
            taps(i, g.kh, g.sh, g.ph, g.dh, g.h, &mut tap);
            tap.clone()
        })
        .collect();
    let cols: Vec<Vec<(usize, usize)>> = (0..g.ow as usize)
        .map(|j| {
            taps(j, g.kw, g.sw, g.pw, g.dw, g.w, &mut tap);
            tap.clone()
        })
        .collect();
    if p == 0 {
        return;
    }
    // Each plane is a parallel task.
    out.par_chunks_mut(p).zip(indices.par_chunks_mut(p)).enumerate().for_each(|(plane, (out, indices))| {
        let x = &x[plane * g.in_plane()..][..g.in_plane()];
        for (i, row_taps) in rows.iter().enumerate() {
            for (j, col_taps) in cols.iter().enumerate() {
                let (mut best, mut best_idx) = (F::c(f64::NEG_INFINITY), usize::MAX);
                for &(_, hi) in row_taps {
                    for &(_, wi) in col_taps {
                        let v = x[hi * w + wi];
                        if best_idx == usize::MAX || v > best || v.to_f64().is_nan() {
                            best = v;
                            best_idx = hi * w + wi;
                        }
                    }
                }
                let t = i * g.ow as usize + j;
                out[t] = best;
                indices[t] = F::c(best_idx as f64);
            }
        }
    });
}

/// Max pooling backward: each output's gradient goes to the element its index chose, outputs
/// in order (PyTorch's scatter order; the shader gathers per element instead, which sums an
/// element's windows in another order only where windows overlap).
pub fn max_pool_backward<F: Float>(dx: &mut [F], dy: &[F], indices: &[F], g: &Window2d) {
    let (plane_in, plane_out) = (g.in_plane(), g.out_plane());
    if plane_in == 0 || plane_out == 0 {
        dx.fill(F::zero());
        return;
    }
    // Each plane is a parallel task.
    dx.par_chunks_mut(plane_in).zip(dy.par_chunks(plane_out).zip(indices.par_chunks(plane_out))).for_each(
        |(dx, (dy, idx))| {
            dx.fill(F::zero());
            for (d, i) in dy.iter().zip(idx) {
                dx[i.to_f64() as usize] += *d;
            }
        },
    );
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

/// Average pooling (no dilation): each window's in-bounds sum over `divisor`.
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
