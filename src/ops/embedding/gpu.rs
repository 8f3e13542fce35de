//! The GPU path's launches of `shaders/embedding.wgsl`, after the shape checks both paths share.
//! Indices are not range-checked on the device (WGSL clamps out-of-range reads); the layer
//! checks them on the host where the data is read.

use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::error::Result;
use crate::ops::registry as kernels;

impl GpuBackend {
    pub(crate) fn embedding_forward_gpu(&self, out: &GpuTensor, idx: &GpuTensor, weight: &GpuTensor) -> Result<()> {
        let p = super::check("embedding_forward", &idx.shape, &weight.shape, &out.shape)?;
        let grid = self.items_grid(&kernels::EMBEDDING_FORWARD, out.len())?;
        self.dispatch(
            &kernels::EMBEDDING_FORWARD,
            bytemuck::bytes_of(&p),
            &[out.binding(), idx.binding(), weight.binding()],
            grid,
        )
    }

    pub(crate) fn embedding_backward_gpu(
        &self,
        dweight: &GpuTensor,
        idx: &GpuTensor,
        dy: &GpuTensor,
        padding_idx: Option<usize>,
        accumulate: bool,
    ) -> Result<()> {
        let mut p = super::check("embedding_backward", &idx.shape, &dweight.shape, &dy.shape)?;
        p.padding_idx = padding_idx.map_or(u32::MAX, |v| v as u32);
        p.accumulate = accumulate as u32;
        let grid = self.items_grid(&kernels::EMBEDDING_BACKWARD, dweight.len())?;
        self.dispatch(
            &kernels::EMBEDDING_BACKWARD,
            bytemuck::bytes_of(&p),
            &[dweight.binding(), idx.binding(), dy.binding()],
            grid,
        )
    }
}
