//! The BERT family (`BertModel`; all-MiniLM-L6-v2 is one) as a downhill model: word +
//! position + token-type embeddings and their LayerNorm, then post-LN encoder layers
//! (`h = LN(x + attention(x))`, `out = LN(h + dense2(act(dense1(h))))`), in the spec language,
//! with Hugging Face's parameter names in the spec's order.

use crate::error::{Error, Result};
use serde_json::Value;

/// What a BERT config.json says about the encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct BertConfig {
    /// `vocab_size`.
    pub vocab: usize,
    /// `hidden_size` (C).
    pub hidden: usize,
    /// `num_hidden_layers`.
    pub layers: usize,
    /// `num_attention_heads`.
    pub heads: usize,
    /// `intermediate_size`.
    pub intermediate: usize,
    /// `max_position_embeddings`: the longest input.
    pub max_positions: usize,
    /// `type_vocab_size`.
    pub types: usize,
    /// `layer_norm_eps`.
    pub eps: f64,
    /// `hidden_act` as a spec activation (`gelu`, `gelu_tanh`, `relu`).
    pub activation: &'static str,
    /// `hidden_dropout_prob`.
    pub hidden_dropout: f64,
    /// `attention_probs_dropout_prob`.
    pub attention_dropout: f64,
}

/// LoRA on a BERT's attention projections (PEFT's `LoraConfig` for `target_modules` among
/// query, key, value).
#[derive(Clone, Debug, PartialEq)]
pub struct LoraSettings {
    /// r ≥ 1.
    pub rank: usize,
    /// alpha > 0.
    pub alpha: f64,
    /// The targeted projections, by name (`query`, `key`, `value`).
    pub targets: Vec<String>,
}

impl LoraSettings {
    /// Checks r, alpha and the targets (each must name a projection LoRA can adapt).
    pub fn new(rank: i64, alpha: f64, dropout: f64, targets: &[String]) -> Result<Self> {
        if rank <= 0 {
            return Err(bad(format!("LoRA r must be ≥ 1, got {rank}")));
        }
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(bad(format!("LoRA alpha must be > 0, got {alpha}")));
        }
        if dropout != 0.0 {
            return Err(bad(format!(
                "LoRA dropout {dropout}: only 0 is supported (the adapter is added to the weight, so its input cannot be dropped apart)"
            )));
        }
        if targets.is_empty() {
            return Err(bad("LoRA needs at least one target module".into()));
        }
        for t in targets {
            if !crate::nn::layers::self_attention::LORA_TARGETS.contains(&t.as_str()) {
                return Err(bad(format!(
                    "LoRA target {t:?} matches no module: a BERT's LoRA targets are query, key and value"
                )));
            }
        }
        Ok(Self { rank: rank as usize, alpha, targets: targets.to_vec() })
    }

    /// The targets as `self_attention`'s `lora_on` letters.
    pub fn letters(&self) -> String {
        crate::nn::layers::self_attention::LORA_TARGETS
            .iter()
            .filter(|t| self.targets.iter().any(|x| x == *t))
            .map(|t| &t[..1])
            .collect()
    }
}

/// The largest size a config.json may give (2³¹): well past any real model's, and small
/// enough that the sizes derived from it (`4 · n_embd`, products of two) cannot overflow.
/// `"n_embd": 13886589259623781715` overflowed `4 · n_embd` (found by fuzz/hf_config).
pub(crate) const MAX_SIZE: u64 = 1 << 31;

/// The most layers a config.json may give: as `gpt(…)`'s cap. A GPT-2 config of 5,621
/// layers took over a second to turn into a spec (fuzz/hf_config); real models have about
/// a hundred.
pub(crate) const MAX_LAYERS: usize = crate::nn::gpt::MAX_LAYERS;

/// A layer count in [1, [`MAX_LAYERS`]] from the config.
pub(crate) fn layers(config: &Value, key: &str) -> Result<usize> {
    let n = size(config, key)?;
    if n > MAX_LAYERS {
        return Err(bad(format!("config.json: `{key}` is {n}; at most {MAX_LAYERS} layers are supported")));
    }
    Ok(n)
}

/// A whole number in [1, [`MAX_SIZE`]] from the config.
pub(crate) fn size(config: &Value, key: &str) -> Result<usize> {
    match config.get(key).and_then(Value::as_u64) {
        Some(v) if (1..=MAX_SIZE).contains(&v) => Ok(v as usize),
        _ => Err(bad(format!(
            "config.json: `{key}` must be a whole number from 1 to {MAX_SIZE}, got {}",
            show(config.get(key))
        ))),
    }
}

/// A probability in [0, 1) from the config (absent or null: `default`).
pub(crate) fn prob(config: &Value, key: &str, default: f64) -> Result<f64> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_f64() {
            Some(p) if (0.0..1.0).contains(&p) => Ok(p),
            _ => Err(bad(format!("config.json: `{key}` must be a probability in [0, 1), got {v}"))),
        },
    }
}

/// A positive number from the config (absent: `default`).
pub(crate) fn positive(config: &Value, key: &str, default: f64) -> Result<f64> {
    match config.get(key) {
        None => Ok(default),
        Some(v) => match v.as_f64() {
            Some(x) if x > 0.0 => Ok(x),
            _ => Err(bad(format!("config.json: `{key}` must be a positive number, got {v}"))),
        },
    }
}

fn show(v: Option<&Value>) -> String {
    v.map_or("nothing".into(), Value::to_string)
}

pub(crate) fn bad(detail: String) -> Error {
    Error::InvalidArgument { what: "Hugging Face model".into(), detail }
}

/// The spec activation of a Hugging Face activation name.
pub(crate) fn activation(name: &str) -> Result<&'static str> {
    match name {
        "gelu" => Ok("gelu"),
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok("gelu_tanh"),
        "relu" => Ok("relu"),
        "silu" | "swish" => Ok("silu"),
        other => Err(bad(format!("activation {other:?} is not supported (gelu, gelu_new, relu, silu are)"))),
    }
}

impl BertConfig {
    /// Reads a BERT config.json.
    pub fn from_json(config: &Value) -> Result<Self> {
        let cfg = Self {
            vocab: size(config, "vocab_size")?,
            hidden: size(config, "hidden_size")?,
            layers: layers(config, "num_hidden_layers")?,
            heads: size(config, "num_attention_heads")?,
            intermediate: size(config, "intermediate_size")?,
            max_positions: size(config, "max_position_embeddings")?,
            types: size(config, "type_vocab_size").unwrap_or(2),
            eps: positive(config, "layer_norm_eps", 1e-12)?,
            activation: activation(config.get("hidden_act").and_then(Value::as_str).unwrap_or("gelu"))?,
            hidden_dropout: prob(config, "hidden_dropout_prob", 0.1)?,
            attention_dropout: prob(config, "attention_probs_dropout_prob", 0.1)?,
        };
        if !cfg.hidden.is_multiple_of(cfg.heads) {
            return Err(bad(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                cfg.hidden, cfg.heads
            )));
        }
        match config.get("position_embedding_type").and_then(Value::as_str) {
            None | Some("absolute") => {}
            Some(other) => {
                return Err(bad(format!("position_embedding_type {other:?}: only \"absolute\" is supported")))
            }
        }
        if config.get("is_decoder").and_then(Value::as_bool) == Some(true) {
            return Err(bad("is_decoder is true: only BERT encoders are supported".into()));
        }
        Ok(cfg)
    }

    /// The encoder in the spec language (input: token ids `[T]`, T ≤ max_positions; output
    /// `[T, C]`, the `last_hidden_state`), with the config's dropouts when `dropout`.
    pub fn encoder_spec(&self, dropout: bool) -> String {
        self.encoder_spec_with(dropout, None)
    }

    /// [`BertConfig::encoder_spec`] with LoRA adapters in every attention layer.
    pub fn encoder_spec_with(&self, dropout: bool, lora: Option<&LoraSettings>) -> String {
        let (c, eps) = (self.hidden, self.eps);
        let drop = |p: f64| if dropout && p > 0.0 { format!(" dropout({p:?})") } else { String::new() };
        let attn_drop = if dropout && self.attention_dropout > 0.0 {
            format!(", dropout={:?}", self.attention_dropout)
        } else {
            String::new()
        };
        let hd = drop(self.hidden_dropout);
        let attn_drop = match lora {
            Some(l) => format!("{attn_drop}, lora_r={}, lora_alpha={:?}, lora_on={}", l.rank, l.alpha, l.letters()),
            None => attn_drop,
        };
        let mut spec = format!(
            "embedding({}, {c}) position_embedding({}) type_embedding({}) layernorm({c}, eps={eps:?}){hd}",
            self.vocab, self.max_positions, self.types
        );
        for _ in 0..self.layers {
            spec += &format!(
                " residual(self_attention({}{attn_drop}){hd}) layernorm({c}, eps={eps:?}) \
                 residual(linear({}) {} linear({c}){hd}) layernorm({c}, eps={eps:?})",
                self.heads, self.intermediate, self.activation
            );
        }
        spec
    }

    /// `BertModel`'s parameter names (no pooler) in the encoder spec's parameter order.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = [
            "embeddings.word_embeddings.weight",
            "embeddings.position_embeddings.weight",
            "embeddings.token_type_embeddings.weight",
            "embeddings.LayerNorm.weight",
            "embeddings.LayerNorm.bias",
        ]
        .map(String::from)
        .to_vec();
        for i in 0..self.layers {
            for module in [
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
                "attention.output.LayerNorm",
                "intermediate.dense",
                "output.dense",
                "output.LayerNorm",
            ] {
                names.push(format!("encoder.layer.{i}.{module}.weight"));
                names.push(format!("encoder.layer.{i}.{module}.bias"));
            }
        }
        names
    }

    /// The shape config.json implies for parameter `name` (one of [`BertConfig::names`]).
    pub fn shape_of(&self, name: &str) -> Vec<usize> {
        let (c, i) = (self.hidden, self.intermediate);
        match name {
            "embeddings.word_embeddings.weight" => vec![self.vocab, c],
            "embeddings.position_embeddings.weight" => vec![self.max_positions, c],
            "embeddings.token_type_embeddings.weight" => vec![self.types, c],
            n if n.ends_with("intermediate.dense.weight") => vec![i, c],
            n if n.ends_with("intermediate.dense.bias") => vec![i],
            n if n.ends_with(".output.dense.weight") && !n.contains("attention") => vec![c, i],
            n if n.ends_with(".weight") && !n.contains("LayerNorm") => vec![c, c],
            _ => vec![c],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> BertConfig {
        let json = serde_json::json!({"vocab_size": 120, "hidden_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 24,
            "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"});
        BertConfig::from_json(&json).unwrap()
    }

    #[test]
    fn names_follow_the_spec_parameter_order() {
        let cfg = tiny();
        let spec =
            crate::nn::ModelSpec::parse(&cfg.encoder_spec(false), &[12], 1, crate::nn::Init::TorchDefault).unwrap();
        let ours = spec.param_shapes();
        let names = cfg.names();
        assert_eq!(ours.len(), names.len());
        for ((_, shape), name) in ours.iter().zip(&names) {
            assert_eq!(shape, &cfg.shape_of(name), "{name}");
        }
    }

    #[test]
    fn unsupported_settings_are_named() {
        let json = serde_json::json!({"vocab_size": 10, "hidden_size": 30, "num_hidden_layers": 1,
            "num_attention_heads": 4, "intermediate_size": 8, "max_position_embeddings": 8});
        let err = BertConfig::from_json(&json).unwrap_err().to_string();
        assert!(err.contains("not divisible"), "{err}");
        let json = serde_json::json!({"vocab_size": 10, "hidden_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 4, "intermediate_size": 8, "max_position_embeddings": 8, "hidden_act": "mish"});
        assert!(BertConfig::from_json(&json).unwrap_err().to_string().contains("mish"));
    }
}
