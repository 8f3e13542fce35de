//! A language model's run, nanoGPT's `train.py` loop: a text corpus (the built-in
//! tiny-shakespeare without `data`), a character (or byte) vocabulary, the first 90 % to train
//! and the rest to validate; each iteration one batch of random windows (`get_batch`); AdamW
//! with weight decay on the tensors of two or more dims only; linear warm-up then cosine decay
//! to `min_lr`, by iteration; gradient clipping; every `eval_interval` iterations the mean loss
//! of `eval_iters` random batches of each split (`estimate_loss`) and a checkpoint:
//! `checkpoint.safetensors` after every evaluation (what `--resume` continues, bit for bit) and
//! `best.safetensors` when the validation loss is the best so far.

use super::output::claim;
use super::RunOptions;
use crate::backend::Backend;
use crate::checkpoint::{write_atomically, Checkpoint, CheckpointMeta, EarlyStopState, FORMAT};
use crate::config::RunConfig;
use crate::data::normalize::{Normalization, Normalizer};
use crate::data::token_file::{self, Batch, TextSource, Tokens};
use crate::data::InputSchema;
use crate::device::{open, Device, DeviceRequest};
use crate::error::{Error, Result};
use crate::loss::{LossKind, Target};
use crate::memory::check_fits;
use crate::nn::{gpt, Init, Model, ModelSpec};
use crate::optim::{registry, AdamConfig, Clip, Optimizer, OptimizerConfig, ParamGroup};
use crate::rng::Rng;
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The token file a run writes into its folder (little-endian u16 or u32 tokens, mapped).
pub const TOKEN_FILE: &str = "tokens.bin";

/// tiny-shakespeare, the built-in text corpus (`data/tinyshakespeare`).
static BUILTIN_TEXT: &[u8] = include_bytes!("../../data/tinyshakespeare/input.txt");

/// True when `cfg` trains a language model: its data is a `.txt` file, or it has no data and
/// its model is the `gpt` preset.
pub fn is_language_model(cfg: &RunConfig) -> bool {
    match &cfg.data {
        Some(p) => p.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt")),
        None => matches!(gpt::block_size(&cfg.model), Ok(Some(_))),
    }
}

/// Refuses settings that the other kind of run would ignore: for text, epochs, epoch
/// schedules, early stopping, another loss, penalties, class and label settings,
/// normalisations and step checkpoints; for images and tables, iterations and tokenizers.
pub fn check_settings(cfg: &RunConfig, text: bool) -> Result<()> {
    let d = RunConfig::default();
    let set: Vec<&str> = if text {
        [
            ("epochs", cfg.epochs != d.epochs),
            ("schedule", cfg.schedule != d.schedule),
            ("patience", cfg.patience.is_some()),
            ("loss", cfg.loss != d.loss),
            ("l1", cfg.l1 != d.l1),
            ("l2", cfg.l2 != d.l2),
            ("classes", cfg.classes.is_some()),
            ("label", cfg.label.is_some()),
            ("label_map", cfg.label_map != d.label_map),
            ("normalization", cfg.normalization != d.normalization),
            ("target_normalization", cfg.target_normalization != d.target_normalization),
            ("checkpoint_every", cfg.checkpoint_every != d.checkpoint_every),
            ("augment", cfg.augment != d.augment),
            ("image_size", cfg.image_size.is_some()),
            ("channels", cfg.channels.is_some()),
            ("on_bad_image", cfg.on_bad_image != d.on_bad_image),
        ]
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(k, _)| *k)
        .collect()
    } else {
        [
            ("max_iters", cfg.max_iters != d.max_iters),
            ("eval_interval", cfg.eval_interval != d.eval_interval),
            ("eval_iters", cfg.eval_iters != d.eval_iters),
            ("min_lr", cfg.min_lr.is_some()),
            ("warmup_iters", cfg.warmup_iters != d.warmup_iters),
            ("tokenizer", cfg.tokenizer != d.tokenizer),
        ]
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(k, _)| *k)
        .collect()
    };
    if set.is_empty() {
        return Ok(());
    }
    let detail = if text {
        "a language model on text trains by iterations (max_iters, eval_interval) with warm-up and cosine decay by \
         iteration (warmup_iters, min_lr), on the token cross-entropy of unnormalised token ids; these settings \
         would be ignored"
    } else {
        "these settings are for language models on text (a .txt file or the gpt preset); with this data they would \
         be ignored"
    };
    Err(Error::InvalidArgument { what: set.join(", "), detail: detail.into() })
}

/// What a language-model run reports.
#[derive(Clone, Debug, PartialEq)]
pub enum LmEvent {
    /// The run is about to train.
    Start {
        /// Where ops run.
        device: String,
        /// Where the text came from and its size.
        data: String,
        /// Tokens in the vocabulary.
        vocabulary: usize,
        /// Training and validation tokens.
        tokens: (usize, usize),
        /// Parameters (a tied tensor once).
        parameters: usize,
        /// The model as the spec language writes it.
        model: String,
        /// The optimizer and its groups, in words.
        optimizer: String,
        /// The first iteration to train (0, or where a resumed run continues).
        first_iter: u64,
        /// The last (`max_iters`).
        max_iters: u64,
    },
    /// Iteration `iter` (counting from 1) took its optimizer step on `tokens` training tokens.
    Step {
        /// Iterations done.
        iter: u64,
        /// Tokens the step trained on (batch × block_size × accumulation).
        tokens: u64,
    },
    /// An evaluation (`estimate_loss`) at iteration `iter`.
    Eval {
        /// The iteration (0: before training).
        iter: u64,
        /// Mean loss of `eval_iters` random training batches.
        train: f64,
        /// Mean loss of `eval_iters` random validation batches.
        val: f64,
        /// Token accuracy (the most likely next token is the right one) on those validation
        /// batches.
        val_accuracy: f64,
        /// Training tokens per second since the previous evaluation.
        tokens_per_s: f64,
        /// Learning rate of the last step.
        lr: f64,
    },
    /// A checkpoint was written (after every evaluation).
    Checkpoint(PathBuf),
    /// Something the user should know (TensorBoard logging that stopped, say).
    Note(String),
}

/// One evaluation of a language-model run (`estimate_loss` on both splits).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct EvalRecord {
    /// The iteration (0: before training).
    pub iter: u64,
    /// Mean loss of `eval_iters` random training batches.
    pub train_loss: f64,
    /// Mean loss of `eval_iters` random validation batches.
    pub val_loss: f64,
    /// Token accuracy on those validation batches.
    pub val_accuracy: f64,
}

/// How a language-model run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct LmSummary {
    /// Where ops ran.
    pub device: String,
    /// Iterations trained.
    pub iters: u64,
    /// The best validation loss of an evaluation (the checkpoint's).
    pub best_val_loss: f64,
    /// Training tokens per second over the run (evaluations excluded).
    pub tokens_per_s: f64,
    /// Seconds from start to end.
    pub wall_s: f64,
    /// The last checkpoint (the last evaluation's: what `--resume` continues).
    pub checkpoint: PathBuf,
    /// The checkpoint of the best validation loss (`best.safetensors`).
    pub best_checkpoint: PathBuf,
    /// Every evaluation: (iteration, train loss, val loss).
    pub evals: Vec<EvalRecord>,
}

/// nanoGPT's learning rate at iteration `it`: linear warm-up over `warmup` iterations
/// (lr·(it+1)/(warmup+1)), then cosine decay to `min_lr` at `total`.
pub fn lm_lr(it: u64, lr: f64, min_lr: f64, warmup: u64, total: u64) -> f64 {
    if it < warmup {
        return lr * (it + 1) as f64 / (warmup + 1) as f64;
    }
    if it > total {
        return min_lr;
    }
    let progress = (it - warmup) as f64 / (total - warmup).max(1) as f64;
    min_lr + 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()) * (lr - min_lr)
}

/// Trains the language model `cfg` describes on the device `device` names, writing into `out`.
pub fn train_lm(
    cfg: &RunConfig,
    device: &DeviceRequest,
    out: &Path,
    opts: &RunOptions,
    report: &mut dyn FnMut(&LmEvent),
) -> Result<LmSummary> {
    cfg.validate()?;
    check_settings(cfg, true)?;
    let selection = open(device)?;
    let new_folder = !out.exists();
    let result = match &selection.device {
        Device::Cpu(be) => train_on(be, cfg, out, opts, report),
        Device::Gpu(be) => train_on(be.as_ref(), cfg, out, opts, report),
    };
    if result.is_err() && new_folder {
        let _ = std::fs::remove_dir(out); // only when nothing was written
    }
    result
}

/// The model a language-model config describes, for the vocabulary of its text (one
/// streaming pass over the text; nothing is written).
pub fn model_spec(cfg: &RunConfig) -> Result<ModelSpec> {
    let (text, _) = text_source(cfg);
    let scan = token_file::scan(&text, cfg.tokenizer == "bytes")?;
    ModelSpec::parse(&cfg.model, &[block_size(cfg)?], scan.vocabulary.len(), Init::TorchDefault)
}

/// The text `cfg` names (or the built-in one) and what to call it.
fn text_source(cfg: &RunConfig) -> (TextSource<'_>, String) {
    match &cfg.data {
        Some(p) => (TextSource::File(p), p.display().to_string()),
        None => (TextSource::Bytes(BUILTIN_TEXT, "<built-in tiny-shakespeare>"), "built-in tiny-shakespeare".into()),
    }
}

/// The context length: the `gpt` preset's block_size, or `input_shape = [T]`.
fn block_size(cfg: &RunConfig) -> Result<usize> {
    if let Some(b) = gpt::block_size(&cfg.model)? {
        return Ok(b);
    }
    match cfg.input_shape.as_deref() {
        Some([t]) => Ok(*t),
        _ => Err(Error::InvalidArgument {
            what: "model".into(),
            detail: format!(
                "a language model on text needs its context length: use the gpt preset (gpt(block_size=64, …)) or \
                 give input_shape = [T] for {:?}",
                cfg.model
            ),
        }),
    }
}

/// AdamW as nanoGPT configures it: decay on every tensor of two or more dims, none on the rest
/// (biases, LayerNorm weights). Any other optimizer named in `cfg` is used as it is.
/// Language models train with nanoGPT's AdamW unless another optimizer than the default is
/// named (the default `adam` means "not chosen" here).
fn uses_adamw(cfg: &RunConfig) -> bool {
    cfg.optimizer == RunConfig::default().optimizer || cfg.optimizer.eq_ignore_ascii_case("adamw")
}

fn optimizer<B: Backend>(be: &B, cfg: &RunConfig, layout: &crate::params::ParamLayout) -> Result<Optimizer<B>> {
    if !uses_adamw(cfg) {
        let entry = registry::find(&cfg.optimizer)?;
        return Optimizer::new(be, (entry.from_settings)(&cfg.optimizer_settings()), layout, &[]);
    }
    let d = AdamConfig::adamw();
    let config = AdamConfig {
        lr: cfg.lr.unwrap_or(d.lr),
        betas: (cfg.beta1.unwrap_or(d.betas.0), cfg.beta2.unwrap_or(d.betas.1)),
        eps: cfg.eps.unwrap_or(d.eps),
        weight_decay: cfg.weight_decay.unwrap_or(d.weight_decay),
        ..d
    };
    let no_decay: Vec<String> = layout.views().iter().filter(|v| v.shape.len() < 2).map(|v| v.name.clone()).collect();
    let group = ParamGroup { params: no_decay, lr: None, weight_decay: Some(0.0) };
    Optimizer::new(be, OptimizerConfig::Adam(config), layout, &[group])
}

fn train_on<B: Backend>(
    be: &B,
    cfg: &RunConfig,
    out: &Path,
    opts: &RunOptions,
    report: &mut dyn FnMut(&LmEvent),
) -> Result<LmSummary> {
    let started = Instant::now();
    // One streaming pass finds the vocabulary and the length (checked before anything is
    // written); the second, once the folder is claimed, writes the token file.
    let (text, source) = text_source(cfg);
    let scan = token_file::scan(&text, cfg.tokenizer == "bytes")?;
    let block = block_size(cfg)?;
    let vocab = scan.vocabulary.len();
    let train_len = token_file::split_point(scan.tokens, cfg.validation, block, &source)? as usize;
    let spec = ModelSpec::parse(&cfg.model, &[block], vocab, Init::TorchDefault)?;
    let batch = cfg.batch_size.max(1);
    let accumulation = cfg.accumulation.max(1);
    // The tokens are mapped from disk, not held in memory.
    check_fits(&format!("the model `{}`", spec.text()), spec.memory_bytes(batch, 7.0), 0.0)?;
    let resumed = opts.resume.as_deref().map(|p| load_for_resume(p, cfg, &scan, &source)).transpose()?;
    // Every check that can refuse the run comes before the folder is claimed (ties included).
    let layout = spec.layout()?;
    let _lock = claim(out, opts.overwrite, opts.resume.as_deref())?;
    // TensorBoard: the folder is checked writable before any training; each evaluation's
    // figures go in at its iteration.
    let mut board = cfg.tensorboard.as_deref().map(|dir| super::board::LmBoard::new(dir, cfg)).transpose()?;
    let outer = report;
    let mut logged = |e: &LmEvent| {
        if let Some(stopped) = board.as_mut().and_then(|b| b.log(e).err()) {
            board = None;
            outer(&LmEvent::Note(format!("TensorBoard logging stopped: {stopped}")));
        }
        outer(e)
    };
    let report: &mut dyn FnMut(&LmEvent) = &mut logged;
    write_atomically(&out.join("config.toml"), cfg.to_toml().as_bytes())?;
    let tokens = token_file::write(&text, &scan.vocabulary, &out.join(TOKEN_FILE))?;
    let (train, val) = tokens.tokens().split_at(train_len);
    let mut model = Model::new(be, spec.clone(), cfg.seed)?;
    let mut opt = optimizer(be, cfg, &layout)?;
    if let Some(c) = cfg.clip_norm {
        opt.set_clip(Clip::L2Norm(c))?;
    }
    // The schedule's peak is the configured rate (a checkpoint's optimizer holds its last step's).
    let lr = opt.lrs()[0];
    let path = out.join("checkpoint.safetensors");
    let best_path = out.join("best.safetensors");
    // Where the run starts: iteration 0, or a checkpoint's (its weights, optimizer state, the
    // window sampler's state and the best validation loss so far).
    let (start, mut rng, mut best) = match (&resumed, opts.resume.as_deref()) {
        (Some(c), Some(p)) => {
            model.load(be, &c.params).map_err(|e| crate::error::file_error(p, e.to_string()))?;
            model.load_buffers(be, &c.buffers)?;
            model.set_dropout_calls(c.meta.dropout_calls);
            opt.load_state(be, &c.optimizer_state()).map_err(|e| crate::error::file_error(p, e.to_string()))?;
            (c.meta.steps, Rng::new(c.meta.rng_state), c.meta.early_stop.map_or(f64::INFINITY, |e| e.best))
        }
        _ => (0, Rng::new(cfg.seed ^ 0x6E7A_6E70), f64::INFINITY),
    };
    let min_lr = cfg.min_lr.unwrap_or(lr / 10.0);
    report(&LmEvent::Start {
        device: be.describe(),
        data: format!("{source} ({} tokens, encoded into {TOKEN_FILE})", scan.tokens),
        vocabulary: vocab,
        tokens: (train.len(), val.len()),
        parameters: layout.parameter_count(),
        model: spec.text(),
        optimizer: if uses_adamw(cfg) {
            "adamw, weight decay on the tensors of two or more dims only (nanoGPT's groups)".into()
        } else {
            cfg.optimizer.clone()
        },
        first_iter: start,
        max_iters: cfg.max_iters,
    });
    let (mut evals, mut train_s, mut trained) = (Vec::new(), 0.0, 0u64);
    let mut window_tokens = 0u64;
    let mut step_lr = lr;
    // One batch on the device, rewritten each iteration (no allocation in the step).
    let mut windows = Windows::new(be, batch, block, vocab)?;
    let mut window_started = Instant::now();
    for it in start..=cfg.max_iters {
        // A resumed run's first iteration was evaluated (and checkpointed) by the run it continues.
        let resuming_here = resumed.is_some() && it == start;
        if (it % cfg.eval_interval == 0 || it == cfg.max_iters) && !resuming_here {
            be.sync()?;
            let window_s = window_started.elapsed().as_secs_f64();
            train_s += window_s;
            let mut eval_rng = Rng::new(cfg.seed ^ 0xE7A1 ^ it);
            let (train_loss, _) = estimate_loss(be, &mut model, &mut windows, train, cfg.eval_iters, &mut eval_rng)?;
            let (val_loss, val_accuracy) =
                estimate_loss(be, &mut model, &mut windows, val, cfg.eval_iters, &mut eval_rng)?;
            let tokens_per_s = window_tokens as f64 / f64::max(window_s, 1e-9);
            report(&LmEvent::Eval {
                iter: it,
                train: train_loss,
                val: val_loss,
                val_accuracy,
                tokens_per_s,
                lr: step_lr,
            });
            window_tokens = 0;
            evals.push(EvalRecord { iter: it, train_loss, val_loss, val_accuracy });
            let improved = val_loss < best;
            best = best.min(val_loss);
            let at = Position { iter: it, rng: rng.state(), best };
            let bytes = save(be, &model, &opt, cfg, &spec, &scan, block, &at, &path)?;
            report(&LmEvent::Checkpoint(path.clone()));
            if improved {
                write_atomically(&best_path, &bytes)?;
            }
            window_started = Instant::now();
        }
        if it == cfg.max_iters {
            break;
        }
        step_lr = lm_lr(it, lr, min_lr, cfg.warmup_iters, cfg.max_iters);
        opt.set_lrs(&vec![step_lr; opt.lrs().len()])?;
        // `accumulation` micro-batches, drawn one after another (nanoGPT's
        // gradient_accumulation_steps), their gradients summed and averaged.
        for micro in 0..accumulation {
            windows.draw(be, &mut rng, train)?;
            model.forward(be, &windows.x, true)?;
            model.loss(be, LossKind::CrossEntropy, &Target::Labels(&windows.y))?;
            model.backward(be, &windows.x, micro > 0)?;
        }
        if accumulation > 1 {
            crate::ops::elementwise::scale(be, model.grads.flat_mut(), 1.0 / accumulation as f32)?;
        }
        opt.step(be, model.params.flat_mut(), model.grads.flat())?;
        if it % 50 == 0 {
            let loss = be.read(model.loss_tensor()?)?.data()[0];
            if !loss.is_finite() {
                return Err(Error::Diverged(format!(
                    "the loss is {loss} at iteration {it}: lower the learning rate (lr {step_lr:e}) or clip gradients \
                     (clip_norm = 1)"
                )));
            }
        }
        window_tokens += (accumulation * batch * block) as u64;
        trained += 1;
        report(&LmEvent::Step { iter: it + 1, tokens: (accumulation * batch * block) as u64 });
    }
    Ok(LmSummary {
        device: be.describe(),
        iters: trained,
        best_val_loss: best,
        tokens_per_s: (trained * (accumulation * batch * block) as u64) as f64 / f64::max(train_s, 1e-9),
        wall_s: started.elapsed().as_secs_f64(),
        checkpoint: path,
        best_checkpoint: best_path,
        evals,
    })
}

/// One batch of windows on the device: the inputs (token ids as f32, what an embedding takes)
/// and the targets, allocated once and rewritten for every batch.
struct Windows<B: Backend> {
    x: B::Tensor,
    y: B::U32Buffer,
    /// The last batch drawn, on the host (its targets give the token accuracy); its buffers
    /// are reused from draw to draw.
    host: Batch,
    /// The inputs as a host tensor, rewritten in place before each upload.
    host_x: Tensor,
    batch: usize,
    block: usize,
    vocab: usize,
}

impl<B: Backend> Windows<B> {
    fn new(be: &B, batch: usize, block: usize, vocab: usize) -> Result<Self> {
        let y = be.upload_u32(&vec![0; batch * block])?;
        let host_x = Tensor::zeros(&[batch, block]);
        Ok(Self { x: be.zeros(&[batch, block])?, y, host: Batch::default(), host_x, batch, block, vocab })
    }

    /// Draws the next batch from `data` with `rng` (nanoGPT's `get_batch`) into the buffers.
    fn draw(&mut self, be: &B, rng: &mut Rng, data: Tokens<'_>) -> Result<()> {
        data.get_batch_into(rng, self.batch, self.block, &mut self.host)?;
        self.host_x.data_mut().copy_from_slice(&self.host.x);
        be.write(&mut self.x, &self.host_x)?;
        be.write_labels(&mut self.y, &self.host.y, self.vocab)
    }
}

/// nanoGPT's `estimate_loss` on one split: the mean loss of `iters` random batches, the model
/// in evaluation mode (no dropout); and the token accuracy over them (the share of positions
/// whose most likely next token, the first on ties, is the target).
fn estimate_loss<B: Backend>(
    be: &B,
    model: &mut Model<B>,
    windows: &mut Windows<B>,
    data: Tokens<'_>,
    iters: u64,
    rng: &mut Rng,
) -> Result<(f64, f64)> {
    let (mut total, mut right, mut counted) = (0.0, 0usize, 0usize);
    for _ in 0..iters {
        windows.draw(be, rng, data)?;
        let logits = be.read(model.forward(be, &windows.x, false)?)?;
        let v = windows.vocab;
        for (row, &target) in logits.data().chunks_exact(v).zip(&windows.host.y) {
            let best = row.iter().enumerate().fold(0, |b, (i, x)| if *x > row[b] { i } else { b });
            right += (best == target as usize) as usize;
            counted += 1;
        }
        model.loss(be, LossKind::CrossEntropy, &Target::Labels(&windows.y))?;
        total += be.read(model.loss_tensor()?)?.data()[0] as f64;
    }
    Ok((total / iters as f64, right as f64 / counted.max(1) as f64))
}

/// Writes the model (with its vocabulary and context length, so `generate` can use it) and the
/// optimizer state at iteration `iter`.
#[allow(clippy::too_many_arguments, reason = "the run's parts a checkpoint records")]
fn save<B: Backend>(
    be: &B,
    model: &Model<B>,
    opt: &Optimizer<B>,
    cfg: &RunConfig,
    spec: &ModelSpec,
    scan: &token_file::Scan,
    block: usize,
    at: &Position,
    path: &Path,
) -> Result<Vec<u8>> {
    let state = opt.state(be)?;
    // (file name, model name): nanoGPT's state_dict names for the gpt preset, so nanoGPT's
    // `GPT.load_state_dict` takes the parameters; the model's own names otherwise.
    let ours: Vec<String> = spec.param_shapes().into_iter().map(|(n, _)| n).collect();
    let names = match gpt::state_dict_names(&cfg.model, &ours)? {
        Some(pairs) => pairs.into_iter().map(|(model, file)| (file, model)).collect(),
        None => ours.iter().map(|n| (n.clone(), n.clone())).collect(),
    };
    let meta = CheckpointMeta {
        format: FORMAT.into(),
        config: cfg.clone(),
        inputs: block,
        input_shape: vec![block],
        torch_code: String::new(),
        schema: InputSchema::Text { vocabulary: scan.vocabulary.clone(), block_size: block, tokens: scan.tokens },
        outputs: scan.vocabulary.len(),
        classes: Some(scan.vocabulary.len()),
        epoch: 0,
        epoch_step: 0,
        steps: at.iter,
        epoch_rng_state: 0,
        rng_state: at.rng,
        dropout_calls: model.dropout_calls(),
        partial_loss: (0.0, 0),
        optimizer_step: state.step,
        mu_product: state.mu_product,
        lrs: state.lrs.clone(),
        momenta: state.momenta.clone(),
        schedule_free: state.schedule_free.clone(),
        params_in_eval_mode: state.eval_mode,
        normalizer: Normalizer { kind: Normalization::None, shift: Vec::new(), factor: Vec::new() },
        target_normalizer: None,
        label_names: None,
        history: Vec::new(),
        early_stop: Some(EarlyStopState { best: at.best, best_epoch: 0, bad_epochs: 0 }),
        replicas: 1,
        names,
    };
    let ckpt = Checkpoint {
        meta,
        params: model.params.read_all(be)?,
        buffers: model.read_buffers(be)?,
        optimizer: state.tensors,
    };
    ckpt.check_finite(path)?;
    let bytes = ckpt.to_bytes()?;
    write_atomically(path, &bytes)?;
    Ok(bytes)
}

/// Where a language-model run stands when it writes a checkpoint.
struct Position {
    /// The next iteration to train.
    iter: u64,
    /// The window sampler's state.
    rng: u64,
    /// The best validation loss so far.
    best: f64,
}

/// Loads the checkpoint to resume and refuses what cannot continue this run: not a language
/// model, another vocabulary or length of text (the text changed), another model, or every
/// iteration done.
fn load_for_resume(path: &Path, cfg: &RunConfig, scan: &token_file::Scan, source: &str) -> Result<Checkpoint> {
    let bad = |detail: String| crate::error::file_error(path, detail);
    let c = Checkpoint::load(path)?;
    c.check_finite(path)?;
    match &c.meta.schema {
        InputSchema::Text { vocabulary: v, .. } if *v != scan.vocabulary => {
            return Err(bad("was trained on text with another vocabulary".into()))
        }
        InputSchema::Text { tokens, .. } if *tokens != 0 && *tokens != scan.tokens => {
            return Err(bad(format!(
                "was trained on a text of {tokens} tokens, and {source} now has {}: the text changed since; resume \
                 with the text it was trained on, or start a new run",
                scan.tokens
            )))
        }
        InputSchema::Text { .. } => {}
        _ => return Err(bad("is not a language model: resume it without text data".into())),
    }
    if c.meta.config.model != cfg.model {
        return Err(bad(format!("holds the model {:?}, this run asks for {:?}", c.meta.config.model, cfg.model)));
    }
    if c.meta.steps >= cfg.max_iters {
        return Err(bad(format!(
            "this run already finished: it trained {} of {} iterations; to train further, pass --max-iters with more",
            c.meta.steps, cfg.max_iters
        )));
    }
    Ok(c)
}
