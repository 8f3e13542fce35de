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
mod gpu;

use super::{expect_shape, Window2d};
use crate::error::{shape_error, Result};

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
