//! The fused losses (MSE, cross-entropy with integer labels, BCE on logits): the mean loss and
//! the gradient in one workgroup. Kernel: `shaders/loss.wgsl`.

pub mod cpu;

pub use crate::backend::checks::IGNORE_LABEL;
use crate::backend::checks::{rows, scalar_out};
use crate::backend::kernel::{Arg, Grid, Kernel};
use crate::backend::Backend;
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::ops::registry;

/// Mirrors `Params` in loss.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LossParams {
    /// Rows.
    pub rows: u32,
    /// Columns.
    pub cols: u32,
    /// Padding.
    pub pad0: [u32; 2],
    /// 1 / the count the mean is over.
    pub inv_count: f32,
    /// Padding to 32 bytes.
    pub pad1: [f32; 3],
}

impl LossParams {
    fn new(rows: usize, cols: usize, count: usize) -> Self {
        Self { rows: rows as u32, cols: cols as u32, pad0: [0; 2], inv_count: 1.0 / count as f32, pad1: [0.0; 3] }
    }
}

/// Mean squared error over all elements: `loss[0]` and `dpred = ∂loss/∂pred`.
pub fn mse_loss<B: Backend>(
    be: &B,
    loss: &mut B::Tensor,
    dpred: &mut B::Tensor,
    pred: &B::Tensor,
    target: &B::Tensor,
) -> Result<()> {
    with_target(be, &registry::MSE_LOSS, loss, dpred, pred, target)
}

/// Binary cross-entropy on logits, mean over all elements: `loss[0]` and `dlogits`.
pub fn bce_with_logits_loss<B: Backend>(
    be: &B,
    loss: &mut B::Tensor,
    dlogits: &mut B::Tensor,
    logits: &B::Tensor,
    target: &B::Tensor,
) -> Result<()> {
    with_target(be, &registry::BCE_WITH_LOGITS_LOSS, loss, dlogits, logits, target)
}

/// MSE and BCE: one workgroup over every element.
fn with_target<B: Backend>(
    be: &B,
    kernel: &'static Kernel,
    loss: &mut B::Tensor,
    grad: &mut B::Tensor,
    input: &B::Tensor,
    target: &B::Tensor,
) -> Result<()> {
    let shapes = (be.shape(loss), be.shape(grad), be.shape(input), be.shape(target));
    let (r, c) = loss_with_target(kernel.entry, shapes.0, shapes.1, shapes.2, shapes.3)?;
    let p = LossParams::new(r, c, r * c);
    let args = &mut [Arg::Write(loss), Arg::Write(grad), Arg::Read(input), Arg::Read(target)];
    be.launch(kernel, bytemuck::bytes_of(&p), args, Grid::Fixed(1, 1, 1))
}

/// Softmax cross-entropy with integer targets, mean over the rows whose label is not
/// [`IGNORE_LABEL`] (PyTorch's `ignore_index = -1`; those rows get a zero gradient): `loss[0]`
/// and `dlogits`. Logits `[B, T, V]` (or `[B·T, V]`) with B·T labels is the token
/// cross-entropy of a language model. The kernel counts the rows itself: the labels may have
/// been gathered on the device.
pub fn cross_entropy_loss<B: Backend>(
    be: &B,
    loss: &mut B::Tensor,
    dlogits: &mut B::Tensor,
    logits: &B::Tensor,
    labels: &B::U32Buffer,
) -> Result<()> {
    let (b, c) = cross_entropy(be.shape(loss), be.shape(logits), be.shape(dlogits), be.u32_len(labels))?;
    let p = LossParams::new(b, c, b);
    let args = &mut [Arg::Write(loss), Arg::Write(dlogits), Arg::Read(logits), Arg::ReadU32(labels)];
    be.launch(&registry::CROSS_ENTROPY_LOSS, bytemuck::bytes_of(&p), args, Grid::Fixed(1, 1, 1))
}

/// A loss with a target like its input (MSE, BCE): a one-element `loss`, equal non-empty
/// shapes; returns (rows, cols).
pub fn loss_with_target(
    op: &'static str,
    loss: &[usize],
    grad: &[usize],
    input: &[usize],
    target: &[usize],
) -> Result<(usize, usize)> {
    scalar_out(op, loss)?;
    let (r, c) = rows(op, &[("input", input), ("target", target), ("gradient", grad)])?;
    non_empty(op, r, c)?;
    Ok((r, c))
}

/// Logits (B,C), or (B,T,C) flattened to (B·T, C), and as many labels as rows for
/// cross-entropy, a one-element `loss`: returns (rows, C).
pub fn cross_entropy(loss: &[usize], logits: &[usize], dlogits: &[usize], labels: usize) -> Result<(usize, usize)> {
    scalar_out("cross_entropy_loss", loss)?;
    let flat = |s: &[usize]| -> Vec<usize> {
        match s {
            [.., c] if s.len() > 2 => vec![s[..s.len() - 1].iter().product(), *c],
            _ => s.to_vec(),
        }
    };
    if logits != dlogits {
        return Err(shape_error(
            "cross_entropy_loss",
            format!("logits {} and dlogits {} differ", ShapeDisplay(logits), ShapeDisplay(dlogits)),
        ));
    }
    let (b, c) = rows("cross_entropy_loss", &[("logits", &flat(logits)), ("dlogits", &flat(dlogits))])?;
    non_empty("cross_entropy_loss", b, c)?;
    if labels != b {
        return Err(shape_error(
            "cross_entropy_loss",
            format!("logits {} has {b} rows but {labels} labels were given", ShapeDisplay(logits)),
        ));
    }
    Ok((b, c))
}

/// A mean-reduced loss needs at least one element (and one class for cross-entropy).
pub fn non_empty(op: &'static str, rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(shape_error(op, format!("the mean over a [{rows}, {cols}] input is undefined: it is empty")));
    }
    Ok(())
}
