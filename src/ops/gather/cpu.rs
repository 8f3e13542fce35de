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
