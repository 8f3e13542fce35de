//! `downhill compare-optimizers`: every optimizer (or a list) trained on the same data and
//! model, each with its recommended settings, for the same epochs and seed: test accuracy,
//! wall time, optimizer-state floats per parameter, and a figure of their validation-loss curves.

use clap::Args;
use downhill::checkpoint::{write_atomically, Checkpoint};
use downhill::config::RunConfig;
use downhill::optim::OPTIMIZERS;
use downhill::run::{train, Quiet, RunOptions};
use downhill::{DeviceRequest, Result};
use std::path::PathBuf;

/// `downhill compare-optimizers` flags.
#[derive(Args)]
pub struct CompareArgs {
    /// MNIST-format folder or CSV file (default: the built-in MNIST subset).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The model, as `downhill train --model` takes it (default: the MLP).
    #[arg(long, default_value = "mlp")]
    model: String,
    /// Per-sample input shape, as `downhill train --input-shape`.
    #[arg(long, value_delimiter = ',')]
    input_shape: Option<Vec<usize>>,
    /// Epochs each optimizer trains.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Optimizers, comma-separated (default: all of them).
    #[arg(long)]
    optimizers: Option<String>,
    /// Folder for the runs, `comparison.md`, `comparison.csv` and `comparison.png`.
    #[arg(long, default_value = "runs/compare")]
    out: PathBuf,
    /// auto, cpu, gpu, an adapter index or part of its name.
    #[arg(long)]
    device: Option<String>,
    /// Seed of every run (initial weights, shuffling, dropout).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// The settings each optimizer is compared with, and why: the reference's defaults unless a
/// note says otherwise.
pub fn recommended(name: &str) -> (Option<f64>, Option<f64>, &'static str) {
    match name {
        "sgd" => (Some(0.05), Some(0.9), "lr 0.05, momentum 0.9 (SGD's default lr 1e-3 and no momentum barely moves)"),
        "lion" => (Some(1e-4), None, "lr 1e-4 (the paper: 3-10x below AdamW's)"),
        "lamb" => (Some(5e-3), None, "lr 5e-3 (timm's 1e-3 is tuned for large batches)"),
        "sophia" => (Some(1e-3), None, "lr 1e-3, rho 0.04, k 10 (the official 1e-4 is GPT-2's)"),
        "muon" => (Some(0.02), None, "lr 0.02 (torch's docs), AdamW 1e-3 for the rest"),
        _ => (None, None, "the reference's defaults"),
    }
}

/// Runs `downhill compare-optimizers`.
pub fn run(args: CompareArgs) -> Result<()> {
    let names: Vec<String> = match &args.optimizers {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
        None => OPTIMIZERS.iter().map(|o| o.name.to_string()).collect(),
    };
    for n in &names {
        downhill::optim::registry::find(n)?;
    }
    let device = DeviceRequest::from_flag_or_env(args.device.as_deref())?;
    // Every run's settings are checked before anything is written.
    let configs: Vec<RunConfig> = names.iter().map(|name| config(&args, name)).collect();
    for cfg in &configs {
        cfg.validate()?;
    }
    let new_folder = !args.out.exists();
    std::fs::create_dir_all(&args.out).map_err(|e| downhill::Error::File {
        path: args.out.display().to_string(),
        detail: format!("cannot create the folder: {e}"),
    })?;
    let result = compare(&args, &names, &configs, &device);
    if result.is_err() && new_folder {
        // A comparison refused before any run wrote leaves no empty folder (remove_dir removes
        // only an empty one; a failed run removes its own).
        let _ = std::fs::remove_dir(&args.out);
    }
    result
}

/// Trains every optimizer of `names` with its config, then writes the table and figure.
fn compare(args: &CompareArgs, names: &[String], configs: &[RunConfig], device: &DeviceRequest) -> Result<()> {
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    let mut device_name = String::new();
    for (name, cfg) in names.iter().zip(configs) {
        let note = recommended(name).2;
        let out = args.out.join(name);
        let opts = RunOptions { overwrite: true, ..Default::default() };
        eprintln!("{name}: {note}");
        let summary = train(cfg, device, &out, &opts, &mut Quiet)?;
        device_name = summary.device.clone();
        let ckpt = Checkpoint::load(&summary.checkpoint)?;
        let params: usize = ckpt.params.iter().map(|(_, t)| t.data().len()).sum();
        let state: usize = ckpt.optimizer.iter().map(|(_, t)| t.data().len()).sum();
        let per_param = state as f64 / params.max(1) as f64;
        eprintln!(
            "  test accuracy {:.4}, {:.1} s, {per_param:.2} state floats per parameter",
            summary.test_accuracy.unwrap_or(f64::NAN),
            summary.wall_s
        );
        let held_out = |r: &downhill::checkpoint::EpochRecord| (r.epoch as f64, r.val_loss.unwrap_or(r.train_loss));
        curves.push((name.clone(), summary.history.iter().map(held_out).collect::<Vec<_>>()));
        rows.push((name.clone(), note, summary.test_accuracy, summary.test_loss, summary.wall_s, per_param));
    }
    let data = args.data.as_ref().map_or("the built-in MNIST subset".to_string(), |d| d.display().to_string());
    let mut md = format!(
        "{} epochs of `{}` on {data}, seed {}, on {device_name}.\n\n| optimizer | settings | test accuracy | test loss | wall s | state floats / param |\n|---|---|---|---|---|---|\n",
        args.epochs, args.model, args.seed
    );
    let mut csv = String::from("optimizer,test_accuracy,test_loss,wall_s,state_floats_per_param\n");
    for (name, note, acc, loss, wall, per) in &rows {
        let acc = acc.map_or("–".into(), |a| format!("{a:.4}"));
        md.push_str(&format!("| {name} | {note} | {acc} | {loss:.4} | {wall:.1} | {per:.2} |\n"));
        csv.push_str(&format!("{name},{acc},{loss},{wall},{per}\n"));
    }
    write_atomically(&args.out.join("comparison.md"), md.as_bytes())?;
    write_atomically(&args.out.join("comparison.csv"), csv.as_bytes())?;
    let title = format!("validation loss per epoch: {} on {data}", args.model);
    downhill::report::plot_comparison(&args.out.join("comparison.png"), &title, &curves)?;
    print!("{md}");
    println!("\nwrote {}", args.out.join("comparison.md").display());
    Ok(())
}

/// The run of optimizer `name` with its recommended settings and the command's data and model.
fn config(args: &CompareArgs, name: &str) -> RunConfig {
    let (lr, momentum, _) = recommended(name);
    RunConfig {
        data: args.data.clone(),
        model: args.model.clone(),
        epochs: args.epochs,
        optimizer: name.to_string(),
        lr,
        momentum,
        seed: args.seed,
        input_shape: args.input_shape.clone(),
        ..RunConfig::default()
    }
}
