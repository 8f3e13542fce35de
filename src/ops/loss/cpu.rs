//! CPU twins of `shaders/loss.wgsl`: mean-reduced losses, forward and backward fused.
//! Each returns the loss and writes the gradient with respect to the prediction or logits.
#![allow(clippy::needless_range_loop, reason = "index loops mirror the GPU shaders")]

use crate::backend::checks::IGNORE_LABEL;
use crate::backend::cpu::float::Float;

/// MSE, mean over all N elements: loss = Σ (p − t)² / N, dpred = 2 (p − t) / N.
pub fn mse_loss<F: Float>(dpred: &mut [F], pred: &[F], target: &[F]) -> F {
    let inv_n = F::one() / F::c(pred.len() as f64);
    let mut total = F::zero();
    for i in 0..pred.len() {
        let d = pred[i] - target[i];
        total += d * d;
        dpred[i] = F::c(2.0) * d * inv_n;
    }
    total * inv_n
}

/// Softmax cross-entropy with integer labels, mean over the rows whose label counts:
/// loss = Σ_r (logsumexp(z_r) − z_r(y_r)) / N, dlogits = (softmax(z) − onehot(y)) / N, where N
/// is the number of rows whose label is not [`IGNORE_LABEL`] (those rows get a zero gradient;
/// PyTorch's `ignore_index`). logits and dlogits are (B,C); labels are (B), each below C or
/// ignored (checked by the caller). With every row ignored the loss is NaN, as PyTorch's.
pub fn cross_entropy_loss<F: Float>(dlogits: &mut [F], logits: &[F], labels: &[u32], rows: usize, cols: usize) -> F {
    let counted = labels[..rows].iter().filter(|&&l| l != IGNORE_LABEL).count();
    let inv_n = F::one() / F::c(counted as f64);
    let mut total = F::zero();
    for r in 0..rows {
        let y = labels[r];
        if y == IGNORE_LABEL {
            dlogits[r * cols..(r + 1) * cols].iter_mut().for_each(|g| *g = F::zero());
            continue;
        }
        let z = &logits[r * cols..(r + 1) * cols];
        let mut max = z[0];
        for c in 1..cols {
            max = max.max(z[c]);
        }
        let mut sum = F::zero();
        for c in 0..cols {
            sum += (z[c] - max).exp();
        }
        let log_sum = sum.ln();
        let y = y as usize;
        total += log_sum - (z[y] - max);
        for c in 0..cols {
            let p = (z[c] - max).exp() / sum;
            let onehot = if c == y { F::one() } else { F::zero() };
            dlogits[r * cols + c] = (p - onehot) * inv_n;
        }
    }
    total * inv_n
}

/// Binary cross-entropy on logits, mean over all N elements:
/// loss = Σ max(z,0) − z·y + ln(1 + e^−|z|) / N, dlogits = (sigmoid(z) − y) / N.
pub fn bce_with_logits_loss<F: Float>(dlogits: &mut [F], logits: &[F], target: &[F]) -> F {
    let inv_n = F::one() / F::c(logits.len() as f64);
    let mut total = F::zero();
    for i in 0..logits.len() {
        let z = logits[i];
        let y = target[i];
        total += z.max(F::zero()) - z * y + (-z.abs()).exp().ln_1p();
        dlogits[i] = (crate::ops::elementwise::cpu::sigmoid(z) - y) * inv_n;
    }
    total * inv_n
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::loss::LossParams;

    /// `mse_loss`: (loss, dpred, pred, target).
    pub fn mse_loss(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let _: LossParams = params("mse_loss", bytes)?;
        let [CpuBuf::Write(loss), CpuBuf::Write(g), CpuBuf::Read(pred), CpuBuf::Read(t)] = bufs else {
            return Err(bad_buffers("mse_loss", bufs));
        };
        loss[0] = super::mse_loss(g, pred, t);
        Ok(())
    }

    /// `bce_with_logits_loss`: (loss, dlogits, logits, target).
    pub fn bce_with_logits_loss(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let _: LossParams = params("bce_with_logits_loss", bytes)?;
        let [CpuBuf::Write(loss), CpuBuf::Write(g), CpuBuf::Read(z), CpuBuf::Read(t)] = bufs else {
            return Err(bad_buffers("bce_with_logits_loss", bufs));
        };
        loss[0] = super::bce_with_logits_loss(g, z, t);
        Ok(())
    }

    /// `cross_entropy_loss`: (loss, dlogits, logits, labels); every label must be a class.
    pub fn cross_entropy_loss(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: LossParams = params("cross_entropy_loss", bytes)?;
        let [CpuBuf::Write(loss), CpuBuf::Write(g), CpuBuf::Read(z), CpuBuf::ReadU32(labels)] = bufs else {
            return Err(bad_buffers("cross_entropy_loss", bufs));
        };
        crate::backend::checks::labels(labels, p.cols as usize)?;
        loss[0] = super::cross_entropy_loss(g, z, labels, p.rows as usize, p.cols as usize);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_rows_neither_count_nor_get_a_gradient() {
        // Rows 0 and 2 count; row 1 is ignored: the mean is over 2 rows, as
        // F.cross_entropy(z, y, ignore_index=-1).
        let z = [1.0f64, 2.0, 0.5, 9.0, -9.0, 0.0, 0.0, 0.0, 3.0];
        let y = [1, IGNORE_LABEL, 2];
        let mut g = [7.0f64; 9];
        let loss = cross_entropy_loss(&mut g, &z, &y, 3, 3);
        let lse = |r: &[f64]| r.iter().map(|v| v.exp()).sum::<f64>().ln();
        let want = ((lse(&z[0..3]) - 2.0) + (lse(&z[6..9]) - 3.0)) / 2.0;
        assert!((loss - want).abs() < 1e-12, "{loss} vs {want}");
        assert_eq!(&g[3..6], &[0.0; 3], "the ignored row's gradient is zero");
        let p0: Vec<f64> = z[0..3].iter().map(|v| (v - lse(&z[0..3])).exp()).collect();
        assert!((g[1] - (p0[1] - 1.0) / 2.0).abs() < 1e-12 && (g[0] - p0[0] / 2.0).abs() < 1e-12);
    }
}
