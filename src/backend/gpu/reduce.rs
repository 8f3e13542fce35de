//! Launchers for `shaders/reduce.wgsl`.

use super::kernels::{self, Kernel};
use super::{GpuBackend, GpuTensor};
use crate::error::Result;

/// Mirrors `Params` in reduce.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    rows: u32,
    cols: u32,
    /// column_sum: 1 adds to `out`, 0 replaces it.
    accumulate: u32,
}

/// The shader's default `WG` override for column_sum (columns per workgroup).
const WG: u32 = 64;

impl GpuBackend {
    pub(super) fn launch_column_sum(
        &self,
        out: &mut GpuTensor,
        x: &GpuTensor,
        rows: usize,
        cols: usize,
        accumulate: bool,
    ) -> Result<()> {
        let p = Params { n: (rows * cols) as u32, rows: rows as u32, cols: cols as u32, accumulate: accumulate as u32 };
        let grid = self.grid("column_sum", cols, WG)?;
        self.dispatch(&kernels::COLUMN_SUM, bytemuck::bytes_of(&p), &[out.binding(), x.binding()], grid)
    }

    /// `sum`, `sum_squares`, `max_abs`: one workgroup reduces everything to `out[0]`.
    pub(super) fn launch_reduce_all(&self, kernel: &Kernel, out: &mut GpuTensor, x: &GpuTensor) -> Result<()> {
        let p = Params { n: x.len() as u32, rows: 0, cols: 0, accumulate: 0 };
        self.dispatch(kernel, bytemuck::bytes_of(&p), &[out.binding(), x.binding()], (1, 1, 1))
    }
}
