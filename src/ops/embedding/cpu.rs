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
pub fn embedding_backward<F: Float>(dweight: &mut [F], idx: &[F], dy: &[F], p: &EmbeddingParams) {
    let d = p.dim as usize;
    for (t, g) in dweight.iter_mut().enumerate() {
        let (v, k) = (t / d, t % d);
        let mut acc = F::zero();
        if v as u32 != p.padding_idx {
            for r in 0..p.rows as usize {
                if idx[r].to_f64() as usize == v {
                    acc += dy[r * d + k];
                }
            }
        }
        *g = if p.accumulate != 0 { *g + acc } else { acc };
    }
}

/// The CPU path's entry points: shape checks, then the twins on the tensors' storage.
pub(crate) mod run {
    use crate::backend::cpu::{access, CpuTensor};
    use crate::error::Result;
    use crate::ops::embedding::{check, check_indices};

    pub fn embedding_forward(out: &CpuTensor, idx: &CpuTensor, weight: &CpuTensor) -> Result<()> {
        let p = check("embedding_forward", &idx.shape, &weight.shape, &out.shape)?;
        // Checked on the storage itself (no copy): a bad index would read past the weight.
        access("embedding_forward", out, [idx, weight], |o, [i, w]| {
            check_indices("embedding_forward", i, p.vocab as usize)?;
            super::embedding_forward(o, i, w, &p);
            Ok(())
        })?
    }

    pub fn embedding_backward(
        dweight: &CpuTensor,
        idx: &CpuTensor,
        dy: &CpuTensor,
        padding_idx: Option<usize>,
        accumulate: bool,
    ) -> Result<()> {
        let mut p = check("embedding_backward", &idx.shape, &dweight.shape, &dy.shape)?;
        p.padding_idx = padding_idx.map_or(u32::MAX, |v| v as u32);
        p.accumulate = accumulate as u32;
        access("embedding_backward", dweight, [idx, dy], |d, [i, dy]| super::embedding_backward(d, i, dy, &p))
    }
}
