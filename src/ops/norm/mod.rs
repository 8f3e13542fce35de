//! Batch and layer normalisation, forward and backward, as PyTorch defines them (formulas in
//! tests/fixtures/oracle/README.md, "CNN layers"):
//!
//! - `batch_norm_*`: x is [N, C, S] (S = H·W for BatchNorm2d, L or 1 for BatchNorm1d); statistics per
//!   channel over N·S values. Training uses the batch's biased variance and moves the running stats
//!   (unbiased variance); eval uses the running stats. `saved` [2, C] keeps (mean, 1/σ) for the
//!   backward pass, which writes dx and the per-channel sums Σ dy·x̂ and Σ dy (the weight and bias
//!   gradients) into `sums` [2, stride].
//! - `layer_norm_*`: x is [R, M], normalised over each row of M; `saved` [2, R].
//!
//! One workgroup per channel (row) reduces on the GPU; the CPU twins sum in f64.

pub mod cpu;

use super::expect_shape;
use crate::backend::kernel::{Arg, Grid};
use crate::backend::Backend;
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::ops::elementwise::Activation;
use crate::ops::registry;

/// The uniform of norm.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct NormParams {
    /// Samples N (batch norm) or rows R (layer norm).
    pub n: u32,
    /// Channels C (batch norm) or normalised elements M (layer norm).
    pub c: u32,
    /// Elements per channel per sample (batch norm; 1 for layer norm).
    pub s: u32,
    /// 1 in training mode (batch statistics, running stats move), 0 in eval mode.
    pub train: u32,
    /// Running-stat momentum (PyTorch's: new = (1 − m)·old + m·batch).
    pub momentum: f32,
    /// Added to the variance inside the square root.
    pub eps: f32,
    /// Row stride of `sums` (the second row starts here; a multiple of 64 so views are aligned).
    pub stride: u32,
    /// `batch_norm_forward_act`: the activation after it ([`Activation::shader_kind`]).
    pub act_kind: u32,
    /// `batch_norm_forward_act`: the activation's parameter (LeakyReLU's slope).
    pub act_param: f32,
    /// Padding to 48 bytes.
    pub pad: [u32; 3],
}

/// Elements of a `sums` row for `c` channels: rounded up to [`crate::params::ALIGN`], so the
/// second row is a view any adapter can bind.
pub fn sums_stride(c: usize) -> usize {
    c.div_ceil(crate::params::ALIGN) * crate::params::ALIGN
}

/// Splits a batch-norm input [N, C, …] into (N, C, S); fails on fewer than 2 dims, and in
/// training mode on one value per channel (PyTorch's error).
pub fn batch_norm_dims(x: &[usize], train: bool) -> Result<(usize, usize, usize)> {
    if x.len() < 2 {
        return Err(shape_error("batch_norm", format!("expects [N, C] or [N, C, …], got {}", ShapeDisplay(x))));
    }
    let (n, c, s) = (x[0], x[1], x[2..].iter().product::<usize>());
    if train && n * s <= 1 {
        return Err(shape_error(
            "batch_norm",
            format!(
                "expected more than 1 value per channel when training, got input size {} (use a batch larger than 1)",
                ShapeDisplay(x)
            ),
        ));
    }
    Ok((n, c, s))
}

/// Checks the per-channel operands of batch norm: each of `named` is `[C]`.
pub fn check_channels(op: &'static str, c: usize, named: &[(&str, &[usize])]) -> Result<()> {
    for (name, shape) in named {
        expect_shape(op, name, shape, &[c])?;
    }
    Ok(())
}

/// Splits a layer-norm input into (rows, M) for a weight of shape `normalized` (the last dims of x).
pub fn layer_norm_dims(x: &[usize], normalized: &[usize]) -> Result<(usize, usize)> {
    if normalized.is_empty() || x.len() < normalized.len() || x[x.len() - normalized.len()..] != *normalized {
        return Err(shape_error(
            "layer_norm",
            format!(
                "the input's last dims must be the normalized shape {}, got an input of {}",
                ShapeDisplay(normalized),
                ShapeDisplay(x)
            ),
        ));
    }
    let m: usize = normalized.iter().product();
    Ok((x.iter().product::<usize>() / m.max(1), m))
}

/// Batch norm's mode: training (batch statistics; the running stats move by `momentum`) or eval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormMode {
    /// Training mode.
    pub train: bool,
    /// Running-stat momentum (PyTorch's default 0.1).
    pub momentum: f32,
    /// Added to the variance (PyTorch's default 1e-5).
    pub eps: f32,
}

/// Checks batch norm's tensors (y or dx like x, `saved` [2, C]) and builds its uniform.
pub fn batch_norm_params(
    op: &'static str,
    y: &[usize],
    saved: &[usize],
    x: &[usize],
    mode: &BatchNormMode,
) -> Result<NormParams> {
    let (n, c, s) = batch_norm_dims(x, mode.train)?;
    expect_shape(op, "output", y, x)?;
    expect_shape(op, "saved", saved, &[2, c])?;
    Ok(NormParams {
        n: n as u32,
        c: c as u32,
        s: s as u32,
        train: mode.train as u32,
        momentum: mode.momentum,
        eps: mode.eps,
        stride: sums_stride(c) as u32,
        ..Default::default()
    })
}

/// Checks layer norm's tensors (y or dx like x, `saved` [2, rows]) and builds its uniform.
pub fn layer_norm_params(
    op: &'static str,
    y: &[usize],
    saved: &[usize],
    x: &[usize],
    normalized: &[usize],
    eps: f32,
) -> Result<NormParams> {
    let (rows, m) = layer_norm_dims(x, normalized)?;
    expect_shape(op, "output", y, x)?;
    expect_shape(op, "saved", saved, &[2, rows])?;
    Ok(NormParams {
        n: rows as u32,
        c: m as u32,
        s: 1,
        train: 0,
        momentum: 0.0,
        eps,
        stride: sums_stride(m) as u32,
        ..Default::default()
    })
}

/// Checks `layer_norm_param_grad`'s tensors: `sums` [2, stride(M)], `saved` [2, rows], dy like x.
pub fn layer_norm_grad_params(sums: &[usize], saved: &[usize], x: &[usize], dy: &[usize]) -> Result<NormParams> {
    let op = "layer_norm_param_grad";
    expect_shape(op, "dy", dy, x)?;
    let [two, rows] = *saved else {
        return Err(shape_error(op, format!("saved must be [2, rows], got {}", ShapeDisplay(saved))));
    };
    if two != 2 || rows == 0 || x.iter().product::<usize>() % rows != 0 {
        return Err(shape_error(op, format!("saved {} does not match x {}", ShapeDisplay(saved), ShapeDisplay(x))));
    }
    let m = x.iter().product::<usize>() / rows;
    expect_shape(op, "sums", sums, &[2, sums_stride(m)])?;
    Ok(NormParams {
        n: rows as u32,
        c: m as u32,
        s: 1,
        train: 0,
        momentum: 0.0,
        eps: 0.0,
        stride: sums_stride(m) as u32,
        ..Default::default()
    })
}

/// Batch norm over x [N, C, …]: `y`, `saved` [2, C] = (mean, 1/σ); in training mode the
/// running stats `[C]` move. One workgroup per channel. With `then` = (activation, act_out)
/// the same pass also writes `act_out = act(y)` (`batch_norm_forward_act`); y is kept, the
/// activation's backward reads it.
#[allow(clippy::too_many_arguments, reason = "the kernel's bindings, one argument each")]
pub fn batch_norm_forward<B: Backend>(
    be: &B,
    y: &mut B::Tensor,
    saved: &mut B::Tensor,
    running_mean: &mut B::Tensor,
    running_var: &mut B::Tensor,
    x: &B::Tensor,
    weight: &B::Tensor,
    bias: &B::Tensor,
    mode: &BatchNormMode,
    then: Option<(Activation, &mut B::Tensor)>,
) -> Result<()> {
    let op = if then.is_some() { "batch_norm_forward_act" } else { "batch_norm_forward" };
    let mut p = batch_norm_params(op, be.shape(y), be.shape(saved), be.shape(x), mode)?;
    let channels = [
        ("running_mean", be.shape(running_mean)),
        ("running_var", be.shape(running_var)),
        ("weight", be.shape(weight)),
        ("bias", be.shape(bias)),
    ];
    check_channels(op, p.c as usize, &channels)?;
    // The fused kernel binds act_out eighth; the plain one binds seven (x fills the unused slot).
    let (kernel, bound, act_out) = match then {
        None => (&registry::BATCH_NORM_FORWARD, 7, x),
        Some((act, act_out)) => {
            expect_shape(op, "act_out", be.shape(act_out), be.shape(x))?;
            p.act_kind = act.shader_kind();
            p.act_param = act.parameter();
            (&registry::BATCH_NORM_FORWARD_ACT, 8, &*act_out)
        }
    };
    let args = &mut [
        Arg::Write(y),
        Arg::Write(saved),
        Arg::Write(running_mean),
        Arg::Write(running_var),
        Arg::Read(x),
        Arg::Read(weight),
        Arg::Read(bias),
        Arg::Write(act_out),
    ];
    be.launch(kernel, bytemuck::bytes_of(&p), &mut args[..bound], Grid::Fixed(p.c, 1, 1))
}

/// Batch norm backward: `dx` and `sums` [2, stride] = (Σ dy·x̂, Σ dy) per channel.
#[allow(clippy::too_many_arguments, reason = "the kernel's bindings, one argument each")]
pub fn batch_norm_backward<B: Backend>(
    be: &B,
    dx: &mut B::Tensor,
    sums: &mut B::Tensor,
    x: &B::Tensor,
    weight: &B::Tensor,
    saved: &B::Tensor,
    dy: &B::Tensor,
    mode: &BatchNormMode,
) -> Result<()> {
    let op = "batch_norm_backward";
    let p = batch_norm_params(op, be.shape(dx), be.shape(saved), be.shape(x), mode)?;
    expect_shape(op, "dy", be.shape(dy), be.shape(x))?;
    expect_shape(op, "sums", be.shape(sums), &[2, p.stride as usize])?;
    check_channels(op, p.c as usize, &[("weight", be.shape(weight))])?;
    let args =
        &mut [Arg::Write(dx), Arg::Write(sums), Arg::Read(x), Arg::Read(weight), Arg::Read(saved), Arg::Read(dy)];
    be.launch(&registry::BATCH_NORM_BACKWARD, bytemuck::bytes_of(&p), args, Grid::Fixed(p.c, 1, 1))
}

/// Layer norm over the last dims of x (the weight's shape): `y` and `saved` [2, rows]. One
/// workgroup per row.
pub fn layer_norm_forward<B: Backend>(
    be: &B,
    y: &mut B::Tensor,
    saved: &mut B::Tensor,
    x: &B::Tensor,
    weight: &B::Tensor,
    bias: &B::Tensor,
    eps: f32,
) -> Result<()> {
    let op = "layer_norm_forward";
    let p = layer_norm_params(op, be.shape(y), be.shape(saved), be.shape(x), be.shape(weight), eps)?;
    expect_shape(op, "bias", be.shape(bias), be.shape(weight))?;
    let args = &mut [Arg::Write(y), Arg::Write(saved), Arg::Read(x), Arg::Read(weight), Arg::Read(bias)];
    let grid = Grid::Blocks { items: p.n as usize, per_group: 1 };
    be.launch(&registry::LAYER_NORM_FORWARD, bytemuck::bytes_of(&p), args, grid)
}

/// Layer norm input gradient.
pub fn layer_norm_backward<B: Backend>(
    be: &B,
    dx: &mut B::Tensor,
    x: &B::Tensor,
    weight: &B::Tensor,
    saved: &B::Tensor,
    dy: &B::Tensor,
) -> Result<()> {
    let op = "layer_norm_backward";
    let p = layer_norm_params(op, be.shape(dx), be.shape(saved), be.shape(x), be.shape(weight), 0.0)?;
    expect_shape(op, "dy", be.shape(dy), be.shape(x))?;
    let args = &mut [Arg::Write(dx), Arg::Read(x), Arg::Read(weight), Arg::Read(saved), Arg::Read(dy)];
    let grid = Grid::Blocks { items: p.n as usize, per_group: 1 };
    be.launch(&registry::LAYER_NORM_BACKWARD, bytemuck::bytes_of(&p), args, grid)
}

/// Layer norm parameter gradients: `sums` [2, stride] = (Σ dy·x̂, Σ dy) per normalised element.
pub fn layer_norm_param_grad<B: Backend>(
    be: &B,
    sums: &mut B::Tensor,
    x: &B::Tensor,
    saved: &B::Tensor,
    dy: &B::Tensor,
) -> Result<()> {
    let p = layer_norm_grad_params(be.shape(sums), be.shape(saved), be.shape(x), be.shape(dy))?;
    let args = &mut [Arg::Write(sums), Arg::Read(x), Arg::Read(saved), Arg::Read(dy)];
    be.launch(&registry::LAYER_NORM_PARAM_GRAD, bytemuck::bytes_of(&p), args, Grid::Items(p.c as usize))
}
