//! A model for a task from a Hugging Face folder: the folder's network with what the task
//! adds after it (a pooling and a new Linear head for classification, a pooling for sentence
//! embeddings, nothing for a language model), its parameters loaded, and the way back out.

use super::bert::LoraSettings;
use super::folder::{base_names, is_adapter, Architecture, HfModel};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::nn::layers::pool_tokens::Pooling;
use crate::nn::{Init, Model, ModelSpec};
use crate::tensor::Tensor;
use std::path::Path;

/// Tensors by name.
pub type Named = Vec<(String, Tensor)>;

/// What the model is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// One vector per text (an encoder's pooled output): `downhill embed`.
    Embed(Pooling),
    /// Sequence classification into `classes` by a new Linear head on the pooled output.
    Classify {
        /// The number of classes.
        classes: usize,
        /// How a text becomes one vector.
        pooling: Pooling,
    },
    /// Next-token prediction (GPT-2): the folder's own head.
    LanguageModel,
}

/// The names under which a classification head is saved (not BERT's `classifier`, which
/// `BertForSequenceClassification` applies to its tanh pooler, not to this pooling).
pub const HEAD_NAMES: [&str; 2] = ["head.weight", "head.bias"];

/// The folder's model with the task's layers, for inputs of up to `max_len` tokens, the
/// config's dropouts when `dropout`; the head initialised from `seed` (PyTorch's Linear
/// default), everything else loaded from the folder.
pub fn task_model<B: Backend>(
    be: &B,
    hf: &HfModel,
    task: Task,
    max_len: usize,
    dropout: bool,
    seed: u64,
) -> Result<Model<B>> {
    let opts = TaskOptions { dropout, seed, ..TaskOptions::default() };
    task_model_with(be, hf, task, max_len, &opts)
}

/// What a task model is built with beyond the task.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskOptions {
    /// The config's dropouts in training.
    pub dropout: bool,
    /// Seeds the head's initialisation (and the adapters' A).
    pub seed: u64,
    /// LoRA adapters on the attention projections: then only the adapters and the head train.
    pub lora: Option<LoraSettings>,
    /// Globs over the reference's parameter names (and `head.weight`, `head.bias`) of
    /// parameters to freeze (`*` any run of characters, `?` one).
    pub freeze: Vec<String>,
}

/// `pattern` (`*`, `?`) matches all of `name`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// [`task_model`] with LoRA and frozen parameters.
pub fn task_model_with<B: Backend>(
    be: &B,
    hf: &HfModel,
    task: Task,
    max_len: usize,
    opts: &TaskOptions,
) -> Result<Model<B>> {
    let (dropout, seed) = (opts.dropout, opts.seed);
    if max_len == 0 || max_len > hf.max_positions() {
        return Err(Error::InvalidArgument {
            what: "max_length".into(),
            detail: format!("{max_len} must be in 1..={} (the model's max_position_embeddings)", hf.max_positions()),
        });
    }
    let tail = match (&hf.arch, task) {
        (Architecture::Bert(_), Task::Embed(p)) => format!(" pool_tokens({})", p.name()),
        (Architecture::Bert(_), Task::Classify { classes, pooling }) => {
            format!(" pool_tokens({}) linear({classes})", pooling.name())
        }
        (Architecture::Gpt2(_), Task::LanguageModel) => String::new(),
        (arch, task) => {
            let name = match arch {
                Architecture::Bert(_) => "a BERT encoder",
                Architecture::Gpt2(_) => "GPT-2",
            };
            return Err(Error::InvalidArgument {
                what: "task".into(),
                detail: format!("{task:?} is not a task for {name} (BERT: embed, classify; GPT-2: language model)"),
            });
        }
    };
    let classes = match task {
        Task::Classify { classes, .. } => classes,
        _ => hf.vocab(),
    };
    let text = format!("{}{tail}", hf.spec_text_with(dropout, opts.lora.as_ref())?);
    let mut spec = ModelSpec::parse(&text, &[max_len], classes, Init::TorchDefault)?;
    let frozen = frozen_names(hf, &spec, opts)?;
    if !frozen.is_empty() {
        spec.freeze(&frozen)?;
    }
    let mut model = Model::new(be, spec, seed)?;
    hf.load_into(be, &mut model)?;
    Ok(model)
}

/// downhill's names of the parameters `opts` freezes: with LoRA every parameter of the folder
/// (the adapters and a head train); each `freeze` glob must match some parameter.
fn frozen_names(hf: &HfModel, spec: &ModelSpec, opts: &TaskOptions) -> Result<Vec<String>> {
    let ours = base_names(spec);
    let mut theirs = hf.names();
    theirs.extend(HEAD_NAMES.iter().take(ours.len().saturating_sub(theirs.len())).map(|s| s.to_string()));
    let mut frozen: Vec<String> = Vec::new();
    if opts.lora.is_some() {
        frozen.extend(ours.iter().take(hf.names().len()).cloned());
    }
    for glob in &opts.freeze {
        let hits: Vec<&String> =
            ours.iter().zip(&theirs).filter(|(_, t)| glob_match(glob, t)).map(|(o, _)| o).collect();
        if hits.is_empty() {
            return Err(Error::InvalidArgument {
                what: "--freeze".into(),
                detail: format!(
                    "{glob:?} matches no parameter (names look like {:?}, {:?})",
                    theirs[0],
                    theirs[theirs.len() - 1]
                ),
            });
        }
        frozen.extend(hits.into_iter().cloned());
    }
    frozen.sort();
    frozen.dedup();
    Ok(frozen)
}

/// The model's LoRA adapters under the names PEFT saves them (`base_model.model.<module>.lora_A.weight`).
pub fn adapters<B: Backend>(be: &B, hf: &HfModel, model: &Model<B>) -> Result<Named> {
    let base = base_names(model.spec());
    let theirs = hf.names();
    let mut out = Vec::new();
    for (name, _) in model.spec().param_shapes() {
        if !is_adapter(&name) {
            continue;
        }
        // `P.query.lora_A.weight` adapts `P.query.weight`.
        let (module, which) = name.rsplit_once(".lora_").expect("an adapter name");
        let i = base.iter().position(|b| *b == format!("{module}.weight")).expect("the adapted weight");
        let peft_module = theirs[i].strip_suffix(".weight").expect("a weight");
        out.push((format!("base_model.model.{peft_module}.lora_{which}"), model.params.read(be, &name)?));
    }
    Ok(out)
}

/// The model's parameters as the folder names them (downhill's layout), and the head's
/// (under [`HEAD_NAMES`]) when it has one.
pub fn named_params<B: Backend>(be: &B, hf: &HfModel, model: &Model<B>) -> Result<(Named, Named)> {
    let ours = base_names(model.spec());
    let theirs = hf.names();
    let mut params = Vec::with_capacity(theirs.len());
    for (o, t) in ours.iter().zip(&theirs) {
        params.push((t.clone(), model.params.read(be, o)?));
    }
    let mut head = Vec::new();
    for (o, t) in ours[theirs.len()..].iter().zip(HEAD_NAMES) {
        head.push((t.to_string(), model.params.read(be, o)?));
    }
    Ok((params, head))
}

/// Writes `model` as a Hugging Face folder at `dir` (config.json, model.safetensors,
/// tokenizer.json) that `from_pretrained` loads; a classification head is saved beside the
/// encoder under [`HEAD_NAMES`] and described in config.json's `downhill_head`.
pub fn export<B: Backend>(
    be: &B,
    hf: &HfModel,
    model: &Model<B>,
    task: Task,
    labels: &[String],
    dir: &Path,
) -> Result<()> {
    let (params, head) = named_params(be, hf, model)?;
    let mut out = hf.clone();
    // A folder exported before holds an older head among its extra tensors.
    out.extra.retain(|(n, _)| !HEAD_NAMES.contains(&n.as_str()));
    if let Task::Classify { classes, pooling } = task {
        out.config["downhill_head"] = serde_json::json!({
            "pooling": pooling.name(),
            "classes": classes,
            "labels": labels,
            "rule": "logits = head.weight · pool(last_hidden_state) + head.bias",
        });
    }
    let params = merge_adapters(be, model, &params)?;
    super::export::export_folder(&out, &params, &head, dir)
}

/// `params` (the folder's, by the reference's names) with every LoRA adapter merged into the
/// weight it adapts: W + (alpha/r)·B·A (PEFT's `merge_and_unload`).
fn merge_adapters<B: Backend>(be: &B, model: &Model<B>, params: &Named) -> Result<Named> {
    use crate::nn::layers::self_attention::{LORA_NAMES, LORA_TARGETS};
    let base = base_names(model.spec());
    let mut out = params.clone();
    for leaf in model.spec().leaves() {
        let Some(l) = leaf.layer.lora() else { continue };
        for (part, names) in LORA_NAMES.iter().enumerate().filter(|(p, _)| l.targets[*p]) {
            let a = model.params.read(be, &format!("{}.{}", leaf.path, names[0]))?;
            let b = model.params.read(be, &format!("{}.{}", leaf.path, names[1]))?;
            let target = format!("{}.{}.weight", leaf.path, LORA_TARGETS[part]);
            let i = base.iter().position(|n| *n == target).expect("the adapted weight is a base parameter");
            let (rows, r, cols) = (b.shape()[0], a.shape()[0], a.shape()[1]);
            let w = out[i].1.data_mut();
            for row in 0..rows {
                for col in 0..cols {
                    let delta: f64 =
                        (0..r).map(|k| b.data()[row * r + k] as f64 * a.data()[k * cols + col] as f64).sum();
                    w[row * cols + col] += (l.scale() as f64 * delta) as f32;
                }
            }
        }
    }
    Ok(out)
}

/// Writes the model's LoRA adapters as PEFT does (`adapter_model.safetensors` +
/// `adapter_config.json`), for `PeftModel.from_pretrained(base, dir)`.
pub fn export_adapter<B: Backend>(
    be: &B,
    hf: &HfModel,
    model: &Model<B>,
    lora: &LoraSettings,
    dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::error::file_error(dir, format!("cannot create the folder: {e}")))?;
    let tensors = adapters(be, hf, model)?;
    let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    super::safetensors_io::write_floats(&dir.join("adapter_model.safetensors"), &tensors, metadata)?;
    let config = serde_json::json!({
        "peft_type": "LORA",
        "task_type": "FEATURE_EXTRACTION",
        "base_model_name_or_path": hf.dir.display().to_string(),
        "r": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": 0.0,
        "target_modules": lora.targets,
        "bias": "none",
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "modules_to_save": null,
    });
    let text = serde_json::to_string_pretty(&config).expect("JSON serialises");
    crate::checkpoint::write_atomically(&dir.join("adapter_config.json"), text.as_bytes())
}
