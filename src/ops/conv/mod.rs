//! Convolution as im2col feeding the tiled matmul (batched over channel groups), the way
//! PyTorch's slow path and most engines without a hand-written implicit GEMM do it:
//!
//! ```text
//! forward   cols[g] = im2col(x)                 [G, N·P, K]   K = C/G·kh·kw, P = OH·OW
//!           out     = W[g] · cols[g]ᵀ + bias     [N, O, OH, OW] (matmul_nt_conv: the batched
//!                                                product written as NCHW in its epilogue)
//! backward  gy      = conv_grad_output(go)       [G, N·P, O/G]
//!           dW[g]  += gy[g]ᵀ · cols[g]           (matmul_tn: a GEMM over N·P, never one thread per weight)
//!           dcols[g] = gy[g] · W[g]              (matmul_nn)
//!           dx      = col2im(dcols)              (gather form: each input element sums its windows)
//!           db     += channel_sum(go)
//! ```
//!
//! That is the GPU path's route (its tiled matmul does the work). The CPU path runs the direct
//! kernels instead ([`conv2d_forward`], [`conv2d_grad_input`], [`conv2d_grad_weight`]): their
//! twins unfold one sample at a time into a cache-sized buffer and write NCHW from the GEMM
//! (`direct.rs`), so there is no batch-sized im2col matrix and no layout pass. Their WGSL
//! entries are plain per-element loops: the independent reference the parity tests hold the
//! fast twins to.

pub mod cpu;
pub mod direct;
mod shallow;

use super::{expect_shape, Window2d};
use crate::backend::kernel::{Arg, Grid};
use crate::backend::Backend;
use crate::error::Result;
use crate::ops::registry;
use crate::tensor::numel;

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

/// `cols` [G, N·OH·OW, C/G·kh·kw] = the patches of `x` [N, C, H, W] under window `g`.
pub fn im2col<B: Backend>(be: &B, cols: &mut B::Tensor, x: &B::Tensor, g: &Window2d) -> Result<()> {
    check_cols("im2col", be.shape(cols), be.shape(x), g)?;
    let n = numel(be.shape(cols));
    be.launch(&registry::IM2COL, bytemuck::bytes_of(g), &mut [Arg::Write(cols), Arg::Read(x)], Grid::Items(n))
}

/// `dx` [N, C, H, W] = the adjoint of [`im2col`] applied to `cols` (overwrites dx).
pub fn col2im<B: Backend>(be: &B, dx: &mut B::Tensor, cols: &B::Tensor, g: &Window2d) -> Result<()> {
    check_cols("col2im", be.shape(cols), be.shape(dx), g)?;
    let n = numel(be.shape(dx));
    be.launch(&registry::COL2IM, bytemuck::bytes_of(g), &mut [Arg::Write(dx), Arg::Read(cols)], Grid::Items(n))
}

/// A convolution's forward after [`im2col`], in one op: `out` [N, O, OH, OW] = for each group,
/// `w` [G, O/G, C/G·kh·kw] times the group's columns of `cols` [G, N·OH·OW, C/G·kh·kw]
/// transposed, laid out as NCHW, plus `bias` [O]. The GPU writes each product element straight
/// to its NCHW place in the product's epilogue (`matmul_nt_conv`: no product buffer, no
/// layout pass); the CPU twin runs the product per group, then the layout change.
pub fn conv_gemm_forward<B: Backend>(
    be: &B,
    out: &mut B::Tensor,
    cols: &B::Tensor,
    w: &B::Tensor,
    bias: Option<&B::Tensor>,
    g: &Window2d,
) -> Result<()> {
    let op = "conv_gemm_forward";
    let (groups, og, k) = (g.groups as usize, (g.o / g.groups.max(1)) as usize, patch_len(g));
    expect_shape(op, "output", be.shape(out), &g.output_shape())?;
    expect_shape(op, "cols", be.shape(cols), &cols_shape(g))?;
    expect_shape(op, "weight", be.shape(w), &[groups, og, k])?;
    if let Some(b) = bias {
        expect_shape(op, "bias", be.shape(b), &[g.o as usize])?;
    }
    let rows = g.n as usize * g.out_plane();
    let conv = [g.out_plane() as u32, g.o, bias.is_some() as u32];
    // Without a bias the weight is bound again (read-only) where the bias goes; not read.
    let bias = bias.unwrap_or(w);
    let args = &mut [Arg::Write(out), Arg::Read(w), Arg::Read(cols), Arg::Read(bias)];
    crate::ops::matmul::tiled(be, &registry::MATMUL_NT_CONV, (groups, og, rows, k), false, None, conv, args)
}

/// `gy` [G, N·OH·OW, O/G] = the output gradient [N, O, OH, OW] in the product's layout.
pub fn conv_grad_output<B: Backend>(be: &B, gy: &mut B::Tensor, go: &B::Tensor, g: &Window2d) -> Result<()> {
    check_product("conv_grad_output", be.shape(go), be.shape(gy), None, g)?;
    let n = numel(be.shape(gy));
    be.launch(&registry::CONV_GRAD_OUTPUT, bytemuck::bytes_of(g), &mut [Arg::Write(gy), Arg::Read(go)], Grid::Items(n))
}

/// `out[c] = Σ x[n, c, …]` over every dim but 1 (added to `out` with `accumulate`): one
/// invocation per channel, summing in a fixed order.
pub fn channel_sum<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor, accumulate: bool) -> Result<()> {
    let (n, c, s) = check_channel_sum(be.shape(out), be.shape(x))?;
    let g = Window2d { n: n as u32, c: c as u32, h: s as u32, w: 1, flags: accumulate as u32, ..Default::default() };
    let args = &mut [Arg::Write(out), Arg::Read(x)];
    be.launch(&registry::CHANNEL_SUM, bytemuck::bytes_of(&g), args, Grid::Blocks { items: c, per_group: 1 })
}

/// Checks the direct kernels' weight: `[O, C/G, kh, kw]`.
fn check_weight(op: &'static str, w: &[usize], g: &Window2d) -> Result<()> {
    let cg = (g.c / g.groups.max(1)) as usize;
    expect_shape(op, "weight", w, &[g.o as usize, cg, g.kh as usize, g.kw as usize])
}

/// `y` [N, O, OH, OW] = `x` [N, C, H, W] convolved with `weight` [O, C/G, kh, kw] (+ `bias` [O])
/// in one kernel.
pub fn conv2d_forward<B: Backend>(
    be: &B,
    y: &mut B::Tensor,
    x: &B::Tensor,
    weight: &B::Tensor,
    bias: Option<&B::Tensor>,
    g: &Window2d,
) -> Result<()> {
    let op = "conv2d_forward";
    expect_shape(op, "x", be.shape(x), &g.input_shape())?;
    expect_shape(op, "y", be.shape(y), &g.output_shape())?;
    check_weight(op, be.shape(weight), g)?;
    if let Some(b) = bias {
        expect_shape(op, "bias", be.shape(b), &[g.o as usize])?;
    }
    let g = g.with_flag(bias.is_some());
    // Without a bias the weight is bound twice (read-only); the kernel does not read it.
    let bias = bias.unwrap_or(weight);
    let n = numel(be.shape(y));
    let args = &mut [Arg::Write(y), Arg::Read(x), Arg::Read(weight), Arg::Read(bias)];
    be.launch(&registry::CONV2D_FORWARD, bytemuck::bytes_of(&g), args, Grid::Items(n))
}

/// `dx` [N, C, H, W] = the convolution's input gradient for `dy` [N, O, OH, OW] (overwritten).
pub fn conv2d_grad_input<B: Backend>(
    be: &B,
    dx: &mut B::Tensor,
    dy: &B::Tensor,
    weight: &B::Tensor,
    g: &Window2d,
) -> Result<()> {
    let op = "conv2d_grad_input";
    expect_shape(op, "dx", be.shape(dx), &g.input_shape())?;
    expect_shape(op, "dy", be.shape(dy), &g.output_shape())?;
    check_weight(op, be.shape(weight), g)?;
    let n = numel(be.shape(dx));
    let args = &mut [Arg::Write(dx), Arg::Read(dy), Arg::Read(weight)];
    be.launch(&registry::CONV2D_GRAD_INPUT, bytemuck::bytes_of(g), args, Grid::Items(n))
}

/// `dw` [O, C/G, kh, kw] = the convolution's weight gradient for input `x` and `dy` (added to
/// `dw` with `accumulate`).
pub fn conv2d_grad_weight<B: Backend>(
    be: &B,
    dw: &mut B::Tensor,
    x: &B::Tensor,
    dy: &B::Tensor,
    g: &Window2d,
    accumulate: bool,
) -> Result<()> {
    let op = "conv2d_grad_weight";
    check_weight(op, be.shape(dw), g)?;
    expect_shape(op, "x", be.shape(x), &g.input_shape())?;
    expect_shape(op, "dy", be.shape(dy), &g.output_shape())?;
    let n = numel(be.shape(dw));
    let g = g.with_flag(accumulate);
    let args = &mut [Arg::Write(dw), Arg::Read(x), Arg::Read(dy)];
    be.launch(&registry::CONV2D_GRAD_WEIGHT, bytemuck::bytes_of(&g), args, Grid::Items(n))
}
