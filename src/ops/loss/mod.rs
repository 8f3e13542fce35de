//! The fused losses (MSE, cross-entropy with integer labels, BCE on logits): the mean loss and
//! the gradient in one workgroup. Kernel: `shaders/loss.wgsl`.

pub mod cpu;
mod gpu;

use crate::backend::checks::{rows, scalar_out};
use crate::error::{shape_error, Result, ShapeDisplay};

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

/// Logits (B,C) and B labels for cross-entropy, a one-element `loss`: returns (B, C).
pub fn cross_entropy(loss: &[usize], logits: &[usize], dlogits: &[usize], labels: usize) -> Result<(usize, usize)> {
    scalar_out("cross_entropy_loss", loss)?;
    let (b, c) = rows("cross_entropy_loss", &[("logits", logits), ("dlogits", dlogits)])?;
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
