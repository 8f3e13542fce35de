//! Launcher for `shaders/sample.wgsl`.

use crate::backend::gpu::{GpuBackend, GpuLabels, GpuTensor};
use crate::error::Result;
use crate::ops::registry as kernels;

/// Mirrors `Params` in sample.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    classes: u32,
    key: u32,
    pad: u32,
}

impl GpuBackend {
    pub(crate) fn launch_sample_labels(
        &self,
        labels: &mut GpuLabels,
        logits: &GpuTensor,
        rows: usize,
        classes: usize,
        key: u32,
    ) -> Result<()> {
        let p = Params { rows: rows as u32, classes: classes as u32, key, pad: 0 };
        let grid = self.items_grid(&kernels::SAMPLE_LABELS, rows)?;
        self.dispatch(&kernels::SAMPLE_LABELS, bytemuck::bytes_of(&p), &[labels.binding(), logits.binding()], grid)
    }
}
