//! Sampling class labels from a model's own predictions (Sophia-G's Gauss-Newton-Bartlett
//! Hessian estimate): one label per row of logits, drawn from softmax(row) with a
//! counter-based hash of (row, key), so both paths draw the same labels for the same key.
//! Kernel: `shaders/sample.wgsl`.

pub mod cpu;
mod gpu;

use crate::error::{shape_error, Result, ShapeDisplay};
use crate::tensor::as_matrix;

/// Checks the shapes: logits `[rows, classes]` (or rows of any leading shape), one label per row.
pub fn sample_labels(labels: usize, logits: &[usize]) -> Result<(usize, usize)> {
    let (rows, classes) = as_matrix("sample_labels", logits)?;
    if labels != rows {
        return Err(shape_error(
            "sample_labels",
            format!("{labels} labels for logits of {} ({rows} rows)", ShapeDisplay(logits)),
        ));
    }
    Ok((rows, classes))
}
