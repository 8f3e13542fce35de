//! Inverted dropout with a counter-based hash mask, identical on both paths. Kernel:
//! `shaders/dropout.wgsl`.

pub mod cpu;

use crate::backend::kernel::{Arg, Grid};
use crate::backend::{checks, Backend};
use crate::error::{shape_error, Result};
use crate::ops::registry;
use crate::tensor::numel;

/// Mirrors `Params` in dropout.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DropoutParams {
    /// Elements.
    pub n: u32,
    /// ⌊p · 2³²⌋: an element is kept where its hash is at least this.
    pub threshold: u32,
    /// Where this call's key is in the keys tensor.
    pub slot: u32,
    /// Padding.
    pub pad0: u32,
    /// 1 / (1 − p).
    pub scale: f32,
    /// Padding to 32 bytes.
    pub pad1: [f32; 3],
}

impl DropoutParams {
    fn new(n: usize, threshold: u32, slot: usize, scale: f32) -> Self {
        Self { n: n as u32, threshold, slot: slot as u32, pad0: 0, scale, pad1: [0.0; 3] }
    }
}

/// Inverted dropout with drop probability `p` in [0, 1): `out = x ⊙ mask`, where the mask
/// (0 or 1/(1−p), written to `mask`) comes from a hash of the element index and a key
/// ([`crate::rng::dropout_key`]), identical on both paths. The key is element `slot` of
/// `keys`, u32 bits stored as f32 ([`crate::rng::key_bits`]): kept in a buffer, it changes
/// every step without making a new uniform.
pub fn dropout_forward<B: Backend>(
    be: &B,
    out: &mut B::Tensor,
    mask: &mut B::Tensor,
    x: &B::Tensor,
    p: f32,
    keys: &B::Tensor,
    slot: usize,
) -> Result<()> {
    dropout_p(p)?;
    let shapes = [("out", be.shape(out)), ("mask", be.shape(mask)), ("x", be.shape(x))];
    let n = checks::elementwise("dropout_forward", &shapes)?;
    key_slot(numel(be.shape(keys)), slot)?;
    let params = DropoutParams::new(n, cpu::threshold(p), slot, 1.0 / (1.0 - p));
    let args = &mut [Arg::Write(out), Arg::Read(x), Arg::Read(keys), Arg::Write(mask)];
    be.launch(&registry::DROPOUT_FORWARD, bytemuck::bytes_of(&params), args, Grid::Items(n))
}

/// `dx = dy ⊙ mask`.
pub fn dropout_backward<B: Backend>(be: &B, dx: &mut B::Tensor, dy: &B::Tensor, mask: &B::Tensor) -> Result<()> {
    let shapes = [("dx", be.shape(dx)), ("dy", be.shape(dy)), ("mask", be.shape(mask))];
    let n = checks::elementwise("dropout_backward", &shapes)?;
    let params = DropoutParams::new(n, 0, 0, 0.0);
    let args = &mut [Arg::Write(dx), Arg::Read(dy), Arg::Read(mask)];
    be.launch(&registry::DROPOUT_BACKWARD, bytemuck::bytes_of(&params), args, Grid::Items(n))
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

/// A dropout key slot inside the keys tensor.
pub fn key_slot(keys: usize, slot: usize) -> Result<()> {
    if slot >= keys {
        return Err(shape_error("dropout_forward", format!("key slot {slot} is outside the {keys} keys")));
    }
    Ok(())
}
