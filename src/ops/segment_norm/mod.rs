//! Per-tensor norms over a flat buffer (LAMB's trust ratio): for each segment (a tensor of the
//! parameter layout: its offset and length), `‖a‖₂ / ‖b‖₂` (1 where either norm is 0), written
//! to every ALIGN-element chunk of the segment so the fused update reads it per chunk.
//! Kernel: `shaders/segment_norm.wgsl`.

pub mod cpu;
mod gpu;

use crate::error::{shape_error, Result, ShapeDisplay};
use crate::params::{ParamLayout, ALIGN};
use crate::tensor::numel;

/// A layout's segments for the kernel: (offset, length) of each tensor, as u32 pairs.
pub fn segments(layout: &ParamLayout) -> Vec<u32> {
    layout.views().iter().flat_map(|v| [v.offset as u32, v.len() as u32]).collect()
}

/// Checks a trust-ratio call: `out` holds 1 + n/ALIGN values (the first is left alone), `a`
/// is the flat `[n]` buffer, `b` holds `n` values from `b_offset`, the segments lie inside.
pub fn trust_ratio(out: &[usize], a: &[usize], b: &[usize], b_offset: usize, segments: &[u32]) -> Result<usize> {
    let op = "trust_ratio";
    let n = numel(a);
    if !n.is_multiple_of(ALIGN) || numel(out) != 1 + n / ALIGN {
        return Err(shape_error(
            op,
            format!("out must hold 1 + n/{ALIGN} values for a of {}, got {}", ShapeDisplay(a), ShapeDisplay(out)),
        ));
    }
    if numel(b) < b_offset + n {
        return Err(shape_error(op, format!("b of {} has no {n} values from {b_offset}", ShapeDisplay(b))));
    }
    if !segments.len().is_multiple_of(2) {
        return Err(shape_error(op, "segments must be (offset, length) pairs"));
    }
    for pair in segments.chunks(2) {
        let (offset, len) = (pair[0] as usize, pair[1] as usize);
        if !offset.is_multiple_of(ALIGN) || offset + len > n {
            return Err(shape_error(
                op,
                format!("segment ({offset}, {len}) is not an aligned range of the {n} values"),
            ));
        }
    }
    Ok(n)
}
