//! Launcher for `shaders/optim.wgsl`: one dispatch over the whole flat parameter buffer.

use crate::backend::gpu::{GpuBackend, GpuLabels, GpuTensor};
use crate::error::Result;
use crate::ops::registry as kernels;
use crate::optim::OptimKind;

/// Mirrors `Params` in optim.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    pad: [u32; 3],
}

impl GpuBackend {
    #[allow(clippy::too_many_arguments, reason = "one argument per kernel binding")]
    pub(crate) fn launch_optimizer_step(
        &self,
        kind: OptimKind,
        params: &mut GpuTensor,
        grads: &GpuTensor,
        state: &mut GpuTensor,
        table: &GpuTensor,
        chunk_groups: &GpuLabels,
        norm: &GpuTensor,
        n: usize,
    ) -> Result<()> {
        let kernel = match kind {
            OptimKind::Sgd => &kernels::SGD_STEP,
            OptimKind::Adagrad => &kernels::ADAGRAD_STEP,
            OptimKind::Rmsprop => &kernels::RMSPROP_STEP,
            OptimKind::Adam => &kernels::ADAM_STEP,
            OptimKind::Adamax => &kernels::ADAMAX_STEP,
            OptimKind::Nadam => &kernels::NADAM_STEP,
            OptimKind::Radam => &kernels::RADAM_STEP,
            OptimKind::Lion => &kernels::LION_STEP,
            OptimKind::Sophia => &kernels::SOPHIA_STEP,
            OptimKind::ScheduleFree => &kernels::SCHEDULE_FREE_STEP,
            OptimKind::Lamb => &kernels::LAMB_STEP,
            OptimKind::Adafactor => return Err(super::per_tensor_only(kind)),
            OptimKind::Muon => &kernels::MUON_STEP,
        };
        let p = Params { n: n as u32, pad: [0; 3] };
        let grid = self.items_grid(kernel, n)?;
        let storage = [
            params.binding(),
            grads.binding(),
            state.binding(),
            table.binding(),
            chunk_groups.binding(),
            norm.binding(),
        ];
        self.dispatch(kernel, bytemuck::bytes_of(&p), &storage, grid)
    }
}

impl GpuBackend {
    /// Adafactor's step: one workgroup per tensor of `tensors` (see `optim::adafactor`).
    #[allow(clippy::too_many_arguments, reason = "the kernel's bindings, one argument each")]
    pub(crate) fn launch_adafactor(
        &self,
        params: &mut GpuTensor,
        grads: &GpuTensor,
        state: &mut GpuTensor,
        table: &GpuTensor,
        tensors: &GpuLabels,
        norm: &GpuTensor,
        n: usize,
    ) -> Result<()> {
        let count = tensors.len() / crate::optim::adafactor::META_LEN;
        let p = Params { n: n as u32, pad: [0; 3] };
        let storage =
            [params.binding(), grads.binding(), state.binding(), table.binding(), norm.binding(), tensors.binding()];
        self.dispatch(&kernels::ADAFACTOR_STEP, bytemuck::bytes_of(&p), &storage, (count as u32, 1, 1))
    }
}
