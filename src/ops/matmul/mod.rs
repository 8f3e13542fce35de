//! The three products of a Linear layer (`matmul_nt` X·Wᵀ, `matmul_nn` dY·W, `matmul_tn` dYᵀ·X),
//! batched over a leading dimension for convolution groups; the shape check is `MatmulForm::dims`
//! (src/tensor.rs). `matmul_bias` is the Linear forward with the bias added in the product's
//! epilogue. Kernel: `shaders/matmul.wgsl` (64×64 register-tiled).

pub mod cpu;
mod gpu;

use crate::error::Result;
use crate::tensor::MatmulForm;

/// The checks of `matmul_bias`: the `Nt` product's (no batch of products), then a bias of N
/// elements. Returns (m, n, k).
pub(crate) fn bias_dims(out: &[usize], a: &[usize], b: &[usize], bias: &[usize]) -> Result<(usize, usize, usize)> {
    let (batch, m, n, k) = MatmulForm::Nt.dims(out, a, b)?;
    if batch != 1 || out.len() != 2 {
        return Err(crate::error::shape_error("matmul_bias", format!("out {out:?} must be a matrix (M, N)")));
    }
    crate::ops::elementwise::bias_dims(out, bias)?;
    Ok((m, n, k))
}

/// The checks of `matmul_bias_act`: those of `matmul_bias`, and `act_out` shaped as `out`.
pub(crate) fn bias_act_dims(
    out: &[usize],
    act_out: &[usize],
    a: &[usize],
    b: &[usize],
    bias: &[usize],
) -> Result<(usize, usize, usize)> {
    if act_out != out {
        return Err(crate::error::shape_error(
            "matmul_bias_act",
            format!("act_out {act_out:?} must be shaped as out {out:?}"),
        ));
    }
    bias_dims(out, a, b, bias)
}
