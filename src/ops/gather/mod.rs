//! Batches gathered on the device from a resident data set by a permutation. Kernel:
//! `shaders/gather.wgsl`.

pub mod cpu;

use crate::backend::kernel::{Arg, Grid};
use crate::backend::Backend;
use crate::error::{shape_error, Result};
use crate::ops::registry;
use crate::tensor::as_matrix;

/// Mirrors `Params` in gather.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GatherParams {
    /// Rows gathered.
    pub rows: u32,
    /// Row width (1 for labels).
    pub cols: u32,
    /// First index used.
    pub offset: u32,
    /// Padding to 16 bytes.
    pub pad: u32,
}

/// `out[r, :] = x[idx[offset + r], :]` for every row r of out: a batch gathered on the device.
/// Indices are range-checked where they are on the host (the CPU twin); on the device WGSL
/// clamps out-of-range reads, and the trainer only uploads permutations of the rows it holds.
pub fn gather_rows<B: Backend>(
    be: &B,
    out: &mut B::Tensor,
    x: &B::Tensor,
    idx: &B::U32Buffer,
    offset: usize,
) -> Result<()> {
    let (rows, cols) = as_matrix("gather_rows", be.shape(out))?;
    let (_, src_cols) = as_matrix("gather_rows", be.shape(x))?;
    gather("gather_rows", rows, offset, be.u32_len(idx))?;
    if cols != src_cols {
        return Err(shape_error(
            "gather_rows",
            format!("out {:?} and x {:?} rows differ in width", be.shape(out), be.shape(x)),
        ));
    }
    let p = GatherParams { rows: rows as u32, cols: cols as u32, offset: offset as u32, pad: 0 };
    let args = &mut [Arg::Write(out), Arg::Read(x), Arg::ReadU32(idx)];
    be.launch(&registry::GATHER_ROWS, bytemuck::bytes_of(&p), args, Grid::Items(rows * cols))
}

/// `out[r] = labels[idx[offset + r]]`: the batch's labels.
pub fn gather_labels<B: Backend>(
    be: &B,
    out: &mut B::U32Buffer,
    labels: &B::U32Buffer,
    idx: &B::U32Buffer,
    offset: usize,
) -> Result<()> {
    let rows = be.u32_len(out);
    gather("gather_labels", rows, offset, be.u32_len(idx))?;
    let p = GatherParams { rows: rows as u32, cols: 1, offset: offset as u32, pad: 0 };
    let args = &mut [Arg::ReadU32(idx), Arg::WriteU32(out), Arg::ReadU32(labels)];
    be.launch(&registry::GATHER_LABELS, bytemuck::bytes_of(&p), args, Grid::Items(rows))
}

/// A gather of `rows` rows through indices `offset..offset + rows` of an index list of
/// `idx_len`.
pub fn gather(op: &'static str, rows: usize, offset: usize, idx_len: usize) -> Result<()> {
    if offset + rows > idx_len {
        return Err(shape_error(op, format!("rows {offset}..{} of an index list of {idx_len}", offset + rows)));
    }
    Ok(())
}
