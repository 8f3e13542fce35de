//! CPU twins of `shaders/dropout.wgsl`: the same hash, so the same mask for the same key.
#![allow(clippy::needless_range_loop, reason = "index loops mirror the GPU shaders")]

use crate::rng::hash32;
use rayon::prelude::*;

/// ⌊p·2³²⌋ (saturating at u32::MAX), the keep threshold for drop probability p in [0, 1).
pub fn threshold(p: f32) -> u32 {
    ((p as f64) * 4_294_967_296.0).floor().min(u32::MAX as f64) as u32
}

/// Whether element `index` is kept under `key` and `threshold` (dropout.wgsl's rule, shared by
/// the fused attention's twins).
#[inline(always)]
pub fn keeps(index: u32, key: u32, threshold: u32) -> bool {
    hash32(hash32(index) ^ key) >= threshold
}

/// `out = x ⊙ mask`, with mask = 1/(1−p) where hash32(hash32(i) ^ key) ≥ threshold, else 0.
pub fn dropout_forward(out: &mut [f32], mask: &mut [f32], x: &[f32], key: u32, threshold: u32, scale: f32) {
    // Each element's mask depends on its index only, so fixed tasks give the same bits.
    use crate::ops::elementwise::cpu::TASK;
    out.par_chunks_mut(TASK).zip(mask.par_chunks_mut(TASK)).enumerate().for_each(|(t, (out, mask))| {
        for j in 0..out.len() {
            let i = t * TASK + j;
            let keep = keeps(i as u32, key, threshold);
            let m = if keep { scale } else { 0.0 };
            mask[j] = m;
            out[j] = x[i] * m;
        }
    });
}

/// `dx = dy ⊙ mask`.
pub fn dropout_backward(dx: &mut [f32], dy: &[f32], mask: &[f32]) {
    for i in 0..dx.len() {
        dx[i] = dy[i] * mask[i];
    }
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::dropout::DropoutParams;

    /// `dropout_forward`: (out, x, keys, mask).
    pub fn dropout_forward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: DropoutParams = params("dropout_forward", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x), CpuBuf::Read(keys), CpuBuf::Write(mask)] = bufs else {
            return Err(bad_buffers("dropout_forward", bufs));
        };
        super::dropout_forward(out, mask, x, keys[p.slot as usize].to_bits(), p.threshold, p.scale);
        Ok(())
    }

    /// `dropout_backward`: (dx, dy, mask).
    pub fn dropout_backward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let _: DropoutParams = params("dropout_backward", bytes)?;
        let [CpuBuf::Write(dx), CpuBuf::Read(dy), CpuBuf::Read(mask)] = bufs else {
            return Err(bad_buffers("dropout_backward", bufs));
        };
        super::dropout_backward(dx, dy, mask);
        Ok(())
    }
}
