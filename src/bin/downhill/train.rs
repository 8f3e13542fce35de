//! `downhill train`: flags and/or a TOML config, a progress bar, and a summary (or `--json`).

use crate::interrupt;
use crate::summary::{self, print_class_scores, print_confusion, MAX_PRINTED_CLASSES};
use clap::Args;
use downhill::checkpoint::EpochRecord;
use downhill::config::RunConfig;
use downhill::data::label_map::LabelMapMode;
use downhill::data::normalize::Normalization;
use downhill::distributed::{launcher_ranks, Collective, LaunchCheck};
use downhill::feed::FeedMode;
use downhill::report::Throughput;
use downhill::run::{train_on_devices, train_replica, Control, Observer, RunOptions, RunStart, RunSummary};
use downhill::train::StepInfo;
use downhill::{DeviceRequest, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flags of `downhill train`; each overrides the config file, which overrides the defaults.
/// A negative number is taken as a value (`--lr -1`), so it reaches the check that names its
/// setting instead of clap's "unexpected argument".
#[derive(Args, Debug, Default)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// TOML file with any of the settings below (keys as the flags, with underscores).
    #[arg(long)]
    config: Option<PathBuf>,
    /// MNIST-format folder (the four IDX files) or a CSV file; default: the built-in subset.
    #[arg(long)]
    data: Option<PathBuf>,
    /// CSV label column: a header name or a 0-based index (default: the last column).
    #[arg(long)]
    label: Option<String>,
    /// The model: mlp (default; --hidden, --activation, --dropout shape it), a preset (lenet5,
    /// cnn) or a layer spec, e.g. "conv2d(32, 3, padding=1) relu maxpool2d(2) flatten linear(10)".
    #[arg(long)]
    model: Option<String>,
    /// Per-sample input shape, e.g. 1,8,8 (default: 1,H,W for square IDX images under a model
    /// other than mlp, else the flat feature count).
    #[arg(long, value_delimiter = ',')]
    input_shape: Option<Vec<usize>>,
    /// Hidden layer sizes of the mlp, e.g. 256,128.
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// relu, leaky_relu, sigmoid, tanh, gelu_tanh, gelu_exact, silu.
    #[arg(long)]
    activation: Option<String>,
    /// Dropout probability after hidden layers.
    #[arg(long)]
    dropout: Option<f32>,
    /// torch, xavier-uniform, xavier-normal, kaiming-uniform, kaiming-normal, zeros.
    #[arg(long)]
    init: Option<String>,
    /// cross_entropy, mse, bce_with_logits.
    #[arg(long)]
    loss: Option<String>,
    /// sgd, adam, adamw, rmsprop, adagrad, adamax, nadam, radam, lion, lamb, adamw-schedule-free, sophia, adafactor, muon.
    #[arg(long)]
    optimizer: Option<String>,
    /// Learning rate (default: the optimizer's PyTorch default, 1e-3 for Adam).
    #[arg(long)]
    lr: Option<f64>,
    /// Momentum (SGD, RMSprop; default 0 as PyTorch).
    #[arg(long)]
    momentum: Option<f64>,
    /// Nesterov momentum (SGD).
    #[arg(long)]
    nesterov: bool,
    /// Sophia-G's ρ, the scale of its clipping threshold (default 0.04).
    #[arg(long)]
    rho: Option<f64>,
    /// Sophia-G: optimizer steps between Hessian estimates (default 10).
    #[arg(long)]
    hessian_interval: Option<u64>,
    /// Weight decay (default: 0.01 for adamw, 0 for the others, as PyTorch).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// β1 of the Adam family.
    #[arg(long)]
    beta1: Option<f64>,
    /// β2 of the Adam family.
    #[arg(long)]
    beta2: Option<f64>,
    /// ε of the adaptive optimizers.
    #[arg(long)]
    eps: Option<f64>,
    /// constant, step, exponential, cosine, warmup-cosine, onecycle.
    #[arg(long)]
    schedule: Option<String>,
    /// Epochs per decay for the step schedule.
    #[arg(long)]
    step_size: Option<u64>,
    /// Decay factor for step and exponential schedules.
    #[arg(long)]
    gamma: Option<f64>,
    /// Warm-up epochs for warmup-cosine.
    #[arg(long)]
    warmup_epochs: Option<u64>,
    /// Clip gradients to this global L2 norm.
    #[arg(long)]
    clip_norm: Option<f64>,
    /// Clip each gradient to ±this value.
    #[arg(long)]
    clip_value: Option<f64>,
    /// Micro-batches per optimizer step.
    #[arg(long)]
    accumulation: Option<usize>,
    /// Rows per micro-batch (0: full batch).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of everything random.
    #[arg(long)]
    seed: Option<u64>,
    /// auto (default: standardize for CSV tables, per column; scalar for images: IDX, or CSV
    /// with a C,H,W input shape), none,
    /// standardize, scalar, min-max. Fitted on the training rows and stored in the checkpoint.
    #[arg(long)]
    normalization: Option<String>,
    /// Regression targets: auto (default: standardize under mse, so any target scale trains),
    /// none, standardize, scalar, min-max. Reports and predictions stay in the targets' units.
    #[arg(long)]
    target_normalization: Option<String>,
    /// Number of classes (default: the data's label set, which must be dense).
    #[arg(long)]
    classes: Option<usize>,
    /// CSV class labels: auto (default: 0..K-1 as they are, 1..K and text mapped in sorted
    /// order, any other gap an error) or sorted (every distinct label a class, in order).
    #[arg(long)]
    label_map: Option<String>,
    /// Fraction of training rows held out for validation, scored each epoch (default 0.1;
    /// 0: none). The test set is scored once, at the end.
    #[arg(long)]
    validation: Option<f64>,
    /// Early stopping patience in epochs.
    #[arg(long, value_parser = whole::<usize>)]
    patience: Option<usize>,
    /// val_loss (default), val_accuracy, train_loss.
    #[arg(long)]
    early_stop_metric: Option<String>,
    /// With --patience, keep the last epoch's weights instead of restoring the best epoch's.
    #[arg(long)]
    no_restore_best_weights: bool,
    /// auto, resident, streaming.
    #[arg(long)]
    feed: Option<String>,
    /// Augment training images on the device: e.g. "crop(4) hflip translate(2)".
    #[arg(long)]
    augment: Option<String>,
    /// Image folders: resize every image to H,W.
    #[arg(long, value_delimiter = ',')]
    image_size: Option<Vec<usize>>,
    /// Image folders: 1 (grey) or 3 (RGB) channels (default: from the files).
    #[arg(long)]
    channels: Option<usize>,
    /// Image folders: error (default) or skip on a file that does not decode.
    #[arg(long)]
    on_bad_image: Option<String>,
    /// Write TensorBoard event files into this folder (`tensorboard --logdir DIR` shows them).
    #[arg(long)]
    tensorboard: Option<PathBuf>,
    /// Checkpoint every N steps as well as at epoch ends.
    #[arg(long, value_parser = whole::<u64>)]
    checkpoint_every: Option<u64>,
    /// L1 penalty.
    #[arg(long)]
    l1: Option<f64>,
    /// L2 penalty.
    #[arg(long)]
    l2: Option<f64>,
    /// auto, cpu, gpu, an adapter index or part of its name (default: DOWNHILL_DEVICE or auto);
    /// a list (gpu,cpu or 0,1) or `all` (every hardware GPU) trains one data-parallel replica
    /// per device in this process.
    #[arg(long)]
    pub(crate) device: Option<String>,
    /// Data-parallel training over MPI, one rank per process: `mpirun -np N downhill train
    /// --distributed ...` (needs the `mpi` cargo feature; also detected from mpirun's
    /// environment).
    #[arg(long)]
    pub(crate) distributed: bool,
    /// Data parallelism: all-reduce the gradient in buckets of about this many MB while the
    /// backward pass runs (DDP's bucket_cap_mb); 0 (default): once, after it.
    #[arg(long)]
    bucket_mb: Option<f64>,
    /// Text data: optimizer steps (iterations of one batch of random windows; default 2000).
    #[arg(long, value_parser = whole::<u64>)]
    max_iters: Option<u64>,
    /// Text data: iterations between evaluations and best-validation checkpoints (default 250).
    #[arg(long, value_parser = whole::<u64>)]
    eval_interval: Option<u64>,
    /// Text data: random batches of each split per evaluation (default 200).
    #[arg(long, value_parser = whole::<u64>)]
    eval_iters: Option<u64>,
    /// Text data: the learning rate the cosine decay ends at (default lr / 10).
    #[arg(long)]
    min_lr: Option<f64>,
    /// Text data: iterations of linear warm-up (default 100).
    #[arg(long, value_parser = whole::<u64>)]
    warmup_iters: Option<u64>,
    /// Text data: chars (one token per distinct character, default) or bytes.
    #[arg(long)]
    tokenizer: Option<String>,
    /// Seconds a replica waits in a collective (the gradient all-reduce) for the others before
    /// it gives up on them as dead or hung.
    #[arg(long, default_value_t = 300.0)]
    collective_timeout: f64,
    /// Output folder for the checkpoint, metrics and plot (default: the next free runs/run-N).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace a run already in --out (without it, such a folder is refused).
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// Continue from this checkpoint.
    #[arg(long)]
    pub(crate) resume: Option<PathBuf>,
    /// When resuming with another --optimizer: keep the weights, start its state fresh.
    #[arg(long)]
    reset_optimizer: bool,
    /// No progress bar or epoch lines (the summary and the paths are still printed).
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Print one JSON object with the results at the end (implies --quiet).
    #[arg(long)]
    pub(crate) json: bool,
}

/// Flags given replace the config's value.
macro_rules! set {
    ($cfg:ident, $args:ident, $($field:ident),*) => {
        $(if let Some(v) = $args.$field.clone() { $cfg.$field = v; })*
    };
}

/// Flags given replace the config's optional value.
macro_rules! set_some {
    ($cfg:ident, $args:ident, $($field:ident),*) => {
        $(if $args.$field.is_some() { $cfg.$field = $args.$field.clone(); })*
    };
}

/// Defaults (or the resumed checkpoint's configuration) ← config file ← flags.
fn config(args: &TrainArgs) -> Result<RunConfig> {
    let mut cfg = match (&args.config, &args.resume) {
        (Some(p), _) => RunConfig::from_file(p)?,
        (None, Some(ckpt)) => downhill::checkpoint::Checkpoint::load(ckpt)?.meta.config,
        (None, None) => RunConfig::default(),
    };
    set!(cfg, args, model, hidden, activation, dropout, init, loss, optimizer);
    set_some!(cfg, args, input_shape);
    set!(cfg, args, schedule, step_size, gamma, warmup_epochs, accumulation, batch_size, epochs, seed, validation);
    set!(cfg, args, early_stop_metric, checkpoint_every, l1, l2, bucket_mb);
    set!(cfg, args, max_iters, eval_interval, eval_iters, warmup_iters, tokenizer);
    set_some!(cfg, args, min_lr);
    set_some!(cfg, args, lr, momentum, weight_decay, beta1, beta2, eps, data, label, clip_norm, clip_value);
    set_some!(cfg, args, patience, classes, rho, hessian_interval, tensorboard, image_size, channels);
    set!(cfg, args, on_bad_image, augment);
    if args.nesterov {
        cfg.nesterov = true;
    }
    if args.no_restore_best_weights {
        cfg.restore_best_weights = false;
    }
    if let Some(n) = &args.normalization {
        cfg.normalization = n.parse::<Normalization>()?;
    }
    if let Some(n) = &args.target_normalization {
        cfg.target_normalization = n.parse::<Normalization>()?;
    }
    if let Some(m) = &args.label_map {
        cfg.label_map = m.parse::<LabelMapMode>()?;
    }
    if let Some(f) = &args.feed {
        cfg.feed = f.parse::<FeedMode>()?;
    }
    Ok(cfg)
}

/// The output folder: `--out`, or the next free `runs/run-N` (as Lightning's `version_N`), or
/// with `--resume` and no `--out`, the checkpoint's own folder.
fn out_folder(args: &TrainArgs) -> PathBuf {
    if let Some(out) = &args.out {
        return out.clone();
    }
    if let Some(parent) = args.resume.as_deref().and_then(Path::parent) {
        return if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent.to_path_buf() };
    }
    (1..).map(|n| PathBuf::from(format!("runs/run-{n}"))).find(|p| !p.exists()).unwrap_or_default()
}

/// The progress bar and epoch lines.
struct Progress {
    bar: Option<ProgressBar>,
    epochs: usize,
    steps_per_epoch: u64,
    /// Throughput over the last completed steps.
    rate: Throughput,
    last: Option<EpochRecord>,
}

impl Observer for Progress {
    fn on_start(&mut self, s: &RunStart) {
        self.epochs = s.epochs;
        self.steps_per_epoch = s.steps_per_epoch;
        for note in &s.notes {
            eprintln!("note:   {note}");
        }
        if self.bar.is_none() {
            return;
        }
        eprintln!("device: {}", s.device);
        if s.replicas.0 > 1 {
            eprintln!("        data-parallel: {} replicas (this is {})", s.replicas.0, s.replicas.1);
        }
        if let Some(why) = &s.fallback_reason {
            eprintln!("        ({why})");
        }
        eprintln!(
            "data:   {} — {} train / {} validation / {} test rows; {} parameters",
            s.data, s.rows.0, s.rows.1, s.rows.2, s.parameters
        );
        if let Some(names) = &s.label_names {
            eprintln!("labels: {}", summary::label_mapping(names));
        }
        if let Some(t) = &s.target_normalizer {
            let mean = t.shift.first().copied().unwrap_or(0.0);
            let std = t.factor.first().map_or(1.0, |f| 1.0 / f);
            eprintln!(
                "target: trained {:?} (mean {}, std {}); MAE, RMSE and R² are in the target's own units",
                t.kind,
                summary::figure(mean as f64),
                summary::figure(std as f64)
            );
        }
        let total = s.steps_per_epoch * (s.epochs + 1 - s.first_epoch.min(s.epochs + 1)) as u64;
        let bar = ProgressBar::new(total.max(1));
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:28}] {pos}/{len} steps, ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        self.bar = Some(bar);
    }

    fn on_step(&mut self, epoch: usize, info: &StepInfo) -> Control {
        if info.epoch_step == 1 {
            self.rate.clear();
        }
        self.rate.push(Instant::now(), info.rows);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if info.mean_loss.is_some() || info.epoch_step == 1 {
                let loss = info.mean_loss.map_or(String::new(), |l| format!(" loss {l:.4}"));
                let acc = self
                    .last
                    .as_ref()
                    .and_then(|r| r.val_accuracy)
                    .map_or(String::new(), |a| format!(" (last val acc {a:.4})"));
                let rate = self.rate.rate().map_or(String::new(), |r| format!(" {r:.0} samples/s"));
                bar.set_message(format!("epoch {epoch}/{}{loss}{acc}{rate}", self.epochs));
            }
        }
        if interrupt::requested() {
            return Control::Checkpoint;
        }
        Control::Continue
    }

    fn on_note(&mut self, note: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("note:   {note}")),
            None => eprintln!("note:   {note}"),
        }
    }

    fn on_epoch(&mut self, r: &EpochRecord) {
        if let Some(bar) = &self.bar {
            let val = r.val_loss.map_or(String::new(), |v| format!(", val loss {v:.4}"));
            let acc = r.val_accuracy.map_or(String::new(), |a| format!(", val accuracy {a:.4}"));
            let reg = r.val_regression.map_or(String::new(), |m| {
                format!(", val MAE {} RMSE {} R² {:.4}", summary::figure(m.mae), summary::figure(m.rmse), m.r2)
            });
            let line = format!(
                "epoch {:>3}: train loss {:.4}{val}{acc}{reg} — {:.0} samples/s",
                r.epoch, r.train_loss, r.samples_per_s
            );
            // println would be swallowed when stderr is not a terminal; suspend the bar instead.
            bar.suspend(|| eprintln!("{line}"));
        }
        self.last = Some(r.clone());
    }
}

/// Runs `downhill train`: one process alone, one replica per device in this process
/// (`--device gpu,cpu`), or one MPI rank (`--distributed`, or started by mpirun).
pub fn run(args: TrainArgs) -> Result<()> {
    let cfg = config(&args)?;
    if downhill::run::lm::is_language_model(&cfg) {
        return super::train_lm::run(&args, &cfg, out_folder(&args));
    }
    let timeout = collective_timeout(args.collective_timeout)?;
    let launch =
        LaunchCheck::decide(args.distributed, launcher_ranks(|v| std::env::var(v).ok()), cfg!(feature = "mpi"))?;
    let devices = match args.device.as_deref() {
        Some(flag) => downhill::device::replica_devices(flag)?,
        None => vec![DeviceRequest::from_env()?],
    };
    let out = out_folder(&args);
    let opts =
        RunOptions { resume: args.resume.clone(), overwrite: args.overwrite, reset_optimizer: args.reset_optimizer };
    let mut progress = Progress {
        bar: (!(args.quiet || args.json)).then(ProgressBar::hidden),
        epochs: cfg.epochs,
        steps_per_epoch: 0,
        rate: Throughput::default(),
        last: None,
    };
    let result = match launch {
        LaunchCheck::Mpi => {
            if devices.len() > 1 {
                return Err(downhill::Error::InvalidArgument {
                    what: "device".into(),
                    detail: "under MPI each rank trains on one device: give one --device per rank (mpirun can pass \
                             each rank its own DOWNHILL_DEVICE)"
                        .into(),
                });
            }
            let comm = join_mpi(timeout)?; // only rank 0 reports to `progress` (train_replica)
            let result = train_replica(&cfg, &devices[0], &out, &opts, &mut progress, comm.clone());
            match result {
                Ok(_) if comm.rank() != 0 => return Ok(()), // rank 0 prints the summary
                Err(e) if agreed_by_every_rank(&e) => {
                    // Every rank says it before any exits: the launcher ends the job at the
                    // first non-zero exit, which could cut another rank's message short.
                    eprintln!("error: {e}");
                    let _ = comm.all_gather_u64("the exit after a refusal every rank met", 0);
                    drop(comm); // finalises MPI
                    std::process::exit(1);
                }
                Err(e) => {
                    if let Some(bar) = &progress.bar {
                        bar.finish_and_clear();
                    }
                    comm.fail(&e); // ends every rank (it does not return when there are several)
                    Err(e)
                }
                ok => ok,
            }
        }
        LaunchCheck::Single => {
            interrupt::install();
            if devices.len() > 1 {
                train_on_devices(&cfg, &devices, &out, &opts, &mut progress, timeout)
            } else {
                train_replica(&cfg, &devices[0], &out, &opts, &mut progress, Arc::new(downhill::distributed::Solo))
            }
        }
    };
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    let summary: RunSummary = match result {
        Err(downhill::Error::Paused { step, checkpoint }) => {
            eprintln!("interrupted after step {step}; checkpoint written to {}", checkpoint.display());
            eprintln!("continue with: downhill train --resume {}", checkpoint.display());
            std::process::exit(130);
        }
        Err(e) => {
            exit_if_a_checkpoint_survived(&e, &out);
            return Err(e);
        }
        Ok(summary) => summary,
    };
    if args.json {
        let json = serde_json::json!({
            "device": summary.device,
            "epochs": summary.epochs,
            "train_loss": summary.train_loss,
            "test_loss": summary.test_loss,
            "test_accuracy": summary.test_accuracy,
            "samples_per_s": summary.samples_per_s,
            "wall_s": summary.wall_s,
            "checkpoint": summary.checkpoint,
            "best_epoch": summary.best.as_ref().map(|b| b.epoch),
            "best_checkpoint": summary.best.as_ref().map(|b| &b.checkpoint),
            "restored_best_weights": summary.best.as_ref().is_some_and(|b| b.restored),
            "plot": summary.plot,
            "metrics": summary.metrics,
            "confusion_csv": summary.confusion_csv,
            "stopped_early": summary.stopped_early,
            "all_reduce": summary.all_reduce.map(|a| serde_json::json!({
                "calls": a.calls, "bytes": a.bytes, "buckets": a.buckets, "collective_s": a.collective_s,
                "read_s": a.read_s, "write_s": a.write_s,
            })),
            "confusion": summary.confusion.as_ref().filter(|m| m.len() <= MAX_PRINTED_CLASSES),
            "test_mae": summary.test_regression.map(|m| m.mae),
            "test_rmse": summary.test_regression.map(|m| m.rmse),
            "test_r2": summary.test_regression.map(|m| m.r2),
            "macro_f1": summary.macro_f1,
            "per_class": summary.class_scores,
            "per_class_csv": summary.class_scores_csv,
            "labels": summary.label_names,
        });
        println!("{json}");
        return Ok(());
    }
    let names = summary.label_names.as_deref();
    print_confusion(&summary.confusion, names, summary.confusion_csv.as_deref());
    print_class_scores(&summary.class_scores, summary.class_scores_csv.as_deref());
    let acc = summary.test_accuracy.map_or(String::new(), |a| format!(", test accuracy {a:.4}"));
    let f1 = summary.macro_f1.map_or(String::new(), |f| format!(", macro-F1 {f:.4}"));
    let reg = summary::regression_line(&summary.test_regression);
    let early = if summary.stopped_early { " (stopped early)" } else { "" };
    println!(
        "done{early}: {} epochs in {:.1} s on {}: test loss {:.4}{acc}{f1}{reg}, {:.0} samples/s",
        summary.epochs, summary.wall_s, summary.device, summary.test_loss, summary.samples_per_s
    );
    if let Some(b) = &summary.best {
        let what = if b.restored {
            "the final weights and test figures above are its".to_string()
        } else if b.epoch == summary.history.last().map_or(0, |r| r.epoch) {
            "the last epoch".to_string()
        } else {
            "not restored (--no-restore-best-weights)".to_string()
        };
        println!(
            "best:       {} (epoch {}, {} {:.4}; {what})",
            show(&b.checkpoint),
            b.epoch,
            cfg.early_stop_metric,
            b.metric
        );
    }
    if let Some(a) = &summary.all_reduce {
        let train_s = summary.train_s;
        println!(
            "all-reduce: {} all-reduces of {:.2} MB{}: {:.2} s in the collective ({:.1} % of {train_s:.2} s \
             training), {:.2} s reading the gradient back, {:.2} s writing it",
            a.calls,
            a.bytes as f64 / 1e6,
            if a.buckets > 0 { format!(" in {} buckets during the backward pass", a.buckets) } else { String::new() },
            a.collective_s,
            100.0 * a.collective_s / train_s.max(1e-9),
            a.read_s,
            a.write_s
        );
    }
    println!("checkpoint: {}", show(&summary.checkpoint));
    println!("plot:       {}", show(&summary.plot));
    println!("metrics:    {} (and metrics.jsonl)", show(&summary.metrics));
    Ok(())
}

/// `--collective-timeout` as a duration, refused unless finite and positive.
fn collective_timeout(seconds: f64) -> Result<Duration> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds < 1e9) {
        return Err(downhill::Error::InvalidArgument {
            what: "--collective-timeout".into(),
            detail: format!("{seconds} is not a number of seconds above 0"),
        });
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Joins the MPI world (this build has the `mpi` feature).
#[cfg(feature = "mpi")]
fn join_mpi(timeout: Duration) -> Result<Arc<dyn Collective>> {
    Ok(Arc::new(downhill::distributed::mpi::MpiWorld::init(timeout)?))
}

/// Never reached: [`LaunchCheck::decide`] refuses MPI launches without the feature.
#[cfg(not(feature = "mpi"))]
fn join_mpi(_: Duration) -> Result<Arc<dyn Collective>> {
    LaunchCheck::decide(true, None, false).map(|_| unreachable!("refused without the feature"))
}

/// Errors every rank meets at the same point, so each can report its own and exit normally:
/// ranks that disagree on the binary or the settings, or more ranks than rows. Any other error
/// on one rank ends every rank (the others would wait for it in the next collective).
fn agreed_by_every_rank(e: &downhill::Error) -> bool {
    match e {
        downhill::Error::Distributed(_) => true,
        downhill::Error::InvalidArgument { what, .. } => what == "ranks",
        _ => false,
    }
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

/// A whole-number flag: a negative or fractional value is refused with the range it must be
/// in (clap would say only "invalid digit found in string").
fn whole<T: std::str::FromStr>(s: &str) -> std::result::Result<T, String> {
    s.trim().parse::<T>().map_err(|_| format!("{s} is not a whole number ≥ 0"))
}

/// A run that fails after a checkpoint was saved (a full disk, an output folder made
/// read-only, a token file cut short) still has that checkpoint: says so, and how to go on
/// from it, and exits with status 1. Returns when `out` holds no loadable checkpoint.
pub(crate) fn exit_if_a_checkpoint_survived(e: &downhill::Error, out: &std::path::Path) {
    let last = out.join("checkpoint.safetensors");
    if downhill::checkpoint::Checkpoint::load(&last).is_ok() {
        eprintln!("error: {e}");
        eprintln!("the last checkpoint is intact: {}", last.display());
        eprintln!("continue with: downhill train --resume {}", last.display());
        std::process::exit(1);
    }
}
