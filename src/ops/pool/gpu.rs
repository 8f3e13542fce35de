//! The GPU path's launches of `shaders/pool.wgsl`, after the shape checks both paths share.

use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::error::Result;
use crate::ops::registry as kernels;
use crate::ops::Window2d;

/// The shader counts planes: N·C of them, one channel each.
fn planes(g: &Window2d) -> Window2d {
    Window2d { n: g.n * g.c, c: 1, ..*g }
}

impl GpuBackend {
    pub(crate) fn max_pool_forward_gpu(
        &self,
        out: &GpuTensor,
        indices: &GpuTensor,
        x: &GpuTensor,
        g: &Window2d,
    ) -> Result<()> {
        super::check("max_pool_forward", &x.shape, &out.shape, Some(&indices.shape), g)?;
        let grid = self.items_grid(&kernels::MAX_POOL_FORWARD, out.len())?;
        let p = planes(g);
        self.dispatch(
            &kernels::MAX_POOL_FORWARD,
            bytemuck::bytes_of(&p),
            &[out.binding(), x.binding(), indices.binding()],
            grid,
        )
    }

    pub(crate) fn max_pool_backward_gpu(
        &self,
        dx: &GpuTensor,
        dy: &GpuTensor,
        indices: &GpuTensor,
        g: &Window2d,
    ) -> Result<()> {
        super::check("max_pool_backward", &dx.shape, &dy.shape, Some(&indices.shape), g)?;
        let grid = self.items_grid(&kernels::MAX_POOL_BACKWARD, dx.len())?;
        let p = planes(g);
        self.dispatch(
            &kernels::MAX_POOL_BACKWARD,
            bytemuck::bytes_of(&p),
            &[dx.binding(), dy.binding(), indices.binding()],
            grid,
        )
    }

    pub(crate) fn avg_pool_forward_gpu(&self, out: &GpuTensor, x: &GpuTensor, g: &Window2d) -> Result<()> {
        super::check("avg_pool_forward", &x.shape, &out.shape, None, g)?;
        let grid = self.items_grid(&kernels::AVG_POOL_FORWARD, out.len())?;
        let p = planes(g);
        self.dispatch(&kernels::AVG_POOL_FORWARD, bytemuck::bytes_of(&p), &[out.binding(), x.binding()], grid)
    }

    pub(crate) fn avg_pool_backward_gpu(&self, dx: &GpuTensor, dy: &GpuTensor, g: &Window2d) -> Result<()> {
        super::check("avg_pool_backward", &dx.shape, &dy.shape, None, g)?;
        let grid = self.items_grid(&kernels::AVG_POOL_BACKWARD, dx.len())?;
        let p = planes(g);
        self.dispatch(&kernels::AVG_POOL_BACKWARD, bytemuck::bytes_of(&p), &[dx.binding(), dy.binding()], grid)
    }
}
