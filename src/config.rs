//! `RunConfig`: everything a training run is made of, from defaults, a TOML file and flags,
//! saved into every checkpoint. Unknown keys are errors that suggest the nearest valid key.

use crate::data::label_map::LabelMapMode;
use crate::data::normalize::Normalization;
use crate::error::{file_error, Error, Result};
use crate::feed::FeedMode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One training run's settings. Field names are the TOML keys (and, with dashes, the flags).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunConfig {
    /// An MNIST-format folder or a CSV file (label last); None for the built-in MNIST subset.
    pub data: Option<PathBuf>,
    /// For CSV data: the label column, by header name or 0-based index (default: the last).
    pub label: Option<String>,
    /// The model: `mlp` (the MLP of `hidden`, `activation` and `dropout`), a preset (`lenet5`,
    /// `cnn`) or a spec such as `conv2d(32, 3, padding=1) relu maxpool2d(2) flatten linear(10)`.
    /// In TOML also a `[[layers]]` table, one entry per layer: `type = "conv2d"` plus its arguments.
    pub model: String,
    /// Per-sample input shape, e.g. `[1, 8, 8]` (None: `[1, H, W]` for square IDX images under a
    /// model other than `mlp`, otherwise the flat feature count).
    pub input_shape: Option<Vec<usize>>,
    /// Hidden layer sizes of the MLP.
    pub hidden: Vec<usize>,
    /// relu, leaky_relu, sigmoid, tanh, gelu_tanh, gelu_exact, silu.
    pub activation: String,
    /// Dropout probability after each hidden activation (0 = none).
    pub dropout: f32,
    /// Weight init: torch, xavier-uniform, xavier-normal, kaiming-uniform, kaiming-normal, zeros.
    pub init: String,
    /// cross_entropy (classification), mse, bce_with_logits.
    pub loss: String,
    /// sgd, adam, adamw, rmsprop, adagrad, adamax, nadam, radam, lion, lamb, adamw-schedule-free, sophia, adafactor, muon.
    pub optimizer: String,
    /// Learning rate (None: the optimizer's PyTorch default, e.g. 1e-3 for Adam).
    pub lr: Option<f64>,
    /// SGD/RMSprop momentum (None: PyTorch's default, 0).
    pub momentum: Option<f64>,
    /// Nesterov momentum for SGD.
    pub nesterov: bool,
    /// Weight decay, decoupled for adamw and lion, coupled L2 otherwise (None: the optimizer's
    /// PyTorch default: 0.01 for AdamW, 0 for the rest).
    pub weight_decay: Option<f64>,
    /// β1 of the Adam family and Lion (None: the optimizer's default).
    pub beta1: Option<f64>,
    /// β2 of the Adam family and Lion (None: the optimizer's default).
    pub beta2: Option<f64>,
    /// ε of the adaptive optimizers (None: the optimizer's default).
    pub eps: Option<f64>,
    /// Sophia-G's ρ (None: 0.04).
    pub rho: Option<f64>,
    /// Sophia-G: optimizer steps between Hessian estimates (None: 10).
    pub hessian_interval: Option<u64>,
    /// constant, step, exponential, cosine, warmup-cosine, onecycle.
    pub schedule: String,
    /// StepLR's step size, in epochs.
    pub step_size: u64,
    /// StepLR/ExponentialLR decay factor.
    pub gamma: f64,
    /// Warm-up length in epochs for warmup-cosine.
    pub warmup_epochs: u64,
    /// Clip gradients to this global L2 norm.
    pub clip_norm: Option<f64>,
    /// Clip each gradient to ±this value.
    pub clip_value: Option<f64>,
    /// Micro-batches averaged into each optimizer step.
    pub accumulation: usize,
    /// Rows per micro-batch (0 = the whole training set: full-batch descent).
    pub batch_size: usize,
    /// Epochs to train.
    pub epochs: usize,
    /// Seed of initialisation, shuffles, splits and dropout.
    pub seed: u64,
    /// auto, none, standardize, scalar, min-max (fitted on the training rows).
    pub normalization: Normalization,
    /// How regression targets are rescaled for training (fitted on the training rows; reports
    /// and predictions are in the targets' own units): auto (standardize under `mse`, none
    /// otherwise), none, standardize, scalar, min-max.
    pub target_normalization: Normalization,
    /// Number of classes (None: from the data's label set, which must then be dense: every
    /// class from 0 to the largest label present).
    pub classes: Option<usize>,
    /// How CSV class labels become classes: auto (0..K-1 as they are; 1..K and text in sorted
    /// order; other gaps refused) or sorted (every distinct label a class, in sorted order).
    pub label_map: LabelMapMode,
    /// Fraction of training rows held out for validation, scored every epoch (0 = none; the
    /// test set is scored once, at the end).
    pub validation: f64,
    /// Stop after this many epochs without improvement of `early_stop_metric`.
    pub patience: Option<usize>,
    /// val_loss, val_accuracy, train_loss.
    pub early_stop_metric: String,
    /// With `patience`: end the run with the best epoch's weights (as Keras'
    /// `restore_best_weights`), which `best.safetensors` also holds.
    pub restore_best_weights: bool,
    /// auto, resident, streaming.
    pub feed: FeedMode,
    /// Also checkpoint every this many steps (0 = only at epoch ends).
    pub checkpoint_every: u64,
    /// L1 penalty.
    pub l1: f64,
    /// L2 penalty.
    pub l2: f64,
    /// Text data (language models): optimizer steps to train (an iteration is one batch of
    /// `batch_size` random windows).
    pub max_iters: u64,
    /// Text data: iterations between evaluations (and best-validation checkpoints).
    pub eval_interval: u64,
    /// Text data: random batches of each split averaged per evaluation (nanoGPT's
    /// `estimate_loss`).
    pub eval_iters: u64,
    /// Text data: the learning rate the cosine decay ends at (None: lr / 10, as nanoGPT).
    pub min_lr: Option<f64>,
    /// Text data: iterations of linear warm-up before the cosine decay.
    pub warmup_iters: u64,
    /// Text data: `chars` (one token per distinct character) or `bytes` (one per byte).
    pub tokenizer: String,
    /// Data parallelism: all-reduce the gradient in buckets of about this many megabytes while
    /// the backward pass runs (as DDP's bucket_cap_mb); 0 (the default) all-reduces the whole
    /// flat gradient once after it.
    pub bucket_mb: f64,
    /// Write TensorBoard event files here (scalars per reported step and per epoch or
    /// evaluation, the configuration as text); None: none.
    pub tensorboard: Option<PathBuf>,
    /// Image folders: resize every image to [height, width] (None: all must share one size).
    pub image_size: Option<Vec<usize>>,
    /// Image folders: 1 (grey) or 3 (RGB); None: grey when every image is grey, else RGB.
    pub channels: Option<usize>,
    /// Image folders: `error` (the default) or `skip` for files that do not decode.
    pub on_bad_image: String,
    /// Augmentation of training batches of images, e.g. `crop(4) hflip translate(2)`
    /// (empty: none); on the device, the same on both paths.
    pub augment: String,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            data: None,
            label: None,
            model: "mlp".into(),
            input_shape: None,
            hidden: vec![256, 128],
            activation: "relu".into(),
            dropout: 0.2,
            init: "torch".into(),
            loss: "cross_entropy".into(),
            optimizer: "adam".into(),
            lr: None,
            momentum: None,
            nesterov: false,
            weight_decay: None,
            beta1: None,
            beta2: None,
            eps: None,
            rho: None,
            hessian_interval: None,
            schedule: "cosine".into(),
            step_size: 5,
            gamma: 0.5,
            warmup_epochs: 1,
            clip_norm: None,
            clip_value: None,
            accumulation: 1,
            batch_size: 64,
            epochs: 15,
            seed: 0,
            normalization: Normalization::Auto,
            target_normalization: Normalization::Auto,
            classes: None,
            label_map: LabelMapMode::Auto,
            validation: 0.1,
            patience: None,
            early_stop_metric: "val_loss".into(),
            restore_best_weights: true,
            feed: FeedMode::Auto,
            checkpoint_every: 0,
            l1: 0.0,
            l2: 0.0,
            max_iters: 2000,
            eval_interval: 250,
            eval_iters: 200,
            min_lr: None,
            warmup_iters: 100,
            tokenizer: "chars".into(),
            bucket_mb: 0.0,
            tensorboard: None,
            image_size: None,
            channels: None,
            on_bad_image: "error".into(),
            augment: String::new(),
        }
    }
}

/// Every key a config file may use.
pub const KEYS: &[&str] = &[
    "data",
    "label",
    "model",
    "input_shape",
    "hidden",
    "activation",
    "dropout",
    "init",
    "loss",
    "optimizer",
    "lr",
    "momentum",
    "nesterov",
    "weight_decay",
    "beta1",
    "beta2",
    "eps",
    "rho",
    "hessian_interval",
    "schedule",
    "step_size",
    "gamma",
    "warmup_epochs",
    "clip_norm",
    "clip_value",
    "accumulation",
    "batch_size",
    "epochs",
    "seed",
    "normalization",
    "target_normalization",
    "classes",
    "label_map",
    "validation",
    "patience",
    "early_stop_metric",
    "restore_best_weights",
    "feed",
    "checkpoint_every",
    "l1",
    "l2",
    "max_iters",
    "eval_interval",
    "eval_iters",
    "min_lr",
    "warmup_iters",
    "tokenizer",
    "bucket_mb",
    "tensorboard",
    "image_size",
    "channels",
    "on_bad_image",
    "augment",
];

/// Names other tools use for downhill's keys (Keras, Lightning, Hugging Face, PyTorch scripts).
const ALIASES: &[(&str, &str)] = &[
    ("learning_rate", "lr"),
    ("lr_schedule", "schedule"),
    ("lr_scheduler", "schedule"),
    ("scheduler", "schedule"),
    ("optim", "optimizer"),
    ("batch", "batch_size"),
    ("num_epochs", "epochs"),
    ("lr_decay_iters", "max_iters"),
    ("max_epochs", "epochs"),
    ("hidden_sizes", "hidden"),
    ("hidden_layers", "hidden"),
    ("architecture", "model"),
    ("dropout_rate", "dropout"),
    ("validation_split", "validation"),
    ("val_split", "validation"),
    ("max_grad_norm", "clip_norm"),
    ("gradient_clip_val", "clip_norm"),
    ("grad_clip", "clip_norm"),
    ("clipnorm", "clip_norm"),
    ("clipvalue", "clip_value"),
    ("early_stopping_patience", "patience"),
    ("monitor", "early_stop_metric"),
    ("num_classes", "classes"),
    ("gradient_accumulation_steps", "accumulation"),
    ("accumulate_grad_batches", "accumulation"),
    ("random_seed", "seed"),
    ("epsilon", "eps"),
    ("decay", "weight_decay"),
];

/// The valid key `key` most likely means: a known alias (`learning_rate` → `lr`), the same key
/// with dashes (`weight-decay`), or the nearest by edit distance.
pub fn nearest_key(key: &str) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase().replace('-', "_");
    if let Some(k) = KEYS.iter().find(|k| **k == lower) {
        return Some(k);
    }
    if let Some((_, k)) = ALIASES.iter().find(|(a, _)| *a == lower) {
        return Some(k);
    }
    KEYS.iter()
        .map(|k| (strsim::damerau_levenshtein(&lower, k), *k))
        .filter(|&(d, k)| d <= 3 || k.contains(lower.as_str()) || lower.contains(k))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// The spec text of a TOML `[[layers]]` array: each table's `type` with its other keys as named
/// arguments, e.g. `{type = "conv2d", out_channels = 32, kernel_size = 3}` → `conv2d(out_channels=32, kernel_size=3)`.
fn layers_table_to_spec(layers: &toml::Value) -> std::result::Result<String, String> {
    let toml::Value::Array(items) = layers else {
        return Err("`layers` must be an array of tables ([[layers]] with a `type` each)".into());
    };
    let value = |v: &toml::Value| -> std::result::Result<String, String> {
        Ok(match v {
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => format!("{f:?}"),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::String(s) => s.clone(),
            toml::Value::Array(a) => {
                let parts: Vec<String> = a.iter().map(|x| x.to_string()).collect();
                format!("({})", parts.join(", "))
            }
            other => return Err(format!("unsupported layer argument {other}")),
        })
    };
    let mut parts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let toml::Value::Table(t) = item else { return Err(format!("layers[{i}] is not a table")) };
        let Some(toml::Value::String(kind)) = t.get("type") else {
            return Err(format!("layers[{i}] needs `type = \"<layer>\"`"));
        };
        let args: Vec<String> = t
            .iter()
            .filter(|(k, _)| *k != "type")
            .map(|(k, v)| Ok(format!("{k}={}", value(v)?)))
            .collect::<std::result::Result<_, String>>()?;
        parts.push(if args.is_empty() { kind.clone() } else { format!("{kind}({})", args.join(", ")) });
    }
    Ok(parts.join(" "))
}

/// An [`Error::InvalidArgument`] naming the setting, the value and the allowed range.
fn out_of_range(setting: &str, value: impl std::fmt::Display, allowed: &str) -> Error {
    Error::InvalidArgument { what: setting.into(), detail: format!("{value} is out of range: {allowed}") }
}

/// Checks `value` for `setting`: finite and inside `[lo, hi]` / `(lo, hi)` as `lo_open` /
/// `hi_open` say; `allowed` is the range as the error states it.
fn check_range(setting: &str, value: f64, lo: f64, lo_open: bool, hi: f64, hi_open: bool, allowed: &str) -> Result<()> {
    let above = if lo_open { value > lo } else { value >= lo };
    let below = if hi_open { value < hi } else { value <= hi };
    if value.is_finite() && above && below {
        Ok(())
    } else {
        Err(out_of_range(setting, value, allowed))
    }
}

impl RunConfig {
    /// Parses TOML text; `path` names errors. Unknown keys suggest the nearest valid one.
    pub fn from_toml(path: &Path, text: &str) -> Result<Self> {
        let mut table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| file_error(path, format!("invalid TOML: {e}")))?;
        if let Some(layers) = table.remove("layers") {
            if table.contains_key("model") {
                return Err(file_error(path, "give the model once: `model = \"...\"` or `[[layers]]`, not both"));
            }
            table.insert(
                "model".into(),
                toml::Value::String(layers_table_to_spec(&layers).map_err(|e| file_error(path, e))?),
            );
        }
        for key in table.keys() {
            if !KEYS.contains(&key.as_str()) {
                let hint = nearest_key(key).map_or(String::new(), |k| format!("; did you mean `{k}`?"));
                return Err(file_error(path, format!("unknown key `{key}`{hint}")));
            }
        }
        toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| file_error(path, format!("{e}")))
    }

    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| file_error(path, format!("cannot read: {e}")))?;
        Self::from_toml(path, &text)
    }

    /// The config as TOML (what `config.toml` in the output folder holds).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every numeric setting against its meaning (PyTorch's own checks are the floor),
    /// and that each optimizer hyperparameter given applies to the chosen optimizer. Errors name
    /// the setting, the value and the allowed range.
    pub fn validate(&self) -> Result<()> {
        crate::train::augment::parse(&self.augment)?;
        if self.epochs == 0 {
            return Err(out_of_range("epochs", 0, "at least 1"));
        }
        if self.accumulation == 0 {
            return Err(out_of_range("accumulation", 0, "at least 1"));
        }
        if self.model.trim().is_empty() {
            return Err(out_of_range("model", "\"\"", "mlp, a preset (lenet5, cnn) or a layer spec"));
        }
        self.validate_mlp_settings()?;
        if let Some(shape) = &self.input_shape {
            if shape.is_empty() || shape.contains(&0) {
                return Err(out_of_range("input_shape", format!("{shape:?}"), "one or more sizes, each at least 1"));
            }
        }
        if self.hidden.contains(&0) {
            return Err(out_of_range("hidden", format!("{:?}", self.hidden), "every layer size at least 1"));
        }
        if let Some(c) = self.classes {
            if c < 2 {
                return Err(out_of_range("classes", c, "at least 2"));
            }
            if self.loss != "cross_entropy" {
                return Err(Error::InvalidArgument {
                    what: "classes".into(),
                    detail: format!("applies to class labels (loss cross_entropy), not to loss {}", self.loss),
                });
            }
        }
        let classification = self.loss == "cross_entropy";
        if classification && !matches!(self.target_normalization, Normalization::Auto | Normalization::None) {
            return Err(Error::InvalidArgument {
                what: "target_normalization".into(),
                detail: "rescales regression targets (loss mse); class labels under cross_entropy are not rescaled"
                    .into(),
            });
        }
        if !classification && self.label_map != LabelMapMode::Auto {
            return Err(Error::InvalidArgument {
                what: "label_map".into(),
                detail: format!("maps class labels (loss cross_entropy), not the targets of loss {}", self.loss),
            });
        }
        check_range("dropout", self.dropout as f64, 0.0, false, 1.0, true, "0 ≤ dropout < 1")?;
        check_range("validation", self.validation, 0.0, false, 1.0, true, "0 ≤ validation < 1")?;
        check_range("l1", self.l1, 0.0, false, f64::MAX, false, "a finite number ≥ 0")?;
        check_range("l2", self.l2, 0.0, false, f64::MAX, false, "a finite number ≥ 0")?;
        check_range("bucket_mb", self.bucket_mb, 0.0, false, 1e6, false, "megabytes ≥ 0 (0: no buckets)")?;
        if self.max_iters == 0 || self.eval_interval == 0 || self.eval_iters == 0 {
            return Err(out_of_range(
                "max_iters, eval_interval, eval_iters",
                format!("{}, {}, {}", self.max_iters, self.eval_interval, self.eval_iters),
                "each at least 1",
            ));
        }
        if let Some(m) = self.min_lr {
            check_range("min_lr", m, 0.0, false, f64::MAX, false, "a finite number ≥ 0")?;
        }
        if !matches!(self.tokenizer.as_str(), "chars" | "bytes") {
            return Err(out_of_range("tokenizer", format!("{:?}", self.tokenizer), "chars or bytes"));
        }
        if let Some(n) = self.clip_norm {
            check_range("clip_norm", n, 0.0, true, f64::MAX, false, "a finite number > 0")?;
        }
        if let Some(v) = self.clip_value {
            check_range("clip_value", v, 0.0, true, f64::MAX, false, "a finite number > 0")?;
        }
        if self.clip_norm.is_some() && self.clip_value.is_some() {
            return Err(Error::InvalidArgument {
                what: "clip_norm, clip_value".into(),
                detail: "give one of them: clipping by norm and by value together is ambiguous".into(),
            });
        }
        if self.schedule == "step" && self.step_size == 0 {
            return Err(out_of_range("step_size", 0, "at least 1 epoch"));
        }
        if matches!(self.schedule.as_str(), "step" | "exponential") {
            check_range("gamma", self.gamma, 0.0, true, f64::MAX, false, "a finite number > 0")?;
        }
        if self.schedule == "warmup-cosine" && self.warmup_epochs as usize > self.epochs {
            return Err(out_of_range(
                "warmup_epochs",
                self.warmup_epochs,
                &format!("at most the {} epochs", self.epochs),
            ));
        }
        self.validate_optimizer()
    }

    /// The optimizer hyperparameters: in range, and each one given used by the optimizer.
    /// `hidden`, `activation` and `dropout` shape the `mlp` model only: with another model they
    /// would be ignored, so a value other than the default is an error that says where it goes.
    fn validate_mlp_settings(&self) -> Result<()> {
        if self.model.trim() == "mlp" {
            return Ok(());
        }
        let d = RunConfig::default();
        let set: Vec<&str> = [
            ("hidden", self.hidden != d.hidden),
            ("activation", self.activation != d.activation),
            ("dropout", self.dropout != d.dropout),
        ]
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(k, _)| *k)
        .collect();
        if set.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidArgument {
            what: set.join(", "),
            detail: format!(
                "shape the mlp model only, and the model is {:?}; write layer sizes, activations and dropout into \
                 the model spec instead (e.g. \"... linear(128) gelu dropout(0.3) linear(10)\")",
                self.model
            ),
        })
    }

    /// The optimizer settings this run gives (None: the optimizer's own default).
    pub fn optimizer_settings(&self) -> crate::optim::Settings {
        crate::optim::Settings {
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            nesterov: self.nesterov,
            rho: self.rho,
            hessian_interval: self.hessian_interval,
        }
    }

    fn validate_optimizer(&self) -> Result<()> {
        // The rule answers what it needs (registry::build also runs its own validation).
        let optimizer = crate::optim::registry::build(&self.optimizer, &self.optimizer_settings())?;
        let rule = optimizer.rule();
        if rule.auxiliary_interval().is_some() && self.loss != "cross_entropy" {
            return Err(Error::InvalidArgument {
                what: "optimizer".into(),
                detail: format!(
                    "{} samples class labels from the model for its auxiliary gradient (Sophia-G's Hessian \
                     estimate), so it needs the cross-entropy loss, not {}",
                    self.optimizer, self.loss
                ),
            });
        }
        if let Some(max_norm) = rule.own_clip() {
            if self.clip_norm.is_some() || self.clip_value.is_some() {
                return Err(Error::InvalidArgument {
                    what: if self.clip_norm.is_some() { "clip_norm" } else { "clip_value" }.into(),
                    detail: format!(
                        "does not apply to {}: it clips by its own max_grad_norm ({max_norm})",
                        self.optimizer
                    ),
                });
            }
        }
        Ok(())
    }
}
