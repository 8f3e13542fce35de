//! Convolution as im2col feeding the tiled matmul (batched over channel groups), the way
//! PyTorch's slow path and most engines without a hand-written implicit GEMM do it:
//!
//! ```text
//! forward   cols[g] = im2col(x)                 [G, N·P, K]   K = C/G·kh·kw, P = OH·OW
//!           y[g]    = cols[g] · W[g]ᵀ            [G, N·P, O/G] (matmul_nt, batched)
//!           out     = conv_output(y) + bias      [N, O, OH, OW]
//! backward  gy      = conv_grad_output(go)       [G, N·P, O/G]
//!           dW[g]  += gy[g]ᵀ · cols[g]           (matmul_tn: a GEMM over N·P, never one thread per weight)
//!           dcols[g] = gy[g] · W[g]              (matmul_nn)
//!           dx      = col2im(dcols)              (gather form: each input element sums its windows)
//!           db     += channel_sum(go)
//! ```

pub mod cpu;
mod gpu;

use super::{expect_shape, Window2d};
use crate::error::Result;

/// Columns of the im2col matrix: C/G·kh·kw.
pub fn patch_len(g: &Window2d) -> usize {
    (g.c / g.groups.max(1) * g.kh * g.kw) as usize
}

/// Shape of the im2col matrix: [G, N·OH·OW, C/G·kh·kw].
pub fn cols_shape(g: &Window2d) -> [usize; 3] {
    [g.groups as usize, g.n as usize * g.out_plane(), patch_len(g)]
}

/// Shape of the grouped product before it is laid out as NCHW: [G, N·OH·OW, O/G].
pub fn product_shape(g: &Window2d) -> [usize; 3] {
    [g.groups as usize, g.n as usize * g.out_plane(), (g.o / g.groups.max(1)) as usize]
}

/// Checks `im2col`'s / `col2im`'s operands: `cols` against `x` (the input or its gradient).
pub fn check_cols(op: &'static str, cols: &[usize], x: &[usize], g: &Window2d) -> Result<()> {
    expect_shape(op, "x", x, &g.input_shape())?;
    expect_shape(op, "cols", cols, &cols_shape(g))
}

/// Checks `conv_output`'s / `conv_grad_output`'s operands: the NCHW tensor and the product.
pub fn check_product(
    op: &'static str,
    nchw: &[usize],
    product: &[usize],
    bias: Option<&[usize]>,
    g: &Window2d,
) -> Result<()> {
    expect_shape(op, "output", nchw, &g.output_shape())?;
    expect_shape(op, "product", product, &product_shape(g))?;
    if let Some(b) = bias {
        expect_shape(op, "bias", b, &[g.o as usize])?;
    }
    Ok(())
}

/// Checks `channel_sum`: `x` is `[N, C, …]` and `out` is `[C]`; returns (N, C, elements per channel per sample).
pub fn check_channel_sum(out: &[usize], x: &[usize]) -> Result<(usize, usize, usize)> {
    if x.len() < 2 {
        return Err(crate::error::shape_error(
            "channel_sum",
            format!("x must be [N, C, …], got {}", crate::error::ShapeDisplay(x)),
        ));
    }
    expect_shape("channel_sum", "out", out, &[x[1]])?;
    Ok((x[0], x[1], x[2..].iter().product()))
}
