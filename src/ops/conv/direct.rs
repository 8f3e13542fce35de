//! CPU twins of the direct convolution kernels (`conv2d_forward`, `conv2d_grad_input`,
//! `conv2d_grad_weight` in `shaders/conv.wgsl`). The shader loops over each output element's
//! window; the twins compute the same sums the way fast CPU engines do (PyTorch's
//! `slow_conv2d`, Caffe): one sample at a time, that sample's patches unfolded channel-major
//! into a cache-sized buffer of the worker thread (`[C/G·kh·kw, OH·OW]`, never the whole
//! batch's im2col), then one GEMM per sample and group that writes NCHW directly:
//!
//! ```text
//! forward       y[s, grp]  = W[grp] · cols(x[s], grp)        [O/G, P]  (+ bias, in place first)
//! input grad    dcols      = W[grp]ᵀ · dy[s, grp]             [K, P]   then folded into dx[s]
//! weight grad   part[chunk] = Σ_{s in chunk} dy[s, grp] · cols(x[s], grp)ᵀ   then Σ_chunk, in order
//! ```
//!
//! A pointwise kernel (1×1, stride 1, no padding) reads the input plane as its columns without
//! a copy. A forward convolution with stride 1, no dilation and at most 32 input channels per
//! group (the first layers of `lenet5` and `cnn`, and `cnn`'s second) skips the unfold too: it
//! accumulates each output row in registers straight from a padded copy of the input
//! (`shallow.rs`). Samples are the parallel tasks; the weight gradient sums fixed chunks of samples
//! (their number depends on the shapes only) and then the chunks in order, so the bits never
//! depend on the thread count.

use super::shallow;
use crate::ops::matmul::cpu::{gemm_into, plain, transposed, Strided};
use crate::ops::Window2d;
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::Mutex;

thread_local! {
    /// The worker thread's column buffer, grown to the largest unfold it has done.
    static COLS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The weight gradient's per-chunk partial sums, kept between calls.
static PARTIALS: Mutex<Vec<f32>> = Mutex::new(Vec::new());

/// The shallow forward's regrouped weights (`shallow::pack_weights`), kept between calls.
static PACKED: Mutex<Vec<f32>> = Mutex::new(Vec::new());

/// Runs `f` on this thread's column buffer of at least `len` elements. The buffer is taken out
/// while `f` runs (and put back after), so a rayon worker that picks up another convolution's
/// task while waiting inside a threaded GEMM gets a buffer of its own, not a second borrow.
fn with_cols<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut cols = COLS.with(|c| std::mem::take(&mut *c.borrow_mut()));
    if cols.len() < len {
        cols.resize(len, 0.0);
    }
    let result = f(&mut cols[..len]);
    COLS.with(|c| *c.borrow_mut() = cols);
    result
}

/// The sizes every twin uses.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub n: usize,
    pub c: usize,
    pub o: usize,
    /// Channels per group in and out.
    pub cg: usize,
    pub og: usize,
    pub groups: usize,
    /// Input plane H·W, output plane OH·OW, patch length C/G·kh·kw.
    pub plane_in: usize,
    pub p: usize,
    pub k: usize,
    /// 1×1, stride 1, no padding: the input planes are the columns.
    pub pointwise: bool,
}

/// The sizes of convolution `g`.
pub(super) fn dims(g: &Window2d) -> Dims {
    let groups = g.groups.max(1) as usize;
    let (c, o) = (g.c as usize, g.o as usize);
    let cg = c / groups;
    Dims {
        n: g.n as usize,
        c,
        o,
        cg,
        og: o / groups,
        groups,
        plane_in: g.in_plane(),
        p: g.out_plane(),
        k: cg * (g.kh * g.kw) as usize,
        pointwise: (g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw) == (1, 1, 1, 1, 0, 0, 1, 1),
    }
}

/// Output columns `j` of one kernel column `b` whose input column `j·sw − pw + b·dw` is inside
/// `0..w`: the half-open range `lo..hi` and the input column of `j = 0` (possibly negative).
fn inside(b: usize, g: &Window2d) -> (usize, usize, isize) {
    let (sw, w, ow) = (g.sw as isize, g.w as isize, g.ow as isize);
    let w0 = (b * g.dw as usize) as isize - g.pw as isize;
    // First j with j·sw + w0 ≥ 0, and first j with j·sw + w0 ≥ w.
    let lo = if w0 >= 0 { 0 } else { (-w0 + sw - 1) / sw };
    let hi = if w0 >= w { 0 } else { (w - w0 + sw - 1) / sw };
    let (lo, hi) = (lo.min(ow), hi.min(ow));
    (lo as usize, hi.max(lo) as usize, w0)
}

/// `cols[(ch·kh + a)·kw + b, i·OW + j] = x[ch, i·sh − ph + a·dh, j·sw − pw + b·dw]` for the
/// group's `cg` input planes `x` (0 in the padding).
fn unfold(cols: &mut [f32], x: &[f32], d: &Dims, g: &Window2d) {
    let (kh, kw, oh, ow, w) = (g.kh as usize, g.kw as usize, g.oh as usize, g.ow as usize, g.w as usize);
    let sw = g.sw as usize;
    for ch in 0..d.cg {
        let plane = &x[ch * d.plane_in..][..d.plane_in];
        for a in 0..kh {
            for b in 0..kw {
                let row = &mut cols[((ch * kh + a) * kw + b) * d.p..][..d.p];
                let (lo, hi, w0) = inside(b, g);
                for i in 0..oh {
                    let dst = &mut row[i * ow..][..ow];
                    let hi_row = (i * g.sh as usize + a * g.dh as usize) as isize - g.ph as isize;
                    if hi_row < 0 || hi_row >= g.h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    let src = &plane[hi_row as usize * w..][..w];
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if lo >= hi {
                        continue;
                    }
                    let start = (lo as isize * sw as isize + w0) as usize;
                    if sw == 1 {
                        dst[lo..hi].copy_from_slice(&src[start..start + (hi - lo)]);
                    } else {
                        for (t, v) in dst[lo..hi].iter_mut().enumerate() {
                            *v = src[start + t * sw];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`unfold`]: adds each column entry to the input element it was read from,
/// rows in order (channel, kernel row, kernel column), into `dx`'s `cg` planes (not cleared).
fn fold(dx: &mut [f32], cols: &[f32], d: &Dims, g: &Window2d) {
    let (kh, kw, oh, ow, w) = (g.kh as usize, g.kw as usize, g.oh as usize, g.ow as usize, g.w as usize);
    let sw = g.sw as usize;
    for ch in 0..d.cg {
        let plane = &mut dx[ch * d.plane_in..][..d.plane_in];
        for a in 0..kh {
            for b in 0..kw {
                let row = &cols[((ch * kh + a) * kw + b) * d.p..][..d.p];
                let (lo, hi, w0) = inside(b, g);
                for i in 0..oh {
                    let hi_row = (i * g.sh as usize + a * g.dh as usize) as isize - g.ph as isize;
                    if hi_row < 0 || hi_row >= g.h as isize || lo >= hi {
                        continue;
                    }
                    let dst = &mut plane[hi_row as usize * w..][..w];
                    let src = &row[i * ow + lo..i * ow + hi];
                    let start = (lo as isize * sw as isize + w0) as usize;
                    if sw == 1 {
                        for (t, v) in dst[start..start + src.len()].iter_mut().zip(src) {
                            *t += *v;
                        }
                    } else {
                        for (t, v) in src.iter().enumerate() {
                            dst[start + t * sw] += *v;
                        }
                    }
                }
            }
        }
    }
}

/// `out [m, n] (+)= lhs [m, k] · rhs [k, n]` (out row-major); threads inside the product only
/// when `threaded` (the caller runs samples one after the other).
fn gemm(
    out: &mut [f32],
    lhs: Strided<f32>,
    rhs: Strided<f32>,
    (m, n, k): (usize, usize, usize),
    accumulate: bool,
    threaded: bool,
) {
    assert!(out.len() >= m * n, "conv product output size");
    if m == 0 || n == 0 {
        return;
    }
    let parallelism = if threaded { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: out holds m·n elements (asserted), row stride n; the callers build lhs and rhs
    // from slices of at least the extents (m, k) and (k, n) under the strides given.
    unsafe { gemm_into(out.as_mut_ptr(), n, lhs, rhs, m, n, k, accumulate, parallelism) }
}

/// Whether samples are the parallel tasks (enough of them for every thread); otherwise each
/// sample's GEMM threads itself. The sums are the same either way.
fn per_sample(d: &Dims) -> bool {
    d.n >= rayon::current_num_threads()
}

/// Runs `f(sample, its chunk of out)` for every sample, in parallel when [`per_sample`].
fn for_samples(out: &mut [f32], per: usize, d: &Dims, f: impl Fn(usize, &mut [f32], bool) + Sync + Send) {
    if per == 0 {
        return;
    }
    if per_sample(d) {
        out.par_chunks_mut(per).enumerate().for_each(|(s, o)| f(s, o, false));
    } else {
        out.chunks_mut(per).enumerate().for_each(|(s, o)| f(s, o, true));
    }
}

/// `y` [N, O, OH, OW] = the convolution of `x` [N, C, H, W] with `w` [O, C/G, kh, kw] (+ `bias` [O]).
pub fn conv2d_forward(y: &mut [f32], x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Window2d) {
    let d = dims(g);
    if shallow::applies(&d, g) {
        let mut packed = std::mem::take(&mut *PACKED.lock().unwrap_or_else(|e| e.into_inner()));
        shallow::pack_weights(&mut packed, w, &d);
        let len = shallow::padded_len(&d, g);
        for_samples(y, d.o * d.p, &d, |s, ys, _| {
            let xs = &x[s * d.c * d.plane_in..][..d.c * d.plane_in];
            with_cols(len, |scratch| shallow::forward_sample(ys, xs, &packed, bias, &d, g, scratch));
        });
        *PACKED.lock().unwrap_or_else(|e| e.into_inner()) = packed;
        return;
    }
    for_samples(y, d.o * d.p, &d, |s, ys, threaded| {
        let xs = &x[s * d.c * d.plane_in..][..d.c * d.plane_in];
        let cols_len = if d.pointwise { 0 } else { d.k * d.p };
        with_cols(cols_len, |cols| {
            for grp in 0..d.groups {
                let out = &mut ys[grp * d.og * d.p..][..d.og * d.p];
                if let Some(b) = bias {
                    for (row, v) in out.chunks_mut(d.p).zip(&b[grp * d.og..]) {
                        row.fill(*v);
                    }
                }
                let xg = &xs[grp * d.cg * d.plane_in..][..d.cg * d.plane_in];
                let rhs = if d.pointwise {
                    xg
                } else {
                    unfold(cols, xg, &d, g);
                    &*cols
                };
                let wg = &w[grp * d.og * d.k..][..d.og * d.k];
                gemm(out, plain(wg, d.k), plain(rhs, d.p), (d.og, d.p, d.k), bias.is_some(), threaded);
            }
        })
    });
}

/// `dx` [N, C, H, W] = the input gradient of the convolution for `dy` [N, O, OH, OW] (overwritten).
pub fn conv2d_grad_input(dx: &mut [f32], dy: &[f32], w: &[f32], g: &Window2d) {
    let d = dims(g);
    for_samples(dx, d.c * d.plane_in, &d, |s, dxs, threaded| {
        let dys = &dy[s * d.o * d.p..][..d.o * d.p];
        let cols_len = if d.pointwise { 0 } else { d.k * d.p };
        with_cols(cols_len, |cols| {
            for grp in 0..d.groups {
                let wg = &w[grp * d.og * d.k..][..d.og * d.k];
                let dyg = plain(&dys[grp * d.og * d.p..][..d.og * d.p], d.p);
                let dxg = &mut dxs[grp * d.cg * d.plane_in..][..d.cg * d.plane_in];
                if d.pointwise {
                    gemm(dxg, transposed(wg, d.k), dyg, (d.k, d.p, d.og), false, threaded);
                } else {
                    gemm(cols, transposed(wg, d.k), dyg, (d.k, d.p, d.og), false, threaded);
                    dxg.fill(0.0);
                    fold(dxg, cols, &d, g);
                }
            }
        })
    });
}

/// Samples per chunk of the weight gradient: at most 16 chunks, their partial sums at most
/// 4 M floats in all. Depends on the shapes only.
fn chunk_samples(d: &Dims) -> usize {
    let weights = d.o * d.k;
    let chunks = d.n.min(16).min((4 << 20) / weights.max(1)).max(1);
    d.n.div_ceil(chunks)
}

/// `dw` [O, C/G, kh, kw] (+)= the weight gradient of the convolution: Σ over samples of
/// `dy[s] · cols(x[s])ᵀ`, per group.
pub fn conv2d_grad_weight(dw: &mut [f32], x: &[f32], dy: &[f32], g: &Window2d, accumulate: bool) {
    let d = dims(g);
    let weights = d.o * d.k;
    if weights == 0 {
        return;
    }
    if d.n == 0 || d.p == 0 {
        if !accumulate {
            dw.fill(0.0);
        }
        return;
    }
    let per_chunk = chunk_samples(&d);
    let chunks = d.n.div_ceil(per_chunk);
    let mut partials = std::mem::take(&mut *PARTIALS.lock().unwrap_or_else(|e| e.into_inner()));
    partials.resize(chunks * weights, 0.0);
    let threaded = chunks < rayon::current_num_threads();
    let chunk_sum = |chunk: usize, part: &mut [f32]| {
        let cols_len = if d.pointwise { 0 } else { d.k * d.p };
        with_cols(cols_len, |cols| {
            for (i, s) in (chunk * per_chunk..((chunk + 1) * per_chunk).min(d.n)).enumerate() {
                for grp in 0..d.groups {
                    let xg = &x[(s * d.c + grp * d.cg) * d.plane_in..][..d.cg * d.plane_in];
                    let rhs = if d.pointwise {
                        xg
                    } else {
                        unfold(cols, xg, &d, g);
                        &*cols
                    };
                    let dyg = &dy[(s * d.o + grp * d.og) * d.p..][..d.og * d.p];
                    let out = &mut part[grp * d.og * d.k..][..d.og * d.k];
                    let (lhs, rhs) = (plain(dyg, d.p), transposed(rhs, d.p));
                    gemm(out, lhs, rhs, (d.og, d.k, d.p), i > 0, threaded);
                }
            }
        })
    };
    if threaded {
        partials.chunks_mut(weights).enumerate().for_each(|(c, part)| chunk_sum(c, part));
    } else {
        partials.par_chunks_mut(weights).enumerate().for_each(|(c, part)| chunk_sum(c, part));
    }
    // dw (+)= Σ_chunk part[chunk], chunks in order, over fixed slices of the weights.
    let parts = &partials;
    dw[..weights].par_chunks_mut(4096).enumerate().for_each(|(slice, out)| {
        let at = slice * 4096;
        for (e, v) in out.iter_mut().enumerate() {
            let mut acc = if accumulate { *v } else { 0.0 };
            for c in 0..chunks {
                acc += parts[c * weights + at + e];
            }
            *v = acc;
        }
    });
    *PARTIALS.lock().unwrap_or_else(|e| e.into_inner()) = partials;
}

/// The twins as the op table calls them (the window as params, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::Window2d;

    /// `conv2d_forward`: (y, x, weight, bias); the bias only when flag bit 0 is set.
    pub fn conv2d_forward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("conv2d_forward", bytes)?;
        let [CpuBuf::Write(y), CpuBuf::Read(x), CpuBuf::Read(w), CpuBuf::Read(bias)] = bufs else {
            return Err(bad_buffers("conv2d_forward", bufs));
        };
        let bias: Option<&[f32]> = if g.flags & 1 != 0 { Some(bias) } else { None };
        super::conv2d_forward(y, x, w, bias, &g);
        Ok(())
    }

    /// `conv2d_grad_input`: (dx, dy, weight).
    pub fn conv2d_grad_input(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("conv2d_grad_input", bytes)?;
        let [CpuBuf::Write(dx), CpuBuf::Read(dy), CpuBuf::Read(w)] = bufs else {
            return Err(bad_buffers("conv2d_grad_input", bufs));
        };
        super::conv2d_grad_input(dx, dy, w, &g);
        Ok(())
    }

    /// `conv2d_grad_weight`: (dw, x, dy); flag bit 0 adds to dw.
    pub fn conv2d_grad_weight(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let g: Window2d = params("conv2d_grad_weight", bytes)?;
        let [CpuBuf::Write(dw), CpuBuf::Read(x), CpuBuf::Read(dy)] = bufs else {
            return Err(bad_buffers("conv2d_grad_weight", bufs));
        };
        super::conv2d_grad_weight(dw, x, dy, &g, g.flags & 1 != 0);
        Ok(())
    }
}
