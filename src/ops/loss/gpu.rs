//! Launchers for `shaders/loss.wgsl`: one workgroup computes the gradient and the mean loss.

use crate::backend::gpu::{GpuBackend, GpuLabels, GpuTensor};
use crate::backend::kernel::Kernel;
use crate::error::Result;
use crate::ops::registry as kernels;
use crate::tensor::as_matrix;

/// Mirrors `Params` in loss.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    pad0: [u32; 2],
    inv_count: f32,
    pad1: [f32; 3],
}

impl GpuBackend {
    /// MSE and BCE-with-logits: mean over every element.
    pub(crate) fn launch_loss_with_target(
        &self,
        kernel: &Kernel,
        loss: &mut GpuTensor,
        grad: &mut GpuTensor,
        input: &GpuTensor,
        target: &GpuTensor,
    ) -> Result<()> {
        let (rows, cols) = as_matrix(kernel.entry, &input.shape)?;
        let n = rows * cols;
        let p =
            Params { rows: rows as u32, cols: cols as u32, pad0: [0; 2], inv_count: 1.0 / n as f32, pad1: [0.0; 3] };
        self.dispatch(
            kernel,
            bytemuck::bytes_of(&p),
            &[loss.binding(), grad.binding(), input.binding(), target.binding()],
            (1, 1, 1),
        )
    }

    /// Softmax cross-entropy: mean over rows.
    pub(crate) fn launch_cross_entropy(
        &self,
        loss: &mut GpuTensor,
        grad: &mut GpuTensor,
        logits: &GpuTensor,
        labels: &GpuLabels,
        rows: usize,
        cols: usize,
    ) -> Result<()> {
        let p =
            Params { rows: rows as u32, cols: cols as u32, pad0: [0; 2], inv_count: 1.0 / rows as f32, pad1: [0.0; 3] };
        let kernel = &kernels::CROSS_ENTROPY_LOSS;
        self.dispatch(
            kernel,
            bytemuck::bytes_of(&p),
            &[loss.binding(), grad.binding(), logits.binding(), labels.binding()],
            (1, 1, 1),
        )
    }
}
