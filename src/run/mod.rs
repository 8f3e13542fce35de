//! A whole training run as the `downhill train` command does it: data, model, optimizer,
//! schedule, epochs with evaluation, early stopping, checkpoints, metrics log and plot, resume.
//! Written once over `Backend`; observers (the CLI's progress bar, a library user's callbacks)
//! watch it without owning it.

mod output;
mod parts;
mod setup;

pub use output::{claim, process_alive, OutputLock, LOCK_FILE, RUN_FILES};
pub use setup::{load_data, model_spec, optimizer_config, schedule};

use crate::backend::Backend;
use crate::checkpoint::{write_atomically, Checkpoint, EarlyStopState, EpochRecord};
use crate::config::RunConfig;
use crate::device::{open, Device, DeviceRequest};
use crate::error::{Error, Result};
use crate::report::{plot_curves, write_confusion, write_metrics};
use crate::train::StepInfo;
use parts::{early_stop_value, Position, Prepared, Saver};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What an observer may answer after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop now, as a crash would (no checkpoint is written for it).
    Stop,
    /// Stop now after writing a checkpoint of this very step (what Ctrl-C asks); the run ends
    /// with [`Error::Paused`] naming it.
    Checkpoint,
}

/// How a run starts, besides its configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Continue from this checkpoint. The configuration should be the checkpoint's own (see
    /// [`Checkpoint::load`]), changed only where the caller means it (more epochs, other data of
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
    /// Optimizer steps per epoch.
    pub steps_per_epoch: u64,
    /// First epoch to run (1-based; above 1 when resuming).
    pub first_epoch: usize,
    /// Last epoch.
    pub epochs: usize,
    /// Parameters in the model.
    pub parameters: usize,
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
    /// Final test loss (of the best epoch's weights when they were restored).
    pub test_loss: f64,
    /// Final test accuracy (classification).
    pub test_accuracy: Option<f64>,
    /// Training rows per second over the epochs this run trained.
    pub samples_per_s: f64,
    /// Seconds from start to end.
    pub wall_s: f64,
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
    cfg.validate()?;
    let selection = open(device)?;
    let reason = selection.fallback_reason.clone();
    let new_folder = !out.exists();
    let result = match &selection.device {
        Device::Cpu(be) => train_on(be, reason, cfg, out, opts, observer),
        Device::Gpu(be) => train_on(be.as_ref(), reason, cfg, out, opts, observer),
    };
    if result.is_err() && new_folder {
        // A run refused before it wrote anything leaves no empty folder behind (remove_dir
        // removes only an empty one).
        let _ = std::fs::remove_dir(out);
    }
    result
}

fn train_on<B: Backend>(
    be: &B,
    fallback_reason: Option<String>,
    cfg_in: &RunConfig,
    out: &Path,
    opts: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<RunSummary> {
    let started = Instant::now();
    let cfg = parts::absolute_data_path(cfg_in);
    let resume = opts.resume.as_deref();
    let ckpt = resume.map(|p| parts::load_for_resume(p, &cfg)).transpose()?;
    let _lock = claim(out, opts.overwrite, resume)?;

    let data = Prepared::load(&cfg, ckpt.as_ref())?;
    let (mut trainer, spec, steps_per_epoch) = parts::build_trainer(be, &cfg, &data)?;
    let mut notes = Vec::new();
    let mut pos = match (&ckpt, resume) {
        (Some(c), Some(path)) => parts::restore(be, &mut trainer, c, path, &cfg, opts, &mut notes)?,
        _ => Position::start(&trainer),
    };
    observer.on_start(&RunStart {
        device: be.describe(),
        fallback_reason,
        data: data.source.clone(),
        rows: (data.train.len(), data.val.as_ref().map_or(0, |v| v.len()), data.test.len()),
        steps_per_epoch,
        first_epoch: pos.epoch,
        epochs: cfg.epochs,
        parameters: spec.layout()?.parameter_count(),
        notes,
    });
    if cfg.patience.is_some() {
        parts::check_early_stop_metric(&cfg, &data)?;
    }
    write_atomically(&out.join("config.toml"), cfg.to_toml().as_bytes())?;

    let saver = Saver { cfg: &cfg, data: &data, spec: &spec, path: out.join("checkpoint.safetensors") };
    let best_path = out.join("best.safetensors");
    let plot = out.join("curves.png");
    plot_curves(&plot, &pos.history, data.classes.is_some())?;
    let mut last_good: Option<PathBuf> = resume.map(Path::to_path_buf);
    let mut stopped_early = false;
    let mut last_test = None;
    let (mut rows_trained, mut train_seconds) = (0usize, 0.0f64);
    let mut last_train_loss = pos.history.last().map_or(f64::NAN, |r: &EpochRecord| r.train_loss);
    let micro_batches = parts::micro_batches_counter(trainer.config(), data.train.len());
    for epoch in pos.epoch..=cfg.epochs {
        let epoch_started = Instant::now();
        if pos.epoch_step == 0 {
            pos.epoch_rng = trainer.rng_state();
            pos.partial = (0.0, 0);
        } else {
            trainer.restore_position(be, trainer.steps(), pos.epoch_rng)?;
        }
        let order = trainer.epoch_order(data.train.len());
        let span_len = if cfg.checkpoint_every > 0 { cfg.checkpoint_every } else { steps_per_epoch };
        while pos.epoch_step < steps_per_epoch {
            let end = (pos.epoch_step + span_len).min(steps_per_epoch);
            let mut pause_at = None;
            let mut on_step = |info: &StepInfo| -> Result<()> {
                match observer.on_step(epoch, info) {
                    Control::Continue => Ok(()),
                    Control::Stop => Err(Error::Interrupted(info.step)),
                    Control::Checkpoint => {
                        pause_at = Some(info.epoch_step);
                        Err(Error::Interrupted(info.step))
                    }
                }
            };
            let span = trainer.run_steps(be, &data.train, &order, pos.epoch_step..end, &mut on_step);
            let span = match (span, pause_at) {
                (Ok(span), _) => span,
                (Err(Error::Interrupted(step)), Some(at)) => {
                    // Checkpoint this very step, then stop.
                    let loss = trainer.span_loss(be)?;
                    let done = micro_batches(at) - micro_batches(pos.epoch_step);
                    pos.partial = (pos.partial.0 + loss, pos.partial.1 + done);
                    pos.epoch_step = at;
                    saver.save(be, &trainer, epoch - 1, &pos, pos.epoch_rng)?;
                    return Err(Error::Paused { step, checkpoint: saver.path.clone() });
                }
                (Err(Error::Diverged(msg)), _) => {
                    return Err(Error::Diverged(parts::explain_divergence(&msg, &cfg, &data, last_good.as_deref())))
                }
                (Err(e), _) => return Err(e),
            };
            pos.partial = (pos.partial.0 + span.loss_sum, pos.partial.1 + span.micro_batches);
            pos.epoch_step = end;
            if cfg.checkpoint_every > 0 && pos.epoch_step < steps_per_epoch {
                saver.save(be, &trainer, epoch - 1, &pos, pos.epoch_rng)?;
                last_good = Some(saver.path.clone());
                observer.on_checkpoint(&saver.path);
            }
        }
        let seconds = epoch_started.elapsed().as_secs_f64();
        train_seconds += seconds;
        rows_trained += data.train.len();
        let train_loss = pos.partial.0 / pos.partial.1.max(1) as f64;
        last_train_loss = train_loss;
        let val_eval = data.val.as_ref().map(|v| trainer.evaluate(be, v)).transpose()?;
        let test_eval = trainer.evaluate(be, &data.test)?;
        let record = EpochRecord {
            epoch,
            train_loss,
            val_loss: val_eval.as_ref().map(|e| e.loss),
            val_accuracy: val_eval.as_ref().and_then(|e| e.accuracy),
            test_loss: test_eval.loss,
            test_accuracy: test_eval.accuracy,
            lr: trainer.optimizer.lrs()[0],
            samples_per_s: data.train.len() as f64 / seconds.max(1e-9),
            seconds,
        };
        pos.history.push(record.clone());
        observer.on_epoch(&record);
        pos.epoch_step = 0;
        pos.partial = (0.0, 0);

        // Early stopping on the chosen metric (lower is better; accuracy is negated), as
        // Keras' EarlyStopping: patience counts epochs without improvement, 0 stops at the first.
        let mut stop = false;
        let mut improved = false;
        if let Some(patience) = cfg.patience {
            let metric = early_stop_value(&cfg, &record)?;
            improved = pos.early.is_none_or(|e| metric < e.best);
            let state = match pos.early {
                Some(e) if !improved => EarlyStopState { bad_epochs: e.bad_epochs + 1, ..e },
                _ => EarlyStopState { best: metric, best_epoch: epoch, bad_epochs: 0 },
            };
            stop = state.bad_epochs > 0 && state.bad_epochs >= patience;
            pos.early = Some(state);
        }
        let rng = trainer.rng_state();
        let written = saver.save(be, &trainer, epoch, &pos, rng)?;
        last_good = Some(saver.path.clone());
        observer.on_checkpoint(&saver.path);
        if improved {
            write_atomically(&best_path, &written)?;
        }
        write_metrics(out, &pos.history)?;
        plot_curves(&plot, &pos.history, data.classes.is_some())?;
        last_test = Some(test_eval);
        if stop {
            stopped_early = true;
            break;
        }
    }

    let mut final_eval = match last_test {
        Some(e) => e,
        None => trainer.evaluate(be, &data.test)?,
    };
    let best = match pos.early {
        Some(e) if cfg.patience.is_some() => {
            let last_epoch = pos.history.last().map_or(0, |r| r.epoch);
            let restored = cfg.restore_best_weights && e.best_epoch != last_epoch && best_path.is_file();
            if restored {
                let best = Checkpoint::load(&best_path)?;
                trainer.model.load(be, &best.params)?;
                final_eval = trainer.evaluate(be, &data.test)?;
            }
            let metric = parts::reported_metric(&cfg, e.best);
            Some(BestEpoch { epoch: e.best_epoch, metric, checkpoint: best_path, restored })
        }
        _ => None,
    };
    let confusion_csv = match &final_eval.confusion {
        Some(m) => Some(write_confusion(out, m)?),
        None => None,
    };
    Ok(RunSummary {
        device: be.describe(),
        epochs: pos.history.len(),
        train_loss: last_train_loss,
        test_loss: final_eval.loss,
        test_accuracy: final_eval.accuracy,
        samples_per_s: rows_trained as f64 / train_seconds.max(1e-9),
        wall_s: started.elapsed().as_secs_f64(),
        checkpoint: saver.path.clone(),
        best,
        plot,
        metrics: out.join("metrics.csv"),
        confusion: final_eval.confusion,
        confusion_csv,
        stopped_early,
        history: pos.history,
    })
}
