//! CPU twins of `shaders/gather.wgsl`.
#![allow(clippy::needless_range_loop, reason = "index loops mirror the GPU shaders")]

/// `out[r, c] = x[idx[offset + r], c]`. out is (R,C).
pub fn gather_rows(out: &mut [f32], x: &[f32], idx: &[u32], offset: usize, cols: usize) {
    if cols == 0 {
        return;
    }
    for (r, row) in out.chunks_mut(cols).enumerate() {
        let src = idx[offset + r] as usize * cols;
        row.copy_from_slice(&x[src..src + cols]);
    }
}

/// `out[r] = labels[idx[offset + r]]`.
pub fn gather_labels(out: &mut [u32], labels: &[u32], idx: &[u32], offset: usize) {
    for r in 0..out.len() {
        out[r] = labels[idx[offset + r] as usize];
    }
}

/// The twins as the op table calls them (params bytes, buffers in binding order); each checks
/// the indices it is given against what they index.
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::{shape_error, Result};
    use crate::ops::gather::GatherParams;

    /// `gather_rows`: (out, x, idx).
    pub fn gather_rows(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: GatherParams = params("gather_rows", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x), CpuBuf::ReadU32(idx)] = bufs else {
            return Err(bad_buffers("gather_rows", bufs));
        };
        let (rows, cols, offset) = (p.rows as usize, p.cols as usize, p.offset as usize);
        let src_rows = x.len().checked_div(cols).unwrap_or(0);
        if let Some(&bad) = idx[offset..offset + rows].iter().find(|&&i| i as usize >= src_rows) {
            return Err(shape_error("gather_rows", format!("index {bad} is past the {src_rows} rows of x")));
        }
        super::gather_rows(out, x, idx, offset, cols);
        Ok(())
    }

    /// `gather_labels`: (idx, out, labels).
    pub fn gather_labels(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: GatherParams = params("gather_labels", bytes)?;
        let [CpuBuf::ReadU32(idx), CpuBuf::WriteU32(out), CpuBuf::ReadU32(labels)] = bufs else {
            return Err(bad_buffers("gather_labels", bufs));
        };
        let (rows, offset) = (p.rows as usize, p.offset as usize);
        if let Some(&bad) = idx[offset..offset + rows].iter().find(|&&i| i as usize >= labels.len()) {
            return Err(shape_error("gather_labels", format!("index {bad} is past the {} labels", labels.len())));
        }
        super::gather_labels(out, labels, idx, offset);
        Ok(())
    }
}
