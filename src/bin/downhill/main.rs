//! The `downhill` command: a thin layer over the library.

mod bench;
mod bench_torch;
mod compare;
mod devices;
mod embed;
mod eval;
mod explore;
mod finetune;
mod generate;
mod interrupt;
mod lr_find;
mod model_summary;
mod predict;
mod summary;
mod train;
mod train_lm;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Train neural networks by gradient descent on any GPU wgpu reaches, or on the CPU.
#[derive(Parser)]
#[command(name = "downhill", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model: an MLP by default, a preset (cnn, lenet5, gpt) or a layer spec (--model), on
    /// the built-in MNIST subset (tiny-shakespeare for gpt) unless --data says otherwise.
    Train(Box<train::TrainArgs>),
    /// Evaluate a checkpoint on a test set.
    Eval(eval::EvalArgs),
    /// Predict with a checkpoint: IDX or CSV in, CSV of predictions and probabilities out.
    Predict(predict::PredictArgs),
    /// Generate text with a language-model checkpoint (trained on text), streamed to stdout.
    Generate(generate::GenerateArgs),
    /// Fine-tune a pretrained Hugging Face encoder (BERT, all-MiniLM-L6-v2) for text
    /// classification from a CSV (--text-column, --label-column); --out writes an HF folder.
    Finetune(Box<finetune::FinetuneArgs>),
    /// Sentence embeddings of a text file's lines with a Hugging Face encoder folder
    /// (all-MiniLM-L6-v2): L2-normalised, mean-pooled, one CSV row per line.
    Embed(embed::EmbedArgs),
    /// A model's layers before a run: output shapes, parameters, FLOPs, activation memory,
    /// and what each optimizer's state adds (--model, --data or --input-shape, or --checkpoint).
    Summary(model_summary::SummaryArgs),
    /// The learning-rate range test: a sweep of rates over at most one epoch, the loss per
    /// rate plotted and the rate where it falls fastest suggested (written as `lr = …` TOML).
    LrFind(Box<lr_find::LrFindArgs>),
    /// List the GPU adapters wgpu finds and the CPU path, and say which one `auto` picks.
    Devices,
    /// Time the standard workloads (matmul, MLP and CNN steps, the AdamW update, epochs).
    Bench(bench::BenchArgs),
    /// The gradient-descent explorer: optimizers racing on 2-D surfaces, in the browser.
    Explore(Box<explore::ExploreArgs>),
    /// Train the same model with every optimizer and compare accuracy, time, state and curves.
    CompareOptimizers(Box<compare::CompareArgs>),
}

/// Sets up the process before anything else runs: a closed stdout (`downhill predict | head`)
/// ends the command quietly as it does any Unix tool (SIGPIPE, exit 141) instead of a panic;
/// and graphics drivers that want `XDG_RUNTIME_DIR` (Mesa prints an error line on every
/// instance without it) get a harmless value when it is unset.
fn prepare_process() {
    #[cfg(unix)]
    // SAFETY: restoring the default action of SIGPIPE, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
}

fn main() -> ExitCode {
    prepare_process();
    let cli = Cli::parse();
    // Commands (all but `explore`) run on one of rayon's worker threads, so the CPU path's
    // parallel loops and GEMM split their work with the other workers directly instead of
    // handing each one from the main thread to the pool and sleeping until it is done (a
    // cross-thread wake-up per op; 2 threads on 2 cores rather than 3).
    let result = match cli.command {
        // The explorer's server holds its thread for its whole life: were that one of rayon's
        // workers, the heat maps and races it computes would have one worker fewer.
        Command::Explore(args) => explore::run(*args),
        command => rayon::scope(|_| run_in_pool(command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every command but `explore`.
fn run_in_pool(command: Command) -> downhill::Result<()> {
    match command {
        Command::Train(args) => train::run(*args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Devices => devices::run(),
        Command::Summary(args) => model_summary::run(args),
        Command::LrFind(args) => lr_find::run(*args),
        Command::Embed(args) => embed::run(args),
        Command::Finetune(args) => finetune::run(*args),
        Command::Bench(args) => bench::run_bench(args),
        Command::Explore(args) => explore::run(*args),
        Command::CompareOptimizers(args) => compare::run(*args),
    }
}
