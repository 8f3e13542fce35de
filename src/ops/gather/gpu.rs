//! Launchers for `shaders/gather.wgsl`.

use crate::backend::gpu::{GpuBackend, GpuLabels, GpuTensor};
use crate::error::Result;
use crate::ops::registry as kernels;

/// Mirrors `Params` in gather.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    a: u32,
    b: u32,
    c: u32,
    pad: u32,
}

impl GpuBackend {
    /// Indices are not range-checked on the device: WGSL clamps out-of-range reads, and the
    /// trainer only uploads permutations of the rows it holds.
    pub(crate) fn launch_gather_rows(
        &self,
        out: &mut GpuTensor,
        x: &GpuTensor,
        idx: &GpuLabels,
        rows: usize,
        cols: usize,
        offset: usize,
    ) -> Result<()> {
        let p = Params { a: rows as u32, b: cols as u32, c: offset as u32, pad: 0 };
        let grid = self.items_grid(&kernels::GATHER_ROWS, rows * cols)?;
        self.dispatch(&kernels::GATHER_ROWS, bytemuck::bytes_of(&p), &[out.binding(), x.binding(), idx.binding()], grid)
    }

    pub(crate) fn launch_gather_labels(
        &self,
        out: &mut GpuLabels,
        labels: &GpuLabels,
        idx: &GpuLabels,
        offset: usize,
    ) -> Result<()> {
        let p = Params { a: out.len as u32, b: 1, c: offset as u32, pad: 0 };
        let grid = self.items_grid(&kernels::GATHER_LABELS, out.len)?;
        let storage = [idx.binding(), out.binding(), labels.binding()];
        self.dispatch(&kernels::GATHER_LABELS, bytemuck::bytes_of(&p), &storage, grid)
    }
}
