//! Launchers for `shaders/reduce.wgsl`.

use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::backend::kernel::Kernel;
use crate::error::Result;
use crate::ops::registry as kernels;

/// Mirrors `Params` in reduce.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    rows: u32,
    cols: u32,
    /// column_sum: 1 adds to `out`, 0 replaces it.
    accumulate: u32,
}

/// Largest reduction done in one workgroup (256 invocations × 256 elements each).
const ONE_PASS_MAX: usize = 65_536;

/// Most partials of a two-pass reduction (one second-pass workgroup handles them quickly).
const MAX_PARTIALS: usize = 1024;

impl GpuBackend {
    pub(crate) fn launch_column_sum(
        &self,
        out: &mut GpuTensor,
        x: &GpuTensor,
        rows: usize,
        cols: usize,
        accumulate: bool,
    ) -> Result<()> {
        let p = Params { n: (rows * cols) as u32, rows: rows as u32, cols: cols as u32, accumulate: accumulate as u32 };
        let grid = self.items_grid(&kernels::COLUMN_SUM, cols)?;
        self.dispatch(&kernels::COLUMN_SUM, bytemuck::bytes_of(&p), &[out.binding(), x.binding()], grid)
    }

    /// `sum`, `sum_squares`, `sum_abs`, `max_abs`: one workgroup reduces up to
    /// [`ONE_PASS_MAX`] elements to `out[0]`; above that `reduce_partial` first leaves one partial
    /// per workgroup in a scratch buffer and the one-workgroup kernel (`sum`, or `max_abs` for
    /// the maximum) reduces those.
    pub(crate) fn launch_reduce_all(&self, kernel: &Kernel, out: &mut GpuTensor, x: &GpuTensor) -> Result<()> {
        let n = x.len();
        if n <= ONE_PASS_MAX {
            let p = Params { n: n as u32, rows: 0, cols: 0, accumulate: 0 };
            return self.dispatch(kernel, bytemuck::bytes_of(&p), &[out.binding(), x.binding()], (1, 1, 1));
        }
        let (op, second) = match kernel.entry {
            "sum" => (0, &kernels::SUM),
            "sum_squares" => (1, &kernels::SUM),
            "sum_abs" => (2, &kernels::SUM),
            _ => (3, &kernels::MAX_ABS),
        };
        let groups = n.div_ceil(ONE_PASS_MAX / 16).min(MAX_PARTIALS);
        let chunk = n.div_ceil(groups);
        let partials = self.scratch(groups)?;
        let p = Params { n: n as u32, rows: chunk as u32, cols: 0, accumulate: op };
        self.dispatch(
            &kernels::REDUCE_PARTIAL,
            bytemuck::bytes_of(&p),
            &[partials.binding(), x.binding()],
            (groups as u32, 1, 1),
        )?;
        let p = Params { n: groups as u32, rows: 0, cols: 0, accumulate: 0 };
        self.dispatch(second, bytemuck::bytes_of(&p), &[out.binding(), partials.binding()], (1, 1, 1))
    }

    /// The divergence guard (`first_nonfinite`): one invocation counts the step and notes the
    /// first non-finite loss or gradient sum of squares.
    pub(crate) fn launch_first_nonfinite(
        &self,
        flag: &mut GpuTensor,
        loss: &GpuTensor,
        grad_sumsq: &GpuTensor,
    ) -> Result<()> {
        let p = Params { n: 1, rows: 0, cols: 0, accumulate: 0 }; // n: steps per call
        let storage = [flag.binding(), loss.binding(), grad_sumsq.binding()];
        self.dispatch(&kernels::FIRST_NONFINITE, bytemuck::bytes_of(&p), &storage, (1, 1, 1))
    }
}
