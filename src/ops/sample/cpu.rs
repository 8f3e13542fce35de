//! CPU twin of `shaders/sample.wgsl`: the same hash, the same float32 operations in the same
//! order, so the same labels.

use crate::rng::hash32;
use rayon::prelude::*;

/// A uniform number in [0, 1) for `row` under `key`: the top 24 bits of
/// hash32(hash32(row) ^ key), as the kernel computes it.
pub fn uniform(row: u32, key: u32) -> f32 {
    (hash32(hash32(row) ^ key) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// One label per row: the first class k whose running sum of exp(l − max) exceeds u·Σ exp(l − max)
/// (the last class when rounding leaves none).
pub fn sample_labels(labels: &mut [u32], logits: &[f32], classes: usize, key: u32) {
    labels.par_iter_mut().enumerate().for_each(|(r, label)| {
        let row = &logits[r * classes..(r + 1) * classes];
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let mut total = 0.0f32;
        for &l in row {
            total += (l - m).exp();
        }
        let target = uniform(r as u32, key) * total;
        let mut acc = 0.0f32;
        *label = classes as u32 - 1;
        for (k, &l) in row.iter().enumerate() {
            acc += (l - m).exp();
            if acc > target {
                *label = k as u32;
                break;
            }
        }
    });
}

/// The twin as the op table calls it (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::sample::SampleParams;

    /// `sample_labels`: (labels, logits).
    pub fn sample_labels(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: SampleParams = params("sample_labels", bytes)?;
        let [CpuBuf::WriteU32(labels), CpuBuf::Read(logits)] = bufs else {
            return Err(bad_buffers("sample_labels", bufs));
        };
        super::sample_labels(labels, logits, p.classes as usize, p.key);
        Ok(())
    }
}
