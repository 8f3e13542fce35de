//! `self_attention(n_head, dropout=0.0)`: Hugging Face BERT's multi-head self-attention
//! (`BertSelfAttention` + the `dense` of `BertSelfOutput`), bidirectional, with the batch's
//! padding hidden from every query. Input and output `[B, T, C]`. Its parameters are BERT's,
//! in BERT's order: `query`, `key`, `value` (Linear C→C each), then `output` (the dense
//! projection); the LayerNorm and residual of `BertSelfOutput` are the model's own layers
//! (`residual(self_attention(H)) layernorm(C)`), and so is its hidden dropout.
//!
//! The three projections run as one product: each pass copies the three weights (and biases)
//! into one `[3C, C]` matrix, so q, k and v come out side by side as in `causal_self_attention`
//! and the fused attention (`ops::attention::flash`, key mask = the padding) reads them in
//! place; the backward splits the packed weight gradient back into the three.

use super::causal_self_attention::{linear_backward, linear_forward};
use super::linear::Linear;
use crate::backend::Backend;
use crate::error::{shape_error, Error, Result};
use crate::nn::args::Bound;
use crate::nn::init::Init;
use crate::nn::layer::scratch_n;
use crate::nn::layer::{Backward, Forward, Layer, TensorSpec};
use crate::ops::attention::flash::{
    flash_backward, flash_forward, stats_shape, FlashDropout, FlashLayout, FlashOptions,
};
use crate::ops::elementwise::{self, copy_range};
use crate::rng::Rng;

/// Bidirectional multi-head self-attention with BERT's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct SelfAttention {
    /// Width C.
    pub dim: usize,
    /// Heads H; C/H each.
    pub heads: usize,
    /// Dropout of the attention probabilities in training (`attention_probs_dropout_prob`).
    pub dropout: f32,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["n_head", "dropout"];

/// Builds the layer for `input` `[batch, T, C]`.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let layer = SelfAttention {
        dim: *input.last().unwrap_or(&0),
        heads: args.size("n_head", 1, None)?,
        dropout: args.float("dropout", 0.0..1.0, 0.0)? as f32,
    };
    if !layer.dim.is_multiple_of(layer.heads) {
        return Err(Error::InvalidArgument {
            what: "model: self_attention".into(),
            detail: format!("width {} is not divisible by n_head {}", layer.dim, layer.heads),
        });
    }
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

/// Scratch slots (see [`SelfAttention::scratch`]).
const SCRATCH: usize = 11;

impl SelfAttention {
    fn dims(&self, shape: &[usize]) -> Result<(usize, usize)> {
        match shape {
            [b, t, c] if *c == self.dim && *t >= 1 => Ok((*b, *t)),
            _ => Err(shape_error("self_attention", format!("expects [batch, T, {}], got {shape:?}", self.dim))),
        }
    }

    /// q, k and v's projection as one Linear C→3C (its weight and bias are the packed copies).
    fn qkv(&self) -> Linear {
        Linear { inputs: self.dim, outputs: 3 * self.dim, bias: true, tie: None, std: None }
    }

    /// The output projection.
    fn output(&self) -> Linear {
        Linear { inputs: self.dim, outputs: self.dim, bias: true, tie: None, std: None }
    }
}

/// `grad` = (or += with `accumulate`) `src[offset .. offset + |grad|]`, through `tmp` (at
/// least as large) when adding: views must be aligned, these offsets need not be.
fn store_part<B: Backend>(
    be: &B,
    grad: &mut B::Tensor,
    src: &B::Tensor,
    offset: usize,
    tmp: &mut B::Tensor,
    accumulate: bool,
) -> Result<()> {
    let shape = be.shape(grad).to_vec();
    let n = shape.iter().product();
    if !accumulate {
        return copy_range(be, grad, 0, src, offset, n);
    }
    copy_range(be, tmp, 0, src, offset, n)?;
    elementwise::axpy(be, grad, 1.0, &be.view(tmp, 0, &shape)?)
}

impl Layer for SelfAttention {
    fn spec(&self) -> String {
        let drop = if self.dropout > 0.0 { format!(", dropout={:?}", self.dropout) } else { String::new() };
        format!("self_attention({}{drop})", self.heads)
    }

    fn torch(&self) -> String {
        format!("BertSelfAttention(hidden_size={}, num_attention_heads={}) + dense", self.dim, self.heads)
    }

    fn reads_padding(&self) -> bool {
        true
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.dims(input)?;
        Ok(input.to_vec())
    }

    fn params(&self) -> Vec<TensorSpec> {
        let c = self.dim;
        let mut p = Vec::new();
        for (w, b) in [("query.weight", "query.bias"), ("key.weight", "key.bias"), ("value.weight", "value.bias")] {
            p.push(TensorSpec::new(w, &[c, c]));
            p.push(TensorSpec::new(b, &[c]));
        }
        p.push(TensorSpec::new("output.weight", &[c, c]));
        p.push(TensorSpec::new("output.bias", &[c]));
        p
    }

    fn init_params(&self, init: Init, rng: &mut Rng) -> Vec<Vec<f32>> {
        (0..4).flat_map(|_| self.output().init_params(init, rng)).collect()
    }

    /// The packed weight `[3C, C]` and bias `[3C]`; q, k, v side by side `[B, T, 3C]`; the
    /// attention output `[B, T, C]`; the statistics; the dropout key `[1]`; then the
    /// backward's: the attention output's gradient, the packed output's gradient, the packed
    /// weight's and bias's gradients, and a `[C, C]` staging tensor.
    fn scratch(&self, input: &[usize], _first: bool) -> Result<Vec<Vec<usize>>> {
        let (b, t) = self.dims(input)?;
        let c = self.dim;
        Ok(vec![
            vec![3 * c, c],
            vec![3 * c],
            vec![b, t, 3 * c],
            vec![b, t, c],
            stats_shape(b, self.heads, t),
            vec![1],
            vec![b, t, c],
            vec![b, t, 3 * c],
            vec![3 * c, c],
            vec![3 * c],
            vec![c, c],
        ])
    }

    fn uses_rng(&self, train: bool) -> bool {
        train && self.dropout > 0.0
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let (b, t) = self.dims(be.shape(io.x))?;
        let c = self.dim;
        let [w, bias, qkv, att, stats, key, ..] = scratch_n::<_, SCRATCH>(io.scratch, "self_attention")?;
        for part in 0..3 {
            copy_range(be, w, part * c * c, &io.params[2 * part], 0, c * c)?;
            copy_range(be, bias, part * c, &io.params[2 * part + 1], 0, c)?;
        }
        let packed = [be.view(w, 0, &[3 * c, c])?, be.view(bias, 0, &[3 * c])?];
        linear_forward(be, &self.qkv(), qkv, io.x, &packed, io.keys)?;
        let dropout = if self.uses_rng(io.train) {
            copy_range(be, key, 0, io.keys, io.slot, 1)?;
            Some(FlashDropout { p: self.dropout, keys: &*key, slot: 0 })
        } else {
            None
        };
        let mask = padding_mask(io.padding, b, t)?;
        let opts = FlashOptions { dropout, key_mask: mask };
        flash_forward(be, att, stats, qkv, qkv, &FlashLayout::packed_qkv(self.heads, c, false), opts)?;
        linear_forward(be, &self.output(), io.y, att, &io.params[6..8], io.keys)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let (b, t) = self.dims(be.shape(io.x))?;
        let c = self.dim;
        let [w, bias, qkv, att, stats, key, d_att, d_qkv, dw, db, tmp] =
            scratch_n::<_, SCRATCH>(io.scratch, "self_attention")?;
        let (qkv_grads, out_grads) = io.grads.split_at_mut(6);
        linear_backward(be, &self.output(), Some(d_att), att, io.dy, &io.params[6..8], out_grads, io.accumulate)?;
        let dropout = self.uses_rng(io.train).then_some(FlashDropout { p: self.dropout, keys: &*key, slot: 0 });
        let opts = FlashOptions { dropout, key_mask: padding_mask(io.padding, b, t)? };
        let layout = FlashLayout::packed_qkv(self.heads, c, false);
        flash_backward(be, d_qkv, d_qkv, stats, qkv, qkv, att, d_att, &layout, opts)?;
        let packed = [be.view(w, 0, &[3 * c, c])?, be.view(bias, 0, &[3 * c])?];
        let mut packed_grads = [be.view(dw, 0, &[3 * c, c])?, be.view(db, 0, &[3 * c])?];
        linear_backward(be, &self.qkv(), io.dx, io.x, d_qkv, &packed, &mut packed_grads, false)?;
        for part in 0..3 {
            store_part(be, &mut qkv_grads[2 * part], dw, part * c * c, tmp, io.accumulate)?;
            store_part(be, &mut qkv_grads[2 * part + 1], db, part * c, tmp, io.accumulate)?;
        }
        Ok(())
    }
}

/// The key mask of the batch's padding, when there is one of its shape.
fn padding_mask<B: Backend>(padding: Option<&crate::nn::Padding<B>>, b: usize, t: usize) -> Result<Option<&B::Tensor>> {
    match padding {
        Some(p) if p.dims == (b, t) => Ok(Some(&p.mask)),
        Some(p) => Err(shape_error(
            "self_attention",
            format!("the padding is [{}, {}] but the batch is [{b}, {t}]", p.dims.0, p.dims.1),
        )),
        None => Ok(None),
    }
}
