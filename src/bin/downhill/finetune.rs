//! `downhill finetune`: fine-tune a pretrained Hugging Face encoder (BERT, MiniLM) for text
//! classification from a CSV of text and label columns, and write the result back as a
//! Hugging Face folder.

use clap::Args;
use downhill::device::{open, Device};
use downhill::hf::bert::LoraSettings;
use downhill::hf::finetune::{finetune_classifier, EpochSummary, FinetuneConfig, FinetuneSummary};
use downhill::hf::finetune_lm::{finetune_lm, LmEval, LmFinetuneConfig};
use downhill::hf::task::{export, export_adapter, Task};
use downhill::hf::text_csv::{read_labelled, LabelledTexts};
use downhill::hf::{Architecture, HfModel, TextTokenizer};
use downhill::nn::layers::pool_tokens::Pooling;
use downhill::{Backend, DeviceRequest, Error, Result};
use std::path::PathBuf;

/// Flags of `downhill finetune`.
#[derive(Args, Debug)]
pub struct FinetuneArgs {
    /// A Hugging Face BERT-family folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    from: PathBuf,
    /// Training CSV with a header row (classification with a BERT-family folder).
    #[arg(long)]
    data: Option<PathBuf>,
    /// A UTF-8 text file to fine-tune a GPT-2 folder on (causal language modelling).
    #[arg(long)]
    text: Option<PathBuf>,
    /// Language modelling: tokens per window (default: min(128, n_positions)).
    #[arg(long)]
    block_size: Option<usize>,
    /// Language modelling: optimizer steps.
    #[arg(long, default_value_t = 200)]
    max_iters: u64,
    /// Language modelling: evaluate every this many steps.
    #[arg(long, default_value_t = 50)]
    eval_interval: u64,
    /// Language modelling: windows per evaluation.
    #[arg(long, default_value_t = 10)]
    eval_iters: usize,
    /// Language modelling: warm-up steps before the cosine decay (to lr / 10).
    #[arg(long, default_value_t = 0)]
    warmup_iters: u64,
    /// Test CSV (same columns), scored after every epoch.
    #[arg(long)]
    test: Option<PathBuf>,
    /// The column holding the text.
    #[arg(long, default_value = "text")]
    text_column: String,
    /// The column holding the label (class names, or dense ids 0..K−1).
    #[arg(long, default_value = "label")]
    label_column: String,
    /// mean (over the attention mask, sentence-transformers) or first ([CLS]).
    #[arg(long, default_value = "mean")]
    pooling: String,
    /// Tokens per text at most; longer texts are cut (and counted). Default: 128, or the
    /// model's max_position_embeddings when smaller.
    #[arg(long)]
    max_length: Option<usize>,
    /// Texts per step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Passes over the training data.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// AdamW's peak learning rate.
    #[arg(long, default_value_t = 5e-5, allow_negative_numbers = true)]
    lr: f64,
    /// AdamW's weight decay (none on biases and LayerNorm weights).
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    weight_decay: f64,
    /// Fraction of the steps spent warming up (then linear decay to 0).
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    warmup: f64,
    /// Clip the global gradient norm to this; 0 turns clipping off.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    clip: f64,
    /// Seed of the head, the shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train without the config's dropouts.
    #[arg(long)]
    no_dropout: bool,
    /// Freeze the parameters whose names match these globs (comma-separated, Hugging Face
    /// names, `*` and `?`; the head is `head.weight`, `head.bias`): e.g. 'embeddings.*,encoder.*'
    /// trains the head alone.
    #[arg(long, value_delimiter = ',')]
    freeze: Vec<String>,
    /// LoRA rank r: train low-rank adapters on --lora-targets (and the head), the rest frozen.
    #[arg(long, allow_negative_numbers = true)]
    lora_r: Option<i64>,
    /// LoRA alpha (the adapters' scale is alpha / r); default 2r.
    #[arg(long, allow_negative_numbers = true)]
    lora_alpha: Option<f64>,
    /// LoRA dropout (only 0 is supported).
    #[arg(long, default_value_t = 0.0)]
    lora_dropout: f64,
    /// The projections LoRA adapts (comma-separated): query, key, value.
    #[arg(long, value_delimiter = ',', default_value = "query,value")]
    lora_targets: Vec<String>,
    /// Write the fine-tuned model here as a Hugging Face folder (LoRA merged into the weights).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the LoRA adapters alone here, as PEFT does (adapter_model.safetensors,
    /// adapter_config.json).
    #[arg(long)]
    adapter_out: Option<PathBuf>,
    /// Write the run's figures here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// auto, cpu, gpu, an adapter index or part of its name.
    #[arg(long)]
    device: Option<String>,
}

/// Runs `downhill finetune`.
pub fn run(args: FinetuneArgs) -> Result<()> {
    let hf = HfModel::open(&args.from)?;
    let tok = hf.load_tokenizer()?;
    // Each mode refuses the other's settings rather than ignoring them.
    if let Architecture::Gpt2(_) = hf.arch {
        let stray = given(&[
            ("--data", args.data.is_some()),
            ("--test", args.test.is_some()),
            ("--lora-r", args.lora_r.is_some()),
            ("--lora-alpha", args.lora_alpha.is_some()),
            ("--adapter-out", args.adapter_out.is_some()),
            ("--freeze", !args.freeze.is_empty()),
            ("--max-length", args.max_length.is_some()),
        ]);
        if !stray.is_empty() {
            return Err(Error::InvalidArgument {
                what: stray.join(", "),
                detail: "a GPT-2 folder fine-tunes as a language model on --text: these are classification settings"
                    .into(),
            });
        }
        return language_model(&args, &hf, &tok);
    }
    let stray = given(&[("--text", args.text.is_some()), ("--block-size", args.block_size.is_some())]);
    if !stray.is_empty() {
        return Err(Error::InvalidArgument {
            what: stray.join(", "),
            detail: "language-model settings, for GPT-2 folders; a BERT-family folder fine-tunes for classification"
                .into(),
        });
    }
    let Some(data) = &args.data else {
        return Err(Error::InvalidArgument {
            what: "--data".into(),
            detail:
                "a BERT-family folder fine-tunes for classification: give --data train.csv (text and label columns)"
                    .into(),
        });
    };
    let (train, names) = read_labelled(data, &args.text_column, &args.label_column, None)?;
    let test = match &args.test {
        Some(p) => Some(read_labelled(p, &args.text_column, &args.label_column, Some(&names))?.0),
        None => None,
    };
    let cfg = FinetuneConfig {
        max_len: args.max_length.unwrap_or(hf.max_positions().min(128)),
        batch: args.batch_size,
        epochs: args.epochs,
        lr: args.lr,
        weight_decay: args.weight_decay,
        warmup: args.warmup,
        clip: clip_setting(args.clip)?,
        seed: args.seed,
        pooling: Pooling::parse(&args.pooling)?,
        dropout: !args.no_dropout,
        lora: match args.lora_r {
            Some(r) => Some(LoraSettings::new(
                r,
                args.lora_alpha.unwrap_or(2.0 * r as f64),
                args.lora_dropout,
                &args.lora_targets,
            )?),
            None if args.lora_alpha.is_some() => {
                return Err(Error::InvalidArgument { what: "--lora-alpha".into(), detail: "needs --lora-r".into() })
            }
            None => None,
        },
        freeze: args.freeze.iter().map(|g| g.trim().to_string()).filter(|g| !g.is_empty()).collect(),
    };
    if args.adapter_out.is_some() && cfg.lora.is_none() {
        return Err(Error::InvalidArgument { what: "--adapter-out".into(), detail: "needs --lora-r".into() });
    }
    cfg.check()?;
    let job = Job { args: &args, hf: &hf, tok: &tok, cfg: &cfg, train: &train, test: test.as_ref(), names: &names };
    let selection = open(&DeviceRequest::from_flag_or_env(args.device.as_deref())?)?;
    eprintln!("device: {}", selection.device.describe());
    match selection.device {
        Device::Cpu(be) => job.run(&be),
        Device::Gpu(be) => job.run(be.as_ref()),
    }
}

/// One fine-tuning command's inputs.
struct Job<'a> {
    args: &'a FinetuneArgs,
    hf: &'a HfModel,
    tok: &'a TextTokenizer,
    cfg: &'a FinetuneConfig,
    train: &'a LabelledTexts,
    test: Option<&'a LabelledTexts>,
    names: &'a [String],
}

impl Job<'_> {
    fn run<B: Backend>(&self, be: &B) -> Result<()> {
        let k = self.names.len();
        eprintln!(
            "fine-tuning {} for {k} classes on {} texts{}; max length {}, batch {}, {} epochs",
            self.args.from.display(),
            self.train.texts.len(),
            self.test.map_or(String::new(), |t| format!(" (test: {})", t.texts.len())),
            self.cfg.max_len,
            self.cfg.batch,
            self.cfg.epochs
        );
        let mut show = |e: &EpochSummary| {
            let test = match (e.test_loss, e.test_accuracy) {
                (Some(l), Some(a)) => format!(", test loss {l:.4}, test accuracy {:.2}%", 100.0 * a),
                _ => String::new(),
            };
            eprintln!(
                "epoch {}: train loss {:.4}{test}, {:.1} s, {:.1} texts/s",
                e.epoch, e.train_loss, e.seconds, e.samples_per_s
            );
        };
        let (model, summary) =
            finetune_classifier(be, self.hf, self.tok, self.cfg, self.train, self.test, k, &mut show)?;
        report_truncation(&summary, self.cfg.max_len);
        eprintln!(
            "trained {} of {} parameters ({:.2}%); optimizer state {:.1} MB",
            summary.trainable,
            summary.total,
            100.0 * summary.trainable as f64 / summary.total as f64,
            summary.optimizer_bytes as f64 / 1e6
        );
        if let (Some(dir), Some(lora)) = (&self.args.adapter_out, &self.cfg.lora) {
            export_adapter(be, self.hf, &model, lora, dir)?;
            eprintln!("wrote {} (adapter_model.safetensors, adapter_config.json)", dir.display());
        }
        if let Some(out) = &self.args.out {
            let task = Task::Classify { classes: k, pooling: self.cfg.pooling };
            export(be, self.hf, &model, task, self.names, out)?;
            eprintln!("wrote {} (config.json, model.safetensors, tokenizer.json)", out.display());
        }
        if let Some(path) = &self.args.json {
            let json = serde_json::json!({ "summary": summary, "classes": self.names });
            let text = serde_json::to_string_pretty(&json).expect("figures serialise");
            downhill::checkpoint::write_atomically(path, text.as_bytes())?;
        }
        Ok(())
    }
}

/// The flags among `flags` that were given.
fn given(flags: &[(&'static str, bool)]) -> Vec<&'static str> {
    flags.iter().filter(|(_, on)| *on).map(|(f, _)| *f).collect()
}

/// `--clip`: 0 turns clipping off; a negative or non-finite value is refused.
fn clip_setting(clip: f64) -> Result<Option<f64>> {
    if clip < 0.0 || !clip.is_finite() {
        return Err(Error::InvalidArgument { what: "--clip".into(), detail: format!("{clip} must be ≥ 0 (0: off)") });
    }
    Ok((clip > 0.0).then_some(clip))
}

/// Causal-LM fine-tuning of a GPT-2 folder on `--text`.
fn language_model(args: &FinetuneArgs, hf: &HfModel, tok: &TextTokenizer) -> Result<()> {
    let Some(path) = &args.text else {
        return Err(Error::InvalidArgument {
            what: "--text".into(),
            detail: "a GPT-2 folder fine-tunes as a language model: give --text FILE".into(),
        });
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::File {
        path: path.display().to_string(),
        detail: format!("cannot read as UTF-8 text: {e}"),
    })?;
    let block = args.block_size.unwrap_or(hf.max_positions().min(128));
    let cfg = LmFinetuneConfig {
        block,
        batch: args.batch_size,
        max_iters: args.max_iters,
        lr: args.lr,
        min_lr: args.lr / 10.0,
        warmup_iters: args.warmup_iters,
        weight_decay: args.weight_decay,
        clip: clip_setting(args.clip)?,
        eval_interval: args.eval_interval,
        eval_iters: args.eval_iters,
        seed: args.seed,
        dropout: !args.no_dropout,
    };
    cfg.check()?;
    let selection = open(&DeviceRequest::from_flag_or_env(args.device.as_deref())?)?;
    eprintln!("device: {}", selection.device.describe());
    let mut show = |e: &LmEval| {
        eprintln!(
            "iter {}: train loss {:.4}, val loss {:.4}, {:.0} tokens/s",
            e.iter, e.train_loss, e.val_loss, e.tokens_per_s
        );
    };
    match selection.device {
        Device::Cpu(be) => lm_job(&be, args, hf, tok, &text, &cfg, &mut show),
        Device::Gpu(be) => lm_job(be.as_ref(), args, hf, tok, &text, &cfg, &mut show),
    }
}

fn lm_job<B: Backend>(
    be: &B,
    args: &FinetuneArgs,
    hf: &HfModel,
    tok: &TextTokenizer,
    text: &str,
    cfg: &LmFinetuneConfig,
    show: &mut dyn FnMut(&LmEval),
) -> Result<()> {
    let (model, evals) = finetune_lm(be, hf, tok, text, cfg, show)?;
    if let Some(out) = &args.out {
        export(be, hf, &model, Task::LanguageModel, &[], out)?;
        eprintln!("wrote {} (config.json, model.safetensors, tokenizer.json)", out.display());
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&serde_json::json!({ "evals": evals })).expect("figures serialise");
        downhill::checkpoint::write_atomically(path, text.as_bytes())?;
    }
    Ok(())
}

fn report_truncation(s: &FinetuneSummary, max_len: usize) {
    if s.truncated_train + s.truncated_test > 0 {
        eprintln!(
            "note: {} training and {} test texts were longer than {max_len} tokens and were cut",
            s.truncated_train, s.truncated_test
        );
    }
}
