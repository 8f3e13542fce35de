//! The head split and merge of multi-head attention: `[B, T, W]` ↔ `[B, H, T, D]`. A split reads
//! the columns `offset..offset + H·D` of each row (so q, k and v are split straight out of
//! `c_attn`'s `[B, T, 3C]` output at offsets 0, C and 2C) as `[B, T, H, D]` and transposes them
//! to `[B, H, T, D]`, PyTorch's `x[..., off:off+C].view(B, T, H, D).transpose(1, 2)`. A merge is
//! its adjoint: it writes those columns back and leaves the others alone, so it is both
//! `y.transpose(1, 2).reshape(B, T, C)` and the split's backward (and the split the merge's).

pub mod cpu;

use crate::backend::kernel::{Arg, Grid, Kernel};
use crate::backend::Backend;
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::ops::registry;

/// Mirrors `HeadsParams` in heads.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct HeadsParams {
    /// Batch B.
    pub batch: u32,
    /// Positions T.
    pub time: u32,
    /// Heads H.
    pub heads: u32,
    /// Width of one head D.
    pub dim: u32,
    /// Row width W of the `[B, T, W]` side.
    pub width: u32,
    /// First column of that side holding the heads.
    pub offset: u32,
    /// Elements of the `[B, H, T, D]` side.
    pub n: u32,
    /// Padding to 32 bytes.
    pub pad0: u32,
}

/// Checks a `[B, T, W]` side against a `[B, H, T, D]` side and a column offset, naming `op`.
pub fn check(op: &'static str, rows: &[usize], heads: &[usize], offset: usize) -> Result<HeadsParams> {
    let (&[b, t, w], &[hb, h, ht, d]) = (rows, heads) else {
        return Err(shape_error(
            op,
            format!("expects [B, T, W] and [B, H, T, D], got {} and {}", ShapeDisplay(rows), ShapeDisplay(heads)),
        ));
    };
    if (b, t) != (hb, ht) || offset + h * d > w {
        return Err(shape_error(
            op,
            format!(
                "heads {} do not fit columns {offset}..{} of {} (batch and positions must agree)",
                ShapeDisplay(heads),
                offset + h * d,
                ShapeDisplay(rows)
            ),
        ));
    }
    let u = |v: usize| v as u32;
    Ok(HeadsParams {
        batch: u(b),
        time: u(t),
        heads: u(h),
        dim: u(d),
        width: u(w),
        offset: u(offset),
        n: u(b * h * t * d),
        pad0: 0,
    })
}

/// `out [B, H, T, D]` = the heads in columns `offset..offset + H·D` of `x [B, T, W]`.
pub fn split_heads<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor, offset: usize) -> Result<()> {
    let p = check("split_heads", be.shape(x), be.shape(out), offset)?;
    launch(be, &registry::SPLIT_HEADS, &p, out, x)
}

/// Columns `offset..offset + H·D` of `out [B, T, W]` = the heads `x [B, H, T, D]` merged back;
/// the other columns are not touched.
pub fn merge_heads<B: Backend>(be: &B, out: &mut B::Tensor, x: &B::Tensor, offset: usize) -> Result<()> {
    let p = check("merge_heads", be.shape(out), be.shape(x), offset)?;
    launch(be, &registry::MERGE_HEADS, &p, out, x)
}

/// One launch over the `[B, H, T, D]` side's elements.
fn launch<B: Backend>(be: &B, kernel: &'static Kernel, p: &HeadsParams, out: &B::Tensor, x: &B::Tensor) -> Result<()> {
    be.launch(kernel, bytemuck::bytes_of(p), &mut [Arg::Write(out), Arg::Read(x)], Grid::Items(p.n as usize))
}
