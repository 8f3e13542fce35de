//! CPU twins of `shaders/gather.wgsl`.
#![allow(clippy::needless_range_loop, reason = "index loops mirror the GPU shaders")]

/// `out[r, c] = x[idx[offset + r], c]`. out is (R,C).
pub fn gather_rows(out: &mut [f32], x: &[f32], idx: &[u32], offset: usize, cols: usize) {
    for i in 0..out.len() {
        let (r, c) = (i / cols, i % cols);
        out[i] = x[idx[offset + r] as usize * cols + c];
    }
}

/// `out[r] = labels[idx[offset + r]]`.
pub fn gather_labels(out: &mut [u32], labels: &[u32], idx: &[u32], offset: usize) {
    for r in 0..out.len() {
        out[r] = labels[idx[offset + r] as usize];
    }
}
