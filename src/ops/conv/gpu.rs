//! The GPU path's launches of `shaders/conv.wgsl`, after the shape checks both paths share.

use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::error::Result;
use crate::ops::registry as kernels;
use crate::ops::Window2d;

impl GpuBackend {
    pub(crate) fn im2col_gpu(&self, cols: &GpuTensor, x: &GpuTensor, g: &Window2d) -> Result<()> {
        super::check_cols("im2col", &cols.shape, &x.shape, g)?;
        let grid = self.items_grid(&kernels::IM2COL, cols.len())?;
        self.dispatch(&kernels::IM2COL, bytemuck::bytes_of(g), &[cols.binding(), x.binding()], grid)
    }

    pub(crate) fn col2im_gpu(&self, dx: &GpuTensor, cols: &GpuTensor, g: &Window2d) -> Result<()> {
        super::check_cols("col2im", &cols.shape, &dx.shape, g)?;
        let grid = self.items_grid(&kernels::COL2IM, dx.len())?;
        self.dispatch(&kernels::COL2IM, bytemuck::bytes_of(g), &[dx.binding(), cols.binding()], grid)
    }

    pub(crate) fn conv_output_gpu(
        &self,
        out: &GpuTensor,
        product: &GpuTensor,
        bias: Option<&GpuTensor>,
        g: &Window2d,
    ) -> Result<()> {
        super::check_product("conv_output", &out.shape, &product.shape, bias.map(|b| b.shape.as_slice()), g)?;
        let g = g.with_flag(bias.is_some());
        // Without a bias the product is bound twice (read-only); the shader does not read it.
        let bias = bias.unwrap_or(product);
        let grid = self.items_grid(&kernels::CONV_OUTPUT, out.len())?;
        self.dispatch(
            &kernels::CONV_OUTPUT,
            bytemuck::bytes_of(&g),
            &[out.binding(), product.binding(), bias.binding()],
            grid,
        )
    }

    pub(crate) fn conv_grad_output_gpu(&self, gy: &GpuTensor, go: &GpuTensor, g: &Window2d) -> Result<()> {
        super::check_product("conv_grad_output", &go.shape, &gy.shape, None, g)?;
        let grid = self.items_grid(&kernels::CONV_GRAD_OUTPUT, gy.len())?;
        self.dispatch(&kernels::CONV_GRAD_OUTPUT, bytemuck::bytes_of(g), &[gy.binding(), go.binding()], grid)
    }

    pub(crate) fn channel_sum_gpu(&self, out: &GpuTensor, x: &GpuTensor, accumulate: bool) -> Result<()> {
        let (n, c, s) = super::check_channel_sum(&out.shape, &x.shape)?;
        let g =
            Window2d { n: n as u32, c: c as u32, h: s as u32, w: 1, flags: accumulate as u32, ..Default::default() };
        let grid = self.grid("channel_sum", c, 1)?;
        self.dispatch(&kernels::CHANNEL_SUM, bytemuck::bytes_of(&g), &[out.binding(), x.binding()], grid)
    }
}
