//! `downhill predict`: IDX images or CSV rows in, a CSV of predictions (and class
//! probabilities) out.

use clap::Args;
use downhill::checkpoint::write_atomically;
use downhill::infer::predict_checkpoint;
use downhill::train::argmax;
use downhill::{DeviceRequest, Result};
use std::path::PathBuf;

/// Flags of `downhill predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The checkpoint to predict with.
    #[arg(long)]
    checkpoint: PathBuf,
    /// An IDX image file (gz or raw) or a CSV of features.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the CSV (default: standard output).
    #[arg(long)]
    output: Option<PathBuf>,
    /// auto, cpu, gpu, an adapter index or part of its name.
    #[arg(long)]
    device: Option<String>,
}

/// Runs `downhill predict`.
pub fn run(args: PredictArgs) -> Result<()> {
    let device = DeviceRequest::from_flag_or_env(args.device.as_deref())?;
    let (outputs, probs) = predict_checkpoint(&args.checkpoint, &args.input, &device)?;
    let cols = outputs.shape()[1];
    let mut csv = String::new();
    match &probs {
        Some(p) => {
            csv.push_str("row,prediction");
            for c in 0..cols {
                csv.push_str(&format!(",p{c}"));
            }
            csv.push('\n');
            for (r, row) in p.data().chunks(cols).enumerate() {
                csv.push_str(&format!("{r},{}", argmax(row)));
                for v in row {
                    csv.push_str(&format!(",{v:.6}"));
                }
                csv.push('\n');
            }
        }
        None => {
            csv.push_str("row");
            for c in 0..cols {
                csv.push_str(&format!(",y{c}"));
            }
            csv.push('\n');
            for (r, row) in outputs.data().chunks(cols).enumerate() {
                csv.push_str(&r.to_string());
                for v in row {
                    csv.push_str(&format!(",{v}"));
                }
                csv.push('\n');
            }
        }
    }
    match &args.output {
        Some(path) => write_atomically(path, csv.as_bytes())?,
        None => print!("{csv}"),
    }
    Ok(())
}
