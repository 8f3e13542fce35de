//! Training-batch augmentation of images on the device: random crop with padding, horizontal
//! flip and small translations, drawn per row from a hash of the row and a key, identical on
//! both paths. Kernel: `shaders/augment.wgsl`.

pub mod cpu;

use crate::backend::kernel::{Arg, Grid};
use crate::backend::{checks, Backend};
use crate::error::{shape_error, Result};
use crate::ops::registry;

/// What to apply: each field off at 0 / false.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Augment {
    /// Random crop of the image padded by this many black pixels per side (torchvision's
    /// `RandomCrop(size, padding=crop)`): a shift in [−crop, crop] per axis.
    pub crop: u32,
    /// A further shift in [−translate, translate] pixels per axis.
    pub translate: u32,
    /// Horizontal flip with probability ½ (`RandomHorizontalFlip`).
    pub hflip: bool,
}

impl Augment {
    /// True when it changes nothing.
    pub fn is_identity(&self) -> bool {
        self.crop == 0 && self.translate == 0 && !self.hflip
    }
}

/// Mirrors `Params` in augment.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AugmentParams {
    /// Elements: rows · C · H · W.
    pub n: u32,
    /// C.
    pub channels: u32,
    /// H.
    pub height: u32,
    /// W.
    pub width: u32,
    /// The batch's key.
    pub key: u32,
    /// Crop padding.
    pub crop: u32,
    /// Translation range.
    pub translate: u32,
    /// 1: flip half of the rows.
    pub flip: u32,
}

/// `out = augmented(x)` for a batch of `[C, H, W]` images as rows of `x` (rows, C·H·W), under
/// `key` ([`crate::rng::dropout_key`] of the seed and the step): each row's transform is drawn
/// from a hash of its index and the key. `fill` (C·H·W values) is what a position takes when
/// its source falls outside the image: a black pixel in the model's input units.
pub fn augment<B: Backend>(
    be: &B,
    out: &mut B::Tensor,
    x: &B::Tensor,
    fill: &B::Tensor,
    image: [usize; 3],
    aug: &Augment,
    key: u32,
) -> Result<()> {
    let n = checks::elementwise("augment", &[("out", be.shape(out)), ("x", be.shape(x))])?;
    let [channels, height, width] = image;
    let per_row = channels * height * width;
    if per_row == 0 || !n.is_multiple_of(per_row) {
        return Err(shape_error("augment", format!("{n} values are not rows of {image:?} images")));
    }
    if crate::tensor::numel(be.shape(fill)) != per_row {
        return Err(shape_error(
            "augment",
            format!("fill has {} values, not one per value of a {image:?} image", crate::tensor::numel(be.shape(fill))),
        ));
    }
    let params = AugmentParams {
        n: n as u32,
        channels: channels as u32,
        height: height as u32,
        width: width as u32,
        key,
        crop: aug.crop,
        translate: aug.translate,
        flip: u32::from(aug.hflip),
    };
    let args = &mut [Arg::Write(out), Arg::Read(x), Arg::Read(fill)];
    be.launch(&registry::AUGMENT, bytemuck::bytes_of(&params), args, Grid::Items(n))
}
