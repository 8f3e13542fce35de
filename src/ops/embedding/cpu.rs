//! CPU twins of `shaders/embedding.wgsl`.

use super::EmbeddingParams;
use crate::backend::cpu::float::Float;

/// `out[r, :] = weight[idx[r], :]`.
pub fn embedding_forward<F: Float>(out: &mut [F], idx: &[F], weight: &[F], p: &EmbeddingParams) {
    let d = p.dim as usize;
    for r in 0..p.rows as usize {
        let v = idx[r].to_f64() as usize;
        out[r * d..][..d].copy_from_slice(&weight[v * d..][..d]);
    }
}

/// `dweight[v, :] (+)= Σ_{r: idx[r] = v} dy[r, :]`, rows in order; the padding row gets 0.
/// One pass over the rows into a zeroed sum (the same additions, in the same order, as the
/// shader's loop over the rows for each element), then the sum stored or added.
pub fn embedding_backward<F: Float>(dweight: &mut [F], idx: &[F], dy: &[F], p: &EmbeddingParams) {
    let d = p.dim as usize;
    let mut sum = vec![F::zero(); dweight.len()];
    for (r, row) in dy.chunks_exact(d).take(p.rows as usize).enumerate() {
        let v = idx[r].to_f64() as usize;
        if v as u32 != p.padding_idx {
            for (acc, g) in sum[v * d..(v + 1) * d].iter_mut().zip(row) {
                *acc += *g;
            }
        }
    }
    for (g, acc) in dweight.iter_mut().zip(sum) {
        *g = if p.accumulate != 0 { *g + acc } else { acc };
    }
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::embedding::{check_indices, EmbeddingParams};

    /// `embedding_forward`: (out, idx, weight). Checks every index (a bad one would read past
    /// the weight) on the storage itself, without a copy.
    pub fn embedding_forward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: EmbeddingParams = params("embedding_forward", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(idx), CpuBuf::Read(w)] = bufs else {
            return Err(bad_buffers("embedding_forward", bufs));
        };
        check_indices("embedding_forward", idx, p.vocab as usize)?;
        super::embedding_forward(out, idx, w, &p);
        Ok(())
    }

    /// `embedding_backward`: (dweight, idx, dy).
    pub fn embedding_backward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: EmbeddingParams = params("embedding_backward", bytes)?;
        let [CpuBuf::Write(dw), CpuBuf::Read(idx), CpuBuf::Read(dy)] = bufs else {
            return Err(bad_buffers("embedding_backward", bufs));
        };
        super::embedding_backward(dw, idx, dy, &p);
        Ok(())
    }
}
