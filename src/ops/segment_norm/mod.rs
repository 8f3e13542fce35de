//! Per-tensor norms over a flat buffer (LAMB's trust ratio): for each segment (a tensor of the
//! parameter layout: its offset and length), `‖a‖₂ / ‖b‖₂` (1 where either norm is 0), written
//! to every ALIGN-element chunk of the segment so the fused update reads it per chunk.
//! Kernel: `shaders/segment_norm.wgsl`.

pub mod cpu;

use crate::backend::kernel::{Arg, Grid};
use crate::backend::Backend;
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::ops::registry;
use crate::params::{ParamLayout, ALIGN};
use crate::tensor::numel;

/// A layout's segments for the kernel: (offset, length) of each tensor, as u32 pairs.
pub fn segments(layout: &ParamLayout) -> Vec<u32> {
    layout.views().iter().flat_map(|v| [v.offset as u32, v.len() as u32]).collect()
}

/// Mirrors `Params` in segment_norm.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SegmentParams {
    /// Segments (one workgroup each).
    pub segments: u32,
    /// Where `b`'s values start.
    pub b_offset: u32,
    /// Padding to 16 bytes.
    pub pad: [u32; 2],
}

/// LAMB's trust ratios: for each segment (offset, length) of `segments` (u32 pairs, see
/// [`segments`]), `‖a‖₂/‖b‖₂` over it (b read from `b_offset`), or 1 where either is 0, written
/// to `out[1 + chunk]` for each of its ALIGN-element chunks; `out[0]` is left alone. `out` holds
/// 1 + n/ALIGN values for the flat `[n]` buffer `a`. One workgroup per segment.
pub fn trust_ratio<B: Backend>(
    be: &B,
    out: &mut B::Tensor,
    a: &B::Tensor,
    b: &B::Tensor,
    b_offset: usize,
    segments: &B::U32Buffer,
) -> Result<()> {
    let words = be.u32_len(segments);
    check(be.shape(out), be.shape(a), be.shape(b), b_offset, words)?;
    let p = SegmentParams { segments: (words / 2) as u32, b_offset: b_offset as u32, pad: [0; 2] };
    let args = &mut [Arg::Write(out), Arg::Read(a), Arg::Read(b), Arg::ReadU32(segments)];
    be.launch(&registry::TRUST_RATIO, bytemuck::bytes_of(&p), args, Grid::Fixed((words / 2) as u32, 1, 1))
}

/// Checks a trust-ratio call's shapes: `out` holds 1 + n/ALIGN values (the first is left
/// alone), `a` is the flat `[n]` buffer, `b` holds `n` values from `b_offset`, and the segment
/// table is whole (offset, length) pairs; returns n.
pub fn check(out: &[usize], a: &[usize], b: &[usize], b_offset: usize, words: usize) -> Result<usize> {
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
    if !words.is_multiple_of(2) {
        return Err(shape_error(op, "segments must be (offset, length) pairs"));
    }
    Ok(n)
}

/// Checks each segment is an aligned range of the `n` values (where the table is on the host:
/// the CPU twin; the GPU path's table is built by [`segments`] from the layout).
pub fn check_segments(segments: &[u32], n: usize) -> Result<()> {
    let op = "trust_ratio";
    for pair in segments.chunks(2) {
        let (offset, len) = (pair[0] as usize, pair[1] as usize);
        if !offset.is_multiple_of(ALIGN) || offset + len > n {
            return Err(shape_error(
                op,
                format!("segment ({offset}, {len}) is not an aligned range of the {n} values"),
            ));
        }
    }
    Ok(())
}
