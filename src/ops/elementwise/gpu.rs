//! Launchers for `shaders/elementwise.wgsl`.

use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::backend::kernel::Kernel;
use crate::backend::Activation;
use crate::error::Result;
use crate::ops::registry as kernels;

/// Mirrors `Params` in elementwise.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    cols: u32,
    kind: u32,
    pad0: u32,
    alpha: f32,
    pad: [f32; 3],
}

fn params(n: usize, cols: usize, kind: u32, alpha: f32) -> Params {
    Params { n: n as u32, cols: cols as u32, kind, pad0: 0, alpha, pad: [0.0; 3] }
}

impl GpuBackend {
    pub(crate) fn launch_activation_forward(
        &self,
        act: Activation,
        out: &mut GpuTensor,
        x: &GpuTensor,
        n: usize,
    ) -> Result<()> {
        let p = params(n, 0, act.shader_kind(), act.parameter());
        let grid = self.items_grid(&kernels::ACTIVATION_FORWARD, n)?;
        self.dispatch(&kernels::ACTIVATION_FORWARD, bytemuck::bytes_of(&p), &[out.binding(), x.binding()], grid)
    }

    pub(crate) fn launch_activation_backward(
        &self,
        act: Activation,
        dx: &mut GpuTensor,
        x: &GpuTensor,
        dy: &GpuTensor,
        n: usize,
    ) -> Result<()> {
        let p = params(n, 0, act.shader_kind(), act.parameter());
        let grid = self.items_grid(&kernels::ACTIVATION_BACKWARD, n)?;
        self.dispatch(
            &kernels::ACTIVATION_BACKWARD,
            bytemuck::bytes_of(&p),
            &[dx.binding(), x.binding(), dy.binding()],
            grid,
        )
    }

    pub(crate) fn launch_bias_add(&self, x: &mut GpuTensor, bias: &GpuTensor, n: usize, cols: usize) -> Result<()> {
        let p = params(n, cols, 0, 0.0);
        let grid = self.items_grid(&kernels::BIAS_ADD, n)?;
        self.dispatch(&kernels::BIAS_ADD, bytemuck::bytes_of(&p), &[x.binding(), bias.binding()], grid)
    }

    /// `scale` and `fill`: one read-write tensor and a scalar.
    pub(crate) fn launch_inplace(&self, kernel: &Kernel, x: &mut GpuTensor, alpha: f32) -> Result<()> {
        let n = x.len();
        let p = params(n, 0, 0, alpha);
        let grid = self.items_grid(kernel, n)?;
        self.dispatch(kernel, bytemuck::bytes_of(&p), &[x.binding()], grid)
    }

    /// `axpy` and `copy`: out (read-write), one input, a scalar.
    pub(crate) fn launch_out_in(
        &self,
        kernel: &Kernel,
        out: &mut GpuTensor,
        x: &GpuTensor,
        n: usize,
        alpha: f32,
    ) -> Result<()> {
        let p = params(n, 0, 0, alpha);
        let grid = self.items_grid(kernel, n)?;
        self.dispatch(kernel, bytemuck::bytes_of(&p), &[out.binding(), x.binding()], grid)
    }
}

impl GpuBackend {
    /// `div_by_norm`: out = x / max(√sumsq[0], eps).
    pub(crate) fn launch_div_by_norm(
        &self,
        out: &mut GpuTensor,
        x: &GpuTensor,
        sumsq: &GpuTensor,
        eps: f32,
    ) -> Result<()> {
        let n = out.len();
        let p = params(n, 0, 0, eps);
        let grid = self.items_grid(&kernels::DIV_BY_NORM, n)?;
        self.dispatch(
            &kernels::DIV_BY_NORM,
            bytemuck::bytes_of(&p),
            &[out.binding(), x.binding(), sumsq.binding()],
            grid,
        )
    }
}
