//! Fine-tuning a Hugging Face encoder for sequence classification: the folder's model with a
//! pooling and a new Linear head, AdamW with no decay on biases and LayerNorm weights, linear
//! warm-up then linear decay to 0 (`get_linear_schedule_with_warmup`), gradient clipping,
//! batches packed (the texts' real tokens side by side, so the position-wise layers skip the
//! padding; `Model::set_packed_batch`), the config's dropouts in training; test loss and
//! accuracy after every epoch.

use super::bert::LoraSettings;
use super::folder::base_names;
use super::folder::HfModel;
use super::task::{task_model_with, Task, TaskOptions, HEAD_NAMES};
use super::text_csv::LabelledTexts;
use super::tokenizer::{PadTo, TextTokenizer};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::loss::{LossKind, Target};
use crate::nn::layers::pool_tokens::Pooling;
use crate::nn::Model;
use crate::ops::elementwise;
use crate::optim::{AdamConfig, Clip, Optimizer, OptimizerConfig, ParamGroup};
use crate::rng::Rng;
use std::time::Instant;

/// How to fine-tune.
#[derive(Clone, Debug, PartialEq)]
pub struct FinetuneConfig {
    /// Tokens per text at most (longer texts are cut; the count is reported).
    pub max_len: usize,
    /// Texts per step.
    pub batch: usize,
    /// Passes over the training texts.
    pub epochs: usize,
    /// AdamW's peak learning rate.
    pub lr: f64,
    /// AdamW's weight decay (none on biases and LayerNorm weights).
    pub weight_decay: f64,
    /// The fraction of all steps spent warming the learning rate up from 0.
    pub warmup: f64,
    /// Clip the gradients' global L2 norm to this (None: no clipping).
    pub clip: Option<f64>,
    /// Seeds the head's initialisation, the shuffling and dropout.
    pub seed: u64,
    /// How a text becomes one vector for the head.
    pub pooling: Pooling,
    /// Apply the config's dropouts in training.
    pub dropout: bool,
    /// LoRA adapters: only they and the head train.
    pub lora: Option<LoraSettings>,
    /// Globs of parameters to freeze (see [`TaskOptions::freeze`]).
    pub freeze: Vec<String>,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            max_len: 128,
            batch: 32,
            epochs: 3,
            lr: 5e-5,
            weight_decay: 0.01,
            warmup: 0.1,
            clip: Some(1.0),
            seed: 0,
            pooling: Pooling::Mean,
            dropout: true,
            lora: None,
            freeze: Vec::new(),
        }
    }
}

impl FinetuneConfig {
    /// Refuses settings that cannot train.
    pub fn check(&self) -> Result<()> {
        let bad = |what: &str, detail: String| Err(Error::InvalidArgument { what: what.into(), detail });
        if self.batch == 0 {
            return bad("--batch-size", "must be at least 1".into());
        }
        if self.epochs == 0 {
            return bad("--epochs", "must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("--lr", format!("{} must be a positive number", self.lr));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("--weight-decay", format!("{} must be ≥ 0", self.weight_decay));
        }
        if !(0.0..1.0).contains(&self.warmup) {
            return bad("--warmup", format!("{} must be a fraction of the steps in [0, 1)", self.warmup));
        }
        if let Some(c) = self.clip {
            if !(c.is_finite() && c > 0.0) {
                return bad("--clip", format!("{c} must be a positive number"));
            }
        }
        Ok(())
    }
}

/// One epoch's figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EpochSummary {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Mean test loss (when there is a test set).
    pub test_loss: Option<f64>,
    /// Test accuracy in [0, 1].
    pub test_accuracy: Option<f64>,
    /// Seconds of training (not evaluation).
    pub seconds: f64,
    /// Training texts per second.
    pub samples_per_s: f64,
}

/// What a fine-tuning run did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FinetuneSummary {
    /// Every epoch's figures.
    pub epochs: Vec<EpochSummary>,
    /// Parameters trained.
    pub trainable: usize,
    /// Parameters in all.
    pub total: usize,
    /// Bytes of optimizer state (AdamW: two f32 per trained parameter).
    pub optimizer_bytes: usize,
    /// Training texts cut at the maximum length.
    pub truncated_train: usize,
    /// Test texts cut at the maximum length.
    pub truncated_test: usize,
}

/// `get_linear_schedule_with_warmup`'s factor before optimizer step `step` of `total`.
pub fn linear_warmup_decay(step: u64, warmup: u64, total: u64) -> f64 {
    if step < warmup {
        step as f64 / warmup.max(1) as f64
    } else {
        ((total.saturating_sub(step)) as f64 / (total - warmup).max(1) as f64).max(0.0)
    }
}

/// Steps between reads of the running loss (a diverged run stops within this many).
const CHECK_EVERY: u64 = 50;

/// The epoch's summed loss so far, refused when it is not finite.
fn finite_so_far<B: Backend>(be: &B, sum: &B::Tensor, step: u64, epoch: usize) -> Result<f64> {
    let total = be.read(sum)?.data()[0] as f64;
    if !total.is_finite() {
        return Err(Error::Diverged(format!(
            "the training loss became {total} by step {step} (epoch {epoch}): lower the learning rate"
        )));
    }
    Ok(total)
}

/// How batches are padded, and the input length the model is built for.
fn padding(hf: &HfModel, max_len: usize) -> (PadTo, usize) {
    let rounded = max_len.div_ceil(8) * 8;
    if rounded <= hf.max_positions() {
        (PadTo::LongestMultipleOf(8), rounded)
    } else {
        (PadTo::Longest, max_len)
    }
}

/// Fine-tunes `hf` with a new head for `classes` on `train`, scoring `test` after every epoch
/// (`on_epoch` sees each epoch as it ends). Returns the trained model and the run's figures.
#[allow(clippy::too_many_arguments, reason = "the model, its tokenizer, the settings, the data and the callback")]
pub fn finetune_classifier<B: Backend>(
    be: &B,
    hf: &HfModel,
    tok: &TextTokenizer,
    cfg: &FinetuneConfig,
    train: &LabelledTexts,
    test: Option<&LabelledTexts>,
    classes: usize,
    on_epoch: &mut dyn FnMut(&EpochSummary),
) -> Result<(Model<B>, FinetuneSummary)> {
    cfg.check()?;
    let (pad, width) = padding(hf, cfg.max_len);
    let task = Task::Classify { classes, pooling: cfg.pooling };
    let opts = TaskOptions { dropout: cfg.dropout, seed: cfg.seed, lora: cfg.lora.clone(), freeze: cfg.freeze.clone() };
    let mut model = task_model_with(be, hf, task, width, &opts)?;
    // Packed batches come in many shapes: their step plans share one buffer.
    model.share_plan_memory();
    // The optimizer holds state for the trainable parameters alone: one run at the end of
    // the flat buffers.
    let (offset, layout) = model.spec().trainable_layout()?;
    let trainable: usize = layout.views().iter().map(|v| v.len()).sum();
    let total_params: usize = model.spec().layout()?.views().iter().map(|v| v.len()).sum();
    let ours = base_names(model.spec());
    let mut theirs = hf.names();
    theirs.extend(HEAD_NAMES.map(String::from));
    let no_decay: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|(o, t)| {
            (t.ends_with("bias") || t.contains("LayerNorm")) && layout.views().iter().any(|v| &v.name == *o)
        })
        .map(|(o, _)| o.clone())
        .collect();
    let adamw = AdamConfig { lr: cfg.lr, weight_decay: cfg.weight_decay, ..AdamConfig::adamw() };
    let group = ParamGroup { params: no_decay, lr: None, weight_decay: Some(0.0) };
    let mut optimizer = Optimizer::new(be, OptimizerConfig::Adam(adamw), &layout, &[group])?;
    if let Some(c) = cfg.clip {
        optimizer.set_clip(Clip::L2Norm(c))?;
    }
    let n = train.texts.len();
    let per_epoch = n.div_ceil(cfg.batch) as u64;
    let total = per_epoch * cfg.epochs as u64;
    let warmup = (cfg.warmup * total as f64).ceil() as u64;
    let groups = optimizer.lrs().len();
    let mut rng = Rng::new(cfg.seed ^ 0x5EED_F1E7);
    let mut order: Vec<usize> = (0..n).collect();
    let mut summary = FinetuneSummary {
        epochs: Vec::new(),
        trainable,
        total: total_params,
        optimizer_bytes: 2 * 4 * trainable,
        truncated_train: 0,
        truncated_test: 0,
    };
    let mut step = 0u64;
    for epoch in 1..=cfg.epochs {
        rng.shuffle(&mut order);
        let start = Instant::now();
        let mut loss_sum = be.zeros(&[1])?;
        for chunk in order.chunks(cfg.batch) {
            let texts: Vec<&str> = chunk.iter().map(|&i| train.texts[i].as_str()).collect();
            let labels: Vec<u32> = chunk.iter().map(|&i| train.labels[i]).collect();
            let enc = tok.encode(&texts, cfg.max_len, pad)?;
            if epoch == 1 {
                summary.truncated_train += enc.truncated;
            }
            let ids = be.upload(&model.set_packed_batch(be, &enc.ids, &enc.mask, 8)?)?;
            model.forward(be, &ids, true)?;
            let target = be.upload_labels(&labels, classes)?;
            model.loss(be, LossKind::CrossEntropy, &Target::Labels(&target))?;
            model.backward(be, &ids, false)?;
            let lr = cfg.lr * linear_warmup_decay(step, warmup, total);
            optimizer.set_lrs(&vec![lr; groups])?;
            let mut params = be.view(model.params.flat(), offset, &[layout.total()])?;
            let grads = be.view(model.grads.flat(), offset, &[layout.total()])?;
            optimizer.step(be, &mut params, &grads)?;
            // The losses add up on the device; read every CHECK_EVERY steps (divergence) and
            // at the epoch's end, not every step.
            elementwise::axpy(be, &mut loss_sum, 1.0, model.loss_tensor()?)?;
            step += 1;
            if step.is_multiple_of(CHECK_EVERY) {
                finite_so_far(be, &loss_sum, step, epoch)?;
            }
        }
        let loss_sum = finite_so_far(be, &loss_sum, step, epoch)?;
        let seconds = start.elapsed().as_secs_f64();
        let (test_loss, test_accuracy) = match test {
            Some(t) => {
                let (loss, acc, cut) = evaluate(be, &mut model, tok, t, cfg.max_len, pad, classes, cfg.batch)?;
                summary.truncated_test = cut;
                (Some(loss), Some(acc))
            }
            None => (None, None),
        };
        let record = EpochSummary {
            epoch,
            train_loss: loss_sum / per_epoch as f64,
            test_loss,
            test_accuracy,
            seconds,
            samples_per_s: n as f64 / seconds,
        };
        on_epoch(&record);
        summary.epochs.push(record);
    }
    Ok((model, summary))
}

/// Mean cross-entropy, accuracy and truncated count of `model` on `data`, in batches of `batch`.
#[allow(clippy::too_many_arguments, reason = "the model and tokenizer, the data, and how it is batched")]
pub fn evaluate<B: Backend>(
    be: &B,
    model: &mut Model<B>,
    tok: &TextTokenizer,
    data: &LabelledTexts,
    max_len: usize,
    pad: PadTo,
    classes: usize,
    batch: usize,
) -> Result<(f64, f64, usize)> {
    let (mut loss, mut correct, mut cut) = (0.0f64, 0usize, 0usize);
    let batch = batch.max(1);
    for (texts, labels) in data.texts.chunks(batch).zip(data.labels.chunks(batch)) {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let enc = tok.encode(&texts, max_len, pad)?;
        cut += enc.truncated;
        let ids = be.upload(&model.set_packed_batch(be, &enc.ids, &enc.mask, 8)?)?;
        let logits = be.read(model.forward(be, &ids, false)?)?;
        for (row, &y) in logits.data().chunks(classes).zip(labels) {
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
            let lse = max + row.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
            loss += lse - row[y as usize] as f64;
            let best = row.iter().enumerate().fold(0, |b, (i, &v)| if v > row[b] { i } else { b });
            correct += usize::from(best == y as usize);
        }
    }
    let n = data.texts.len().max(1) as f64;
    Ok((loss / n, correct as f64 / n, cut))
}
