//! Max and average pooling over NCHW images, forward and backward. Backward passes are in
//! gather form (each input element sums the windows that chose or covered it), so they need
//! no atomics and sum in a fixed order.
//!
//! Max pooling follows PyTorch's tie rule: the window is scanned row by row, and only a
//! strictly greater value (or a NaN) replaces the running maximum, so the first maximum wins.
//! The chosen element's index `h·W + w` in its plane is kept (as f32, exact below 2²⁴) for the
//! backward pass. Adaptive average pooling to 1×1 is average pooling with the whole plane as
//! the window.

pub mod cpu;
mod max2x2;

use super::{expect_shape, Window2d};
use crate::backend::kernel::{Arg, Grid, Kernel};
use crate::backend::Backend;
use crate::error::{shape_error, Result};
use crate::ops::registry;
use crate::tensor::numel;

/// Checks a pooling op's operands: `input` is [N, C, H, W] and `output` (and `indices`) [N, C, OH, OW].
pub fn check(
    op: &'static str,
    input: &[usize],
    output: &[usize],
    indices: Option<&[usize]>,
    g: &Window2d,
) -> Result<()> {
    expect_shape(op, "input", input, &g.input_shape())?;
    expect_shape(op, "output", output, &g.output_shape())?;
    if let Some(i) = indices {
        expect_shape(op, "indices", i, &g.output_shape())?;
    }
    if g.in_plane() >= 1 << 24 {
        return Err(shape_error(
            op,
            format!("an image plane of {} elements is too large for f32 indices", g.in_plane()),
        ));
    }
    Ok(())
}

/// Max pooling: `out` and the chosen `indices` (h·W + w, as f32), both [N, C, OH, OW].
pub fn max_pool_forward<B: Backend>(
    be: &B,
    out: &mut B::Tensor,
    indices: &mut B::Tensor,
    x: &B::Tensor,
    g: &Window2d,
) -> Result<()> {
    check("max_pool_forward", be.shape(x), be.shape(out), Some(be.shape(indices)), g)?;
    let n = numel(be.shape(out));
    launch(be, &registry::MAX_POOL_FORWARD, g, n, &mut [Arg::Write(out), Arg::Read(x), Arg::Write(indices)])
}

/// Max pooling backward: `dx` sums `dy` over the windows that chose each element.
pub fn max_pool_backward<B: Backend>(
    be: &B,
    dx: &mut B::Tensor,
    dy: &B::Tensor,
    indices: &B::Tensor,
    g: &Window2d,
) -> Result<()> {
    check("max_pool_backward", be.shape(dx), be.shape(dy), Some(be.shape(indices)), g)?;
    let n = numel(be.shape(dx));
    launch(be, &registry::MAX_POOL_BACKWARD, g, n, &mut [Arg::Write(dx), Arg::Read(dy), Arg::Read(indices)])
}

/// Average pooling; `g.flags` bit 0 is `count_include_pad`.
pub fn avg_pool_forward<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor, g: &Window2d) -> Result<()> {
    check("avg_pool_forward", be.shape(x), be.shape(out), None, g)?;
    let n = numel(be.shape(out));
    launch(be, &registry::AVG_POOL_FORWARD, g, n, &mut [Arg::Write(out), Arg::Read(x)])
}

/// Average pooling backward.
pub fn avg_pool_backward<B: Backend>(be: &B, dx: &mut B::Tensor, dy: &B::Tensor, g: &Window2d) -> Result<()> {
    check("avg_pool_backward", be.shape(dx), be.shape(dy), None, g)?;
    let n = numel(be.shape(dx));
    launch(be, &registry::AVG_POOL_BACKWARD, g, n, &mut [Arg::Write(dx), Arg::Read(dy)])
}

/// One invocation per element of the written tensor. The kernels count planes: the window goes
/// out as N·C planes of one channel each (the twins only ever use the per-plane geometry).
fn launch<B: Backend>(
    be: &B,
    kernel: &'static Kernel,
    g: &Window2d,
    items: usize,
    args: &mut [Arg<'_, B::Tensor, B::U32Buffer>],
) -> Result<()> {
    let planes = Window2d { n: g.n * g.c, c: 1, ..*g };
    be.launch(kernel, bytemuck::bytes_of(&planes), args, Grid::Items(items))
}
