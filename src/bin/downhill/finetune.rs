//! `downhill finetune`: fine-tune a pretrained Hugging Face encoder (BERT, MiniLM) for text
//! classification from a CSV of text and label columns, and write the result back as a
//! Hugging Face folder.

use clap::Args;
use downhill::device::{open, Device};
use downhill::hf::finetune::{finetune_classifier, EpochSummary, FinetuneConfig, FinetuneSummary};
use downhill::hf::task::{export, Task};
use downhill::hf::text_csv::{read_labelled, LabelledTexts};
use downhill::hf::{HfModel, TextTokenizer};
use downhill::nn::layers::pool_tokens::Pooling;
use downhill::{Backend, DeviceRequest, Error, Result};
use std::path::PathBuf;

/// Flags of `downhill finetune`.
#[derive(Args, Debug)]
pub struct FinetuneArgs {
    /// A Hugging Face BERT-family folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    from: PathBuf,
    /// Training CSV with a header row.
    #[arg(long)]
    data: PathBuf,
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
    /// Tokens per text at most; longer texts are cut (and counted).
    #[arg(long, default_value_t = 128)]
    max_length: usize,
    /// Texts per step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Passes over the training data.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// AdamW's peak learning rate.
    #[arg(long, default_value_t = 5e-5)]
    lr: f64,
    /// AdamW's weight decay (none on biases and LayerNorm weights).
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    /// Fraction of the steps spent warming up (then linear decay to 0).
    #[arg(long, default_value_t = 0.1)]
    warmup: f64,
    /// Clip the global gradient norm to this; 0 turns clipping off.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Seed of the head, the shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train without the config's dropouts.
    #[arg(long)]
    no_dropout: bool,
    /// Write the fine-tuned model here as a Hugging Face folder.
    #[arg(long)]
    out: Option<PathBuf>,
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
    let (train, names) = read_labelled(&args.data, &args.text_column, &args.label_column, None)?;
    let test = match &args.test {
        Some(p) => Some(read_labelled(p, &args.text_column, &args.label_column, Some(&names))?.0),
        None => None,
    };
    let cfg = FinetuneConfig {
        max_len: args.max_length,
        batch: args.batch_size,
        epochs: args.epochs,
        lr: args.lr,
        weight_decay: args.weight_decay,
        warmup: args.warmup,
        clip: (args.clip > 0.0).then_some(args.clip),
        seed: args.seed,
        pooling: Pooling::parse(&args.pooling)?,
        dropout: !args.no_dropout,
    };
    if args.clip < 0.0 || !args.clip.is_finite() {
        return Err(Error::InvalidArgument { what: "--clip".into(), detail: format!("{} must be ≥ 0", args.clip) });
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
        eprintln!("trained {} parameters", summary.trainable);
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

fn report_truncation(s: &FinetuneSummary, max_len: usize) {
    if s.truncated_train + s.truncated_test > 0 {
        eprintln!(
            "note: {} training and {} test texts were longer than {max_len} tokens and were cut",
            s.truncated_train, s.truncated_test
        );
    }
}
