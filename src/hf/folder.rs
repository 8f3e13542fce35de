//! Opening a Hugging Face model folder: config.json picks the architecture, model.safetensors
//! gives the tensors (checked against the config, name by name), tokenizer.json is found.

use super::bert::{bad, BertConfig};
use super::gpt2::{is_conv1d, Gpt2Config};
use super::safetensors_io::{read_floats, transpose};
use crate::backend::Backend;
use crate::error::{file_error, Result};
use crate::nn::Model;
use crate::tensor::Tensor;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Tensors by name.
type Named = Vec<(String, Tensor)>;

/// The architectures downhill reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Architecture {
    /// The BERT family's encoder (`BertModel`, and the encoder of `BertFor…` models).
    Bert(BertConfig),
    /// `GPT2LMHeadModel`.
    Gpt2(Gpt2Config),
}

/// A model folder, read.
#[derive(Clone, Debug)]
pub struct HfModel {
    /// The folder.
    pub dir: PathBuf,
    /// Its architecture and configuration.
    pub arch: Architecture,
    /// config.json as read (export writes it back, updated).
    pub config: Value,
    /// The parameters under the reference's names (BERT: `BertModel`'s, no `bert.` prefix;
    /// GPT-2: with the `transformer.` prefix), in downhill's layout and the spec's order.
    pub params: Vec<(String, Tensor)>,
    /// Float tensors the file holds that the model does not use (BERT's pooler), written back
    /// unchanged on export.
    pub extra: Vec<(String, Tensor)>,
    /// tokenizer.json, when the folder has one.
    pub tokenizer: Option<PathBuf>,
}

/// How to turn a pickle checkpoint into safetensors, for the error that refuses one.
pub const CONVERT_HINT: &str =
    "convert it with transformers: python3 -c \"import sys; from transformers import AutoModel; \
     m = AutoModel.from_pretrained(sys.argv[1]); m.save_pretrained(sys.argv[1], safe_serialization=True)\" DIR";

impl HfModel {
    /// Reads the folder `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(file_error(dir, "not a folder: --from takes a Hugging Face model folder (config.json, model.safetensors, tokenizer.json)"));
        }
        let config_path = dir.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|e| {
            file_error(&config_path, format!("cannot read ({e}); a Hugging Face model folder holds config.json, model.safetensors and tokenizer.json"))
        })?;
        let config: Value =
            serde_json::from_str(&text).map_err(|e| file_error(&config_path, format!("not valid JSON: {e}")))?;
        let arch = architecture(&config).map_err(|e| file_error(&config_path, e.to_string()))?;
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            let detail = if dir.join("pytorch_model.bin").is_file() {
                format!("the folder holds only a pickle checkpoint (pytorch_model.bin), which downhill never unpickles; {CONVERT_HINT}")
            } else if dir.join("model.safetensors.index.json").is_file() {
                "the weights are sharded (model.safetensors.index.json); downhill reads one model.safetensors".into()
            } else {
                "missing: the folder has no model.safetensors".into()
            };
            return Err(file_error(&weights, detail));
        }
        let file = read_floats(&weights)?;
        let (params, extra) = match &arch {
            Architecture::Bert(cfg) => {
                let canonical = |n: &str| n.strip_prefix("bert.").unwrap_or(n).to_string();
                place(&weights, &file, &cfg.names(), canonical, |n| cfg.shape_of(n), |_| false, |_| false)?
            }
            Architecture::Gpt2(cfg) => {
                let canonical = |n: &str| {
                    if n.starts_with("transformer.") || n.starts_with("lm_head.") {
                        n.to_string()
                    } else {
                        format!("transformer.{n}")
                    }
                };
                // GPT-2 files carry the causal mask buffers `attn.bias` / `attn.masked_bias`; the
                // head is the token embedding.
                let ignored =
                    |n: &str| n.ends_with("attn.bias") || n.ends_with("attn.masked_bias") || n == "lm_head.weight";
                place(&weights, &file, &cfg.names(), canonical, |n| cfg.shape_of(n), is_conv1d, ignored)?
            }
        };
        let tokenizer = Some(dir.join("tokenizer.json")).filter(|p| p.is_file());
        Ok(Self { dir: dir.to_path_buf(), arch, config, params, extra, tokenizer })
    }

    /// The model in the spec language (BERT: the encoder; GPT-2: the language model), with
    /// the config's dropouts when `dropout`.
    pub fn spec_text(&self, dropout: bool) -> String {
        match &self.arch {
            Architecture::Bert(c) => c.encoder_spec(dropout),
            Architecture::Gpt2(c) => c.spec(dropout),
        }
    }

    /// [`HfModel::spec_text`] with LoRA adapters (BERT only).
    pub fn spec_text_with(&self, dropout: bool, lora: Option<&super::bert::LoraSettings>) -> Result<String> {
        match (&self.arch, lora) {
            (_, None) => Ok(self.spec_text(dropout)),
            (Architecture::Bert(c), Some(l)) => Ok(c.encoder_spec_with(dropout, Some(l))),
            (Architecture::Gpt2(_), Some(_)) => {
                Err(bad("LoRA on GPT-2 folders is not supported yet (BERT only)".into()))
            }
        }
    }

    /// The longest input (positions).
    pub fn max_positions(&self) -> usize {
        match &self.arch {
            Architecture::Bert(c) => c.max_positions,
            Architecture::Gpt2(c) => c.positions,
        }
    }

    /// The vocabulary size.
    pub fn vocab(&self) -> usize {
        match &self.arch {
            Architecture::Bert(c) => c.vocab,
            Architecture::Gpt2(c) => c.vocab,
        }
    }

    /// The width C.
    pub fn hidden(&self) -> usize {
        match &self.arch {
            Architecture::Bert(c) => c.hidden,
            Architecture::Gpt2(c) => c.hidden,
        }
    }

    /// The folder's tokenizer.json, checked against the model: every id it can produce must
    /// have a row in the embedding.
    pub fn load_tokenizer(&self) -> Result<super::TextTokenizer> {
        let path = self.tokenizer.clone().unwrap_or_else(|| self.dir.join("tokenizer.json"));
        let tok = super::TextTokenizer::from_file(&path)?;
        if tok.vocab_size() > self.vocab() {
            return Err(file_error(
                &path,
                format!(
                    "the tokenizer produces ids up to {} but the model's vocabulary (config.json vocab_size) has {} rows",
                    tok.vocab_size() - 1,
                    self.vocab()
                ),
            ));
        }
        Ok(tok)
    }

    /// The reference's name of each parameter, in the spec's order.
    pub fn names(&self) -> Vec<String> {
        self.params.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Loads the folder's parameters into `model`, whose spec starts with
    /// [`HfModel::spec_text`]'s layers (a task head after them keeps its own values).
    /// Returns downhill's names of the loaded parameters, in order.
    pub fn load_into<B: Backend>(&self, be: &B, model: &mut Model<B>) -> Result<Vec<String>> {
        let ours = base_names(model.spec());
        if ours.len() < self.params.len() {
            return Err(bad(format!(
                "the model has {} parameters, fewer than the folder's {}",
                ours.len(),
                self.params.len()
            )));
        }
        let pairs: Vec<(String, Tensor)> =
            ours.iter().zip(&self.params).map(|(o, (_, t))| (o.clone(), t.clone())).collect();
        model.load(be, &pairs)?;
        Ok(ours[..self.params.len()].to_vec())
    }
}

/// A spec's parameter names without LoRA adapters (the folder's parameters, then a head's).
pub fn base_names(spec: &crate::nn::ModelSpec) -> Vec<String> {
    spec.param_shapes().into_iter().map(|(n, _)| n).filter(|n| !is_adapter(n)).collect()
}

/// True for a LoRA adapter's name.
pub fn is_adapter(name: &str) -> bool {
    name.contains(".lora_A.") || name.contains(".lora_B.")
}

/// The architecture config.json names.
fn architecture(config: &Value) -> Result<Architecture> {
    let model_type = config.get("model_type").and_then(Value::as_str).unwrap_or("");
    let arch = config.get("architectures").and_then(|a| a.get(0)).and_then(Value::as_str).unwrap_or("");
    match model_type {
        "bert" => Ok(Architecture::Bert(BertConfig::from_json(config)?)),
        "gpt2" => Ok(Architecture::Gpt2(Gpt2Config::from_json(config)?)),
        _ => Err(bad(format!(
            "architecture {arch:?} (model_type {model_type:?}) is not supported: downhill reads the BERT family \
             (model_type \"bert\": BertModel, MiniLM) and GPT-2 (model_type \"gpt2\": GPT2LMHeadModel)"
        ))),
    }
}

/// The file's tensors `file` placed in `names`' order (found by their `canonical` names,
/// `turned` ones transposed, shapes checked against `shape_of`), and the rest that is not
/// `ignored`.
fn place(
    path: &Path,
    file: &[(String, Tensor)],
    names: &[String],
    canonical: impl Fn(&str) -> String,
    shape_of: impl Fn(&str) -> Vec<usize>,
    turned: impl Fn(&str) -> bool,
    ignored: impl Fn(&str) -> bool,
) -> Result<(Named, Named)> {
    let by_name: std::collections::HashMap<String, &Tensor> = file.iter().map(|(n, t)| (canonical(n), t)).collect();
    let mut params = Vec::with_capacity(names.len());
    for name in names {
        // A tied head is the token embedding (GPT-2 files often leave it out).
        let lookup = if name == "lm_head.weight" { "transformer.wte.weight" } else { name.as_str() };
        let t = by_name
            .get(lookup)
            .ok_or_else(|| file_error(path, format!("tensor {lookup:?} is missing (config.json implies it)")))?;
        let t = if turned(name) { transpose(t)? } else { (*t).clone() };
        let want = shape_of(name);
        if t.shape() != want {
            let stored = if turned(name) { " (a Conv1D weight, read transposed)" } else { "" };
            return Err(file_error(
                path,
                format!("tensor {name:?} has shape {:?}{stored} but config.json implies {want:?}", t.shape()),
            ));
        }
        params.push((name.clone(), t));
    }
    let extra = file
        .iter()
        .filter(|(n, _)| !names.contains(&canonical(n)) && !ignored(&canonical(n)))
        .map(|(n, t)| (canonical(n), t.clone()))
        .collect();
    Ok((params, extra))
}
