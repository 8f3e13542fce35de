//! The GPU path's launches of `shaders/norm.wgsl`, after the shape checks both paths share.

use super::{BatchNormMode, NormParams};
use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::error::Result;
use crate::ops::expect_shape;
use crate::ops::registry as kernels;

impl GpuBackend {
    /// One workgroup per row, folded into two grid dimensions when needed.
    fn rows_grid(&self, op: &'static str, rows: usize) -> Result<(u32, u32, u32)> {
        self.grid(op, rows, 1)
    }

    #[allow(clippy::too_many_arguments, reason = "the kernel's bindings, one argument each")]
    pub(crate) fn batch_norm_forward_gpu(
        &self,
        y: &GpuTensor,
        saved: &GpuTensor,
        running_mean: &GpuTensor,
        running_var: &GpuTensor,
        x: &GpuTensor,
        weight: &GpuTensor,
        bias: &GpuTensor,
        mode: &BatchNormMode,
    ) -> Result<()> {
        let op = "batch_norm_forward";
        let p = super::batch_norm_params(op, &y.shape, &saved.shape, &x.shape, mode)?;
        super::check_channels(
            op,
            p.c as usize,
            &[
                ("running_mean", &running_mean.shape),
                ("running_var", &running_var.shape),
                ("weight", &weight.shape),
                ("bias", &bias.shape),
            ],
        )?;
        self.dispatch(
            &kernels::BATCH_NORM_FORWARD,
            bytemuck::bytes_of(&p),
            &[
                y.binding(),
                saved.binding(),
                running_mean.binding(),
                running_var.binding(),
                x.binding(),
                weight.binding(),
                bias.binding(),
            ],
            (p.c, 1, 1),
        )
    }

    #[allow(clippy::too_many_arguments, reason = "the kernel's bindings, one argument each")]
    pub(crate) fn batch_norm_backward_gpu(
        &self,
        dx: &GpuTensor,
        sums: &GpuTensor,
        x: &GpuTensor,
        weight: &GpuTensor,
        saved: &GpuTensor,
        dy: &GpuTensor,
        mode: &BatchNormMode,
    ) -> Result<()> {
        let op = "batch_norm_backward";
        let p = super::batch_norm_params(op, &dx.shape, &saved.shape, &x.shape, mode)?;
        expect_shape(op, "dy", &dy.shape, &x.shape)?;
        expect_shape(op, "sums", &sums.shape, &[2, p.stride as usize])?;
        super::check_channels(op, p.c as usize, &[("weight", &weight.shape)])?;
        self.dispatch(
            &kernels::BATCH_NORM_BACKWARD,
            bytemuck::bytes_of(&p),
            &[dx.binding(), sums.binding(), x.binding(), weight.binding(), saved.binding(), dy.binding()],
            (p.c, 1, 1),
        )
    }

    pub(crate) fn layer_norm_forward_gpu(
        &self,
        y: &GpuTensor,
        saved: &GpuTensor,
        x: &GpuTensor,
        weight: &GpuTensor,
        bias: &GpuTensor,
        eps: f32,
    ) -> Result<()> {
        let op = "layer_norm_forward";
        let p = super::layer_norm_params(op, &y.shape, &saved.shape, &x.shape, &weight.shape, eps)?;
        expect_shape(op, "bias", &bias.shape, &weight.shape)?;
        let grid = self.rows_grid(op, p.n as usize)?;
        self.dispatch(
            &kernels::LAYER_NORM_FORWARD,
            bytemuck::bytes_of(&p),
            &[y.binding(), saved.binding(), x.binding(), weight.binding(), bias.binding()],
            grid,
        )
    }

    pub(crate) fn layer_norm_backward_gpu(
        &self,
        dx: &GpuTensor,
        x: &GpuTensor,
        weight: &GpuTensor,
        saved: &GpuTensor,
        dy: &GpuTensor,
    ) -> Result<()> {
        let op = "layer_norm_backward";
        let p = super::layer_norm_params(op, &dx.shape, &saved.shape, &x.shape, &weight.shape, 0.0)?;
        expect_shape(op, "dy", &dy.shape, &x.shape)?;
        let grid = self.rows_grid(op, p.n as usize)?;
        self.dispatch(
            &kernels::LAYER_NORM_BACKWARD,
            bytemuck::bytes_of(&p),
            &[dx.binding(), x.binding(), weight.binding(), saved.binding(), dy.binding()],
            grid,
        )
    }

    pub(crate) fn layer_norm_param_grad_gpu(
        &self,
        sums: &GpuTensor,
        x: &GpuTensor,
        saved: &GpuTensor,
        dy: &GpuTensor,
    ) -> Result<()> {
        let p: NormParams = super::layer_norm_grad_params(&sums.shape, &saved.shape, &x.shape, &dy.shape)?;
        let grid = self.items_grid(&kernels::LAYER_NORM_PARAM_GRAD, p.c as usize)?;
        self.dispatch(
            &kernels::LAYER_NORM_PARAM_GRAD,
            bytemuck::bytes_of(&p),
            &[sums.binding(), x.binding(), saved.binding(), dy.binding()],
            grid,
        )
    }
}
