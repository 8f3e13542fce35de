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

/// The CPU path's entry point.
pub(crate) mod run {
    use crate::backend::cpu::{access, CpuTensor};
    use crate::error::Result;

    /// Shape check, then the twin.
    pub fn causal_mask(scores: &CpuTensor) -> Result<()> {
        let (_, l, s) = super::super::check_scores(&scores.shape)?;
        access("causal_mask", scores, [], |x, []| super::causal_mask(x, l, s))
    }
}
