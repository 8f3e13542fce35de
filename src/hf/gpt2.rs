//! GPT-2 (`GPT2LMHeadModel`) as downhill's GPT: the same pre-LN decoder as the `gpt` preset,
//! with the tanh GELU, the config's LayerNorm epsilon and the head tied to `transformer.wte`.
//! GPT-2 keeps `c_attn`, `c_proj`, `c_fc` as Conv1D with the weight `[in, out]`: those four are
//! transposed on the way in and out. Names are nanoGPT's (the same as GPT-2's with the
//! `transformer.` prefix).

use super::bert::{activation, bad, positive, prob, size};
use crate::error::Result;
use serde_json::Value;

/// What a GPT-2 config.json says about the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Gpt2Config {
    /// `vocab_size`.
    pub vocab: usize,
    /// `n_embd` (C).
    pub hidden: usize,
    /// `n_layer`.
    pub layers: usize,
    /// `n_head`.
    pub heads: usize,
    /// `n_inner` (null: 4C).
    pub inner: usize,
    /// `n_positions`: the block size.
    pub positions: usize,
    /// `layer_norm_epsilon`.
    pub eps: f64,
    /// `activation_function` as a spec activation.
    pub activation: &'static str,
    /// `embd_pdrop`, `attn_pdrop`, `resid_pdrop`.
    pub dropouts: [f64; 3],
}

/// The Conv1D weights (stored `[in, out]`).
pub fn is_conv1d(name: &str) -> bool {
    ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"]
        .iter()
        .any(|s| name.ends_with(s))
}

impl Gpt2Config {
    /// Reads a GPT-2 config.json.
    pub fn from_json(config: &Value) -> Result<Self> {
        let hidden = size(config, "n_embd")?;
        let inner = match config.get("n_inner") {
            None | Some(Value::Null) => 4 * hidden,
            Some(_) => size(config, "n_inner")?,
        };
        let cfg = Self {
            vocab: size(config, "vocab_size")?,
            hidden,
            layers: super::bert::layers(config, "n_layer")?,
            heads: size(config, "n_head")?,
            inner,
            positions: size(config, "n_positions")?,
            eps: positive(config, "layer_norm_epsilon", 1e-5)?,
            activation: activation(config.get("activation_function").and_then(Value::as_str).unwrap_or("gelu_new"))?,
            dropouts: [
                prob(config, "embd_pdrop", 0.1)?,
                prob(config, "attn_pdrop", 0.1)?,
                prob(config, "resid_pdrop", 0.1)?,
            ],
        };
        if !hidden.is_multiple_of(cfg.heads) {
            return Err(bad(format!("n_embd {hidden} is not divisible by n_head {}", cfg.heads)));
        }
        for key in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"] {
            if config.get(key).and_then(Value::as_bool) == Some(true) {
                return Err(bad(format!("{key} is true: not supported")));
            }
        }
        if config.get("scale_attn_weights").and_then(Value::as_bool) == Some(false) {
            return Err(bad("scale_attn_weights is false: not supported".into()));
        }
        if config.get("tie_word_embeddings").and_then(Value::as_bool) == Some(false) {
            return Err(bad("tie_word_embeddings is false: only a head tied to wte is supported".into()));
        }
        Ok(cfg)
    }

    /// The model in the spec language (input: token ids `[T]`, T ≤ n_positions; output
    /// `[T, V]` logits), with the config's dropouts when `dropout`.
    pub fn spec(&self, dropout: bool) -> String {
        let (c, eps, v) = (self.hidden, self.eps, self.vocab);
        let d = |p: f64| if dropout && p > 0.0 { format!(" dropout({p:?})") } else { String::new() };
        let attn =
            if dropout && self.dropouts[1] > 0.0 { format!(", dropout={:?}", self.dropouts[1]) } else { String::new() };
        let resid = d(self.dropouts[2]);
        let mut spec = format!("embedding({v}, {c}) position_embedding({}){}", self.positions, d(self.dropouts[0]));
        for _ in 0..self.layers {
            spec += &format!(
                " residual(layernorm({c}, eps={eps:?}) causal_self_attention({}{attn}){resid}) \
                 residual(layernorm({c}, eps={eps:?}) linear({}) {} linear({c}){resid})",
                self.heads, self.inner, self.activation
            );
        }
        spec + &format!(" layernorm({c}, eps={eps:?}) linear({v}, bias=false, tie=0)")
    }

    /// The parameter names in the spec's order (`lm_head.weight` last: it is `transformer.wte`).
    pub fn names(&self) -> Vec<String> {
        crate::nn::gpt::nanogpt_names(self.layers, true)
    }

    /// The shape config.json implies for `name` in downhill's layout (Conv1D weights turned).
    pub fn shape_of(&self, name: &str) -> Vec<usize> {
        let (c, i) = (self.hidden, self.inner);
        match name {
            "transformer.wte.weight" | "lm_head.weight" => vec![self.vocab, c],
            "transformer.wpe.weight" => vec![self.positions, c],
            n if n.ends_with("attn.c_attn.weight") => vec![3 * c, c],
            n if n.ends_with("attn.c_attn.bias") => vec![3 * c],
            n if n.ends_with("mlp.c_fc.weight") => vec![i, c],
            n if n.ends_with("mlp.c_fc.bias") => vec![i],
            n if n.ends_with("mlp.c_proj.weight") => vec![c, i],
            n if n.ends_with("attn.c_proj.weight") => vec![c, c],
            _ => vec![c],
        }
    }
}
