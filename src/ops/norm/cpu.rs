//! CPU twins of `shaders/norm.wgsl`. Batch norm sums each plane in 16 f32 lanes and the planes
//! in f64 (`backend::cpu::lanes`); layer norm sums in f64; the per-element formulas run in f32.

use super::NormParams;
use crate::backend::cpu::float::Float;
use crate::backend::cpu::lanes;
use crate::ops::elementwise::activation::{visit_kind, KindVisitor};
use crate::ops::elementwise::cpu::activate_kind;
use rayon::prelude::*;

/// Channel `ch`'s planes of x [N, C, S], one per sample.
fn planes<'a, F>(x: &'a [F], p: &NormParams, ch: usize) -> impl Iterator<Item = &'a [F]> + 'a {
    let (c, s) = (p.c as usize, p.s as usize);
    (0..p.n as usize).map(move |sample| &x[(sample * c + ch) * s..][..s])
}

/// Batch norm's `saved` [2, C] = (mean, 1/σ): the batch's in training (the running stats move;
/// channels are parallel tasks, each plane summed in lanes and the planes in f64, in order),
/// else the running stats.
fn statistics<F: Float>(saved: &mut [F], running_mean: &mut [F], running_var: &mut [F], x: &[F], p: &NormParams) {
    let c = p.c as usize;
    let count = (p.n * p.s) as usize;
    let eps = f64::from(p.eps);
    if p.train != 0 {
        let stats: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let mean = planes(x, p, ch).map(lanes::sum).sum::<f64>() / count as f64;
                let var =
                    planes(x, p, ch).map(|plane| lanes::sum_sq_dev(plane, F::c(mean))).sum::<f64>() / count as f64;
                (mean, var)
            })
            .collect();
        let m = f64::from(p.momentum);
        for (ch, &(mean, var)) in stats.iter().enumerate() {
            running_mean[ch] = F::c((1.0 - m) * running_mean[ch].to_f64() + m * mean);
            let unbiased = var * count as f64 / (count as f64 - 1.0);
            running_var[ch] = F::c((1.0 - m) * running_var[ch].to_f64() + m * unbiased);
            saved[ch] = F::c(mean);
            saved[c + ch] = F::one() / (F::c(var) + F::c(eps)).sqrt();
        }
    } else {
        for ch in 0..c {
            saved[ch] = running_mean[ch];
            saved[c + ch] = F::one() / (running_var[ch] + F::c(eps)).sqrt();
        }
    }
}

/// Batch-norm forward: `y`, `saved` [2, C] = (mean, 1/σ) and, in training, the running stats.
/// The channels' statistics are parallel tasks (mean, then the squared deviations from it,
/// each plane summed in lanes and the planes in f64, in order), then the (sample, channel)
/// planes of `y` as one multiply-add each.
#[allow(clippy::too_many_arguments, reason = "the kernel's bindings, one argument each")]
pub fn batch_norm_forward<F: Float>(
    y: &mut [F],
    saved: &mut [F],
    running_mean: &mut [F],
    running_var: &mut [F],
    x: &[F],
    weight: &[F],
    bias: &[F],
    p: &NormParams,
) {
    statistics(saved, running_mean, running_var, x, p);
    let s = p.s as usize;
    if s == 0 {
        return;
    }
    let saved = &*saved;
    y.par_chunks_mut(s).enumerate().for_each(|(plane, y)| normalize_plane(y, x, saved, weight, bias, plane, p));
}

/// Plane `plane` of y = (x − mean)·(w/σ) + b, from `saved` = (mean, 1/σ).
#[inline(always)]
fn normalize_plane<F: Float>(
    y: &mut [F],
    x: &[F],
    saved: &[F],
    weight: &[F],
    bias: &[F],
    plane: usize,
    p: &NormParams,
) {
    let (c, s) = (p.c as usize, p.s as usize);
    let ch = plane % c;
    let (mean, scale, shift) = (saved[ch], saved[c + ch] * weight[ch], bias[ch]);
    let x = &x[plane * s..][..s];
    for (y, x) in y.iter_mut().zip(x) {
        *y = (*x - mean) * scale + shift;
    }
}

/// [`batch_norm_forward`] with the next layer's activation (`p.act_kind`, `p.act_param`) in
/// the same pass over each plane: `y` as there and `act_out = act(y)`.
#[allow(clippy::too_many_arguments, reason = "the kernel's bindings, one argument each")]
pub fn batch_norm_forward_act<F: Float>(
    y: &mut [F],
    act_out: &mut [F],
    saved: &mut [F],
    running_mean: &mut [F],
    running_var: &mut [F],
    x: &[F],
    weight: &[F],
    bias: &[F],
    p: &NormParams,
) {
    statistics(saved, running_mean, running_var, x, p);
    struct Planes<'a, F> {
        y: &'a mut [F],
        z: &'a mut [F],
        x: &'a [F],
        saved: &'a [F],
        weight: &'a [F],
        bias: &'a [F],
        p: &'a NormParams,
    }
    impl<F: Float> KindVisitor for Planes<'_, F> {
        type Out = ();
        fn visit<const K: u32>(self) {
            let Planes { y, z, x, saved, weight, bias, p } = self;
            let (s, param) = (p.s as usize, F::c(f64::from(p.act_param)));
            if s == 0 {
                return;
            }
            y.par_chunks_mut(s).zip(z.par_chunks_mut(s)).enumerate().for_each(|(plane, (y, z))| {
                normalize_plane(y, x, saved, weight, bias, plane, p);
                for (z, y) in z.iter_mut().zip(y.iter()) {
                    *z = activate_kind::<F, K>(*y, param);
                }
            });
        }
    }
    let saved = &*saved;
    visit_kind(p.act_kind, Planes { y, z: act_out, x, saved, weight, bias, p });
}

/// Batch-norm backward: `dx` and `sums` = (Σ dy·x̂ at 0.., Σ dy at `stride`..) per channel.
/// The channels' sums are parallel tasks (one pass over dy and x each, planes in lanes, in
/// order), then the planes of `dx`: in training `dx = A·dy − B − C·(x − mean)` with
/// A = w/σ, B = A·Σdy/N, C = A/σ·Σdy·(x − mean)/N (the batch's statistics depend on x);
/// in eval `dx = dy·w/σ`.
pub fn batch_norm_backward<F: Float>(
    dx: &mut [F],
    sums: &mut [F],
    x: &[F],
    weight: &[F],
    saved: &[F],
    dy: &[F],
    p: &NormParams,
) {
    let (c, s) = (p.c as usize, p.s as usize);
    let count = (p.n * p.s) as f64;
    let totals: Vec<(f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let mean = saved[ch];
            let sum_dy = planes(dy, p, ch).map(lanes::sum).sum::<f64>();
            let sum_dy_dev = planes(dy, p, ch).zip(planes(x, p, ch)).map(|(d, x)| lanes::dot_dev(d, x, mean)).sum();
            (sum_dy, sum_dy_dev)
        })
        .collect();
    // The per-channel coefficients of dx.
    let coefficients: Vec<[F; 3]> = totals
        .iter()
        .enumerate()
        .map(|(ch, &(sum_dy, sum_dy_dev))| {
            let invstd = saved[c + ch].to_f64();
            sums[ch] = F::c(sum_dy_dev * invstd);
            sums[p.stride as usize + ch] = F::c(sum_dy);
            let a = weight[ch].to_f64() * invstd;
            [F::c(a), F::c(a * sum_dy / count), F::c(a * invstd * invstd * sum_dy_dev / count)]
        })
        .collect();
    if s == 0 {
        return;
    }
    dx.par_chunks_mut(s).enumerate().for_each(|(plane, dx)| {
        let ch = plane % c;
        let [a, b, k] = coefficients[ch];
        let mean = saved[ch];
        let (x, dy) = (&x[plane * s..][..s], &dy[plane * s..][..s]);
        if p.train == 0 {
            for (dx, dy) in dx.iter_mut().zip(dy) {
                *dx = a * *dy;
            }
            return;
        }
        for ((dx, x), dy) in dx.iter_mut().zip(x).zip(dy) {
            *dx = a * *dy - b - k * (*x - mean);
        }
    });
}

/// Layer-norm forward over rows of M: `y` and `saved` [2, R] = (mean, 1/σ).
pub fn layer_norm_forward<F: Float>(y: &mut [F], saved: &mut [F], x: &[F], weight: &[F], bias: &[F], p: &NormParams) {
    let (rows, m) = (p.n as usize, p.c as usize);
    for r in 0..rows {
        let row = &x[r * m..][..m];
        let mean = row.iter().map(|v| v.to_f64()).sum::<f64>() / m as f64;
        let var = row.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / m as f64;
        let (mean, invstd) = (F::c(mean), F::one() / (F::c(var) + F::c(f64::from(p.eps))).sqrt());
        for j in 0..m {
            y[r * m + j] = (row[j] - mean) * invstd * weight[j] + bias[j];
        }
        saved[r] = mean;
        saved[rows + r] = invstd;
    }
}

/// Layer-norm input gradient: `dx = 1/σ·(g − mean(g) − x̂·mean(g·x̂))` with `g = dy·weight`.
pub fn layer_norm_backward<F: Float>(dx: &mut [F], x: &[F], weight: &[F], saved: &[F], dy: &[F], p: &NormParams) {
    let (rows, m) = (p.n as usize, p.c as usize);
    for r in 0..rows {
        let (mean, invstd) = (saved[r], saved[rows + r]);
        let xhat = |j: usize| (x[r * m + j] - mean) * invstd;
        let g = |j: usize| dy[r * m + j] * weight[j];
        let mean_g = F::c((0..m).map(|j| g(j).to_f64()).sum::<f64>() / m as f64);
        let mean_gx = F::c((0..m).map(|j| (g(j) * xhat(j)).to_f64()).sum::<f64>() / m as f64);
        for j in 0..m {
            dx[r * m + j] = invstd * (g(j) - mean_g - xhat(j) * mean_gx);
        }
    }
}

/// Layer-norm parameter gradients: `sums` = (Σ_rows dy·x̂ at 0.., Σ_rows dy at `stride`..) per column.
pub fn layer_norm_param_grad<F: Float>(sums: &mut [F], x: &[F], saved: &[F], dy: &[F], p: &NormParams) {
    let (rows, m) = (p.n as usize, p.c as usize);
    for j in 0..m {
        let (mut acc_w, mut acc_b) = (F::zero(), F::zero());
        for r in 0..rows {
            let xhat = (x[r * m + j] - saved[r]) * saved[rows + r];
            acc_w += dy[r * m + j] * xhat;
            acc_b += dy[r * m + j];
        }
        sums[j] = acc_w;
        sums[p.stride as usize + j] = acc_b;
    }
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::norm::NormParams;

    /// `batch_norm_forward`: (y, saved, running_mean, running_var, x, weight, bias).
    pub fn batch_norm_forward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: NormParams = params("batch_norm_forward", bytes)?;
        let [CpuBuf::Write(y), CpuBuf::Write(s), CpuBuf::Write(rm), CpuBuf::Write(rv), CpuBuf::Read(x), CpuBuf::Read(w), CpuBuf::Read(b)] =
            bufs
        else {
            return Err(bad_buffers("batch_norm_forward", bufs));
        };
        super::batch_norm_forward(y, s, rm, rv, x, w, b, &p);
        Ok(())
    }

    /// `batch_norm_forward_act`: (y, saved, running_mean, running_var, x, weight, bias, act_out).
    pub fn batch_norm_forward_act(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: NormParams = params("batch_norm_forward_act", bytes)?;
        let [CpuBuf::Write(y), CpuBuf::Write(s), CpuBuf::Write(rm), CpuBuf::Write(rv), CpuBuf::Read(x), CpuBuf::Read(w), CpuBuf::Read(b), CpuBuf::Write(z)] =
            bufs
        else {
            return Err(bad_buffers("batch_norm_forward_act", bufs));
        };
        super::batch_norm_forward_act(y, z, s, rm, rv, x, w, b, &p);
        Ok(())
    }

    /// `batch_norm_backward`: (dx, sums, x, weight, saved, dy).
    pub fn batch_norm_backward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: NormParams = params("batch_norm_backward", bytes)?;
        let [CpuBuf::Write(d), CpuBuf::Write(s), CpuBuf::Read(x), CpuBuf::Read(w), CpuBuf::Read(sv), CpuBuf::Read(dy)] =
            bufs
        else {
            return Err(bad_buffers("batch_norm_backward", bufs));
        };
        super::batch_norm_backward(d, s, x, w, sv, dy, &p);
        Ok(())
    }

    /// `layer_norm_forward`: (y, saved, x, weight, bias).
    pub fn layer_norm_forward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: NormParams = params("layer_norm_forward", bytes)?;
        let [CpuBuf::Write(y), CpuBuf::Write(s), CpuBuf::Read(x), CpuBuf::Read(w), CpuBuf::Read(b)] = bufs else {
            return Err(bad_buffers("layer_norm_forward", bufs));
        };
        super::layer_norm_forward(y, s, x, w, b, &p);
        Ok(())
    }

    /// `layer_norm_backward`: (dx, x, weight, saved, dy).
    pub fn layer_norm_backward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: NormParams = params("layer_norm_backward", bytes)?;
        let [CpuBuf::Write(d), CpuBuf::Read(x), CpuBuf::Read(w), CpuBuf::Read(s), CpuBuf::Read(dy)] = bufs else {
            return Err(bad_buffers("layer_norm_backward", bufs));
        };
        super::layer_norm_backward(d, x, w, s, dy, &p);
        Ok(())
    }

    /// `layer_norm_param_grad`: (sums, x, saved, dy).
    pub fn layer_norm_param_grad(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: NormParams = params("layer_norm_param_grad", bytes)?;
        let [CpuBuf::Write(s), CpuBuf::Read(x), CpuBuf::Read(sv), CpuBuf::Read(dy)] = bufs else {
            return Err(bad_buffers("layer_norm_param_grad", bufs));
        };
        super::layer_norm_param_grad(s, x, sv, dy, &p);
        Ok(())
    }
}
