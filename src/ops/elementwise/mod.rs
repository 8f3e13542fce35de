//! Activations forward/backward, bias add, scale, axpy, add_sign, fill, copy: one invocation
//! per element. Kernel: `shaders/elementwise.wgsl`.

pub mod cpu;
mod gpu;

use crate::error::{shape_error, Result, ShapeDisplay};
use crate::tensor::as_matrix;

/// `x` (R,C) and `bias` (C): returns (R, C).
pub fn bias_add(x: &[usize], bias: &[usize]) -> Result<(usize, usize)> {
    let (r, c) = as_matrix("bias_add", x)?;
    if bias.len() != 1 || bias[0] != c {
        return Err(shape_error(
            "bias_add",
            format!("bias must be [{c}] for x of shape {}, got {}", ShapeDisplay(x), ShapeDisplay(bias)),
        ));
    }
    Ok((r, c))
}
