//! `downhill embed`: sentence embeddings of a text file's lines with a Hugging Face encoder
//! folder (all-MiniLM-L6-v2 and other BERT models): L2-normalised and mean-pooled over the
//! attention mask, as sentence-transformers gives them; one CSV row per line.

use clap::Args;
use downhill::device::{open, Device};
use downhill::hf::embed::{embed_texts, sentence_max_length};
use downhill::hf::HfModel;
use downhill::nn::layers::pool_tokens::Pooling;
use downhill::{Backend, DeviceRequest, Error, Result};
use std::io::Write;
use std::path::PathBuf;

/// Flags of `downhill embed`.
#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// A Hugging Face BERT-family folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    from: PathBuf,
    /// A UTF-8 text file: one text per line.
    #[arg(long)]
    input: PathBuf,
    /// Where the CSV goes (default: stdout).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Tokens per text at most, longer ones cut (default: the folder's sentence-transformers
    /// max_seq_length, else max_position_embeddings).
    #[arg(long)]
    max_length: Option<usize>,
    /// mean (over the attention mask) or first ([CLS]).
    #[arg(long, default_value = "mean")]
    pooling: String,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// auto, cpu, gpu, an adapter index or part of its name.
    #[arg(long)]
    device: Option<String>,
}

/// Runs `downhill embed`.
pub fn run(args: EmbedArgs) -> Result<()> {
    let hf = HfModel::open(&args.from)?;
    let tok = hf.load_tokenizer()?;
    let text = std::fs::read_to_string(&args.input)
        .map_err(|e| Error::File { path: args.input.display().to_string(), detail: format!("cannot read: {e}") })?;
    let lines: Vec<&str> = text.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.trim().is_empty()) {
        return Err(Error::File { path: args.input.display().to_string(), detail: format!("line {} is empty", i + 1) });
    }
    if lines.is_empty() {
        return Err(Error::File { path: args.input.display().to_string(), detail: "holds no text".into() });
    }
    if args.batch_size == 0 {
        return Err(Error::InvalidArgument { what: "--batch-size".into(), detail: "must be at least 1".into() });
    }
    let max_len = args.max_length.or_else(|| sentence_max_length(&args.from)).unwrap_or(hf.max_positions());
    let pooling = Pooling::parse(&args.pooling)?;
    let emb = match open(&DeviceRequest::from_flag_or_env(args.device.as_deref())?)?.device {
        Device::Cpu(be) => embed(&be, &hf, &tok, &lines, max_len, &args, pooling)?,
        Device::Gpu(be) => embed(be.as_ref(), &hf, &tok, &lines, max_len, &args, pooling)?,
    };
    if emb.truncated > 0 {
        eprintln!("note: {} of {} texts were longer than {max_len} tokens and were cut", emb.truncated, lines.len());
    }
    let c = emb.vectors.shape()[1];
    let mut csv = String::with_capacity(lines.len() * c * 12);
    for row in emb.vectors.data().chunks(c) {
        let cells: Vec<String> = row.iter().map(|x| format!("{x:?}")).collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    match &args.output {
        Some(path) => downhill::checkpoint::write_atomically(path, csv.as_bytes())?,
        None => {
            let _ = std::io::stdout().lock().write_all(csv.as_bytes());
        }
    }
    Ok(())
}

fn embed<B: Backend>(
    be: &B,
    hf: &HfModel,
    tok: &downhill::hf::TextTokenizer,
    lines: &[&str],
    max_len: usize,
    args: &EmbedArgs,
    pooling: Pooling,
) -> Result<downhill::hf::embed::Embeddings> {
    embed_texts(be, hf, tok, lines, max_len, args.batch_size, pooling)
}
