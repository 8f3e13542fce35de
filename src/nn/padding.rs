//! The padding of a batch of token sequences (Hugging Face's `attention_mask`): which
//! positions are real tokens. Attention layers hide the padded keys; token pooling averages
//! over the real tokens only. A model gets it with [`super::Model::set_padding`] and hands it
//! to every layer that [`super::Layer::reads_padding`].

use crate::backend::Backend;
use crate::error::{shape_error, Result};
use crate::tensor::Tensor;

/// A batch's padding, on the device.
pub struct Padding<B: Backend> {
    /// `[B, T]`: 1 for a real token, 0 for padding.
    pub mask: B::Tensor,
    /// `[B, B·T]`: row b holds 1/n_b at sequence b's n_b real tokens (mean pooling over the
    /// mask, as sentence-transformers does, is one product with it).
    pub mean: B::Tensor,
    /// `[B, B·T]`: row b picks sequence b's first token (`[CLS]` pooling).
    pub first: B::Tensor,
    /// (B, T) of the input the layers see (packed: `[B, T_pack]`).
    pub dims: (usize, usize),
    /// Set when the batch is packed: the real tokens side by side, no padding between them.
    pub packed: Option<Packed<B>>,
}

/// A packed batch: the sequences' real tokens one after another in `[B, T_pack]` rows
/// (`T_pack = ⌈N / B⌉` rounded up, N real tokens; the rows past N are fillers that nothing
/// reads), so every position-wise layer runs on real tokens only. Attention runs in the padded
/// layout `[B, T, ·]`: rows are gathered there and back through these indices.
pub struct Packed<B: Backend> {
    /// The longest sequence T (the padded layout's length).
    pub t: usize,
    /// `[B·T]`: the packed row of each padded position (padding → row 0, never attended to).
    pub from_packed: B::Tensor,
    /// `[B·T_pack]`: the padded position of each packed row (fillers → 0, never read back).
    pub from_padded: B::Tensor,
    /// `[B·T_pack]`: each packed row's position in its sequence (fillers 0).
    pub positions: B::Tensor,
}

/// How a padded batch is packed, on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct Packing {
    /// `[B, T_pack]`.
    pub dims: (usize, usize),
    /// The padded flat index of each packed row (None for a filler).
    pub rows: Vec<Option<usize>>,
}

impl Packing {
    /// Packs the batch whose mask `[B, T]` is given (real tokens must come first in each
    /// row, as tokenizers pad on the right), with `T_pack` a multiple of `multiple` (or T).
    pub fn new(mask: &Tensor, multiple: usize) -> Result<Self> {
        let [b, t] = mask.shape() else {
            return Err(shape_error(
                "packing",
                format!("the attention mask must be [batch, T], got {:?}", mask.shape()),
            ));
        };
        let (b, t) = (*b, *t);
        let mut rows = Vec::new();
        for s in 0..b {
            let row = &mask.data()[s * t..(s + 1) * t];
            let n = row.iter().take_while(|&&m| m == 1.0).count();
            if row[n..].iter().any(|&m| m != 0.0) {
                return Err(shape_error(
                    "packing",
                    format!("sequence {s} has padding before a token: pad on the right"),
                ));
            }
            rows.extend((0..n).map(|j| Some(s * t + j)));
        }
        // ⌈N / B⌉ ≤ T; rounded up to the multiple but never past T.
        let m = multiple.max(1);
        let t_pack = (rows.len().div_ceil(b.max(1))).div_ceil(m) * m;
        let t_pack = t_pack.clamp(1, t.max(1));
        rows.resize(b * t_pack, None);
        Ok(Self { dims: (b, t_pack), rows })
    }

    /// The rows of `x` `[B, T, …]` (padded) in packed order `[B, T_pack, …]`; fillers get
    /// `fill`.
    pub fn pack(&self, x: &Tensor, fill: f32) -> Result<Tensor> {
        let width: usize = x.shape()[2..].iter().product();
        let mut out = Vec::with_capacity(self.rows.len() * width);
        for r in &self.rows {
            match r {
                Some(i) => out.extend_from_slice(&x.data()[i * width..(i + 1) * width]),
                None => out.extend(std::iter::repeat_n(fill, width)),
            }
        }
        let mut shape = vec![self.dims.0, self.dims.1];
        shape.extend_from_slice(&x.shape()[2..]);
        Tensor::from_vec(&shape, out)
    }
}

impl<B: Backend> Padding<B> {
    /// The padding of `mask` `[B, T]` (1 real, 0 padding; nothing else).
    pub fn new(be: &B, mask: &Tensor) -> Result<Self> {
        let [b, t] = mask.shape() else {
            return Err(shape_error(
                "padding",
                format!("the attention mask must be [batch, T], got {:?}", mask.shape()),
            ));
        };
        let (b, t) = (*b, *t);
        if let Some(i) = mask.data().iter().position(|&m| m != 0.0 && m != 1.0) {
            return Err(shape_error(
                "padding",
                format!("attention mask entry {} is {}: it must be 1 (token) or 0 (padding)", i, mask.data()[i]),
            ));
        }
        let mut mean = vec![0.0f32; b * b * t];
        let mut first = vec![0.0f32; b * b * t];
        for s in 0..b {
            let row = &mask.data()[s * t..(s + 1) * t];
            // sentence-transformers divides by the count clamped at 1e-9.
            let n = row.iter().sum::<f32>().max(1e-9);
            for (j, &m) in row.iter().enumerate() {
                mean[s * b * t + s * t + j] = m / n;
            }
            first[s * b * t + s * t] = 1.0;
        }
        Ok(Self {
            mask: be.upload(mask)?,
            mean: be.upload(&Tensor::from_vec(&[b, b * t], mean)?)?,
            first: be.upload(&Tensor::from_vec(&[b, b * t], first)?)?,
            dims: (b, t),
            packed: None,
        })
    }

    /// The padding of the padded batch `mask` `[B, T]` run packed as `packing` says: the
    /// pooling matrices and indices address packed rows.
    pub fn packed(be: &B, mask: &Tensor, packing: &Packing) -> Result<Self> {
        let (b, t) = (mask.shape()[0], mask.shape()[1]);
        let (pb, tp) = packing.dims;
        if pb != b || packing.rows.len() != b * tp {
            return Err(shape_error("padding", format!("a packing of [{pb}, {tp}] does not fit a mask [{b}, {t}]")));
        }
        let rows = b * tp;
        let (mut mean, mut first) = (vec![0.0f32; b * rows], vec![0.0f32; b * rows]);
        let (mut from_packed, mut from_padded, mut positions) =
            (vec![0.0f32; b * t], vec![0.0f32; rows], vec![0.0f32; rows]);
        let counts: Vec<f32> = (0..b).map(|s| mask.data()[s * t..(s + 1) * t].iter().sum::<f32>().max(1e-9)).collect();
        for (r, padded) in packing.rows.iter().enumerate() {
            let Some(i) = *padded else { continue };
            let (s, j) = (i / t, i % t);
            mean[s * rows + r] = 1.0 / counts[s];
            if j == 0 {
                first[s * rows + r] = 1.0;
            }
            from_packed[i] = r as f32;
            from_padded[r] = i as f32;
            positions[r] = j as f32;
        }
        let packed = Packed {
            t,
            from_packed: be.upload(&Tensor::from_vec(&[b * t], from_packed)?)?,
            from_padded: be.upload(&Tensor::from_vec(&[rows], from_padded)?)?,
            positions: be.upload(&Tensor::from_vec(&[rows], positions)?)?,
        };
        Ok(Self {
            mask: be.upload(mask)?,
            mean: be.upload(&Tensor::from_vec(&[b, rows], mean)?)?,
            first: be.upload(&Tensor::from_vec(&[b, rows], first)?)?,
            dims: (b, tp),
            packed: Some(packed),
        })
    }

    /// No padding: every one of the `b` × `t` positions is a token.
    pub fn none(be: &B, b: usize, t: usize) -> Result<Self> {
        Self::new(be, &Tensor::full(&[b, t], 1.0))
    }
}
