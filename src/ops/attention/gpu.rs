//! The GPU path's launch of `shaders/attention.wgsl`.

use crate::backend::gpu::kernels;
use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::error::Result;

/// Mirrors `MaskParams` in attention.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MaskParams {
    n: u32,
    l: u32,
    s: u32,
    pad0: u32,
}

impl GpuBackend {
    pub(crate) fn causal_mask_gpu(&self, scores: &GpuTensor) -> Result<()> {
        let (m, l, s) = super::check_scores(&scores.shape)?;
        let p = MaskParams { n: (m * l * s) as u32, l: l as u32, s: s as u32, pad0: 0 };
        let grid = self.items_grid(&kernels::CAUSAL_MASK, scores.len())?;
        self.dispatch(&kernels::CAUSAL_MASK, bytemuck::bytes_of(&p), &[scores.binding()], grid)
    }
}
