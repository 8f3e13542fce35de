//! Launcher for `shaders/optim.wgsl`: one dispatch over the whole flat parameter buffer.

use crate::backend::gpu::{kernels, GpuBackend, GpuLabels, GpuTensor};
use crate::error::Result;
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
