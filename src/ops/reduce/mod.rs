//! Column sums (bias gradients), whole-tensor reductions to one value (two passes above
//! 65,536 elements) and the divergence guard. Kernel: `shaders/reduce.wgsl`.

pub mod cpu;

use crate::backend::checks::scalar_out;
use crate::backend::kernel::{Arg, Grid, Kernel};
use crate::backend::Backend;
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::ops::registry;
use crate::tensor::{as_matrix, numel};

/// Mirrors `Params` in reduce.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ReduceParams {
    /// Elements.
    pub n: u32,
    /// Rows (column_sum); elements per partial (reduce_partial).
    pub rows: u32,
    /// Columns (column_sum).
    pub cols: u32,
    /// column_sum: 1 adds to `out`, 0 replaces it; reduce_partial: the reduction (0 Σx, 1 Σx²,
    /// 2 Σ|x|, 3 max|x|).
    pub accumulate: u32,
}

/// Largest reduction done in one workgroup (256 invocations × 256 elements each).
const ONE_PASS_MAX: usize = 65_536;

/// Most partials of a two-pass reduction (one second-pass workgroup handles them quickly).
const MAX_PARTIALS: usize = 1024;

/// `out[c] = Σ_r x[r, c]`, the bias gradient (added to `out` with `accumulate`). x is (R,C),
/// out is (C). One invocation per column.
pub fn column_sum<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor, accumulate: bool) -> Result<()> {
    let (rows, cols) = column_sum_dims(be.shape(out), be.shape(x))?;
    let p =
        ReduceParams { n: (rows * cols) as u32, rows: rows as u32, cols: cols as u32, accumulate: accumulate as u32 };
    let args = &mut [Arg::Write(out), Arg::Read(x)];
    be.launch(&registry::COLUMN_SUM, bytemuck::bytes_of(&p), args, Grid::Items(cols))
}

/// `out[0] = Σ x`.
pub fn sum<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor) -> Result<()> {
    reduce_all(be, &registry::SUM, 0, out, x)
}

/// `out[0] = Σ x²`, the square of the L2 norm (for global gradient-norm clipping).
pub fn sum_squares<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor) -> Result<()> {
    reduce_all(be, &registry::SUM_SQUARES, 1, out, x)
}

/// `out[0] = Σ |x|`, the L1 norm.
pub fn sum_abs<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor) -> Result<()> {
    reduce_all(be, &registry::SUM_ABS, 2, out, x)
}

/// `out[0] = max |x|` (0 for an empty tensor), the L∞ norm.
pub fn max_abs<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor) -> Result<()> {
    reduce_all(be, &registry::MAX_ABS, 3, out, x)
}

/// A whole-tensor reduction to `out[0]`. The two paths decompose it differently: the host path
/// runs the one kernel's twin over any length (it sums in fixed blocks, so the bits do not
/// depend on the thread count); on a device one workgroup reduces up to [`ONE_PASS_MAX`]
/// elements, and above that `reduce_partial` first leaves one partial per workgroup in a
/// scratch buffer that the one-workgroup kernel (`sum`, or `max_abs` for the maximum) reduces.
fn reduce_all<B: Backend>(be: &B, kernel: &'static Kernel, op: u32, out: &mut B::Tensor, x: &B::Tensor) -> Result<()> {
    scalar_out(kernel.entry, be.shape(out))?;
    let n = numel(be.shape(x));
    if be.host_memory() || n <= ONE_PASS_MAX {
        let p = ReduceParams { n: n as u32, rows: 0, cols: 0, accumulate: 0 };
        return be.launch(kernel, bytemuck::bytes_of(&p), &mut [Arg::Write(out), Arg::Read(x)], Grid::Fixed(1, 1, 1));
    }
    let second = if op == 3 { &registry::MAX_ABS } else { &registry::SUM };
    let groups = n.div_ceil(ONE_PASS_MAX / 16).min(MAX_PARTIALS);
    let chunk = n.div_ceil(groups);
    let partials = be.scratch(groups)?;
    let p = ReduceParams { n: n as u32, rows: chunk as u32, cols: 0, accumulate: op };
    let args = &mut [Arg::Write(&partials), Arg::Read(x)];
    be.launch(&registry::REDUCE_PARTIAL, bytemuck::bytes_of(&p), args, Grid::Fixed(groups as u32, 1, 1))?;
    let p = ReduceParams { n: groups as u32, rows: 0, cols: 0, accumulate: 0 };
    be.launch(second, bytemuck::bytes_of(&p), &mut [Arg::Write(out), Arg::Read(&partials)], Grid::Fixed(1, 1, 1))
}

/// Counts a step in `flag[1]` and, the first time `loss[0]` or `grad_sumsq[0]` is NaN or
/// infinite, records that count in `flag[0]` (0 while healthy). `flag` is (2); nothing is
/// read back until the caller reads it.
pub fn first_nonfinite<B: Backend>(
    be: &B,
    flag: &mut B::Tensor,
    loss: &B::Tensor,
    grad_sumsq: &B::Tensor,
) -> Result<()> {
    guard(be.shape(flag), be.shape(loss), be.shape(grad_sumsq))?;
    let p = ReduceParams { n: 1, rows: 0, cols: 0, accumulate: 0 }; // n: steps per call
    let args = &mut [Arg::Write(flag), Arg::Read(loss), Arg::Read(grad_sumsq)];
    be.launch(&registry::FIRST_NONFINITE, bytemuck::bytes_of(&p), args, Grid::Fixed(1, 1, 1))
}

/// `out` (C) and `x` (R,C): returns (R, C).
pub fn column_sum_dims(out: &[usize], x: &[usize]) -> Result<(usize, usize)> {
    let (r, c) = as_matrix("column_sum", x)?;
    if out.len() != 1 || out[0] != c {
        return Err(shape_error(
            "column_sum",
            format!("out must be [{c}] for x of shape {}, got {}", ShapeDisplay(x), ShapeDisplay(out)),
        ));
    }
    Ok((r, c))
}

/// The divergence guard's shapes: a two-element flag, one-element loss and sum of squares.
pub fn guard(flag: &[usize], loss: &[usize], sumsq: &[usize]) -> Result<()> {
    if numel(flag) != 2 {
        return Err(shape_error("first_nonfinite", format!("flag must hold 2 elements, got {}", ShapeDisplay(flag))));
    }
    scalar_out("first_nonfinite", loss)?;
    scalar_out("first_nonfinite", sumsq)
}
