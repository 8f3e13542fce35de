//! A model for a task from a Hugging Face folder: the folder's network with what the task
//! adds after it (a pooling and a new Linear head for classification, a pooling for sentence
//! embeddings, nothing for a language model), its parameters loaded, and the way back out.

use super::folder::{Architecture, HfModel};
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
    let spec = ModelSpec::parse(&format!("{}{tail}", hf.spec_text(dropout)), &[max_len], classes, Init::TorchDefault)?;
    let mut model = Model::new(be, spec, seed)?;
    hf.load_into(be, &mut model)?;
    Ok(model)
}

/// The model's parameters as the folder names them (downhill's layout), and the head's
/// (under [`HEAD_NAMES`]) when it has one.
pub fn named_params<B: Backend>(be: &B, hf: &HfModel, model: &Model<B>) -> Result<(Named, Named)> {
    let ours: Vec<String> = model.spec().param_shapes().into_iter().map(|(n, _)| n).collect();
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
    super::export::export_folder(&out, &params, &head, dir)
}
