//! Causal-LM fine-tuning of a GPT-2 folder on a text file: the text tokenised with the folder's
//! tokenizer (byte-level BPE), split 90/10, random windows of `block` tokens per step (nanoGPT's
//! `get_batch`), AdamW with nanoGPT's groups (decay on tensors of two or more dims), warm-up
//! then cosine decay (`run::lm::lm_lr`), clipping; train and validation loss every
//! `eval_interval` iterations.

use super::folder::HfModel;
use super::task::{task_model, Task};
use super::tokenizer::TextTokenizer;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::loss::{LossKind, Target};
use crate::nn::Model;
use crate::optim::{AdamConfig, Clip, Optimizer, OptimizerConfig, ParamGroup};
use crate::rng::Rng;
use crate::tensor::Tensor;
use std::time::Instant;

/// How to fine-tune a language model.
#[derive(Clone, Debug, PartialEq)]
pub struct LmFinetuneConfig {
    /// Tokens per window (at most the model's n_positions).
    pub block: usize,
    /// Windows per step.
    pub batch: usize,
    /// Optimizer steps.
    pub max_iters: u64,
    /// Peak learning rate.
    pub lr: f64,
    /// Learning rate at the end of the cosine decay.
    pub min_lr: f64,
    /// Steps of linear warm-up.
    pub warmup_iters: u64,
    /// AdamW weight decay (tensors of two or more dims only).
    pub weight_decay: f64,
    /// Gradient clipping (global L2 norm).
    pub clip: Option<f64>,
    /// Evaluate every this many steps (and at the end).
    pub eval_interval: u64,
    /// Windows per evaluation and split.
    pub eval_iters: usize,
    /// Seeds the windows and dropout.
    pub seed: u64,
    /// The config's dropouts in training.
    pub dropout: bool,
}

impl LmFinetuneConfig {
    /// Refuses settings that cannot train.
    pub fn check(&self) -> Result<()> {
        let bad = |what: &str, detail: String| Err(Error::InvalidArgument { what: what.into(), detail });
        if self.block == 0 || self.batch == 0 || self.max_iters == 0 {
            return bad("finetune", "--block-size, --batch-size and --max-iters must be at least 1".into());
        }
        if self.eval_interval == 0 || self.eval_iters == 0 {
            return bad("finetune", "--eval-interval and --eval-iters must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("--lr", format!("{} must be a positive number", self.lr));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("--weight-decay", format!("{} must be ≥ 0", self.weight_decay));
        }
        if let Some(c) = self.clip {
            if !(c.is_finite() && c > 0.0) {
                return bad("--clip", format!("{c} must be a positive number"));
            }
        }
        if self.warmup_iters >= self.max_iters {
            return bad(
                "--warmup-iters",
                format!("{} must be below --max-iters {}", self.warmup_iters, self.max_iters),
            );
        }
        Ok(())
    }
}

/// One evaluation.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LmEval {
    /// Steps taken before it.
    pub iter: u64,
    /// Mean loss on training windows.
    pub train_loss: f64,
    /// Mean loss on validation windows.
    pub val_loss: f64,
    /// Training tokens per second since the last evaluation.
    pub tokens_per_s: f64,
}

/// The token ids of `text` with the 90/10 split point; refuses a text too short for a window
/// on each side.
pub fn tokenize_corpus(tok: &TextTokenizer, text: &str, block: usize) -> Result<(Vec<u32>, usize)> {
    let ids = tok.encode_plain(text, false)?;
    let split = ids.len() * 9 / 10;
    if split <= block + 1 || ids.len() - split <= block + 1 {
        return Err(Error::InvalidArgument {
            what: "--text".into(),
            detail: format!(
                "{} tokens is too short for windows of {block} tokens in both the 90 % training and 10 % validation parts",
                ids.len()
            ),
        });
    }
    Ok((ids, split))
}

/// `batch` windows drawn from `data`: inputs `[batch, block]` (ids as f32) and targets.
fn draw(rng: &mut Rng, data: &[u32], batch: usize, block: usize) -> (Tensor, Vec<u32>) {
    let (mut x, mut y) = (Vec::with_capacity(batch * block), Vec::with_capacity(batch * block));
    for _ in 0..batch {
        let o = rng.below((data.len() - block - 1) as u64) as usize;
        x.extend(data[o..o + block].iter().map(|&t| t as f32));
        y.extend_from_slice(&data[o + 1..o + 1 + block]);
    }
    (Tensor::from_vec(&[batch, block], x).expect("a batch of windows"), y)
}

fn mean_loss<B: Backend>(
    be: &B,
    model: &mut Model<B>,
    data: &[u32],
    cfg: &LmFinetuneConfig,
    rng: &mut Rng,
    vocab: usize,
) -> Result<f64> {
    let mut sum = 0.0;
    for _ in 0..cfg.eval_iters {
        let (x, y) = draw(rng, data, cfg.batch, cfg.block);
        let x = be.upload(&x)?;
        model.forward(be, &x, false)?;
        model.loss(be, LossKind::CrossEntropy, &Target::Labels(&be.upload_labels(&y, vocab)?))?;
        sum += be.read(model.loss_tensor()?)?.data()[0] as f64;
    }
    Ok(sum / cfg.eval_iters.max(1) as f64)
}

/// Fine-tunes the GPT-2 folder `hf` on `text`; `on_eval` sees every evaluation.
pub fn finetune_lm<B: Backend>(
    be: &B,
    hf: &HfModel,
    tok: &TextTokenizer,
    text: &str,
    cfg: &LmFinetuneConfig,
    on_eval: &mut dyn FnMut(&LmEval),
) -> Result<(Model<B>, Vec<LmEval>)> {
    cfg.check()?;
    let (ids, split) = tokenize_corpus(tok, text, cfg.block)?;
    let vocab = hf.vocab();
    let mut model = task_model(be, hf, Task::LanguageModel, cfg.block, cfg.dropout, cfg.seed)?;
    let layout = model.spec().layout()?;
    let adamw = AdamConfig { lr: cfg.lr, weight_decay: cfg.weight_decay, ..AdamConfig::adamw() };
    let no_decay: Vec<String> = layout.views().iter().filter(|v| v.shape.len() < 2).map(|v| v.name.clone()).collect();
    let group = ParamGroup { params: no_decay, lr: None, weight_decay: Some(0.0) };
    let mut opt = Optimizer::new(be, OptimizerConfig::Adam(adamw), &layout, &[group])?;
    if let Some(c) = cfg.clip {
        opt.set_clip(Clip::L2Norm(c))?;
    }
    let (train, val) = ids.split_at(split);
    let mut rng = Rng::new(cfg.seed ^ 0x6E7A_6E70);
    let mut evals = Vec::new();
    let (mut since, mut tokens) = (Instant::now(), 0u64);
    for it in 0..=cfg.max_iters {
        if it % cfg.eval_interval == 0 || it == cfg.max_iters {
            let seconds = since.elapsed().as_secs_f64();
            let mut eval_rng = Rng::new(cfg.seed ^ 0xE7A1 ^ it);
            let train_loss = mean_loss(be, &mut model, train, cfg, &mut eval_rng, vocab)?;
            let val_loss = mean_loss(be, &mut model, val, cfg, &mut eval_rng, vocab)?;
            let record = LmEval { iter: it, train_loss, val_loss, tokens_per_s: tokens as f64 / seconds.max(1e-9) };
            on_eval(&record);
            evals.push(record);
            (since, tokens) = (Instant::now(), 0);
        }
        if it == cfg.max_iters {
            break;
        }
        let lr = crate::run::lm::lm_lr(it, cfg.lr, cfg.min_lr, cfg.warmup_iters, cfg.max_iters);
        opt.set_lrs(&vec![lr; opt.lrs().len()])?;
        let (x, y) = draw(&mut rng, train, cfg.batch, cfg.block);
        let x = be.upload(&x)?;
        model.forward(be, &x, true)?;
        model.loss(be, LossKind::CrossEntropy, &Target::Labels(&be.upload_labels(&y, vocab)?))?;
        model.backward(be, &x, false)?;
        opt.step(be, model.params.flat_mut(), model.grads.flat())?;
        tokens += (cfg.batch * cfg.block) as u64;
    }
    if let Some(last) = evals.last() {
        if !last.val_loss.is_finite() {
            return Err(Error::Diverged(format!(
                "the validation loss became {}: lower the learning rate",
                last.val_loss
            )));
        }
    }
    Ok((model, evals))
}
