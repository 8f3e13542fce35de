//! `causal_self_attention(n_head, bias=true, std=None, proj_std=None)`: multi-head causal
//! self-attention with nanoGPT's structure and names. Input and output `[B, T, C]`; `c_attn`
//! (Linear C→3C) makes q, k and v
//! (split in that order along its output), each viewed as H heads of C/H; scaled dot-product
//! attention with the causal mask and scale 1/√(C/H); the heads merged back to `[B, T, C]` and
//! `c_proj` (Linear C→C). The parameters are `c_attn.weight`, `c_attn.bias`, `c_proj.weight`,
//! `c_proj.bias` (nanoGPT's `CausalSelfAttention`; no dropout inside: a `dropout` layer after
//! it is nanoGPT's `resid_dropout`).
//!
//! The attention itself is `ops::attention::flash` (fused: the T×T scores are never stored),
//! reading q, k and v straight out of `c_attn`'s `[B, T, 3C]` output and writing the heads
//! merged, so no head split or merge runs; both Linears are `linear.rs` itself, given their
//! slices of the parameters.

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
use crate::ops::elementwise::copy_range;
use crate::ops::matmul;
use crate::rng::Rng;
use crate::tensor::MatmulForm;

/// Causal self-attention over a sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct CausalSelfAttention {
    /// Width C (the input's last dimension).
    pub dim: usize,
    /// Heads H; C/H each.
    pub heads: usize,
    /// Whether `c_attn` and `c_proj` have biases.
    pub bias: bool,
    /// Initialise `c_attn` normal(0, std), biases zero (None: the model's init).
    pub std: Option<f64>,
    /// Initialise `c_proj` normal(0, proj_std) (nanoGPT: 0.02/√(2·n_layer)); None: as `c_attn`.
    pub proj_std: Option<f64>,
    /// Dropout of the attention probabilities in training (nanoGPT's `attn_dropout`), in [0, 1).
    pub dropout: f32,
    /// PEFT LoRA on `c_attn` (rank r, alpha): `c_attn(x) + (alpha/r)·B(A x)`, A `[r, C]`, B
    /// `[3C, r]`. As in `self_attention`, the layer adds `(alpha/r)·B·A` to a copy of the weight
    /// each pass and takes dA, dB from that weight's gradient.
    pub lora: Option<(usize, f64)>,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["n_head", "bias", "std", "proj_std", "dropout", "lora_r", "lora_alpha"];

/// Builds the layer for `input` `[batch, T, C]`.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let layer = CausalSelfAttention {
        dim: *input.last().unwrap_or(&0),
        heads: args.size("n_head", 1, None)?,
        bias: args.flag("bias", true)?,
        std: args.optional_float("std", 0.0..f64::INFINITY)?,
        proj_std: args.optional_float("proj_std", 0.0..f64::INFINITY)?,
        dropout: args.float("dropout", 0.0..1.0, 0.0)? as f32,
        lora: match args.optional_size("lora_r")? {
            Some(0) => {
                return Err(Error::InvalidArgument {
                    what: "model: causal_self_attention".into(),
                    detail: "lora_r must be ≥ 1".into(),
                })
            }
            Some(r) => Some((r, args.float("lora_alpha", f64::MIN_POSITIVE..f64::INFINITY, r as f64)?)),
            None => None,
        },
    };
    if !layer.dim.is_multiple_of(layer.heads) {
        return Err(Error::InvalidArgument {
            what: "model: causal_self_attention".into(),
            detail: format!(
                "n_embd {} is not divisible by n_head {}: each head takes C/H of the width",
                layer.dim, layer.heads
            ),
        });
    }
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl CausalSelfAttention {
    /// (B, T) of an input `[B, T, C]`.
    fn dims(&self, shape: &[usize]) -> Result<(usize, usize)> {
        match shape {
            [b, t, c] if *c == self.dim && *t >= 1 => Ok((*b, *t)),
            _ => Err(shape_error(
                "causal_self_attention",
                format!("expects [batch, T, {}] (a sequence of embeddings), got {shape:?}", self.dim),
            )),
        }
    }

    /// `c_attn` as a Linear (its parameters are this layer's first).
    pub(crate) fn c_attn(&self) -> Linear {
        Linear { inputs: self.dim, outputs: 3 * self.dim, bias: self.bias, tie: None, std: self.std }
    }

    /// `c_proj` as a Linear (its parameters follow `c_attn`'s).
    pub(crate) fn c_proj(&self) -> Linear {
        Linear { inputs: self.dim, outputs: self.dim, bias: self.bias, tie: None, std: self.proj_std.or(self.std) }
    }

    /// Parameters per Linear: weight, and bias when there is one.
    pub(crate) fn per_linear(&self) -> usize {
        1 + self.bias as usize
    }

    /// Where q, k and v sit in `c_attn`'s output, for the fused attention.
    pub(crate) fn layout(&self, causal: bool) -> FlashLayout {
        FlashLayout::packed_qkv(self.heads, self.dim, causal)
    }
}

/// Runs a Linear's forward on its slice of the parameters.
pub(crate) fn linear_forward<B: Backend>(
    be: &B,
    layer: &Linear,
    y: &mut B::Tensor,
    x: &B::Tensor,
    params: &[B::Tensor],
    keys: &B::Tensor,
) -> Result<()> {
    let io = Forward {
        x,
        y,
        params,
        buffers: &mut [],
        scratch: &mut [],
        train: false,
        keys,
        slot: 0,
        then: None,
        padding: None,
    };
    layer.forward(be, io)
}

/// Runs a Linear's backward on its slices of the parameters and gradients.
#[allow(clippy::too_many_arguments, reason = "a Linear's backward inputs, outside its own layer")]
pub(crate) fn linear_backward<B: Backend>(
    be: &B,
    layer: &Linear,
    dx: Option<&mut B::Tensor>,
    x: &B::Tensor,
    dy: &B::Tensor,
    params: &[B::Tensor],
    grads: &mut [B::Tensor],
    accumulate: bool,
) -> Result<()> {
    // Linear's backward reads neither y nor its buffers and scratch.
    let io = Backward {
        x,
        y: dy,
        dy,
        dx,
        params,
        grads,
        buffers: &[],
        scratch: &mut [],
        train: true,
        accumulate,
        padding: None,
    };
    layer.backward(be, io)
}

impl Layer for CausalSelfAttention {
    /// `c_attn` (C→3C), `c_proj` (C→C), QKᵀ and the weighted sum of V (full T×T, as PyTorch
    /// counts `scaled_dot_product_attention`, the causal mask notwithstanding), and LoRA's
    /// C→r→3C on `c_attn`.
    fn flops(&self, input: &[usize]) -> u64 {
        let Ok((b, t)) = self.dims(input) else { return 0 };
        let (bt, c) = ((b * t) as u64, self.dim as u64);
        let lora = self.lora.map_or(0, |(r, _)| 2 * bt * (c * r as u64 + r as u64 * 3 * c));
        2 * bt * c * 3 * c + 2 * bt * c * c + 2 * 2 * bt * t as u64 * c + lora
    }

    fn spec(&self) -> String {
        let bias = if self.bias { "" } else { ", bias=false" };
        let std = self.std.map_or(String::new(), |s| format!(", std={s:?}"));
        let proj = self.proj_std.map_or(String::new(), |s| format!(", proj_std={s:?}"));
        let drop = if self.dropout > 0.0 { format!(", dropout={:?}", self.dropout) } else { String::new() };
        let lora = self.lora.map_or(String::new(), |(r, a)| format!(", lora_r={r}, lora_alpha={a:?}"));
        format!("causal_self_attention({}{bias}{std}{proj}{drop}{lora})", self.heads)
    }

    fn torch(&self) -> String {
        format!(
            "CausalSelfAttention(n_embd={}, n_head={}, bias={}, dropout={})",
            self.dim, self.heads, self.bias, self.dropout
        )
    }

    fn decoding(&self) -> crate::nn::layer::Decoding {
        // The cached decoder runs the plain c_attn: with adapters, the whole context re-runs.
        match self.lora {
            Some(_) => crate::nn::layer::Decoding::Unsupported,
            None => crate::nn::layer::Decoding::Attention(self.clone()),
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.dims(input)?;
        Ok(input.to_vec())
    }

    fn params(&self) -> Vec<TensorSpec> {
        let c = self.dim;
        let mut p = vec![TensorSpec::new("c_attn.weight", &[3 * c, c])];
        if self.bias {
            p.push(TensorSpec::new("c_attn.bias", &[3 * c]));
        }
        p.push(TensorSpec::new("c_proj.weight", &[c, c]));
        if self.bias {
            p.push(TensorSpec::new("c_proj.bias", &[c]));
        }
        if let Some((r, _)) = self.lora {
            p.push(TensorSpec::new("c_attn.lora_A.weight", &[r, c]));
            p.push(TensorSpec::new("c_attn.lora_B.weight", &[3 * c, r]));
        }
        p
    }

    fn init_params(&self, init: Init, rng: &mut Rng) -> Vec<Vec<f32>> {
        let mut p = self.c_attn().init_params(init, rng);
        p.extend(self.c_proj().init_params(init, rng));
        if let Some((r, _)) = self.lora {
            p.push(init.weight(rng, self.dim, r));
            p.push(vec![0.0; 3 * self.dim * r]);
        }
        p
    }

    /// Kept from forward to backward: c_attn's output `[B, T, 3C]` (q, k, v side by side), the
    /// attention output with its heads merged `[B, T, C]` (c_proj's input), the statistics
    /// `[2, B, H, T]` (each query's log-sum-exp, then the backward's δ), the dropout key the
    /// forward drew with `[1]`; then the backward's: the attention output's gradient and
    /// c_attn's output gradient.
    fn scratch(&self, input: &[usize], _first: bool) -> Result<Vec<Vec<usize>>> {
        let (b, t) = self.dims(input)?;
        let c = self.dim;
        let stats = stats_shape(b, self.heads, t);
        let mut s = vec![vec![b, t, 3 * c], vec![b, t, c], stats, vec![1], vec![b, t, c], vec![b, t, 3 * c]];
        if let Some((r, _)) = self.lora {
            // The weight with the adapter added, its gradient, an adapter's gradient.
            s.extend([vec![3 * c, c], vec![3 * c, c], vec![3 * c * r]]);
        }
        Ok(s)
    }

    fn uses_rng(&self, train: bool) -> bool {
        train && self.dropout > 0.0
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        self.dims(be.shape(io.x))?;
        let n = self.per_linear();
        let (attn_params, proj_params) = (&io.params[..n], &io.params[n..2 * n]);
        let (base, extra) = io.scratch.split_at_mut(6);
        let [qkv, att, stats, key, ..] = scratch_n::<_, 6>(base, "causal_self_attention")?;
        match self.lora {
            Some((_, alpha)) => {
                let [w, delta, _] = scratch_n::<_, 3>(extra, "causal_self_attention")?;
                let weight = self.adapted_weight(be, w, delta, io.params, alpha)?;
                let mut p = vec![weight];
                p.extend(attn_params[1..].iter().map(|b| be.view(b, 0, be.shape(b))).collect::<Result<Vec<_>>>()?);
                linear_forward(be, &self.c_attn(), qkv, io.x, &p, io.keys)?;
            }
            None => linear_forward(be, &self.c_attn(), qkv, io.x, attn_params, io.keys)?,
        }
        // The backward draws the same mask from the key kept here (it is not given the keys).
        let dropout = if self.uses_rng(io.train) {
            copy_range(be, key, 0, io.keys, io.slot, 1)?;
            Some(FlashDropout { p: self.dropout, keys: &*key, slot: 0 })
        } else {
            None
        };
        flash_forward(be, att, stats, qkv, qkv, &self.layout(true), FlashOptions::dropout(dropout))?;
        linear_forward(be, &self.c_proj(), io.y, att, proj_params, io.keys)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        self.dims(be.shape(io.x))?;
        let n = self.per_linear();
        let (attn_params, proj_params) = (&io.params[..n], &io.params[n..2 * n]);
        let (attn_grads, rest) = io.grads.split_at_mut(n);
        let (proj_grads, lora_grads) = rest.split_at_mut(n);
        let (base, extra) = io.scratch.split_at_mut(6);
        let [qkv, att, stats, key, d_att, d_qkv] = scratch_n::<_, 6>(base, "causal_self_attention")?;
        // c_proj: its input was the merged heads.
        linear_backward(be, &self.c_proj(), Some(d_att), att, io.dy, proj_params, proj_grads, io.accumulate)?;
        // `io.train` is the last forward's mode: with dropout, it kept its key.
        let dropout = self.uses_rng(io.train).then_some(FlashDropout { p: self.dropout, keys: &*key, slot: 0 });
        let opts = FlashOptions::dropout(dropout);
        flash_backward(be, d_qkv, d_qkv, stats, qkv, qkv, att, d_att, &self.layout(true), opts)?;
        let Some((r, alpha)) = self.lora else {
            return linear_backward(be, &self.c_attn(), io.dx, io.x, d_qkv, attn_params, attn_grads, io.accumulate);
        };
        // With the adapter: the backward of the adapted weight (kept by the forward), its
        // gradient into c_attn.weight's, and the adapters' from it.
        let [w, dw, tmp] = scratch_n::<_, 3>(extra, "causal_self_attention")?;
        let c = self.dim;
        let mut p = vec![be.view(w, 0, &[3 * c, c])?];
        p.extend(attn_params[1..].iter().map(|b| be.view(b, 0, be.shape(b))).collect::<Result<Vec<_>>>()?);
        let (w_grad, bias_grad) = attn_grads.split_at_mut(1);
        let mut g = vec![be.view(dw, 0, &[3 * c, c])?];
        if let Some(bg) = bias_grad.first() {
            g.push(be.view(bg, 0, be.shape(bg))?);
        }
        if io.accumulate {
            // The bias gradient adds; the weight's goes through dw, which starts at zero.
            crate::ops::elementwise::fill(be, dw, 0.0)?;
        }
        linear_backward(be, &self.c_attn(), io.dx, io.x, d_qkv, &p, &mut g, io.accumulate)?;
        crate::nn::layer::store_grad(be, &mut w_grad[0], dw, io.accumulate)?;
        let s = (alpha / r as f64) as f32;
        let (a, b) = (&io.params[2 * n], &io.params[2 * n + 1]);
        let mut da = be.view(tmp, 0, &[r, c])?;
        matmul::matmul(be, MatmulForm::Tn, &mut da, b, dw, false)?;
        crate::nn::layer::store_scaled_grad(be, &mut lora_grads[0], &da, s, io.accumulate)?;
        let mut d_b = be.view(tmp, 0, &[3 * c, r])?;
        matmul::matmul(be, MatmulForm::Nt, &mut d_b, dw, a, false)?;
        crate::nn::layer::store_scaled_grad(be, &mut lora_grads[1], &d_b, s, io.accumulate)
    }
}

impl CausalSelfAttention {
    /// `w` = c_attn.weight + (alpha/r)·B·A (B·A through `delta`), as a `[3C, C]` view.
    fn adapted_weight<B: Backend>(
        &self,
        be: &B,
        w: &mut B::Tensor,
        delta: &mut B::Tensor,
        params: &[B::Tensor],
        alpha: f64,
    ) -> Result<B::Tensor> {
        let (n, c) = (self.per_linear(), self.dim);
        let r = be.shape(&params[2 * n])[0];
        crate::ops::elementwise::copy(be, w, &params[0])?;
        matmul::matmul(be, MatmulForm::Nn, delta, &params[2 * n + 1], &params[2 * n], false)?;
        crate::ops::elementwise::axpy(be, w, (alpha / r as f64) as f32, delta)?;
        be.view(w, 0, &[3 * c, c])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fused attention keeps no T×T tensor: the layer's scratch grows linearly in T. At
    /// GPT-2 small's size (C = 768, 12 heads) and T = 1024 it is 25.3 MB per sequence, where
    /// the materialised form (q/k/v/output heads split out, their gradients, the scaled q and
    /// k, and three [H, T, T] score-sized tensors) took 208 MB.
    #[test]
    fn scratch_is_linear_in_the_sequence_length() {
        let layer = CausalSelfAttention {
            dim: 768,
            heads: 12,
            bias: true,
            std: None,
            proj_std: None,
            dropout: 0.0,
            lora: None,
        };
        let floats = |t: usize| -> usize {
            layer.scratch(&[1, t, 768], false).unwrap().iter().map(|s| s.iter().product::<usize>()).sum()
        };
        // Everything but the one-element dropout key doubles with T.
        assert_eq!(floats(1024) - 1, 2 * (floats(512) - 1));
        assert_eq!(floats(1024), 8 * 1024 * 768 + 2 * 12 * 1024 + 1);
        assert_eq!(floats(1024) * 4, 25_264_132);
    }
}
