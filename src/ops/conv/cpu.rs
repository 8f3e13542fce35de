//! CPU twins of `shaders/conv.wgsl`, loop for loop.

use crate::backend::cpu::float::Float;
use crate::ops::Window2d;
use rayon::prelude::*;

/// `cols[g, n·P + i·OW + j, (c·kh + a)·kw + b] = x[n, g·C/G + c, i·sh − ph + a·dh, j·sw − pw + b·dw]`,
/// 0 where that falls in the padding. Each (group, sample) block of rows is a parallel task.
pub fn im2col<F: Float>(cols: &mut [F], x: &[F], g: &Window2d) {
    let [n, c, h, w] = g.input_shape();
    let cg = c / g.groups as usize;
    let (kh, kw) = (g.kh as usize, g.kw as usize);
    let (oh, ow) = (g.oh as usize, g.ow as usize);
    let block = oh * ow * cg * kh * kw;
    if block == 0 {
        return;
    }
    cols.par_chunks_mut(block).enumerate().for_each(|(task, out)| {
        let (grp, s) = (task / n, task % n);
        let mut t = 0;
        for i in 0..oh {
            for j in 0..ow {
                for ch in 0..cg {
                    let plane = &x[(s * c + grp * cg + ch) * h * w..][..h * w];
                    for a in 0..kh {
                        let hi = (i * g.sh as usize + a * g.dh as usize) as isize - g.ph as isize;
                        let dst = &mut out[t..t + kw];
                        t += kw;
                        if hi < 0 || hi as usize >= h {
                            dst.fill(F::zero());
                            continue;
                        }
                        let row = &plane[hi as usize * w..][..w];
                        let (w0, dw) = ((j * g.sw as usize) as isize - g.pw as isize, g.dw as usize);
                        if w0 >= 0 && w0 as usize + (kw - 1) * dw < w {
                            // Inside the row (most windows): plain copies.
                            for (b, d) in dst.iter_mut().enumerate() {
                                *d = row[w0 as usize + b * dw];
                            }
                        } else {
                            for (b, d) in dst.iter_mut().enumerate() {
                                let wi = w0 + (b * dw) as isize;
                                *d = if wi >= 0 && (wi as usize) < w { row[wi as usize] } else { F::zero() };
                            }
                        }
                    }
                }
            }
        }
    });
}

/// The adjoint of [`im2col`] in gather form: each element of `dx` sums the entries of `cols`
/// that read it (kernel row outer, kernel column inner), as the shader does.
pub fn col2im<F: Float>(dx: &mut [F], cols: &[F], g: &Window2d) {
    let [n, c, h, w] = g.input_shape();
    let cg = c / g.groups as usize;
    let k = super::patch_len(g);
    let np = n * g.out_plane();
    let (kh, kw, ow) = (g.kh as usize, g.kw as usize, g.ow as usize);
    // For every input row (column): the (kernel offset, output position) pairs that read it.
    let sources = |len: usize, kern: usize, pad: u32, dil: u32, stride: u32, out: u32| -> Vec<Vec<(usize, usize)>> {
        (0..len)
            .map(|pos| (0..kern).filter_map(|a| source(pos, a, pad, dil, stride, out).map(|i| (a, i))).collect())
            .collect()
    };
    let rows = sources(h, kh, g.ph, g.dh, g.sh, g.oh);
    let columns = sources(w, kw, g.pw, g.dw, g.sw, g.ow);
    if h * w == 0 {
        return;
    }
    // Each (sample, channel) plane of dx is a parallel task.
    dx.par_chunks_mut(h * w).enumerate().for_each(|(plane, out)| {
        let (s, ch) = (plane / c, plane % c);
        let (grp, cl) = (ch / cg, ch % cg);
        let base = grp * np + s * g.out_plane();
        for (y, row_src) in rows.iter().enumerate() {
            for (x, col_src) in columns.iter().enumerate() {
                let mut acc = F::zero();
                for &(a, i) in row_src {
                    for &(b, j) in col_src {
                        acc += cols[(base + i * ow + j) * k + (cl * kh + a) * kw + b];
                    }
                }
                out[y * w + x] = acc;
            }
        }
    });
}

/// The output position whose window reads input position `pos` at kernel offset `a`, if any:
/// `i` with `i·stride − pad + a·dil = pos`.
pub(crate) fn source(pos: usize, a: usize, pad: u32, dil: u32, stride: u32, out: u32) -> Option<usize> {
    let num = pos as isize + pad as isize - (a * dil as usize) as isize;
    if num < 0 || num % stride as isize != 0 {
        return None;
    }
    let i = (num / stride as isize) as usize;
    (i < out as usize).then_some(i)
}

/// The product's layout from NCHW: `gy[g, n·P + p, ol] = go[n, g·O/G + ol, p]`.
pub fn conv_grad_output<F: Float>(gy: &mut [F], go: &[F], g: &Window2d) {
    let (n, o, p) = (g.n as usize, g.o as usize, g.out_plane());
    let og = o / g.groups as usize;
    if p * og == 0 {
        return;
    }
    // Each (group, sample) block of rows of gy is a parallel task.
    gy.par_chunks_mut(p * og).enumerate().for_each(|(task, out)| {
        let (grp, s) = (task / n, task % n);
        for ol in 0..og {
            let src = &go[(s * o + grp * og + ol) * p..][..p];
            for (q, v) in src.iter().enumerate() {
                out[q * og + ol] = *v;
            }
        }
    });
}

/// `out[c] (+)= Σ_{n, s} x[n, c, s]`: the bias gradient of a convolution. Channels are parallel
/// tasks; each sample's plane is summed in lanes (`backend::cpu::lanes`), the samples in order
/// in f64.
pub fn channel_sum<F: Float>(out: &mut [F], x: &[F], n: usize, c: usize, s: usize, accumulate: bool) {
    out[..c].par_iter_mut().enumerate().for_each(|(ch, o)| {
        let total: f64 = (0..n).map(|sample| crate::backend::cpu::lanes::sum(&x[(sample * c + ch) * s..][..s])).sum();
        *o = if accumulate { F::c(o.to_f64() + total) } else { F::c(total) };
    });
}

/// The twins as the op table calls them (the window as params, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::Window2d;

    /// `im2col`: (cols, x).
    pub fn im2col(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("im2col", bytes)?;
        let [CpuBuf::Write(cols), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("im2col", bufs)) };
        super::im2col(cols, x, &g);
        Ok(())
    }

    /// `col2im`: (dx, cols).
    pub fn col2im(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("col2im", bytes)?;
        let [CpuBuf::Write(dx), CpuBuf::Read(cols)] = bufs else { return Err(bad_buffers("col2im", bufs)) };
        super::col2im(dx, cols, &g);
        Ok(())
    }

    /// `matmul_nt_conv` (`ops::conv::conv_gemm_forward`): (out, w, cols, bias); the bias only
    /// when `conv[2]` is 1. Each group's product `w·colsᵀ` [O/G, N·P] into a buffer, then
    /// laid out as NCHW.
    pub fn matmul_nt_conv(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let op = "matmul_nt_conv";
        let p: crate::ops::matmul::MatmulParams = params(op, bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(w), CpuBuf::Read(cols), CpuBuf::Read(bias)] = bufs else {
            return Err(bad_buffers(op, bufs));
        };
        let (og, rows, k) = (p.m as usize, p.n as usize, p.k as usize);
        let [plane, channels, with_bias] = p.conv.map(|v| v as usize);
        let groups = channels.checked_div(og).unwrap_or(0);
        let fits = plane > 0
            && rows.is_multiple_of(plane)
            && out.len() == rows * channels
            && w.len() >= groups * og * k
            && cols.len() >= groups * rows * k
            && (with_bias == 0 || bias.len() >= channels);
        if !fits {
            return Err(crate::error::shape_error(op, format!("buffers do not fit {p:?}")));
        }
        let mut product = vec![0.0f32; og * rows];
        for grp in 0..groups {
            let (wg, cg) = (&w[grp * og * k..][..og * k], &cols[grp * rows * k..][..rows * k]);
            crate::ops::matmul::cpu::matmul_nt(&mut product, wg, cg, og, rows, k, false);
            for ol in 0..og {
                let ch = grp * og + ol;
                let b = if with_bias == 1 { bias[ch] } else { 0.0 };
                for (r, v) in product[ol * rows..][..rows].iter().enumerate() {
                    out[((r / plane) * channels + ch) * plane + r % plane] = v + b;
                }
            }
        }
        Ok(())
    }

    /// `conv_grad_output`: (gy, go).
    pub fn conv_grad_output(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("conv_grad_output", bytes)?;
        let [CpuBuf::Write(gy), CpuBuf::Read(go)] = bufs else { return Err(bad_buffers("conv_grad_output", bufs)) };
        super::conv_grad_output(gy, go, &g);
        Ok(())
    }

    /// `channel_sum`: (out, x); the window carries (N, C, elements per channel, accumulate).
    pub fn channel_sum(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("channel_sum", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("channel_sum", bufs)) };
        super::channel_sum(out, x, g.n as usize, g.c as usize, g.h as usize, g.flags != 0);
        Ok(())
    }
}
