//! Launchers for `shaders/dropout.wgsl`.

use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::error::Result;
use crate::ops::dropout::cpu::threshold;
use crate::ops::registry as kernels;

/// Mirrors `Params` in dropout.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    threshold: u32,
    slot: u32,
    pad0: u32,
    scale: f32,
    pad1: [f32; 3],
}

impl GpuBackend {
    #[allow(clippy::too_many_arguments, reason = "the kernel's bindings and scalars, one argument each")]
    pub(crate) fn launch_dropout_forward(
        &self,
        out: &mut GpuTensor,
        mask: &mut GpuTensor,
        x: &GpuTensor,
        n: usize,
        p: f32,
        keys: &GpuTensor,
        slot: usize,
    ) -> Result<()> {
        let params = Params {
            n: n as u32,
            threshold: threshold(p),
            slot: slot as u32,
            pad0: 0,
            scale: 1.0 / (1.0 - p),
            pad1: [0.0; 3],
        };
        let grid = self.items_grid(&kernels::DROPOUT_FORWARD, n)?;
        let storage = [out.binding(), x.binding(), keys.binding(), mask.binding()];
        self.dispatch(&kernels::DROPOUT_FORWARD, bytemuck::bytes_of(&params), &storage, grid)
    }

    pub(crate) fn launch_dropout_backward(
        &self,
        dx: &mut GpuTensor,
        dy: &GpuTensor,
        mask: &GpuTensor,
        n: usize,
    ) -> Result<()> {
        let params = Params { n: n as u32, threshold: 0, slot: 0, pad0: 0, scale: 0.0, pad1: [0.0; 3] };
        let grid = self.items_grid(&kernels::DROPOUT_BACKWARD, n)?;
        self.dispatch(
            &kernels::DROPOUT_BACKWARD,
            bytemuck::bytes_of(&params),
            &[dx.binding(), dy.binding(), mask.binding()],
            grid,
        )
    }
}
