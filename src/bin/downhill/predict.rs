//! `downhill predict`: IDX images, CSV rows or image files in, a CSV of predictions out: the
//! class (its original label when the labels were mapped) and each class's probability, or the
//! targets in their own units; for image files, each row's file too.

use clap::Args;
use downhill::checkpoint::write_atomically;
use downhill::infer::predict_checkpoint;
use downhill::report::csv_field;
use downhill::train::argmax;
use downhill::{DeviceRequest, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Flags of `downhill predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The checkpoint to predict with.
    #[arg(long)]
    checkpoint: PathBuf,
    /// An IDX image file (gz or raw), a CSV of features, or (for a model trained on an image
    /// folder) one image or a folder of them.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the CSV (default: standard output). An existing file is replaced only
    /// when it holds predictions (or with --overwrite).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Replace --output whatever it holds.
    #[arg(long)]
    overwrite: bool,
    /// auto, cpu, gpu, an adapter index or part of its name.
    #[arg(long)]
    device: Option<String>,
}

/// Refuses to replace `path` unless it is absent or a predictions CSV this command wrote
/// (first line `row,prediction,…`, `row,y0,…` or, for images, `row,file,…`): a checkpoint or
/// a user's file is never lost to a mistyped `--output`.
fn check_output(path: &Path, input: &Path, checkpoint: &Path) -> Result<()> {
    let refuse = |why: &str| {
        Err(downhill::Error::File {
            path: path.display().to_string(),
            detail: format!("{why}; pass --overwrite to replace it anyway, or choose another --output"),
        })
    };
    let same = |a: &Path| matches!((a.canonicalize(), path.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if same(input) || same(checkpoint) {
        return refuse("is the input or the checkpoint of this command");
    }
    if !path.exists() {
        return Ok(());
    }
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    if [&b"row,prediction"[..], b"row,y0", b"row,file,"].iter().any(|h| head[..n].starts_with(h)) {
        Ok(())
    } else {
        refuse("exists and is not a predictions file written by downhill")
    }
}

/// Runs `downhill predict`.
pub fn run(args: PredictArgs) -> Result<()> {
    let device = DeviceRequest::from_flag_or_env(args.device.as_deref())?;
    if let (Some(out), false) = (&args.output, args.overwrite) {
        check_output(out, &args.input, &args.checkpoint)?;
    }
    let p = predict_checkpoint(&args.checkpoint, &args.input, &device)?;
    let cols = p.outputs.shape()[1];
    let name = |c: usize| p.class_names.as_ref().and_then(|n| n.get(c).cloned()).unwrap_or_else(|| c.to_string());
    // Images: each row's file after its number (the path below --input when it is a folder,
    // --input itself when it is one image).
    let row = |r: usize| match &p.files {
        Some(files) => {
            let file =
                if args.input.is_dir() { files[r].strip_prefix(&args.input).unwrap_or(&files[r]) } else { &files[r] };
            format!("{r},{}", csv_field(&file.display().to_string()))
        }
        None => r.to_string(),
    };
    let file_head = if p.files.is_some() { ",file" } else { "" };
    let mut csv = String::new();
    match &p.probabilities {
        Some(probs) => {
            csv.push_str(&format!("row{file_head},prediction"));
            for c in 0..cols {
                // p0, p1, … for classes that are their indices; p_setosa for mapped labels.
                let head = if p.class_names.is_some() { format!("p_{}", name(c)) } else { format!("p{c}") };
                csv.push_str(&format!(",{}", csv_field(&head)));
            }
            csv.push('\n');
            for (r, values) in probs.data().chunks(cols).enumerate() {
                csv.push_str(&format!("{},{}", row(r), csv_field(&name(argmax(values)))));
                for v in values {
                    csv.push_str(&format!(",{v:.6}"));
                }
                csv.push('\n');
            }
        }
        None => {
            csv.push_str(&format!("row{file_head}"));
            for c in 0..cols {
                csv.push_str(&format!(",y{c}"));
            }
            csv.push('\n');
            for (r, values) in p.outputs.data().chunks(cols).enumerate() {
                csv.push_str(&row(r));
                for v in values {
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
