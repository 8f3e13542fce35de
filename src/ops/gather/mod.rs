//! Batches gathered on the device from a resident data set by a permutation. Kernel:
//! `shaders/gather.wgsl`.

pub mod cpu;
mod gpu;

use crate::error::{shape_error, Result};

/// A gather of `rows` rows through indices `offset..offset + rows` of an index list of
/// `idx_len`.
pub fn gather(op: &'static str, rows: usize, offset: usize, idx_len: usize) -> Result<()> {
    if offset + rows > idx_len {
        return Err(shape_error(op, format!("rows {offset}..{} of an index list of {idx_len}", offset + rows)));
    }
    Ok(())
}
