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
use crate::ops::embedding;
use crate::ops::matmul;
use crate::rng::Rng;
use crate::tensor::MatmulForm;

/// Bidirectional multi-head self-attention with BERT's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct SelfAttention {
    /// Width C.
    pub dim: usize,
    /// Heads H; C/H each.
    pub heads: usize,
    /// Dropout of the attention probabilities in training (`attention_probs_dropout_prob`).
    pub dropout: f32,
    /// LoRA adapters on some of the query, key and value projections.
    pub lora: Option<Lora>,
}

/// LoRA (PEFT's): a projection `W x + b` becomes `W x + b + (alpha/r)·B(A x)`, A `[r, C]`
/// (initialised as a Linear weight), B `[C, r]` (zeros). The layer adds `(alpha/r)·B·A` to the
/// packed weight each pass (the same product in one matmul), and gets A's and B's gradients
/// from the packed weight's: dB = s·dW·Aᵀ, dA = s·Bᵀ·dW.
#[derive(Clone, Debug, PartialEq)]
pub struct Lora {
    /// Rank r ≥ 1.
    pub rank: usize,
    /// alpha > 0 (the scale is alpha/r).
    pub alpha: f64,
    /// Which of query (0), key (1), value (2) have an adapter.
    pub targets: [bool; 3],
}

/// The projections LoRA can target, in packed order.
pub const LORA_TARGETS: [&str; 3] = ["query", "key", "value"];

impl Lora {
    /// alpha / r.
    pub fn scale(&self) -> f32 {
        (self.alpha / self.rank as f64) as f32
    }

    /// The targeted projections' indices.
    fn parts(&self) -> impl Iterator<Item = usize> + '_ {
        (0..3).filter(|&i| self.targets[i])
    }
}

/// Argument names in order.
pub const ARGS: &[&str] = &["n_head", "dropout", "lora_r", "lora_alpha", "lora_on"];

/// Builds the layer for `input` `[batch, T, C]`.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let lora = match args.optional_size("lora_r")? {
        None => None,
        Some(rank) => {
            let on = match args.get("lora_on") {
                Some(crate::nn::args::Value::Word(w)) => w.clone(),
                Some(other) => other.to_string(),
                None => "qv".into(),
            };
            let mut targets = [false; 3];
            for ch in on.chars() {
                let i = "qkv".find(ch).ok_or_else(|| Error::InvalidArgument {
                    what: "model: self_attention".into(),
                    detail: format!("lora_on={on}: letters q (query), k (key), v (value)"),
                })?;
                targets[i] = true;
            }
            if rank == 0 {
                return Err(Error::InvalidArgument {
                    what: "model: self_attention".into(),
                    detail: "lora_r must be ≥ 1".into(),
                });
            }
            Some(Lora {
                rank,
                alpha: args.float("lora_alpha", f64::MIN_POSITIVE..f64::INFINITY, rank as f64)?,
                targets,
            })
        }
    };
    let layer = SelfAttention {
        dim: *input.last().unwrap_or(&0),
        heads: args.size("n_head", 1, None)?,
        dropout: args.float("dropout", 0.0..1.0, 0.0)? as f32,
        lora,
    };
    if layer.lora.is_some() && !layer.dim.is_multiple_of(8) {
        return Err(Error::InvalidArgument {
            what: "model: self_attention".into(),
            detail: format!("LoRA needs a width that is a multiple of 8, got {}", layer.dim),
        });
    }
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
const SCRATCH: usize = 12;

/// The adapters' local names per target (A, then B), PEFT's without the `.default`.
pub const LORA_NAMES: [[&str; 2]; 3] = [
    ["query.lora_A.weight", "query.lora_B.weight"],
    ["key.lora_A.weight", "key.lora_B.weight"],
    ["value.lora_A.weight", "value.lora_B.weight"],
];

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
    /// The four C×C projections, QKᵀ and the weighted sum of V (full T×T, as PyTorch counts
    /// `scaled_dot_product_attention`), and each LoRA pair (C→r→C).
    fn flops(&self, input: &[usize]) -> u64 {
        let Ok((b, t)) = self.dims(input) else { return 0 };
        let (bt, c) = ((b * t) as u64, self.dim as u64);
        let lora = self.lora.as_ref().map_or(0, |l| l.parts().count() as u64 * 2 * bt * 2 * c * l.rank as u64);
        4 * 2 * bt * c * c + 2 * 2 * bt * t as u64 * c + lora
    }

    fn spec(&self) -> String {
        let drop = if self.dropout > 0.0 { format!(", dropout={:?}", self.dropout) } else { String::new() };
        let lora = self.lora.as_ref().map_or(String::new(), |l| {
            let on: String = l.parts().map(|i| ['q', 'k', 'v'][i]).collect();
            format!(", lora_r={}, lora_alpha={:?}, lora_on={on}", l.rank, l.alpha)
        });
        format!("self_attention({}{drop}{lora})", self.heads)
    }

    fn torch(&self) -> String {
        format!("BertSelfAttention(hidden_size={}, num_attention_heads={}) + dense", self.dim, self.heads)
    }

    fn reads_padding(&self) -> bool {
        true
    }

    fn lora(&self) -> Option<&Lora> {
        self.lora.as_ref()
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
        if let Some(l) = &self.lora {
            for i in l.parts() {
                p.push(TensorSpec::new(LORA_NAMES[i][0], &[l.rank, c]));
                p.push(TensorSpec::new(LORA_NAMES[i][1], &[c, l.rank]));
            }
        }
        p
    }

    fn init_params(&self, init: Init, rng: &mut Rng) -> Vec<Vec<f32>> {
        let mut p: Vec<Vec<f32>> = (0..4).flat_map(|_| self.output().init_params(init, rng)).collect();
        if let Some(l) = &self.lora {
            for _ in l.parts() {
                p.push(init.weight(rng, self.dim, l.rank));
                p.push(vec![0.0; self.dim * l.rank]);
            }
        }
        p
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
            // Sized for a packed batch, whose longest sequence may hold all B·T rows.
            stats_shape(b, self.heads, b * t),
            vec![1],
            vec![b, t, c],
            vec![b, t, 3 * c],
            vec![3 * c, c],
            vec![3 * c],
            vec![c, c],
            // An adapter's gradient before scaling ([C, r] or [r, C]).
            vec![c * self.lora.as_ref().map_or(1, |l| l.rank)],
        ])
    }

    fn uses_rng(&self, train: bool) -> bool {
        train && self.dropout > 0.0
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let (b, t) = self.dims(be.shape(io.x))?;
        let c = self.dim;
        let [w, bias, ..] = scratch_n::<_, SCRATCH>(io.scratch, "self_attention")?;
        for part in 0..3 {
            copy_range(be, w, part * c * c, &io.params[2 * part], 0, c * c)?;
            copy_range(be, bias, part * c, &io.params[2 * part + 1], 0, c)?;
        }
        if let Some(l) = &self.lora {
            // The packed weight's targeted blocks += s·B·A (B·A through the [C, C] staging tensor).
            for (k, part) in l.parts().enumerate() {
                let (a, b) = (&io.params[8 + 2 * k], &io.params[9 + 2 * k]);
                matmul::matmul(be, MatmulForm::Nn, &mut io.scratch[10], b, a, false)?;
                let mut block = be.view(&io.scratch[0], part * c * c, &[c, c])?;
                elementwise::axpy(be, &mut block, l.scale(), &io.scratch[10])?;
            }
        }
        let [w, bias, qkv, att, stats, key, ..] = scratch_n::<_, SCRATCH>(io.scratch, "self_attention")?;
        let packed = [be.view(w, 0, &[3 * c, c])?, be.view(bias, 0, &[3 * c])?];
        linear_forward(be, &self.qkv(), qkv, io.x, &packed, io.keys)?;
        let dropout = if self.uses_rng(io.train) {
            copy_range(be, key, 0, io.keys, io.slot, 1)?;
            Some(FlashDropout { p: self.dropout, keys: &*key, slot: 0 })
        } else {
            None
        };
        let layout = FlashLayout::packed_qkv(self.heads, c, false);
        match io.padding.and_then(|p| p.packed.as_ref().map(|k| (p, k))) {
            Some((pad, packed)) => {
                // Packed rows to the padded layout, attention there, and back.
                let tp = packed.t;
                let stats = be.view(stats, 0, &stats_shape(b, self.heads, tp))?;
                let qkv_pad = gather_rows(be, &packed.from_packed, qkv, [b, tp, 3 * c])?;
                let mut att_pad = be.zeros(&[b, tp, c])?;
                let opts = FlashOptions { dropout, key_mask: Some(&pad.mask) };
                flash_forward(be, &mut att_pad, &mut { stats }, &qkv_pad, &qkv_pad, &layout, opts)?;
                let rows = be.view(&att_pad, 0, &[b * tp, c])?;
                embedding::embedding_forward(be, &mut be.view(att, 0, &[b * t, c])?, &packed.from_padded, &rows)?;
            }
            None => {
                let mask = padding_mask(io.padding, b, t)?;
                let stats = be.view(stats, 0, &stats_shape(b, self.heads, t))?;
                let opts = FlashOptions { dropout, key_mask: mask };
                flash_forward(be, att, &mut { stats }, qkv, qkv, &layout, opts)?;
            }
        }
        linear_forward(be, &self.output(), io.y, att, &io.params[6..8], io.keys)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let (b, t) = self.dims(be.shape(io.x))?;
        let c = self.dim;
        let [w, bias, qkv, att, stats, key, d_att, d_qkv, dw, db, tmp, lora_tmp] =
            scratch_n::<_, SCRATCH>(io.scratch, "self_attention")?;
        let (qkv_grads, rest) = io.grads.split_at_mut(6);
        let (out_grads, lora_grads) = rest.split_at_mut(2);
        linear_backward(be, &self.output(), Some(d_att), att, io.dy, &io.params[6..8], out_grads, io.accumulate)?;
        let dropout = self.uses_rng(io.train).then_some(FlashDropout { p: self.dropout, keys: &*key, slot: 0 });
        let layout = FlashLayout::packed_qkv(self.heads, c, false);
        match io.padding.and_then(|p| p.packed.as_ref().map(|k| (p, k))) {
            Some((pad, packed)) => {
                let tp = packed.t;
                let stats = be.view(stats, 0, &stats_shape(b, self.heads, tp))?;
                // The forward's padded tensors, gathered again; padding rows hold stand-ins
                // that get no gradient (no packed row reads them back).
                let qkv_pad = gather_rows(be, &packed.from_packed, qkv, [b, tp, 3 * c])?;
                let att_pad = gather_rows(be, &packed.from_packed, att, [b, tp, c])?;
                // Each packed row's gradient to its padded position (fillers add zeros to row 0).
                let d_att_pad = be.zeros(&[b, tp, c])?;
                let d_rows = be.view(d_att, 0, &[b * t, c])?;
                let mut d_att_rows = be.view(&d_att_pad, 0, &[b * tp, c])?;
                embedding::embedding_backward(be, &mut d_att_rows, &packed.from_padded, &d_rows, None, false)?;
                let d_qkv_pad = be.zeros(&[b, tp, 3 * c])?;
                let opts = FlashOptions { dropout, key_mask: Some(&pad.mask) };
                flash_backward(
                    be, &d_qkv_pad, &d_qkv_pad, &stats, &qkv_pad, &qkv_pad, &att_pad, &d_att_pad, &layout, opts,
                )?;
                let d_pad_rows = be.view(&d_qkv_pad, 0, &[b * tp, 3 * c])?;
                let mut d_packed = be.view(d_qkv, 0, &[b * t, 3 * c])?;
                embedding::embedding_backward(be, &mut d_packed, &packed.from_packed, &d_pad_rows, None, false)?;
            }
            None => {
                let stats = be.view(stats, 0, &stats_shape(b, self.heads, t))?;
                let opts = FlashOptions { dropout, key_mask: padding_mask(io.padding, b, t)? };
                flash_backward(be, d_qkv, d_qkv, &stats, qkv, qkv, att, d_att, &layout, opts)?;
            }
        }
        let packed = [be.view(w, 0, &[3 * c, c])?, be.view(bias, 0, &[3 * c])?];
        let mut packed_grads = [be.view(dw, 0, &[3 * c, c])?, be.view(db, 0, &[3 * c])?];
        linear_backward(be, &self.qkv(), io.dx, io.x, d_qkv, &packed, &mut packed_grads, false)?;
        for part in 0..3 {
            store_part(be, &mut qkv_grads[2 * part], dw, part * c * c, tmp, io.accumulate)?;
            store_part(be, &mut qkv_grads[2 * part + 1], db, part * c, tmp, io.accumulate)?;
        }
        if let Some(l) = &self.lora {
            let r = l.rank;
            for (k, part) in l.parts().enumerate() {
                let (a, b) = (&io.params[8 + 2 * k], &io.params[9 + 2 * k]);
                let d_w = be.view(dw, part * c * c, &[c, c])?;
                // dA = s·Bᵀ·dW [r, C]; dB = s·dW·Aᵀ [C, r].
                let mut da = be.view(lora_tmp, 0, &[r, c])?;
                matmul::matmul(be, MatmulForm::Tn, &mut da, b, &d_w, false)?;
                crate::nn::layer::store_scaled_grad(be, &mut lora_grads[2 * k], &da, l.scale(), io.accumulate)?;
                let mut d_b = be.view(lora_tmp, 0, &[c, r])?;
                matmul::matmul(be, MatmulForm::Nt, &mut d_b, &d_w, a, false)?;
                crate::nn::layer::store_scaled_grad(be, &mut lora_grads[2 * k + 1], &d_b, l.scale(), io.accumulate)?;
            }
        }
        Ok(())
    }
}

/// `[b, t, w]` rows gathered from `src` (its rows, flat) by `index` (`[b·t]`, as f32).
fn gather_rows<B: Backend>(be: &B, index: &B::Tensor, src: &B::Tensor, [b, t, w]: [usize; 3]) -> Result<B::Tensor> {
    let rows = crate::tensor::numel(be.shape(src)) / w;
    let table = be.view(src, 0, &[rows, w])?;
    let out = be.zeros(&[b, t, w])?;
    embedding::embedding_forward(be, &mut be.view(&out, 0, &[b * t, w])?, index, &table)?;
    Ok(out)
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
