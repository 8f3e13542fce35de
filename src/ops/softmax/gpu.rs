//! Launchers for `shaders/softmax.wgsl`.

use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::backend::kernel::Kernel;
use crate::error::Result;

/// Mirrors `Params` in softmax.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    pad: [u32; 2],
}

impl GpuBackend {
    /// Forward (`in1` = None) or backward (`in0` = y, `in1` = dy).
    pub(crate) fn launch_softmax(
        &self,
        kernel: &Kernel,
        out: &mut GpuTensor,
        in0: &GpuTensor,
        in1: Option<&GpuTensor>,
        rows: usize,
        cols: usize,
    ) -> Result<()> {
        if cols == 0 {
            return Ok(()); // nothing to write; the shader would read in0[base] of an empty row
        }
        let p = Params { rows: rows as u32, cols: cols as u32, pad: [0; 2] };
        let grid = self.items_grid(kernel, rows)?;
        match in1 {
            Some(dy) => {
                self.dispatch(kernel, bytemuck::bytes_of(&p), &[out.binding(), in0.binding(), dy.binding()], grid)
            }
            None => self.dispatch(kernel, bytemuck::bytes_of(&p), &[out.binding(), in0.binding()], grid),
        }
    }
}
