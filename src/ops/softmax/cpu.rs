//! CPU twins of `shaders/softmax.wgsl`: row softmax forward and backward.
#![allow(clippy::needless_range_loop, reason = "index loops mirror the GPU shaders")]

use crate::backend::cpu::float::Float;

/// `out[r, :] = softmax(x[r, :])`, max-subtracted. out and x are (R,C).
pub fn softmax_forward<F: Float>(out: &mut [F], x: &[F], rows: usize, cols: usize) {
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let mut max = row[0];
        for c in 1..cols {
            max = max.max(row[c]);
        }
        let mut sum = F::zero();
        for c in 0..cols {
            let e = (row[c] - max).exp();
            out[r * cols + c] = e;
            sum += e;
        }
        for c in 0..cols {
            out[r * cols + c] = out[r * cols + c] / sum;
        }
    }
}

/// `dx = y ⊙ (dy − Σ_c dy·y)` per row. dx, y, dy are (R,C); y is the softmax output.
pub fn softmax_backward<F: Float>(dx: &mut [F], y: &[F], dy: &[F], rows: usize, cols: usize) {
    for r in 0..rows {
        let mut dot = F::zero();
        for c in 0..cols {
            dot += dy[r * cols + c] * y[r * cols + c];
        }
        for c in 0..cols {
            let i = r * cols + c;
            dx[i] = y[i] * (dy[i] - dot);
        }
    }
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::softmax::SoftmaxParams;

    /// `softmax_forward`: (out, x).
    pub fn softmax_forward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: SoftmaxParams = params("softmax_forward", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("softmax_forward", bufs)) };
        super::softmax_forward(out, x, p.rows as usize, p.cols as usize);
        Ok(())
    }

    /// `softmax_backward`: (dx, y, dy).
    pub fn softmax_backward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: SoftmaxParams = params("softmax_backward", bytes)?;
        let [CpuBuf::Write(dx), CpuBuf::Read(y), CpuBuf::Read(dy)] = bufs else {
            return Err(bad_buffers("softmax_backward", bufs));
        };
        super::softmax_backward(dx, y, dy, p.rows as usize, p.cols as usize);
        Ok(())
    }
}
