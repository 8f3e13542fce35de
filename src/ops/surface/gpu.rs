//! Launcher for `shaders/surface.wgsl`.

use super::SurfaceParams;
use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::error::Result;
use crate::ops::registry as kernels;

impl GpuBackend {
    pub(crate) fn launch_surface(
        &self,
        p: &SurfaceParams,
        values: &mut GpuTensor,
        grads: &mut GpuTensor,
        points: &GpuTensor,
        trace: &mut GpuTensor,
    ) -> Result<()> {
        let grid = self.items_grid(&kernels::SURFACE, p.n as usize)?;
        let storage = [values.binding(), points.binding(), grads.binding(), trace.binding()];
        self.dispatch(&kernels::SURFACE, bytemuck::bytes_of(p), &storage, grid)
    }
}
