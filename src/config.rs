//! `RunConfig`: everything a training run is made of, from defaults, a TOML file and flags,
//! saved into every checkpoint. Unknown keys are errors that suggest the nearest valid key.

use crate::data::normalize::Normalization;
use crate::error::{file_error, Error, Result};
use crate::scheduler::FeedMode;
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
    /// sgd, adam, adamw, rmsprop, adagrad, adamax, nadam, radam, lion.
    pub optimizer: String,
    /// Learning rate.
    pub lr: f64,
    /// SGD/RMSprop momentum.
    pub momentum: f64,
    /// Nesterov momentum for SGD.
    pub nesterov: bool,
    /// Weight decay (decoupled for adamw and lion, coupled L2 otherwise).
    pub weight_decay: f64,
    /// Adam-family β1.
    pub beta1: f64,
    /// Adam-family β2.
    pub beta2: f64,
    /// ε of the adaptive optimizers.
    pub eps: f64,
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
    /// none, standardize, scalar, min-max (fitted on the training rows).
    pub normalization: Normalization,
    /// Fraction of training rows held out for validation (0 = none).
    pub validation: f64,
    /// Stop after this many epochs without improvement of `early_stop_metric`.
    pub patience: Option<usize>,
    /// val_loss, val_accuracy, train_loss.
    pub early_stop_metric: String,
    /// auto, resident, streaming.
    pub feed: FeedMode,
    /// Also checkpoint every this many steps (0 = only at epoch ends).
    pub checkpoint_every: u64,
    /// L1 penalty.
    pub l1: f64,
    /// L2 penalty.
    pub l2: f64,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            data: None,
            label: None,
            hidden: vec![256, 128],
            activation: "relu".into(),
            dropout: 0.2,
            init: "torch".into(),
            loss: "cross_entropy".into(),
            optimizer: "adam".into(),
            lr: 2e-3,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
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
            normalization: Normalization::Scalar,
            validation: 0.0,
            patience: None,
            early_stop_metric: "val_loss".into(),
            feed: FeedMode::Auto,
            checkpoint_every: 0,
            l1: 0.0,
            l2: 0.0,
        }
    }
}

/// Every key a config file may use.
pub const KEYS: &[&str] = &[
    "data",
    "label",
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
    "validation",
    "patience",
    "early_stop_metric",
    "feed",
    "checkpoint_every",
    "l1",
    "l2",
];

/// The valid key closest to `key` (by edit distance), if any is close.
pub fn nearest_key(key: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), *k))
        .filter(|&(d, k)| d <= 3 || k.contains(key) || key.contains(k))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

impl RunConfig {
    /// Parses TOML text; `path` names errors. Unknown keys suggest the nearest valid one.
    pub fn from_toml(path: &Path, text: &str) -> Result<Self> {
        let table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| file_error(path, format!("invalid TOML: {e}")))?;
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

    /// Checks ranges that would otherwise fail later with less context.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, detail: String| Err(Error::InvalidArgument { what: what.into(), detail });
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.accumulation == 0 {
            return bad("accumulation", "must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", format!("must be a positive number, got {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.validation) {
            return bad("validation", format!("must be in [0, 1), got {}", self.validation));
        }
        if self.hidden.contains(&0) {
            return bad("hidden", format!("layer sizes must be positive, got {:?}", self.hidden));
        }
        Ok(())
    }
}
