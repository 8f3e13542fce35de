//! Row softmax forward and backward, one invocation per row. Kernels: `shaders/softmax.wgsl`;
//! CPU twins: `cpu.rs`.

pub mod cpu;

use crate::backend::kernel::{Arg, Grid, Kernel};
use crate::backend::{checks, Backend};
use crate::error::Result;
use crate::ops::registry;

/// Mirrors `Params` in softmax.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SoftmaxParams {
    /// Rows.
    pub rows: u32,
    /// Columns (classes).
    pub cols: u32,
    /// Padding to 16 bytes.
    pub pad: [u32; 2],
}

/// Row-wise softmax: `out[r, :] = softmax(x[r, :])`.
pub fn softmax_forward<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor) -> Result<()> {
    let (r, c) = checks::rows("softmax_forward", &[("out", be.shape(out)), ("x", be.shape(x))])?;
    launch(be, &registry::SOFTMAX_FORWARD, r, c, &mut [Arg::Write(out), Arg::Read(x)])
}

/// Softmax backward from its output y: `dx = y ⊙ (dy − Σ_c dy·y)` per row.
pub fn softmax_backward<B: Backend>(be: &B, dx: &mut B::Tensor, y: &B::Tensor, dy: &B::Tensor) -> Result<()> {
    let shapes = [("dx", be.shape(dx)), ("y", be.shape(y)), ("dy", be.shape(dy))];
    let (r, c) = checks::rows("softmax_backward", &shapes)?;
    launch(be, &registry::SOFTMAX_BACKWARD, r, c, &mut [Arg::Write(dx), Arg::Read(y), Arg::Read(dy)])
}

/// One invocation per row; nothing to do for empty rows (the shader would read past them).
fn launch<B: Backend>(
    be: &B,
    kernel: &'static Kernel,
    rows: usize,
    cols: usize,
    args: &mut [Arg<'_, B::Tensor, B::U32Buffer>],
) -> Result<()> {
    if cols == 0 {
        return Ok(());
    }
    let p = SoftmaxParams { rows: rows as u32, cols: cols as u32, pad: [0; 2] };
    be.launch(kernel, bytemuck::bytes_of(&p), args, Grid::Items(rows))
}
