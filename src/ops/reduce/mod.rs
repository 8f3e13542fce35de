//! Column sums (bias gradients), whole-tensor reductions to one value (two passes above
//! 65,536 elements) and the divergence guard. Kernel: `shaders/reduce.wgsl`.

pub mod cpu;
mod gpu;

use crate::backend::checks::scalar_out;
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::tensor::{as_matrix, numel};

/// `out` (C) and `x` (R,C): returns (R, C).
pub fn column_sum(out: &[usize], x: &[usize]) -> Result<(usize, usize)> {
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
