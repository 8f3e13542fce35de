//! CPU twins of `shaders/norm.wgsl`. Sums run in f64, the per-element formulas in F.

use super::NormParams;
use crate::backend::cpu::float::Float;
use rayon::prelude::*;

/// The flat index ranges of channel `ch`'s elements in x [N, C, S], one per sample.
fn channel(p: &NormParams, ch: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let (c, s) = (p.c as usize, p.s as usize);
    (0..p.n as usize).map(move |sample| (sample * c + ch) * s..(sample * c + ch + 1) * s)
}

/// Σ f(i) over channel `ch`'s elements, in f64, sample by sample.
fn channel_sum<F: Float>(p: &NormParams, ch: usize, f: impl Fn(usize) -> F) -> f64 {
    channel(p, ch).map(|r| r.map(|i| f(i).to_f64()).sum::<f64>()).sum()
}

/// Batch-norm forward: `y`, `saved` [2, C] = (mean, 1/σ) and, in training, the running stats.
/// The channels' statistics are parallel tasks (each summed in order), then the (sample,
/// channel) planes of `y`.
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
    let (c, s) = (p.c as usize, p.s as usize);
    let count = (p.n * p.s) as usize;
    let eps = f64::from(p.eps);
    if p.train != 0 {
        let stats: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let mean = channel_sum(p, ch, |i| x[i]) / count as f64;
                let var = channel(p, ch).map(|r| r.map(|i| (x[i].to_f64() - mean).powi(2)).sum::<f64>()).sum::<f64>()
                    / count as f64;
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
    if s == 0 {
        return;
    }
    let saved = &*saved;
    y.par_chunks_mut(s).enumerate().for_each(|(plane, y)| {
        let ch = plane % c;
        let (mean, scale, shift) = (saved[ch], saved[c + ch] * weight[ch], bias[ch]);
        let x = &x[plane * s..][..s];
        for (y, x) in y.iter_mut().zip(x) {
            *y = (*x - mean) * scale + shift;
        }
    });
}

/// Batch-norm backward: `dx` and `sums` = (Σ dy·x̂ at 0.., Σ dy at `stride`..) per channel.
/// The channels' sums are parallel tasks (each in order), then the planes of `dx`.
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
    let count = (p.n * p.s) as usize;
    let totals: Vec<(F, F)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mean, invstd) = (saved[ch], saved[c + ch]);
            let sum_dy = channel_sum(p, ch, |i| dy[i]);
            let sum_dy_xhat = channel_sum(p, ch, |i| dy[i] * (x[i] - mean) * invstd);
            (F::c(sum_dy), F::c(sum_dy_xhat))
        })
        .collect();
    for (ch, &(sum_dy, sum_dy_xhat)) in totals.iter().enumerate() {
        sums[ch] = sum_dy_xhat;
        sums[p.stride as usize + ch] = sum_dy;
    }
    if s == 0 {
        return;
    }
    dx.par_chunks_mut(s).enumerate().for_each(|(plane, dx)| {
        let ch = plane % c;
        let (mean, invstd) = (saved[ch], saved[c + ch]);
        let (sum_dy_f, sum_dy_xhat_f) = totals[ch];
        let (x, dy) = (&x[plane * s..][..s], &dy[plane * s..][..s]);
        for ((dx, x), dy) in dx.iter_mut().zip(x).zip(dy) {
            *dx = if p.train != 0 {
                let xhat = (*x - mean) * invstd;
                weight[ch] * invstd / F::c(count as f64) * (F::c(count as f64) * *dy - sum_dy_f - xhat * sum_dy_xhat_f)
            } else {
                *dy * weight[ch] * invstd
            };
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
