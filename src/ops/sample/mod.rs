//! Sampling class labels from a model's own predictions (Sophia-G's Gauss-Newton-Bartlett
//! Hessian estimate): one label per row of logits, drawn from softmax(row) with a
//! counter-based hash of (row, key), so both paths draw the same labels for the same key.
//! Kernel: `shaders/sample.wgsl`.

pub mod cpu;

use crate::backend::kernel::{Arg, Grid};
use crate::backend::Backend;
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::ops::registry;
use crate::tensor::as_matrix;

/// Checks the shapes: logits `[rows, classes]` (or rows of any leading shape), one label per row.
pub fn check(labels: usize, logits: &[usize]) -> Result<(usize, usize)> {
    let (rows, classes) = as_matrix("sample_labels", logits)?;
    if labels != rows {
        return Err(shape_error(
            "sample_labels",
            format!("{labels} labels for logits of {} ({rows} rows)", ShapeDisplay(logits)),
        ));
    }
    Ok((rows, classes))
}

/// Mirrors `Params` in sample.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SampleParams {
    /// Rows (one label each).
    pub rows: u32,
    /// Classes per row.
    pub classes: u32,
    /// The hash key of this draw.
    pub key: u32,
    /// Padding to 16 bytes.
    pub pad: u32,
}

/// One class label per row of `logits`, drawn from softmax(row) with a hash of (row, `key`):
/// the same labels on both paths for the same key. Sophia-G's Hessian estimate trains on them.
pub fn sample_labels<B: Backend>(be: &B, labels: &mut B::U32Buffer, logits: &B::Tensor, key: u32) -> Result<()> {
    let (rows, classes) = check(be.u32_len(labels), be.shape(logits))?;
    let p = SampleParams { rows: rows as u32, classes: classes as u32, key, pad: 0 };
    let args = &mut [Arg::WriteU32(labels), Arg::Read(logits)];
    be.launch(&registry::SAMPLE_LABELS, bytemuck::bytes_of(&p), args, Grid::Items(rows))
}
