//! CPU twins of `shaders/pool.wgsl`, loop for loop.

use super::max2x2;
use crate::backend::cpu::float::{as_f32, as_f32_mut, Float};
use crate::ops::Window2d;
use rayon::prelude::*;

/// The kernel offsets `a` whose position `i·stride − pad + a·dil` falls inside `0..len`, as
/// (a, position) pairs, for output position `i`.
#[cfg(test)]
fn taps(i: usize, k: u32, stride: u32, pad: u32, dil: u32, len: u32, out: &mut Vec<(usize, usize)>) {
    out.clear();
    for a in 0..k as usize {
        let pos = (i * stride as usize + a * dil as usize) as isize - pad as isize;
        if pos >= 0 && pos < len as isize {
            out.push((a, pos as usize));
        }
    }
}

/// Max pooling: `out` gets each window's first maximum (row by row; a NaN wins) and
/// `indices` its `h·W + w`. Planes are parallel tasks. `maxpool2d(2)` reads its four taps per
/// output ([`max_pool_2x2`], measured faster for that window); any other window sweeps each
/// output row once per kernel tap over the output columns that tap reaches (a contiguous
/// range), instead of walking per-output tap lists.
pub fn max_pool_forward<F: Float>(out: &mut [F], indices: &mut [F], x: &[F], g: &Window2d) {
    let (w, oh, ow, p) = (g.w as usize, g.oh as usize, g.ow as usize, g.out_plane());
    if p == 0 {
        return;
    }
    if plain_2x2(g) {
        return max_pool_2x2(out, indices, x, g);
    }
    let columns: Vec<TapColumns> = (0..g.kw as usize).map(|b| TapColumns::of(b, g)).collect();
    out.par_chunks_mut(p).zip(indices.par_chunks_mut(p)).enumerate().for_each(|(plane, (out, indices))| {
        let x = &x[plane * g.in_plane()..][..g.in_plane()];
        for i in 0..oh {
            let (best, at) = (&mut out[i * ow..][..ow], &mut indices[i * ow..][..ow]);
            best.fill(F::c(f64::NEG_INFINITY));
            at.fill(F::c(-1.0));
            let mut first = true;
            for a in 0..g.kh as usize {
                let hi = (i * g.sh as usize + a * g.dh as usize) as isize - g.ph as isize;
                if hi < 0 || hi >= g.h as isize {
                    continue;
                }
                let row = hi as usize * w;
                for tap in &columns {
                    if tap.lo >= tap.hi {
                        continue;
                    }
                    let start = row + tap.column(tap.lo);
                    let values = x[start..].iter().step_by(tap.stride);
                    let slots = best[tap.lo..tap.hi].iter_mut().zip(&mut at[tap.lo..tap.hi]);
                    // The first tap that reaches every column takes them all; after it (or
                    // while some column has none) a larger value or a NaN replaces.
                    let whole = first && tap.lo == 0 && tap.hi == ow;
                    for (k, ((b, at), v)) in slots.zip(values).enumerate() {
                        let v = *v;
                        #[allow(clippy::eq_op, reason = "v != v is the NaN test for any Float")]
                        let take = whole || *at < F::zero() || v > *b || v != v;
                        if take {
                            *b = v;
                            *at = F::c((start + k * tap.stride) as f64);
                        }
                    }
                    first = false;
                }
            }
            for a in at.iter_mut().filter(|a| **a < F::zero()) {
                // A window wholly in the padding (PyTorch refuses such windows): no index.
                *a = F::c(usize::MAX as f64);
            }
        }
    });
}

/// The output columns one kernel column `b` reaches inside the input: `lo..hi`, and the input
/// column `j·stride + offset` of output column `j`.
pub(crate) struct TapColumns {
    lo: usize,
    hi: usize,
    stride: usize,
    offset: isize,
}

impl TapColumns {
    fn of(b: usize, g: &Window2d) -> Self {
        let (sw, w, ow) = (g.sw as isize, g.w as isize, g.ow as isize);
        let offset = (b * g.dw as usize) as isize - g.pw as isize;
        let lo = if offset >= 0 { 0 } else { (-offset + sw - 1) / sw }.min(ow);
        let hi = if offset >= w { 0 } else { (w - offset + sw - 1) / sw }.min(ow).max(lo);
        TapColumns { lo: lo as usize, hi: hi as usize, stride: sw as usize, offset }
    }

    #[inline(always)]
    fn column(&self, j: usize) -> usize {
        ((j * self.stride) as isize + self.offset) as usize
    }
}

/// [`max_pool_forward`] element by element, through per-row and per-column tap lists: the
/// plain loop the row sweep is tested against.
#[cfg(test)]
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
            // Sixteen outputs at a time with AVX-512 (f32), the rest below.
            let done = match (as_f32_mut(out), as_f32_mut(indices), as_f32(x)) {
                (Some(o), Some(idx), Some(x)) => max2x2::row(o, idx, x, r0, w),
                _ => 0,
            };
            for j in done..ow {
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

/// Every output position's divisor, row-major over one output plane.
fn divisors<F: Float>(g: &Window2d) -> Vec<F> {
    (0..g.out_plane()).map(|t| F::c(divisor(g, t / g.ow as usize, t % g.ow as usize) as f64)).collect()
}

/// Average pooling (no dilation): each window's in-bounds sum over `divisor`. Planes are
/// parallel tasks, swept row by row as [`max_pool_forward`] (taps in the order a, b).
pub fn avg_pool_forward<F: Float>(out: &mut [F], x: &[F], g: &Window2d) {
    let (w, ow, p) = (g.w as usize, g.ow as usize, g.out_plane());
    if p == 0 {
        return;
    }
    let columns: Vec<TapColumns> = (0..g.kw as usize).map(|b| TapColumns::of(b, g)).collect();
    let divs = divisors::<F>(g);
    out.par_chunks_mut(p).enumerate().for_each(|(plane, out)| {
        let x = &x[plane * g.in_plane()..][..g.in_plane()];
        for i in 0..g.oh as usize {
            let acc = &mut out[i * ow..][..ow];
            acc.fill(F::zero());
            for a in 0..g.kh as usize {
                let hi = (i * g.sh as usize + a) as isize - g.ph as isize;
                if hi < 0 || hi >= g.h as isize {
                    continue;
                }
                let row = hi as usize * w;
                for tap in &columns {
                    for j in tap.lo..tap.hi {
                        acc[j] += x[row + tap.column(j)];
                    }
                }
            }
            for (v, d) in acc.iter_mut().zip(&divs[i * ow..]) {
                *v = *v / *d;
            }
        }
    });
}

/// Average pooling backward: each input element gets `dy / divisor` of every window covering
/// it. Planes are parallel tasks; each output row scatters into the input rows its taps read.
pub fn avg_pool_backward<F: Float>(dx: &mut [F], dy: &[F], g: &Window2d) {
    let (w, ow, p) = (g.w as usize, g.ow as usize, g.out_plane());
    if g.in_plane() == 0 {
        return;
    }
    let columns: Vec<TapColumns> = (0..g.kw as usize).map(|b| TapColumns::of(b, g)).collect();
    let divs = divisors::<F>(g);
    dx.par_chunks_mut(g.in_plane()).enumerate().for_each(|(plane, dx)| {
        dx.fill(F::zero());
        if p == 0 {
            return;
        }
        let dy = &dy[plane * p..][..p];
        for i in 0..g.oh as usize {
            let (dy, divs) = (&dy[i * ow..][..ow], &divs[i * ow..][..ow]);
            for a in 0..g.kh as usize {
                let hi = (i * g.sh as usize + a) as isize - g.ph as isize;
                if hi < 0 || hi >= g.h as isize {
                    continue;
                }
                let row = hi as usize * w;
                for tap in &columns {
                    for j in tap.lo..tap.hi {
                        dx[row + tap.column(j)] += dy[j] / divs[j];
                    }
                }
            }
        }
    });
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

    /// The row sweep gives the tap-list loop's values and indices bit for bit, ties and NaNs
    /// included, for 2×2/2 and windows with stride, padding and dilation, odd and even sizes.
    #[test]
    fn the_row_sweep_matches_the_plain_loop() {
        let windows = [
            ([2, 2], [2, 2], [0, 0], [1, 1]),
            ([3, 3], [2, 2], [1, 1], [1, 1]),
            ([3, 2], [1, 2], [1, 0], [2, 1]),
            ([2, 3], [3, 1], [1, 1], [1, 2]),
        ];
        for (kernel, stride, padding, dilation) in windows {
            // 70 and 33 columns: 2×2/2 rows of 35 and 16 outputs, in 16-lane vectors and a rest.
            for (h, w) in [(4, 4), (5, 7), (2, 3), (9, 6), (6, 70), (3, 33)] {
                let spec = WindowSpec { kernel, stride, padding, dilation };
                let Ok(g) = Window2d::new("max_pool_forward", &[2, 3, h, w], &spec, 3, 1) else { continue };
                let n = 2 * 3 * h * w;
                // Few distinct values (ties in most windows) and a NaN every 11th element.
                let x: Vec<f32> =
                    (0..n).map(|i| if i % 11 == 5 { f32::NAN } else { ((i * 7) % 5) as f32 - 2.0 }).collect();
                let p = 2 * 3 * g.out_plane();
                let (mut fast, mut fast_idx, mut any, mut any_idx) =
                    (vec![0.0; p], vec![0.0; p], vec![0.0; p], vec![0.0; p]);
                max_pool_forward(&mut fast, &mut fast_idx, &x, &g);
                max_pool_any(&mut any, &mut any_idx, &x, &g);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&any), "values, {spec:?} on {h}×{w}");
                assert_eq!(fast_idx, any_idx, "indices, {spec:?} on {h}×{w}");
            }
        }
    }
}
