//! `downhill eval`: a checkpoint's loss, accuracy, confusion matrix and per-class scores (or
//! MAE, RMSE and R² for regression) on a test set.

use crate::summary;
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
            "test_mae": r.regression.map(|m| m.mae), "test_rmse": r.regression.map(|m| m.rmse),
            "test_r2": r.regression.map(|m| m.r2),
            "macro_f1": r.macro_f1, "per_class": r.class_scores, "labels": r.label_names,
        });
        println!("{json}");
        return Ok(());
    }
    let acc = r.evaluation.accuracy.map_or(String::new(), |a| format!(", accuracy {a:.4}"));
    let f1 = r.macro_f1.map_or(String::new(), |f| format!(", macro-F1 {f:.4}"));
    let reg = summary::regression_line(&r.regression);
    println!("{} rows of {} on {}: loss {:.4}{acc}{f1}{reg}", r.rows, r.data, r.device, r.evaluation.loss);
    summary::print_confusion(&r.evaluation.confusion, r.label_names.as_deref(), None);
    summary::print_class_scores(&r.class_scores, None);
    Ok(())
}
