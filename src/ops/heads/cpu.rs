//! CPU twins of `shaders/heads.wgsl`, generic over f32/f64 for the gradient checks.

use super::HeadsParams;
use crate::backend::cpu::float::Float;

/// Where element `t` of the `[B, H, T, D]` side lives in the `[B, T, W]` side (`row_index` in
/// the shader).
fn row_index(p: &HeadsParams, t: usize) -> usize {
    let (heads, time, dim) = (p.heads as usize, p.time as usize, p.dim as usize);
    let d = t % dim;
    let s = (t / dim) % time;
    let h = (t / (dim * time)) % heads;
    let b = t / (dim * time * heads);
    (b * time + s) * p.width as usize + p.offset as usize + h * dim + d
}

/// `out [B, H, T, D]` = the heads of `x [B, T, W]`.
pub fn split_heads<F: Float>(out: &mut [F], x: &[F], p: &HeadsParams) {
    for (t, o) in out.iter_mut().enumerate().take(p.n as usize) {
        *o = x[row_index(p, t)];
    }
}

/// The heads' columns of `out [B, T, W]` = `x [B, H, T, D]`; the other columns stay.
pub fn merge_heads<F: Float>(out: &mut [F], x: &[F], p: &HeadsParams) {
    for (t, v) in x.iter().enumerate().take(p.n as usize) {
        out[row_index(p, t)] = *v;
    }
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;

    /// `split_heads`: (out, x).
    pub fn split_heads(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p = params("split_heads", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("split_heads", bufs)) };
        super::split_heads(out, x, &p);
        Ok(())
    }

    /// `merge_heads`: (out, x).
    pub fn merge_heads(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p = params("merge_heads", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("merge_heads", bufs)) };
        super::merge_heads(out, x, &p);
        Ok(())
    }
}
