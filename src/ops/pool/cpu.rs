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
    if plain_2x2(g) && g.out_plane() > 0 {
        max_pool_2x2(out, indices, x, g)
    } else {
        max_pool_any(out, indices, x, g)
    }
}

/// [`max_pool_forward`] for any window, through per-row and per-column tap lists.
fn max_pool_any<F: Float>(out: &mut [F], indices: &mut [F], x: &[F], g: &Window2d) {
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

/// True for the common `maxpool2d(2)`: a 2×2 window, stride 2, no padding, no dilation (every
/// window lies inside the input, since the output size rounds down).
fn plain_2x2(g: &Window2d) -> bool {
    (g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw) == (2, 2, 2, 2, 0, 0, 1, 1)
}

/// [`max_pool_forward`] for [`plain_2x2`] windows: the same four taps in the same order and the
/// same rule (the first maximum; a NaN replaces what came before), read from two input rows
/// without the tap lists.
fn max_pool_2x2<F: Float>(out: &mut [F], indices: &mut [F], x: &[F], g: &Window2d) {
    let (w, oh, ow, p) = (g.w as usize, g.oh as usize, g.ow as usize, g.out_plane());
    out.par_chunks_mut(p).zip(indices.par_chunks_mut(p)).enumerate().for_each(|(plane, (out, indices))| {
        let x = &x[plane * g.in_plane()..][..g.in_plane()];
        for i in 0..oh {
            let (r0, r1) = (2 * i * w, (2 * i + 1) * w);
            let (out, indices) = (&mut out[i * ow..][..ow], &mut indices[i * ow..][..ow]);
            for j in 0..ow {
                let taps = [r0 + 2 * j, r0 + 2 * j + 1, r1 + 2 * j, r1 + 2 * j + 1];
                let (mut best, mut best_idx) = (x[taps[0]], taps[0]);
                for &t in &taps[1..] {
                    let v = x[t];
                    if v > best || v.to_f64().is_nan() {
                        best = v;
                        best_idx = t;
                    }
                }
                out[j] = best;
                indices[j] = F::c(best_idx as f64);
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

/// The twins as the op table calls them (the window as params, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::Window2d;

    /// `max_pool_forward`: (out, x, indices).
    pub fn max_pool_forward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("max_pool_forward", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x), CpuBuf::Write(idx)] = bufs else {
            return Err(bad_buffers("max_pool_forward", bufs));
        };
        super::max_pool_forward(out, idx, x, &g);
        Ok(())
    }

    /// `max_pool_backward`: (dx, dy, indices).
    pub fn max_pool_backward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("max_pool_backward", bytes)?;
        let [CpuBuf::Write(dx), CpuBuf::Read(dy), CpuBuf::Read(idx)] = bufs else {
            return Err(bad_buffers("max_pool_backward", bufs));
        };
        super::max_pool_backward(dx, dy, idx, &g);
        Ok(())
    }

    /// `avg_pool_forward`: (out, x).
    pub fn avg_pool_forward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("avg_pool_forward", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("avg_pool_forward", bufs)) };
        super::avg_pool_forward(out, x, &g);
        Ok(())
    }

    /// `avg_pool_backward`: (dx, dy).
    pub fn avg_pool_backward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("avg_pool_backward", bytes)?;
        let [CpuBuf::Write(dx), CpuBuf::Read(dy)] = bufs else { return Err(bad_buffers("avg_pool_backward", bufs)) };
        super::avg_pool_backward(dx, dy, &g);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::WindowSpec;

    /// The 2×2 fast path gives the tap-list loop's values and indices bit for bit, ties and
    /// NaNs included, on odd and even sizes.
    #[test]
    fn the_2x2_path_matches_the_general_loop() {
        for (h, w) in [(4, 4), (5, 7), (2, 2), (9, 6)] {
            let spec = WindowSpec { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] };
            let g = Window2d::new("max_pool_forward", &[2, 3, h, w], &spec, 3, 1).unwrap();
            assert!(plain_2x2(&g));
            let n = 2 * 3 * h * w;
            // Few distinct values (ties in most windows) and a NaN every 11th element.
            let x: Vec<f32> = (0..n).map(|i| if i % 11 == 5 { f32::NAN } else { ((i * 7) % 5) as f32 - 2.0 }).collect();
            let p = 2 * 3 * g.out_plane();
            let (mut fast, mut fast_idx, mut any, mut any_idx) =
                (vec![0.0; p], vec![0.0; p], vec![0.0; p], vec![0.0; p]);
            max_pool_2x2(&mut fast, &mut fast_idx, &x, &g);
            max_pool_any(&mut any, &mut any_idx, &x, &g);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&any), "values, {h}×{w}");
            assert_eq!(fast_idx, any_idx, "indices, {h}×{w}");
        }
    }
}
