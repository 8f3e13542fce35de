//! The `gpt` preset: nanoGPT's decoder written in the spec language, so a user types
//! `gpt(n_layer=4, n_head=4, n_embd=128, block_size=64)` and gets the model of nanoGPT's
//! `model.py` with its initialisation (normal 0.02; the residual projections 0.02/√(2·n_layer);
//! biases zero) and the head tied to the token embedding. The vocabulary is the model's output
//! count (the data's). Every layer of the expansion is an ordinary spec layer, so other decoders
//! are written the same way by hand.

use super::args::Args;
use super::parse::parse;
use crate::error::{Error, Result};

/// Argument names in order, with nanoGPT's CPU recipe (README: "baby GPT") as defaults.
pub const ARGS: &[&str] = &["n_layer", "n_head", "n_embd", "block_size", "bias", "dropout"];
/// The most transformer blocks `gpt(…)` builds.
pub const MAX_LAYERS: usize = 1024;
/// The widest embedding `gpt(…)` builds (2³¹: 4·n_embd and the layer shapes stay far from
/// overflowing).
pub const MAX_EMBD: usize = 1 << 31;

/// nanoGPT's initialisation std.
const STD: f64 = 0.02;

/// The spec text `text` stands for when it is the `gpt` preset (`gpt` or `gpt(...)`), for a
/// vocabulary of `vocab` tokens; None for any other text.
pub fn expand(text: &str, vocab: usize) -> Result<Option<String>> {
    let trimmed = text.trim();
    if trimmed != "gpt" && !trimmed.starts_with("gpt(") && !trimmed.starts_with("gpt (") {
        return Ok(None);
    }
    let items = parse(trimmed)?;
    let [item] = &items[..] else {
        return Err(bad("write the gpt preset alone: gpt(n_layer=…, n_head=…, n_embd=…, block_size=…)".into()));
    };
    let args: Args = item.args.clone();
    let b = args.bind("gpt", ARGS)?;
    let layers = b.size("n_layer", 1, Some(4))?;
    if layers > MAX_LAYERS {
        // Expanded into a spec of 13 layers per block, n_layer=333333333 ran out the fuzzer's
        // time (fuzz/model_spec); the largest GPTs have about a hundred blocks.
        return Err(bad(format!("n_layer {layers} is more than {MAX_LAYERS} blocks")));
    }
    let heads = b.size("n_head", 1, Some(4))?;
    let c = b.size("n_embd", 1, Some(128))?;
    if c > MAX_EMBD {
        // n_embd=8349017521695402666 overflowed the MLP's 4·n_embd (fuzz/model_spec).
        return Err(bad(format!("n_embd {c} is more than {MAX_EMBD}")));
    }
    let block = b.size("block_size", 1, Some(64))?;
    let bias = b.flag("bias", true)?;
    let dropout = b.float("dropout", 0.0..1.0, 0.0)?;
    if !c.is_multiple_of(heads) {
        return Err(bad(format!("n_embd {c} is not divisible by n_head {heads}: each head takes n_embd / n_head")));
    }
    let nb = if bias { String::new() } else { ", bias=false".into() };
    let proj = STD / (2.0 * layers as f64).sqrt();
    // nanoGPT's four dropouts: after the embeddings (`drop`), of the attention probabilities
    // (`attn_dropout`), after c_proj (`resid_dropout`) and after the MLP (`mlp.dropout`). None
    // are written at 0, so such a model is the same layers as before dropout existed.
    let (drop, attn_drop) = if dropout > 0.0 {
        (format!(" dropout({dropout:?})"), format!(", dropout={dropout:?}"))
    } else {
        (String::new(), String::new())
    };
    let mut spec = format!("embedding({vocab}, {c}, std={STD:?}) position_embedding({block}, std={STD:?}){drop}");
    for _ in 0..layers {
        spec += &format!(
            " residual(layernorm({c}{nb}) causal_self_attention({heads}{nb}, std={STD:?}, proj_std={proj:?}{attn_drop}){drop}) \
             residual(layernorm({c}{nb}) linear({}{nb}, std={STD:?}) gelu linear({c}{nb}, std={proj:?}){drop})",
            4 * c
        );
    }
    spec += &format!(" layernorm({c}{nb}) linear({vocab}, bias=false, tie=0)");
    Ok(Some(spec))
}

/// The block size a `gpt(...)` text asks for (its input length), when it is the preset.
pub fn block_size(text: &str) -> Result<Option<usize>> {
    if expand(text, 1)?.is_none() {
        return Ok(None);
    }
    let items = parse(text.trim())?;
    let b = items[0].args.clone().bind("gpt", ARGS)?;
    Ok(Some(b.size("block_size", 1, Some(64))?))
}

fn bad(detail: String) -> Error {
    Error::InvalidArgument { what: "model: gpt".into(), detail }
}

/// nanoGPT's parameter names (`GPT.named_parameters()` order, `lm_head.weight` last) for
/// `n_layer` blocks, with or without biases.
pub fn nanogpt_names(layers: usize, bias: bool) -> Vec<String> {
    let with_bias = |module: String| -> Vec<String> {
        let mut v = vec![format!("{module}.weight")];
        if bias {
            v.push(format!("{module}.bias"));
        }
        v
    };
    let mut names = vec!["transformer.wte.weight".to_string(), "transformer.wpe.weight".to_string()];
    for i in 0..layers {
        for module in ["ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"] {
            names.extend(with_bias(format!("transformer.h.{i}.{module}")));
        }
    }
    names.extend(with_bias("transformer.ln_f".into()));
    names.push("lm_head.weight".into());
    names
}

/// For a `gpt(...)` model text and its spec's parameter names (in spec order): each name
/// paired with nanoGPT's, so a checkpoint can store nanoGPT's state_dict names; None for any
/// other model.
pub fn state_dict_names(text: &str, ours: &[String]) -> Result<Option<Vec<(String, String)>>> {
    if expand(text, 1)?.is_none() {
        return Ok(None);
    }
    let items = parse(text.trim())?;
    let b = items[0].args.clone().bind("gpt", ARGS)?;
    let theirs = nanogpt_names(b.size("n_layer", 1, Some(4))?, b.flag("bias", true)?);
    if theirs.len() != ours.len() {
        return Ok(None);
    }
    Ok(Some(ours.iter().cloned().zip(theirs).collect()))
}
