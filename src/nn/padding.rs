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
    /// (B, T).
    pub dims: (usize, usize),
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
        })
    }

    /// No padding: every one of the `b` × `t` positions is a token.
    pub fn none(be: &B, b: usize, t: usize) -> Result<Self> {
        Self::new(be, &Tensor::full(&[b, t], 1.0))
    }
}
