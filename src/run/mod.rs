//! A whole training run as the `downhill train` command does it: data, model, optimizer,
//! schedule, epochs with evaluation, early stopping, checkpoints, metrics log and plot, resume.
//! Written once over `Backend`; observers (the CLI's progress bar, a library user's callbacks)
//! watch it without owning it.

mod board;
mod epoch;
pub mod lm;
pub mod lr_find;
mod output;
mod parts;
mod prepared;
mod setup;

pub use output::{claim, process_alive, OutputLock, LOCK_FILE, RUN_FILES};
pub use setup::{load_data, model_spec, optimizer_config, schedule};

/// The model `train` builds for `cfg`: its data (or text) is read for the input shape and the
/// number of outputs, as a run reads it.
pub fn model_for(cfg: &RunConfig) -> Result<crate::nn::ModelSpec> {
    if lm::is_language_model(cfg) {
        return lm::model_spec(cfg);
    }
    let data = Prepared::load(cfg, None)?;
    model_spec(cfg, data.train.features(), &data.schema, data.outputs)
}

use crate::backend::Backend;
use crate::checkpoint::{write_atomically, EpochRecord};
use crate::config::RunConfig;
use crate::device::{open, Device, DeviceRequest};
use crate::distributed::{check_same_run, threads::ThreadGroup, Collective, ShardPlan, Solo};
use crate::error::{Error, Result};
use crate::metrics::{ClassScore, RegressionMetrics};
use crate::report::plot_curves;
use crate::train::StepInfo;
use epoch::Run;
use parts::{Position, Saver};
use prepared::Prepared;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What an observer may answer after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop now, as a crash would (no checkpoint is written for it).
    Stop,
    /// Stop now after writing a checkpoint of this very step (what Ctrl-C asks); the run ends
    /// with [`crate::Error::Paused`] naming it.
    Checkpoint,
}

/// How a run starts, besides its configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Continue from this checkpoint. The configuration should be the checkpoint's own (see
    /// [`crate::checkpoint::Checkpoint::load`]), changed only where the caller means it (more epochs, other data of
    /// the same shape); a model that does not fit the checkpoint is refused.
    pub resume: Option<PathBuf>,
    /// Replace a run that the output folder already holds (else that is an error).
    pub overwrite: bool,
    /// When resuming with another optimizer than the checkpoint's: start its state fresh
    /// (else that is an error).
    pub reset_optimizer: bool,
}

/// Facts about a run as it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStart {
    /// Where ops run.
    pub device: String,
    /// Why the CPU path was used when `auto` found no GPU.
    pub fallback_reason: Option<String>,
    /// Where the data came from.
    pub data: String,
    /// Training, validation and test rows.
    pub rows: (usize, usize, usize),
    /// Each class's original label, when the labels were mapped to classes 0..K-1.
    pub label_names: Option<Vec<String>>,
    /// The target rescaling fitted for training (regression).
    pub target_normalizer: Option<crate::data::normalize::Normalizer>,
    /// Optimizer steps per epoch.
    pub steps_per_epoch: u64,
    /// First epoch to run (1-based; above 1 when resuming).
    pub first_epoch: usize,
    /// Last epoch.
    pub epochs: usize,
    /// Parameters in the model.
    pub parameters: usize,
    /// Data-parallel replicas (1 without data parallelism) and what they are.
    pub replicas: (usize, String),
    /// Things the user should know before the first step (e.g. a reset optimizer state).
    pub notes: Vec<String>,
}

/// Watches a run. Every method has a default that does nothing.
pub trait Observer {
    /// The run is about to train.
    fn on_start(&mut self, _start: &RunStart) {}
    /// An optimizer step finished in `epoch` (1-based).
    fn on_step(&mut self, _epoch: usize, _info: &StepInfo) -> Control {
        Control::Continue
    }
    /// An epoch finished and was evaluated.
    fn on_epoch(&mut self, _record: &EpochRecord) {}
    /// A checkpoint was written.
    fn on_checkpoint(&mut self, _path: &Path) {}
    /// Something the user should know that happened during the run (replicas that had drifted
    /// apart and were re-synchronised, say).
    fn on_note(&mut self, _note: &str) {}
}

/// An observer that watches nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// The best epoch of an early-stopped run, whose weights the run ended with.
#[derive(Clone, Debug, PartialEq)]
pub struct BestEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Its value of the early-stopping metric (accuracy as itself, not negated).
    pub metric: f64,
    /// `best.safetensors`.
    pub checkpoint: PathBuf,
    /// True when the run's final weights (and final evaluation) are this epoch's.
    pub restored: bool,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Where ops ran.
    pub device: String,
    /// Epochs completed.
    pub epochs: usize,
    /// Mean micro-batch loss of the last epoch.
    pub train_loss: f64,
    /// The test loss, scored once at the end (of the best epoch's weights when they were
    /// restored), in the units the model trains in (standardised targets, for regression).
    pub test_loss: f64,
    /// The test accuracy (classification).
    pub test_accuracy: Option<f64>,
    /// The test MAE, RMSE and R² in the targets' own units (regression under `mse`).
    pub test_regression: Option<RegressionMetrics>,
    /// Per-class precision, recall and F1 on the test set (classification).
    pub class_scores: Option<Vec<ClassScore>>,
    /// Their macro-averaged F1.
    pub macro_f1: Option<f64>,
    /// `per_class.csv`, beside the confusion matrix (classification).
    pub class_scores_csv: Option<PathBuf>,
    /// Each class's original label, when the labels were mapped (text, 1..K).
    pub label_names: Option<Vec<String>>,
    /// Training rows per second over the epochs this run trained.
    pub samples_per_s: f64,
    /// Seconds from start to end.
    pub wall_s: f64,
    /// Seconds this run spent in training steps (its epochs, without evaluation).
    pub train_s: f64,
    /// The last checkpoint (the latest epoch: what `--resume` continues).
    pub checkpoint: PathBuf,
    /// The best epoch, with early stopping.
    pub best: Option<BestEpoch>,
    /// The loss/accuracy plot.
    pub plot: PathBuf,
    /// The metrics log (CSV; a JSONL twin sits beside it).
    pub metrics: PathBuf,
    /// Final test confusion matrix `[true][predicted]` (classification).
    pub confusion: Option<Vec<Vec<u64>>>,
    /// The confusion matrix as CSV (classification).
    pub confusion_csv: Option<PathBuf>,
    /// True when early stopping ended the run.
    pub stopped_early: bool,
    /// Every epoch's metrics.
    pub history: Vec<EpochRecord>,
    /// Data-parallel runs: what the gradient all-reduces cost replica 0.
    pub all_reduce: Option<crate::train::AllReduceStats>,
}

/// Trains as `cfg` says on the device `device` names, writing into `out` (which it holds
/// alone for the run; see [`claim`]).
pub fn train(
    cfg: &RunConfig,
    device: &DeviceRequest,
    out: &Path,
    opts: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<RunSummary> {
    train_replica(cfg, device, out, opts, observer, Arc::new(Solo))
}

/// One replica of a data-parallel run over `comm` (every replica calls this with the same
/// `cfg`): replica 0's initial weights are broadcast, each replica trains on its shard of every
/// epoch (see [`ShardPlan`]), gradients are averaged over the replicas every step, metrics are
/// reduced, and only replica 0 writes `out` and reports to `observer`. With [`Solo`] this is
/// [`train`].
pub fn train_replica(
    cfg: &RunConfig,
    device: &DeviceRequest,
    out: &Path,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    comm: Arc<dyn Collective>,
) -> Result<RunSummary> {
    cfg.validate()?;
    lm::check_settings(cfg, false)?;
    let selection = open(device)?;
    let reason = selection.fallback_reason.clone();
    let root = comm.rank() == 0;
    let new_folder = root && !out.exists();
    let result = match &selection.device {
        Device::Cpu(be) => train_on(be, reason, cfg, out, opts, observer, comm),
        Device::Gpu(be) => train_on(be.as_ref(), reason, cfg, out, opts, observer, comm),
    };
    if result.is_err() && new_folder {
        // A run refused before it wrote anything leaves no empty folder behind (remove_dir
        // removes only an empty one).
        let _ = std::fs::remove_dir(out);
    }
    result
}

/// Data-parallel training on several devices of this machine (`--device gpu,cpu`, say): one
/// replica per device, each on its own thread, averaging gradients through host memory as
/// [`train_replica`] describes. Replica 0 (the first device) reports to `observer` and writes
/// `out`; a collective waits at most `timeout` for a replica. A replica's failure stops every
/// replica, and the error returned is the one that caused it.
pub fn train_on_devices(
    cfg: &RunConfig,
    devices: &[DeviceRequest],
    out: &Path,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    timeout: Duration,
) -> Result<RunSummary> {
    if devices.is_empty() {
        return Err(Error::InvalidArgument { what: "device".into(), detail: "no device given".into() });
    }
    let members: Vec<Arc<ThreadGroup>> = ThreadGroup::new(devices.len(), timeout).into_iter().map(Arc::new).collect();
    let run = |member: &Arc<ThreadGroup>, device: &DeviceRequest, observer: &mut dyn Observer| {
        let result = train_replica(cfg, device, out, opts, observer, member.clone());
        if let Err(e) = &result {
            member.fail(e);
        }
        result
    };
    let (root, others) = std::thread::scope(|scope| {
        let handles: Vec<_> = members[1..]
            .iter()
            .zip(&devices[1..])
            .map(|(member, device)| scope.spawn(move || run(member, device, &mut Quiet)))
            .collect();
        let root = run(&members[0], &devices[0], observer);
        let others: Vec<Result<RunSummary>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::Distributed("a replica's thread panicked".into()))))
            .collect();
        (root, others)
    });
    match root {
        // Replica 0 stopped because another failed: that replica's own error is the cause.
        Err(stopped @ Error::ReplicaStopped(_)) => Err(others
            .into_iter()
            .find_map(|r| r.err().filter(|e| !matches!(e, Error::ReplicaStopped(_))))
            .unwrap_or(stopped)),
        root => root,
    }
}

/// The training loop: data, model, resume state, then per epoch its steps (in spans between
/// checkpoints), its evaluation, early stopping and the checkpoint; the named steps are in
/// `run/epoch.rs` and `run/parts.rs`.
#[allow(clippy::too_many_arguments, reason = "train_replica's inputs and the device it opened")]
fn train_on<B: Backend>(
    be: &B,
    fallback_reason: Option<String>,
    cfg_in: &RunConfig,
    out: &Path,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    comm: Arc<dyn Collective>,
) -> Result<RunSummary> {
    let started = Instant::now();
    let root = comm.rank() == 0;
    let mut quiet = Quiet;
    let observer: &mut dyn Observer = if root { observer } else { &mut quiet };
    let cfg = parts::absolute_data_path(cfg_in);
    let resume = opts.resume.as_deref();
    let ckpt = resume.map(|p| parts::load_for_resume(p, &cfg)).transpose()?;
    let _lock = if root { Some(claim(out, opts.overwrite, resume)?) } else { None };
    // Replica 0 logs to TensorBoard; the folder is checked writable before any training.
    let mut board = None;
    let observer: &mut dyn Observer = match (&cfg.tensorboard, root) {
        (Some(dir), true) => board.insert(board::Board::new(dir, &cfg, observer)?),
        _ => observer,
    };

    let data = Prepared::load(&cfg, ckpt.as_ref())?;
    let plan = ShardPlan::new(data.train.len(), comm.size())?;
    let (mut trainer, spec, steps_per_epoch) = parts::build_trainer(be, &cfg, &data, comm.size())?;
    if comm.size() > 1 {
        check_same_run(comm.as_ref(), &format!("{}\n{}", cfg.to_toml(), spec.text()))?;
        trainer.set_collective(be, comm.clone())?;
    }
    let mut notes = Vec::new();
    let pos = match (&ckpt, resume) {
        (Some(c), Some(path)) => parts::restore(be, &mut trainer, c, path, &cfg, opts, comm.size(), &mut notes)?,
        _ => Position::start(&trainer),
    };
    parts::broadcast_weights(be, &mut trainer, comm.as_ref())?;
    if plan.padding() > 0 {
        notes.push(format!(
            "{} training rows over {} replicas: each epoch repeats its first {} rows so every replica trains on {} \
             (as PyTorch's DistributedSampler)",
            plan.rows,
            plan.world,
            plan.padding(),
            plan.rows_per_replica()
        ));
    }
    observer.on_start(&RunStart {
        device: be.describe(),
        fallback_reason,
        data: data.source.clone(),
        rows: (data.train.len(), data.val.as_ref().map_or(0, |v| v.len()), data.test.len()),
        label_names: data.label_names.clone(),
        target_normalizer: data.target_normalizer.clone(),
        steps_per_epoch,
        first_epoch: pos.epoch,
        epochs: cfg.epochs,
        parameters: spec.layout()?.parameter_count(),
        replicas: (comm.size(), comm.describe()),
        notes,
    });
    if cfg.patience.is_some() {
        parts::check_early_stop_metric(&cfg, &data)?;
    }
    if root {
        write_atomically(&out.join("config.toml"), cfg.to_toml().as_bytes())?;
        plot_curves(&out.join("curves.png"), &pos.history, data.classes.is_some())?;
    }

    let saver = Saver {
        cfg: &cfg,
        data: &data,
        spec: &spec,
        path: out.join("checkpoint.safetensors"),
        replicas: comm.size(),
        writes: root,
    };
    let mut run = Run::new(be, &cfg, &data, trainer, saver, pos, out, observer, resume, steps_per_epoch, plan);
    for epoch in run.pos.epoch..=cfg.epochs {
        let seconds = run.train_epoch(epoch)?;
        run.sync_replicas()?;
        let record = run.evaluate_epoch(epoch, seconds)?;
        let (improved, stop) = run.early_stop(epoch, &record)?;
        run.save_epoch(epoch, improved)?;
        if stop {
            run.stopped_early = true;
            break;
        }
    }
    run.finish(started)
}
