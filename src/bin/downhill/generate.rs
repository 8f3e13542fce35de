//! `downhill generate`: text from a language-model checkpoint, streamed to stdout token by
//! token (greedy with `--temperature 0`, else seeded sampling, optionally among the top k).

use clap::Args;
use downhill::checkpoint::Checkpoint;
use downhill::data::text::Vocabulary;
use downhill::data::InputSchema;
use downhill::device::{open, Device};
use downhill::generate::{generate, Sampling};
use downhill::infer::{checkpoint_spec, load_checkpoint};
use downhill::nn::{Model, ModelSpec};
use downhill::{Backend, DeviceRequest, Error, Result};
use std::io::Write;
use std::path::PathBuf;

/// Flags of `downhill generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// A language-model checkpoint (`downhill train` on text).
    #[arg(long)]
    checkpoint: PathBuf,
    /// The text to continue (default: a newline).
    #[arg(long, default_value = "\n")]
    prompt: String,
    /// Tokens to generate per sample.
    #[arg(long, default_value_t = 500)]
    max_new_tokens: usize,
    /// 0: greedy (the most likely token each time); above 0: sample softmax(logits / T).
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    temperature: f64,
    /// Sample among the k most likely tokens only.
    #[arg(long)]
    top_k: Option<usize>,
    /// Samples to generate, one after another.
    #[arg(long, default_value_t = 1)]
    num_samples: usize,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// auto, cpu, gpu, an adapter index or part of its name.
    #[arg(long)]
    device: Option<String>,
}

/// Runs `downhill generate`.
pub fn run(args: GenerateArgs) -> Result<()> {
    let ckpt = load_checkpoint(&args.checkpoint)?;
    let InputSchema::Text { vocabulary, block_size, .. } = &ckpt.meta.schema else {
        return Err(Error::File {
            path: args.checkpoint.display().to_string(),
            detail: "is not a language model (it was trained on images or a table); generate needs a checkpoint of \
                     `downhill train` on text"
                .into(),
        });
    };
    let sampling = Sampling { temperature: args.temperature, top_k: args.top_k, seed: args.seed };
    sampling.check(vocabulary.len())?;
    let mut prompt = vocabulary.encode(&args.prompt, "--prompt")?;
    if prompt.is_empty() {
        return Err(Error::InvalidArgument { what: "--prompt".into(), detail: "is empty".into() });
    }
    if prompt.len() > *block_size {
        eprintln!(
            "note: the prompt has {} tokens, more than the model's context of {block_size}: only its last {block_size} \
             are read",
            prompt.len()
        );
        prompt.drain(..prompt.len() - block_size);
    }
    let spec = checkpoint_spec(&args.checkpoint, &ckpt)?;
    let job = Job { args: &args, ckpt: &ckpt, prompt: &prompt, block: *block_size, sampling, vocabulary };
    match open(&DeviceRequest::from_flag_or_env(args.device.as_deref())?)?.device {
        Device::Cpu(be) => job.run(&be, spec),
        Device::Gpu(be) => job.run(be.as_ref(), spec),
    }
}

/// What one `generate` command makes, with what it makes it from.
struct Job<'a> {
    args: &'a GenerateArgs,
    ckpt: &'a Checkpoint,
    prompt: &'a [u32],
    block: usize,
    sampling: Sampling,
    vocabulary: &'a Vocabulary,
}

impl Job<'_> {
    /// Streams `num_samples` continuations of the prompt to stdout (sample k seeded seed + k).
    fn run<B: Backend>(&self, be: &B, spec: ModelSpec) -> Result<()> {
        let mut model = Model::new(be, spec, 0)?;
        model.load(be, &self.ckpt.params)?;
        let stdout = std::io::stdout();
        for k in 0..self.args.num_samples {
            let mut out = stdout.lock();
            let _ = write!(out, "{}", self.vocabulary.decode(self.prompt));
            let sampling = Sampling { seed: self.sampling.seed.wrapping_add(k as u64), ..self.sampling };
            generate(be, &mut model, self.prompt, self.args.max_new_tokens, self.block, &sampling, true, &mut |t| {
                let _ = write!(out, "{}", self.vocabulary.decode(&[t]));
                let _ = out.flush();
            })?;
            let _ = writeln!(out);
            if k + 1 < self.args.num_samples {
                let _ = writeln!(out, "---------------");
            }
        }
        Ok(())
    }
}
