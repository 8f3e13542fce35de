//! `downhill eval`: a checkpoint's loss, accuracy and confusion matrix on a test set.

use clap::Args;
use downhill::infer::evaluate_checkpoint;
use downhill::{DeviceRequest, Result};
use std::path::PathBuf;

/// Flags of `downhill eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The checkpoint to evaluate.
    #[arg(long)]
    checkpoint: PathBuf,
    /// MNIST-format folder or CSV file; default: the data the checkpoint was trained on.
    #[arg(long)]
    data: Option<PathBuf>,
    /// auto, cpu, gpu, an adapter index or part of its name.
    #[arg(long)]
    device: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `downhill eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    let device = DeviceRequest::from_flag_or_env(args.device.as_deref())?;
    let r = evaluate_checkpoint(&args.checkpoint, args.data.as_deref(), &device)?;
    if args.json {
        let json = serde_json::json!({
            "device": r.device, "data": r.data, "rows": r.rows,
            "test_loss": r.evaluation.loss, "test_accuracy": r.evaluation.accuracy,
            "confusion": r.evaluation.confusion,
        });
        println!("{json}");
        return Ok(());
    }
    let acc = r.evaluation.accuracy.map_or(String::new(), |a| format!(", accuracy {a:.4}"));
    println!("{} rows of {} on {}: loss {:.4}{acc}", r.rows, r.data, r.device, r.evaluation.loss);
    super::train::print_confusion(&r.evaluation.confusion, None);
    Ok(())
}
