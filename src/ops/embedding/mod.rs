//! Embedding lookup: `out[r, :] = weight[idx[r], :]`, and its weight gradient, where repeated
//! indices accumulate and the `padding_idx` row gets none (PyTorch's rules). Indices travel as
//! f32 (exact below 2²⁴), so an embedding reads the same input tensors as every other layer.
//! The backward pass is in gather form (each weight element sums its rows), with no atomics.

pub mod cpu;

use super::expect_shape;
use crate::backend::kernel::{Arg, Grid};
use crate::backend::Backend;
use crate::error::{shape_error, Result};
use crate::ops::registry;

/// The uniform of embedding.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct EmbeddingParams {
    /// Looked-up rows R (the number of indices).
    pub rows: u32,
    /// Embedding width D.
    pub dim: u32,
    /// Vocabulary size V (rows of the weight).
    pub vocab: u32,
    /// The row that gets no gradient, or `u32::MAX` for none.
    pub padding_idx: u32,
    /// 1: add to the weight gradient (accumulation); 0: replace it.
    pub accumulate: u32,
    /// Padding to 32 bytes.
    pub pad: [u32; 3],
}

/// Checks an index tensor against the weight [V, D] and `dense` (the output or its gradient,
/// shaped like the indices plus a last dim D); returns the params (no padding_idx, no accumulation).
pub fn check(op: &'static str, idx: &[usize], weight: &[usize], dense: &[usize]) -> Result<EmbeddingParams> {
    let [vocab, dim] = *weight else {
        return Err(shape_error(op, format!("weight must be [vocab, dim], got {weight:?}")));
    };
    let rows: usize = idx.iter().product();
    let mut want = idx.to_vec();
    want.push(dim);
    expect_shape(op, "output", dense, &want)?;
    Ok(EmbeddingParams {
        rows: rows as u32,
        dim: dim as u32,
        vocab: vocab as u32,
        padding_idx: u32::MAX,
        accumulate: 0,
        pad: [0; 3],
    })
}

/// Fails unless every index is a whole number in 0..vocab (checked on the host where the data is).
pub fn check_indices(op: &'static str, idx: &[f32], vocab: usize) -> Result<()> {
    if let Some((i, v)) = idx.iter().enumerate().find(|(_, &v)| !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < vocab))
    {
        return Err(crate::error::Error::InvalidArgument {
            what: op.into(),
            detail: format!("index {v} at position {i} is not a whole number in 0..{vocab}"),
        });
    }
    Ok(())
}

/// `out[r, :] = weight[idx[r], :]` for the indices (as f32) in `idx`. The CPU twin checks the
/// indices where they are (an out-of-range one is an error); the shader clamps its reads, and
/// layers check indices on the host where the data are read.
pub fn embedding_forward<B: Backend>(be: &B, out: &mut B::Tensor, idx: &B::Tensor, weight: &B::Tensor) -> Result<()> {
    let p = check("embedding_forward", be.shape(idx), be.shape(weight), be.shape(out))?;
    let n = p.rows as usize * p.dim as usize;
    let args = &mut [Arg::Write(out), Arg::Read(idx), Arg::Read(weight)];
    be.launch(&registry::EMBEDDING_FORWARD, bytemuck::bytes_of(&p), args, Grid::Items(n))
}

/// Invocations per vocabulary row of the backward kernel (`EMB_THREADS` in embedding.wgsl).
const EMBEDDING_BACKWARD_THREADS: usize = 64;

/// `dweight[v, :] (+)= Σ_{r: idx[r] = v} dy[r, :]`; the `padding_idx` row gets nothing.
pub fn embedding_backward<B: Backend>(
    be: &B,
    dweight: &mut B::Tensor,
    idx: &B::Tensor,
    dy: &B::Tensor,
    padding_idx: Option<usize>,
    accumulate: bool,
) -> Result<()> {
    let mut p = check("embedding_backward", be.shape(idx), be.shape(dweight), be.shape(dy))?;
    p.padding_idx = padding_idx.map_or(u32::MAX, |v| v as u32);
    p.accumulate = accumulate as u32;
    // One workgroup of EMBEDDING_BACKWARD_THREADS per vocabulary row (see the shader).
    let grid = Grid::Blocks {
        items: p.vocab as usize * EMBEDDING_BACKWARD_THREADS,
        per_group: EMBEDDING_BACKWARD_THREADS as u32,
    };
    let args = &mut [Arg::Write(dweight), Arg::Read(idx), Arg::Read(dy)];
    be.launch(&registry::EMBEDDING_BACKWARD, bytemuck::bytes_of(&p), args, grid)
}
