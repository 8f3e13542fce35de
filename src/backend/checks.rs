//! Shape checks shared by both paths, so each op refuses the same inputs with the same message.

use crate::error::{shape_error, Result, ShapeDisplay};
use crate::tensor::{as_matrix, numel, same_shape};

/// `x` (R,C) and `bias` (C): returns (R, C).
pub fn bias_add(x: &[usize], bias: &[usize]) -> Result<(usize, usize)> {
    let (r, c) = as_matrix("bias_add", x)?;
    if bias.len() != 1 || bias[0] != c {
        return Err(shape_error(
            "bias_add",
            format!("bias must be [{c}] for x of shape {}, got {}", ShapeDisplay(x), ShapeDisplay(bias)),
        ));
    }
    Ok((r, c))
}

/// `out` (C) and `x` (R,C): returns (R, C).
pub fn column_sum(out: &[usize], x: &[usize]) -> Result<(usize, usize)> {
    let (r, c) = as_matrix("column_sum", x)?;
    if out.len() != 1 || out[0] != c {
        return Err(shape_error(
            "column_sum",
            format!("out must be [{c}] for x of shape {}, got {}", ShapeDisplay(x), ShapeDisplay(out)),
        ));
    }
    Ok((r, c))
}

/// Elementwise op over tensors that must all share one shape: returns the element count.
pub fn elementwise(op: &'static str, named: &[(&str, &[usize])]) -> Result<usize> {
    let (first_name, first) = named[0];
    for (name, shape) in &named[1..] {
        same_shape(op, first_name, first, name, shape)?;
    }
    Ok(numel(first))
}

/// Row op (softmax, losses): all shapes equal and a matrix; returns (rows, cols).
pub fn rows(op: &'static str, named: &[(&str, &[usize])]) -> Result<(usize, usize)> {
    elementwise(op, named)?;
    as_matrix(op, named[0].1)
}

/// A one-element output of a reduction or loss.
pub fn scalar_out(op: &'static str, out: &[usize]) -> Result<()> {
    if numel(out) != 1 {
        return Err(shape_error(op, format!("out must hold one element, got shape {}", ShapeDisplay(out))));
    }
    Ok(())
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

/// A view of `shape` at element `offset` inside a tensor of shape `parent`, with the offset a
/// multiple of `align` elements: returns nothing, or an error naming what does not fit.
pub fn view(parent: &[usize], offset: usize, shape: &[usize], align: usize) -> Result<()> {
    let (len, total) = (numel(shape), numel(parent));
    if offset + len > total {
        return Err(shape_error(
            "view",
            format!(
                "a {} view at offset {offset} ends past the {total} elements of {}",
                ShapeDisplay(shape),
                ShapeDisplay(parent)
            ),
        ));
    }
    if !offset.is_multiple_of(align) {
        return Err(shape_error(
            "view",
            format!("offset {offset} is not a multiple of the device's view alignment ({align} elements)"),
        ));
    }
    Ok(())
}

/// A dropout probability in [0, 1).
pub fn dropout_p(p: f32) -> Result<()> {
    if !(0.0..1.0).contains(&p) {
        return Err(crate::error::Error::InvalidArgument {
            what: "dropout".into(),
            detail: format!("probability must be in [0, 1), got {p}"),
        });
    }
    Ok(())
}

/// Shapes of an optimizer step: params and grads (n) with n a multiple of ALIGN, state a whole
/// number of slots of n, a table of whole blocks, one group per chunk, a one-element norm.
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
    scalar_out(op, norm)?;
    Ok(n)
}

/// Two lengths that must agree (labels written over labels).
pub fn same_len(op: &'static str, have: usize, given: usize) -> Result<()> {
    if have != given {
        return Err(shape_error(op, format!("the destination holds {have} but {given} were given")));
    }
    Ok(())
}

/// A gather of `rows` rows through indices `offset..offset + rows` of an index list of
/// `idx_len`.
pub fn gather(op: &'static str, rows: usize, offset: usize, idx_len: usize) -> Result<()> {
    if offset + rows > idx_len {
        return Err(shape_error(op, format!("rows {offset}..{} of an index list of {idx_len}", offset + rows)));
    }
    Ok(())
}

/// The divergence guard's shapes: a two-element flag, one-element loss and sum of squares.
pub fn guard(flag: &[usize], loss: &[usize], sumsq: &[usize]) -> Result<()> {
    if numel(flag) != 2 {
        return Err(shape_error("first_nonfinite", format!("flag must hold 2 elements, got {}", ShapeDisplay(flag))));
    }
    scalar_out("first_nonfinite", loss)?;
    scalar_out("first_nonfinite", sumsq)
}

/// A dropout key slot inside the keys tensor.
pub fn key_slot(keys: usize, slot: usize) -> Result<()> {
    if slot >= keys {
        return Err(shape_error("dropout_forward", format!("key slot {slot} is outside the {keys} keys")));
    }
    Ok(())
}
