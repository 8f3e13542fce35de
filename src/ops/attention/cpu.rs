//! CPU twin of `shaders/attention.wgsl`.

use crate::backend::cpu::float::Float;

/// `scores[m, i, j] = −∞` for `j > i`, for scores of `l` query and `s` key positions per matrix.
pub fn causal_mask<F: Float>(scores: &mut [F], l: usize, s: usize) {
    for (t, v) in scores.iter_mut().enumerate() {
        let (j, i) = (t % s, (t / s) % l);
        if j > i {
            *v = F::c(f64::NEG_INFINITY);
        }
    }
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::attention::MaskParams;

    /// `causal_mask`: (scores).
    pub fn causal_mask(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: MaskParams = params("causal_mask", bytes)?;
        let [CpuBuf::Write(scores)] = bufs else { return Err(bad_buffers("causal_mask", bufs)) };
        super::causal_mask(scores, p.l as usize, p.s as usize);
        Ok(())
    }
}
