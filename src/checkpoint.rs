//! Checkpoints: one safetensors file with the parameters and buffers under the state_dict names
//! of the equivalent `nn.Sequential` (`0.weight`, `1.running_mean`, `1.num_batches_tracked` as
//! I64, … so `load_state_dict` takes them), the optimizer state under `optimizer.<param>.<state>`, and everything else needed to resume
//! exactly (configuration, schedule position, RNG states, epoch, step, data position, metrics
//! history) as JSON in the header's metadata. Written atomically: temporary file, fsync, rename.

use crate::config::RunConfig;
use crate::data::normalize::Normalizer;
pub use crate::data::InputSchema;
use crate::error::{file_error, Error, Result};
use crate::metrics::RegressionMetrics;
use crate::optim::OptimizerState;
use crate::tensor::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// The format tag in every checkpoint's metadata. Version 2 added the input schema, the
/// early-stopping best epoch and optional optimizer hyperparameters; version 3 the model spec,
/// the input shape, buffers, and model names equal to the state_dict names.
pub const FORMAT: &str = "downhill-checkpoint-3";

/// Older formats this version still reads (format 2: MLPs, whose optimizer state was named by
/// `fc1.weight`-style model names; they are renamed on load).
const READABLE: &[&str] = &["downhill-checkpoint-2"];

/// Early stopping's state: the best value of its metric (lower is better), the epoch that
/// reached it, and the epochs since.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopState {
    /// Best metric so far (accuracy negated).
    pub best: f64,
    /// The epoch (1-based) that reached it; `best.safetensors` holds its weights.
    pub best_epoch: usize,
    /// Epochs since it improved.
    pub bad_epochs: usize,
}

/// One epoch's metrics. Held-out figures are the validation split's: the test set is scored
/// once, at the end of the run (records of older checkpoints also held a per-epoch test
/// score, which is no longer read).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean micro-batch loss during the epoch.
    pub train_loss: f64,
    /// Validation loss (when a validation split exists).
    pub val_loss: Option<f64>,
    /// Validation accuracy (classification).
    pub val_accuracy: Option<f64>,
    /// Validation MAE, RMSE and R² in the targets' own units (regression under `mse`).
    #[serde(default)]
    pub val_regression: Option<RegressionMetrics>,
    /// Learning rate at the epoch's last step (first group).
    pub lr: f64,
    /// Training rows per second over the epoch.
    pub samples_per_s: f64,
    /// Seconds the epoch took (training only).
    pub seconds: f64,
}

/// Everything but the tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// The run's configuration.
    pub config: RunConfig,
    /// Input features of the model.
    pub inputs: usize,
    /// Per-sample input shape the model was built for (empty in format 2: `[inputs]`).
    #[serde(default)]
    pub input_shape: Vec<usize>,
    /// Python that builds the equivalent PyTorch module (`model = nn.Sequential(...)`), whose
    /// `load_state_dict` takes this file's tensors (empty in format 2).
    #[serde(default)]
    pub torch_code: String,
    /// How training rows were read (predict reads new rows the same way).
    pub schema: InputSchema,
    /// Outputs of the model.
    pub outputs: usize,
    /// Classes of the labels (classification).
    pub classes: Option<usize>,
    /// Epochs completed.
    pub epoch: usize,
    /// Steps done in the epoch in progress (0 at an epoch boundary).
    pub epoch_step: u64,
    /// Optimizer steps overall.
    pub steps: u64,
    /// The shuffle RNG state at the start of the epoch in progress.
    pub epoch_rng_state: u64,
    /// The shuffle RNG state now.
    pub rng_state: u64,
    /// Dropout masks drawn so far.
    pub dropout_calls: u64,
    /// Loss sum and micro-batches of the epoch in progress.
    pub partial_loss: (f64, usize),
    /// Optimizer scalars (its tensors are in the file).
    pub optimizer_step: u64,
    /// NAdam's μ product.
    pub mu_product: f32,
    /// Learning rate of each group.
    pub lrs: Vec<f64>,
    /// Momentum / β1 of each group.
    pub momenta: Vec<f64>,
    /// Schedule-free AdamW's (lr_max, weight_sum) of each group.
    #[serde(default)]
    pub schedule_free: Vec<(f64, f64)>,
    /// The parameters are schedule-free AdamW's eval-mode x (training resumes from y).
    #[serde(default)]
    pub params_in_eval_mode: bool,
    /// The fitted input normalisation.
    pub normalizer: Normalizer,
    /// The fitted target standardisation (regression): the model predicts standardised
    /// targets, which `predict` and `eval` turn back into the data's units.
    #[serde(default)]
    pub target_normalizer: Option<Normalizer>,
    /// The original label of each class, when the labels were mapped to 0..K-1 (strings,
    /// integers from 1, or `label_map = "sorted"`): `predict` writes these.
    #[serde(default)]
    pub label_names: Option<Vec<String>>,
    /// Metrics of every completed epoch.
    pub history: Vec<EpochRecord>,
    /// Early stopping's state (with `patience`).
    pub early_stop: Option<EarlyStopState>,
    /// Data-parallel replicas the run trained with (1 before they existed).
    #[serde(default = "one_replica")]
    pub replicas: usize,
    /// (file name, model name) of every parameter: equal since format 3; format 2 had
    /// ("0.weight", "fc1.weight").
    pub names: Vec<(String, String)>,
}

fn one_replica() -> usize {
    1
}

/// A checkpoint in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Scalars and configuration.
    pub meta: CheckpointMeta,
    /// Parameters by state_dict name (`0.weight`, …).
    pub params: Vec<(String, Tensor)>,
    /// Buffers by state_dict name (`1.running_mean`, `1.num_batches_tracked`, …).
    pub buffers: Vec<(String, Tensor)>,
    /// Optimizer state tensors by `<param>.<state>`.
    pub optimizer: Vec<(String, Tensor)>,
}

/// A safetensors view of a host tensor.
fn view(t: &Tensor) -> Result<TensorView<'_>> {
    TensorView::new(Dtype::F32, t.shape().to_vec(), bytemuck::cast_slice(t.data()))
        .map_err(|e| Error::InvalidArgument { what: "checkpoint".into(), detail: e.to_string() })
}

impl CheckpointMeta {
    /// The MLP's layer sizes: inputs, the hidden sizes of its configuration, outputs.
    pub fn layer_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.inputs];
        sizes.extend(&self.config.hidden);
        sizes.push(self.outputs);
        sizes
    }

    /// The per-sample input shape (format 2 checkpoints: flat `[inputs]`).
    pub fn sample_shape(&self) -> Vec<usize> {
        if self.input_shape.is_empty() {
            vec![self.inputs]
        } else {
            self.input_shape.clone()
        }
    }
}

/// A safetensors view of a `num_batches_tracked` counter: an I64 scalar, as PyTorch keeps it.
fn counter_bytes(t: &Tensor) -> Vec<u8> {
    (t.data().first().copied().unwrap_or(0.0) as i64).to_le_bytes().to_vec()
}

/// `bytes` (a safetensors file without metadata) with `metadata` inserted as `__metadata__`,
/// keys in the order given. The safetensors crate takes the metadata as a `HashMap` and writes
/// it in the map's random order, so the same checkpoint saved twice gave different bytes
/// (found by the `checkpoint` fuzz target's save ∘ load property).
fn with_metadata(bytes: Vec<u8>, metadata: &[(&str, &str)]) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8-byte header length")) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).expect("safetensors writes a UTF-8 header").trim_end();
    let fields: Vec<String> = metadata
        .iter()
        .map(|(k, v)| format!("{}:{}", serde_json::Value::from(*k), serde_json::Value::from(*v)))
        .collect();
    let rest = &header[1..];
    let comma = if rest.starts_with('}') { "" } else { "," };
    let mut text = format!("{{\"__metadata__\":{{{}}}{comma}{rest}", fields.join(","));
    // Padded with spaces to a multiple of 8, as the crate pads, so the data stays aligned.
    while text.len() % 8 != 0 {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

impl Checkpoint {
    /// The optimizer state as the optimizer restores it.
    pub fn optimizer_state(&self) -> OptimizerState {
        OptimizerState {
            step: self.meta.optimizer_step,
            mu_product: self.meta.mu_product,
            lrs: self.meta.lrs.clone(),
            momenta: self.meta.momenta.clone(),
            tensors: self.optimizer.clone(),
            schedule_free: self.meta.schedule_free.clone(),
            eval_mode: self.meta.params_in_eval_mode,
        }
    }

    /// Serialises to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut views: Vec<(String, TensorView<'_>)> = Vec::new();
        let to_file: HashMap<&str, &str> = self.meta.names.iter().map(|(f, m)| (m.as_str(), f.as_str())).collect();
        for (name, t) in &self.params {
            let file_name = to_file.get(name.as_str()).copied().unwrap_or(name.as_str());
            views.push((file_name.to_string(), view(t)?));
        }
        let counters: Vec<(String, Vec<u8>)> = self
            .buffers
            .iter()
            .filter(|(n, _)| n.ends_with(".num_batches_tracked"))
            .map(|(n, t)| (n.clone(), counter_bytes(t)))
            .collect();
        for (name, bytes) in &counters {
            let v = TensorView::new(Dtype::I64, vec![], bytes)
                .map_err(|e| Error::InvalidArgument { what: "checkpoint".into(), detail: e.to_string() })?;
            views.push((name.clone(), v));
        }
        for (name, t) in self.buffers.iter().filter(|(n, _)| !n.ends_with(".num_batches_tracked")) {
            views.push((name.clone(), view(t)?));
        }
        for (name, t) in &self.optimizer {
            views.push((format!("optimizer.{name}"), view(t)?));
        }
        // The safetensors crate panics on two tensors of one name (found by fuzz/checkpoint).
        let mut seen = std::collections::HashSet::new();
        if let Some((dup, _)) = views.iter().find(|(n, _)| !seen.insert(n.as_str())) {
            return Err(Error::InvalidArgument {
                what: "checkpoint".into(),
                detail: format!("two tensors would be saved as {dup:?}"),
            });
        }
        let meta_json = serde_json::to_string(&self.meta)
            .map_err(|e| Error::InvalidArgument { what: "checkpoint".into(), detail: e.to_string() })?;
        let bytes = safetensors::tensor::serialize(views, None)
            .map_err(|e| Error::InvalidArgument { what: "checkpoint".into(), detail: e.to_string() })?;
        Ok(with_metadata(bytes, &[("format", "pt"), ("downhill", &meta_json)]))
    }

    /// Parses safetensors bytes; `path` names errors.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let bad = |detail: String| file_error(path, detail);
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a readable safetensors file (truncated or corrupt): {e}")))?;
        let meta_json =
            header.metadata().as_ref().and_then(|m| m.get("downhill")).ok_or_else(|| {
                bad("a safetensors file, but not a downhill checkpoint (no `downhill` metadata)".into())
            })?;
        // The format is read before the rest, so an older or newer layout gets that message
        // rather than a field-by-field parse error.
        let format = serde_json::from_str::<serde_json::Value>(meta_json)
            .ok()
            .and_then(|v| v.get("format").and_then(|f| f.as_str()).map(str::to_string))
            .unwrap_or_default();
        if format != FORMAT && !READABLE.contains(&format.as_str()) {
            let version = |f: &str| f.strip_prefix("downhill-checkpoint-").and_then(|v| v.parse::<u32>().ok());
            let detail = match (version(&format), version(FORMAT)) {
                (Some(theirs), Some(ours)) => format!(
                    "checkpoint format {format:?}, this downhill reads {FORMAT:?}: it was made by {} version of \
                     downhill; retrain, or use the version that wrote it",
                    if theirs < ours { "an older" } else { "a newer" }
                ),
                _ => format!("checkpoint format {format:?}, this downhill reads {FORMAT:?}"),
            };
            return Err(bad(detail));
        }
        let meta: CheckpointMeta =
            serde_json::from_str(meta_json).map_err(|e| bad(format!("checkpoint metadata is malformed: {e}")))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("corrupt tensor data: {e}")))?;
        let tensor = |name: &str| -> Result<Tensor> {
            let v = st.tensor(name).map_err(|_| bad(format!("tensor {name} is missing")))?;
            match v.dtype() {
                Dtype::F32 => Tensor::from_vec(v.shape(), bytemuck::pod_collect_to_vec(v.data())),
                // num_batches_tracked: a count, kept as f32 in the model (exact below 2^24).
                Dtype::I64 if v.shape().is_empty() && v.data().len() == 8 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(v.data());
                    Tensor::from_vec(&[], vec![i64::from_le_bytes(b) as f32])
                }
                other => Err(bad(format!("tensor {name} is {other:?}, expected F32"))),
            }
        };
        // Parameters are stored under their state_dict names. Since format 3 a file name may
        // differ from the model's (a GPT's are nanoGPT's): the parameter takes the model's
        // name back. Format 2's file names were the model's, and its optimizer state used
        // `fc1.weight`-style names, renamed here.
        let current = format == FORMAT;
        // Each parameter once, under one file name and one model name: a file listing a name
        // twice loaded, then could not be saved again (found by fuzz/checkpoint).
        for (i, (file, model)) in meta.names.iter().enumerate() {
            if let Some((f, m)) = meta.names[..i].iter().find(|(f, m)| f == file || m == model) {
                return Err(bad(format!(
                    "checkpoint metadata names a parameter twice: ({f:?}, {m:?}) and ({file:?}, {model:?})"
                )));
            }
        }
        let mut params = Vec::new();
        for (file_name, model_name) in &meta.names {
            let name = if current { model_name } else { file_name };
            params.push((name.clone(), tensor(file_name)?));
        }
        let rename = |state: &str| -> String {
            if current {
                return state.to_string(); // optimizer state is under the model's names
            }
            meta.names
                .iter()
                .find_map(|(file, model)| state.strip_prefix(&format!("{model}.")).map(|rest| format!("{file}.{rest}")))
                .unwrap_or_else(|| state.to_string())
        };
        let mut optimizer = Vec::new();
        let mut names: Vec<&str> = st.names().into_iter().filter(|n| n.starts_with("optimizer.")).collect();
        names.sort();
        for name in names {
            optimizer.push((rename(&name["optimizer.".len()..]), tensor(name)?));
        }
        let mut buffers = Vec::new();
        let mut others: Vec<&str> = st
            .names()
            .into_iter()
            .filter(|n| !n.starts_with("optimizer.") && !meta.names.iter().any(|(f, _)| f == n))
            .collect();
        others.sort();
        for name in others {
            buffers.push((name.to_string(), tensor(name)?));
        }
        let mut meta = meta;
        if !current {
            meta.names = meta.names.iter().map(|(f, _)| (f.clone(), f.clone())).collect();
        }
        meta.format = FORMAT.to_string();
        Ok(Self { meta, params, buffers, optimizer })
    }

    /// Fails when a parameter holds NaN or an infinity, naming the first such tensor and element:
    /// such a checkpoint can neither be resumed nor predict anything.
    pub fn check_finite(&self, path: &Path) -> Result<()> {
        for (name, t) in self.params.iter().chain(&self.buffers) {
            if let Some(i) = t.data().iter().position(|v| !v.is_finite()) {
                return Err(file_error(
                    path,
                    format!(
                        "parameter {name} holds {} at element {i}: the run that wrote this checkpoint had \
                         diverged, so it cannot be used",
                        t.data()[i]
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Writes atomically: a temporary file beside `path`, fsync, rename over `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        write_atomically(path, &bytes)
    }

    /// Reads a checkpoint file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| file_error(path, format!("cannot read checkpoint: {e}")))?;
        Self::from_bytes(path, &bytes)
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one, never a
/// half-written one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        file_error(path, format!("cannot write: {e}"))
    })
}
