//! Activations forward/backward, bias add, scale, axpy, add_sign, fill, copy, div_by_norm: one
//! invocation per element. Kernels: `shaders/elementwise.wgsl`; CPU twins: `cpu.rs`.

pub(crate) mod activation;
pub mod cpu;

pub use activation::{Activation, UNKNOWN_KIND};

use crate::backend::kernel::{Arg, Grid, Kernel};
use crate::backend::{checks, Backend};
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::ops::registry;
use crate::tensor::{as_matrix, numel};

/// Mirrors `Params` in elementwise.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ElementwiseParams {
    /// Elements.
    pub n: u32,
    /// Row width (bias_add).
    pub cols: u32,
    /// The activation's kind ([`Activation::shader_kind`]).
    pub kind: u32,
    /// Padding.
    pub pad0: u32,
    /// The scale/axpy factor, fill value, eps, or the activation's parameter.
    pub alpha: f32,
    /// Padding to 32 bytes.
    pub pad: [f32; 3],
}

impl ElementwiseParams {
    /// Params over `n` elements.
    pub fn new(n: usize, cols: usize, kind: u32, alpha: f32) -> Self {
        Self { n: n as u32, cols: cols as u32, kind, pad0: 0, alpha, pad: [0.0; 3] }
    }
}

/// `x` (R,C) and `bias` (C): returns (R, C).
pub fn bias_dims(x: &[usize], bias: &[usize]) -> Result<(usize, usize)> {
    let (r, c) = as_matrix("bias_add", x)?;
    if bias.len() != 1 || bias[0] != c {
        return Err(shape_error(
            "bias_add",
            format!("bias must be [{c}] for x of shape {}, got {}", ShapeDisplay(x), ShapeDisplay(bias)),
        ));
    }
    Ok((r, c))
}

/// One launch over `p.n` elements.
fn launch<B: Backend>(
    be: &B,
    kernel: &'static Kernel,
    p: ElementwiseParams,
    args: &mut [Arg<'_, B::Tensor, B::U32Buffer>],
) -> Result<()> {
    be.launch(kernel, bytemuck::bytes_of(&p), args, Grid::Items(p.n as usize))
}

/// `out = act(x)` elementwise.
pub fn activation_forward<B: Backend>(be: &B, act: Activation, out: &mut B::Tensor, x: &B::Tensor) -> Result<()> {
    let n = checks::elementwise("activation_forward", &[("out", be.shape(out)), ("x", be.shape(x))])?;
    let p = ElementwiseParams::new(n, 0, act.shader_kind(), act.parameter());
    launch(be, &registry::ACTIVATION_FORWARD, p, &mut [Arg::Write(out), Arg::Read(x)])
}

/// `dx = act'(x) · dy` elementwise, where x is the activation's *input*.
pub fn activation_backward<B: Backend>(
    be: &B,
    act: Activation,
    dx: &mut B::Tensor,
    x: &B::Tensor,
    dy: &B::Tensor,
) -> Result<()> {
    let shapes = [("dx", be.shape(dx)), ("x", be.shape(x)), ("dy", be.shape(dy))];
    let n = checks::elementwise("activation_backward", &shapes)?;
    let p = ElementwiseParams::new(n, 0, act.shader_kind(), act.parameter());
    launch(be, &registry::ACTIVATION_BACKWARD, p, &mut [Arg::Write(dx), Arg::Read(x), Arg::Read(dy)])
}

/// `x[r, c] += bias[c]` for every row r. x is (R,C), bias is (C).
pub fn bias_add<B: Backend>(be: &B, x: &mut B::Tensor, bias: &B::Tensor) -> Result<()> {
    let (rows, cols) = bias_dims(be.shape(x), be.shape(bias))?;
    let p = ElementwiseParams::new(rows * cols, cols, 0, 0.0);
    launch(be, &registry::BIAS_ADD, p, &mut [Arg::Write(x), Arg::Read(bias)])
}

/// `x *= alpha`.
pub fn scale<B: Backend>(be: &B, x: &mut B::Tensor, alpha: f32) -> Result<()> {
    let p = ElementwiseParams::new(numel(be.shape(x)), 0, 0, alpha);
    launch(be, &registry::SCALE, p, &mut [Arg::Write(x)])
}

/// `x = value` everywhere.
pub fn fill<B: Backend>(be: &B, x: &mut B::Tensor, value: f32) -> Result<()> {
    let p = ElementwiseParams::new(numel(be.shape(x)), 0, 0, value);
    launch(be, &registry::FILL, p, &mut [Arg::Write(x)])
}

/// `y += alpha · x`.
pub fn axpy<B: Backend>(be: &B, y: &mut B::Tensor, alpha: f32, x: &B::Tensor) -> Result<()> {
    let n = checks::elementwise("axpy", &[("y", be.shape(y)), ("x", be.shape(x))])?;
    launch(be, &registry::AXPY, ElementwiseParams::new(n, 0, 0, alpha), &mut [Arg::Write(y), Arg::Read(x)])
}

/// `y += alpha · sign(x)` (sign(0) = 0), the gradient of an L1 penalty.
pub fn add_sign<B: Backend>(be: &B, y: &mut B::Tensor, alpha: f32, x: &B::Tensor) -> Result<()> {
    let n = checks::elementwise("add_sign", &[("y", be.shape(y)), ("x", be.shape(x))])?;
    launch(be, &registry::ADD_SIGN, ElementwiseParams::new(n, 0, 0, alpha), &mut [Arg::Write(y), Arg::Read(x)])
}

/// `dst = src`.
pub fn copy<B: Backend>(be: &B, dst: &mut B::Tensor, src: &B::Tensor) -> Result<()> {
    let n = checks::elementwise("copy", &[("dst", be.shape(dst)), ("src", be.shape(src))])?;
    launch(be, &registry::COPY, ElementwiseParams::new(n, 0, 0, 0.0), &mut [Arg::Write(dst), Arg::Read(src)])
}

/// `dst[dst_offset..dst_offset + n] = src[src_offset..src_offset + n]`: a run of elements
/// between offsets that need not be aligned as views' must (a KV cache's new row).
pub fn copy_range<B: Backend>(
    be: &B,
    dst: &mut B::Tensor,
    dst_offset: usize,
    src: &B::Tensor,
    src_offset: usize,
    n: usize,
) -> Result<()> {
    let (dl, sl) = (numel(be.shape(dst)), numel(be.shape(src)));
    if dst_offset + n > dl || src_offset + n > sl {
        return Err(shape_error(
            "copy_range",
            format!("{n} elements from offset {src_offset} of {sl} to offset {dst_offset} of {dl} do not fit"),
        ));
    }
    // The offsets ride in the params' `cols` and `kind` fields (see the shader).
    let p = ElementwiseParams::new(n, dst_offset, src_offset as u32, 0.0);
    launch(be, &registry::COPY_RANGE, p, &mut [Arg::Write(dst), Arg::Read(src)])
}

/// `out = x / max(√sumsq[0], eps)`, with `sumsq` a one-element Σx² on the device (Muon's
/// normalisation before Newton–Schulz, without a read-back).
pub fn div_by_norm<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor, sumsq: &B::Tensor, eps: f32) -> Result<()> {
    let n = checks::elementwise("div_by_norm", &[("out", be.shape(out)), ("x", be.shape(x))])?;
    checks::scalar_out("div_by_norm", be.shape(sumsq))?;
    let p = ElementwiseParams::new(n, 0, 0, eps);
    launch(be, &registry::DIV_BY_NORM, p, &mut [Arg::Write(out), Arg::Read(x), Arg::Read(sumsq)])
}
