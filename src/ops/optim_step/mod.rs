//! The fused optimizer update over one flat buffer: the clip, then the optimizer's own
//! per-element update (its file in src/optim). Kernels: `shaders/optim/<name>.wgsl`.

pub mod cpu;
mod gpu;

use crate::backend::checks::{elementwise, scalar_out};
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::tensor::numel;

/// Shapes of an optimizer step: params and grads (n) with n a multiple of ALIGN, state a whole
/// number of slots of n, a table of whole blocks, one group per chunk, and a norm of one
/// element (the global gradient norm) or 1 + one per chunk (LAMB's per-chunk trust ratios).
pub fn optimizer_step(
    params: &[usize],
    grads: &[usize],
    state: &[usize],
    table: &[usize],
    chunks: usize,
    norm: &[usize],
) -> Result<usize> {
    let op = "optimizer_step";
    let n = elementwise(op, &[("params", params), ("grads", grads)])?;
    if !n.is_multiple_of(crate::params::ALIGN) || chunks != n / crate::params::ALIGN {
        return Err(shape_error(
            op,
            format!(
                "{n} parameters need {} chunk groups of {}, got {chunks}",
                n.div_ceil(crate::params::ALIGN),
                crate::params::ALIGN
            ),
        ));
    }
    let s = numel(state);
    if n > 0 && !s.is_multiple_of(n) {
        return Err(shape_error(
            op,
            format!("state {} is not a whole number of {n}-element slots", ShapeDisplay(state)),
        ));
    }
    if !numel(table).is_multiple_of(crate::optim::HYPER_LEN) || numel(table) == 0 {
        return Err(shape_error(op, format!("table {} is not a whole number of group blocks", ShapeDisplay(table))));
    }
    if numel(norm) != 1 + chunks {
        scalar_out(op, norm)?;
    }
    Ok(n)
}

/// The error for an optimizer whose update is not the elementwise fused step.
pub(crate) fn per_tensor_only(kind: crate::optim::OptimKind) -> crate::Error {
    crate::Error::InvalidArgument {
        what: "optimizer_step".into(),
        detail: format!("{kind:?} updates per tensor: it runs through Backend::adafactor_step"),
    }
}

/// Shapes of Adafactor's step: the fused step's, with a tensor table of whole entries.
pub fn adafactor_step(
    params: &[usize],
    grads: &[usize],
    state: &[usize],
    table: &[usize],
    tensors: usize,
) -> Result<usize> {
    let n = elementwise("adafactor_step", &[("params", params), ("grads", grads)])?;
    if numel(state) != 2 * n {
        return Err(shape_error(
            "adafactor_step",
            format!("state must hold 2 slots of {n}, got {}", ShapeDisplay(state)),
        ));
    }
    if !numel(table).is_multiple_of(crate::optim::HYPER_LEN) || numel(table) == 0 {
        return Err(shape_error(
            "adafactor_step",
            format!("table {} is not a whole number of group blocks", ShapeDisplay(table)),
        ));
    }
    if !tensors.is_multiple_of(crate::optim::adafactor::META_LEN) {
        return Err(shape_error("adafactor_step", "the tensor table is not a whole number of entries"));
    }
    Ok(n)
}
