//! CPU twin of `shaders/segment_norm.wgsl`: each segment's two norms (f64 sums of squares in
//! index order), their ratio, written to the segment's chunks.

use crate::params::ALIGN;
use rayon::prelude::*;

/// `‖a‖/‖b‖` per segment, or 1 where either norm is 0 (timm's LAMB fallback).
pub fn trust_ratio(out: &mut [f32], a: &[f32], b: &[f32], segments: &[u32]) {
    let ratios: Vec<(usize, usize, f32)> = segments
        .par_chunks(2)
        .map(|pair| {
            let (offset, len) = (pair[0] as usize, pair[1] as usize);
            let sq = |x: &[f32]| x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt() as f32;
            let (w, r) = (sq(&a[offset..offset + len]), sq(&b[offset..offset + len]));
            let ratio = if w > 0.0 && r > 0.0 { w / r } else { 1.0 };
            (offset / ALIGN, len.div_ceil(ALIGN), ratio)
        })
        .collect();
    for (first, chunks, ratio) in ratios {
        out[1 + first..1 + first + chunks].fill(ratio);
    }
}

/// The twin as the op table calls it (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::segment_norm::{check_segments, SegmentParams};

    /// `trust_ratio`: (out, a, b, segments).
    pub fn trust_ratio(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: SegmentParams = params("trust_ratio", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(a), CpuBuf::Read(b), CpuBuf::ReadU32(segments)] = bufs else {
            return Err(bad_buffers("trust_ratio", bufs));
        };
        let n = a.len();
        check_segments(segments, n)?;
        let b_offset = p.b_offset as usize;
        super::trust_ratio(out, a, &b[b_offset..b_offset + n], segments);
        Ok(())
    }
}
