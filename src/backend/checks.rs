//! Shape checks shared by both paths, so each op refuses the same inputs with the same message.

use crate::error::{shape_error, Result, ShapeDisplay};
use crate::tensor::{as_matrix, numel, same_shape};

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

/// The label of a position that does not count (PyTorch's `ignore_index = -1` as a u32): the
/// token cross-entropy skips it and means over the other positions.
pub const IGNORE_LABEL: u32 = u32::MAX;

/// Checks that every label is below `classes`, naming the first one that is not.
pub fn labels(labels: &[u32], classes: usize) -> Result<()> {
    let outside = |l: u32| l != IGNORE_LABEL && l as usize >= classes;
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| outside(l)) {
        return Err(crate::error::Error::InvalidArgument {
            what: "labels".into(),
            detail: format!("label {l} at index {i} is outside the {classes} classes (expected 0..{})", classes),
        });
    }
    Ok(())
}

/// Checks that every index of `what` is below `len`, naming the first that is not.
pub fn indices(what: &str, values: &[u32], len: usize) -> Result<()> {
    if let Some((i, &v)) = values.iter().enumerate().find(|(_, &v)| v as usize >= len) {
        return Err(crate::error::Error::InvalidArgument {
            what: what.into(),
            detail: format!("index {v} at position {i} is past the {len} rows"),
        });
    }
    Ok(())
}

/// Two lengths that must agree (labels written over labels).
pub fn same_len(op: &'static str, have: usize, given: usize) -> Result<()> {
    if have != given {
        return Err(shape_error(op, format!("the destination holds {have} but {given} were given")));
    }
    Ok(())
}
