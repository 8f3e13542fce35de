//! `downhill lr-find`: the learning-rate range test (`downhill::run::lr_find`) for the model,
//! data and optimizer a run would use; prints the suggestion and writes it as `lr = …` TOML,
//! with the sweep's plot and its numbers.

use clap::Args;
use downhill::config::RunConfig;
use downhill::run::lr_find::{lr_find, write_outputs, LrFindSettings};
use downhill::{DeviceRequest, Result};
use std::path::PathBuf;

/// `downhill lr-find` flags.
#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct LrFindArgs {
    /// The run's TOML (its model, data, optimizer and batch size); flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data as for `train` (default: the built-in MNIST subset).
    #[arg(long)]
    data: Option<PathBuf>,
    /// mlp, a preset or a layer spec.
    #[arg(long)]
    model: Option<String>,
    /// The mlp's hidden sizes.
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// The shape of one sample (as `train --input-shape`).
    #[arg(long, value_delimiter = ',')]
    input_shape: Option<Vec<usize>>,
    /// The optimizer whose rate is sought.
    #[arg(long)]
    optimizer: Option<String>,
    /// Its weight decay.
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Its momentum (SGD, RMSprop).
    #[arg(long)]
    momentum: Option<f64>,
    /// Rows per step.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Seed of the weights and the shuffle.
    #[arg(long)]
    seed: Option<u64>,
    /// First rate of the sweep.
    #[arg(long, default_value_t = LrFindSettings::default().start_lr)]
    start_lr: f64,
    /// Last rate of the sweep.
    #[arg(long, default_value_t = LrFindSettings::default().end_lr)]
    end_lr: f64,
    /// Steps of the sweep (at most one epoch's).
    #[arg(long, default_value_t = LrFindSettings::default().steps)]
    num_steps: u64,
    /// auto, cpu, gpu, an adapter index or part of its name.
    #[arg(long)]
    device: Option<String>,
    /// Folder for lr_find.png, lr_find.csv and lr.toml.
    #[arg(long, default_value = "runs/lr-find")]
    out: PathBuf,
}

/// Runs `downhill lr-find`.
pub fn run(args: LrFindArgs) -> Result<()> {
    let mut cfg = match &args.config {
        Some(p) => RunConfig::from_file(p)?,
        None => RunConfig::default(),
    };
    macro_rules! set {
        ($($f:ident),*) => { $(if let Some(v) = args.$f.clone() { cfg.$f = v; })* };
    }
    set!(model, hidden, optimizer, batch_size, seed);
    if args.data.is_some() {
        cfg.data = args.data.clone();
    }
    if args.input_shape.is_some() {
        cfg.input_shape = args.input_shape.clone();
    }
    if args.weight_decay.is_some() {
        cfg.weight_decay = args.weight_decay;
    }
    if args.momentum.is_some() {
        cfg.momentum = args.momentum;
    }
    cfg.validate()?;
    let settings = LrFindSettings { start_lr: args.start_lr, end_lr: args.end_lr, steps: args.num_steps };
    let device = DeviceRequest::from_flag_or_env(args.device.as_deref())?;
    let (found, on) = lr_find(&cfg, &device, &settings)?;
    write_outputs(&args.out, &found)?;
    println!(
        "lr-find: {} steps of {} from {:.2e} on {on}; {}",
        found.lrs.len(),
        cfg.optimizer,
        settings.start_lr,
        found.ended
    );
    let (png, csv) = (args.out.join("lr_find.png"), args.out.join("lr_find.csv"));
    println!("plot: {}, steps: {}", png.display(), csv.display());
    let Some(lr) = found.suggestion else {
        return Err(downhill::Error::InvalidArgument {
            what: "lr-find".into(),
            detail: format!(
                "no suggestion: {} steps before the sweep ended are too few (it needs 13); start lower \
                 (--start-lr) or take more steps (--num-steps)",
                found.lrs.len()
            ),
        });
    };
    let toml = args.out.join("lr.toml");
    downhill::checkpoint::write_atomically(&toml, format!("lr = {lr:e}\n").as_bytes())?;
    println!("suggested lr: {lr:.3e} (where the smoothed loss falls fastest)");
    println!("written as `lr = {lr:e}` to {} (train with --lr {lr:.3e})", toml.display());
    Ok(())
}
