//! The named steps of one run's loop (`run/mod.rs`): an epoch's training in spans between
//! checkpoints (and a Ctrl-C checkpoint), its evaluation, early stopping, the epoch's
//! checkpoint and files, and the summary at the end.

use super::parts::{self, early_stop_value, Position, Saver};
use super::prepared::Prepared;
use super::{BestEpoch, Control, Observer, RunSummary};
use crate::backend::Backend;
use crate::checkpoint::{write_atomically, Checkpoint, EarlyStopState, EpochRecord};
use crate::config::RunConfig;
use crate::distributed::{shard_order, ShardPlan};
use crate::error::{Error, Result};
use crate::metrics::{class_scores, macro_f1};
use crate::report::{plot_curves, write_class_scores, write_confusion, write_metrics};
use crate::train::{StepInfo, Trainer};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A run in progress: what the loop's steps share.
pub(super) struct Run<'a, B: Backend> {
    be: &'a B,
    cfg: &'a RunConfig,
    data: &'a Prepared,
    trainer: Trainer<B>,
    saver: Saver<'a>,
    /// Where the run stands (epoch, step, losses, early stopping, history).
    pub(super) pos: Position,
    out: &'a Path,
    observer: &'a mut dyn Observer,
    /// The newest checkpoint with finite weights (for a divergence message).
    last_good: Option<PathBuf>,
    steps_per_epoch: u64,
    /// Rows trained and seconds spent training, for the run's samples/s.
    rows_trained: usize,
    train_seconds: f64,
    /// Early stopping ended the run.
    pub(super) stopped_early: bool,
    /// How each epoch's rows split over the replicas.
    plan: ShardPlan,
}

impl<'a, B: Backend> Run<'a, B> {
    #[allow(clippy::too_many_arguments, reason = "the run's parts, built one by one in train_on")]
    pub(super) fn new(
        be: &'a B,
        cfg: &'a RunConfig,
        data: &'a Prepared,
        trainer: Trainer<B>,
        saver: Saver<'a>,
        pos: Position,
        out: &'a Path,
        observer: &'a mut dyn Observer,
        resume: Option<&Path>,
        steps_per_epoch: u64,
        plan: ShardPlan,
    ) -> Self {
        Self {
            be,
            cfg,
            data,
            trainer,
            saver,
            pos,
            out,
            observer,
            last_good: resume.map(Path::to_path_buf),
            steps_per_epoch,
            rows_trained: 0,
            train_seconds: 0.0,
            stopped_early: false,
            plan,
        }
    }

    /// With replicas: puts replica 0's weights and buffers on every replica before they
    /// evaluate (BatchNorm's running statistics are replica 0's, as DDP's broadcast_buffers
    /// keeps them), and reports replicas whose weights had drifted from replica 0's (devices
    /// that round differently).
    pub(super) fn sync_replicas(&mut self) -> Result<()> {
        let Some(comm) = self.trainer.collective().cloned() else { return Ok(()) };
        let mut drift = [parts::broadcast_weights(self.be, &mut self.trainer, comm.as_ref())?];
        comm.all_reduce_f64("the drift check", &mut drift, crate::distributed::ReduceOp::Max)?;
        if drift[0] > 0.0 {
            self.observer.on_note(&format!(
                "the replicas' weights had drifted apart by up to {:.3e} after step {} (their devices round \
                 differently); every replica continues from replica 0's",
                drift[0],
                self.trainer.steps()
            ));
        }
        Ok(())
    }

    fn best_path(&self) -> PathBuf {
        self.out.join("best.safetensors")
    }

    /// Trains epoch `epoch` from where the position stands, in spans that end at every
    /// `checkpoint_every` steps (each checkpointed); returns the seconds it took.
    pub(super) fn train_epoch(&mut self, epoch: usize) -> Result<f64> {
        let (be, cfg) = (self.be, self.cfg);
        let started = Instant::now();
        if self.pos.epoch_step == 0 {
            self.pos.epoch_rng = self.trainer.rng_state();
            self.pos.partial = (0.0, 0);
        } else {
            let steps = self.trainer.steps();
            self.trainer.restore_position(be, steps, self.pos.epoch_rng)?;
        }
        let rank = self.trainer.collective().map_or(0, |c| c.rank());
        let order = shard_order(&self.trainer.epoch_order(self.data.train.len()), self.plan, rank);
        let span_len = if cfg.checkpoint_every > 0 { cfg.checkpoint_every } else { self.steps_per_epoch };
        while self.pos.epoch_step < self.steps_per_epoch {
            let end = (self.pos.epoch_step + span_len).min(self.steps_per_epoch);
            self.run_span(epoch, &order, end)?;
            if cfg.checkpoint_every > 0 && self.pos.epoch_step < self.steps_per_epoch {
                let bytes = self.saver.encode(be, &mut self.trainer, epoch - 1, &self.pos, self.pos.epoch_rng)?;
                self.write_into_folder(|run| run.saver.write(&bytes))?;
                self.last_good = Some(self.saver.path.clone());
                self.observer.on_checkpoint(&self.saver.path);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        self.train_seconds += seconds;
        self.rows_trained += self.data.train.len();
        Ok(seconds)
    }

    /// Steps `epoch_step..end` of the epoch. A Ctrl-C (the observer's `Checkpoint`) writes a
    /// checkpoint of the step it stopped at and ends the run with `Paused`; a divergence gets
    /// its likely cause and the last good checkpoint.
    fn run_span(&mut self, epoch: usize, order: &[usize], end: u64) -> Result<()> {
        let be = self.be;
        let mut pause_at = None;
        let observer = &mut *self.observer;
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
        let span = self.trainer.run_steps(be, &self.data.train, order, self.pos.epoch_step..end, &mut on_step);
        let span = match (span, pause_at) {
            (Ok(span), _) => span,
            (Err(Error::Interrupted(step)), Some(at)) => {
                let micro_batches = parts::micro_batches_counter(self.trainer.config(), self.plan.rows_per_replica());
                let loss = self.trainer.span_loss(be)?;
                let done = micro_batches(at) - micro_batches(self.pos.epoch_step);
                self.pos.partial = (self.pos.partial.0 + loss, self.pos.partial.1 + done);
                self.pos.epoch_step = at;
                let bytes = self.saver.encode(be, &mut self.trainer, epoch - 1, &self.pos, self.pos.epoch_rng)?;
                self.write_into_folder(|run| run.saver.write(&bytes))?;
                return Err(Error::Paused { step, checkpoint: self.saver.path.clone() });
            }
            (Err(Error::Diverged(msg)), _) => {
                let why = parts::explain_divergence(&msg, self.cfg, self.data, self.last_good.as_deref());
                return Err(Error::Diverged(why));
            }
            (Err(e), _) => return Err(e),
        };
        self.pos.partial = (self.pos.partial.0 + span.loss_sum, self.pos.partial.1 + span.micro_batches);
        self.pos.epoch_step = end;
        Ok(())
    }

    /// Evaluates on the validation split (when there is one) and records the epoch; the test
    /// set waits for the end of the run.
    pub(super) fn evaluate_epoch(&mut self, epoch: usize, seconds: f64) -> Result<EpochRecord> {
        let be = self.be;
        let train_loss = self.pos.partial.0 / self.pos.partial.1.max(1) as f64;
        let val_eval = self.data.val.as_ref().map(|v| self.trainer.evaluate(be, v)).transpose()?;
        let record = EpochRecord {
            epoch,
            train_loss,
            val_loss: val_eval.as_ref().map(|e| e.loss),
            val_accuracy: val_eval.as_ref().and_then(|e| e.accuracy),
            val_regression: val_eval.as_ref().and_then(|e| self.data.regression_metrics(e)),
            lr: self.trainer.optimizer.lrs()[0],
            samples_per_s: self.data.train.len() as f64 / seconds.max(1e-9),
            seconds,
        };
        self.pos.history.push(record.clone());
        self.observer.on_epoch(&record);
        self.pos.epoch_step = 0;
        self.pos.partial = (0.0, 0);
        Ok(record)
    }

    /// Early stopping on the chosen metric (lower is better; accuracy is negated), as Keras'
    /// EarlyStopping: patience counts epochs without improvement, 0 stops at the first.
    /// Returns (improved, stop).
    pub(super) fn early_stop(&mut self, epoch: usize, record: &EpochRecord) -> Result<(bool, bool)> {
        let Some(patience) = self.cfg.patience else { return Ok((false, false)) };
        let metric = early_stop_value(self.cfg, record)?;
        let improved = self.pos.early.is_none_or(|e| metric < e.best);
        let state = match self.pos.early {
            Some(e) if !improved => EarlyStopState { bad_epochs: e.bad_epochs + 1, ..e },
            _ => EarlyStopState { best: metric, best_epoch: epoch, bad_epochs: 0 },
        };
        self.pos.early = Some(state);
        Ok((improved, state.bad_epochs > 0 && state.bad_epochs >= patience))
    }

    /// Runs `write` (files into the output folder); when the folder was removed before or
    /// during it, makes the folder again, says so, and writes once more (up to three times: a
    /// removal may still be going on). The writes are whole files from the run's state, so
    /// repeating one loses nothing.
    fn write_into_folder(&mut self, write: impl Fn(&Self) -> Result<()>) -> Result<()> {
        self.keep_output_folder()?;
        let mut result = write(self);
        for _ in 0..3 {
            if result.is_ok() || !self.saver.writes || !self.folder_went_away() {
                break;
            }
            self.keep_output_folder()?;
            result = write(self);
        }
        result
    }

    /// True when the output folder is gone, now or a moment later: a removal such as `rm -rf`
    /// deletes the files before the folder, so a write can fail while the folder still stands.
    fn folder_went_away(&self) -> bool {
        if !self.out.is_dir() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        !self.out.is_dir()
    }

    /// Makes the output folder again when it was removed during the run (replica 0 only),
    /// and says so.
    fn keep_output_folder(&mut self) -> Result<()> {
        if !self.saver.writes {
            return Ok(());
        }
        if let Some(note) = super::output::recreate_if_removed(self.out, &self.cfg.to_toml())? {
            self.observer.on_note(&note);
        }
        Ok(())
    }

    /// The epoch's checkpoint (and `best.safetensors` when it improved), metrics and plot.
    pub(super) fn save_epoch(&mut self, epoch: usize, improved: bool) -> Result<()> {
        let rng = self.trainer.rng_state();
        let bytes = self.saver.encode(self.be, &mut self.trainer, epoch, &self.pos, rng)?;
        self.write_into_folder(|run| {
            run.saver.write(&bytes)?;
            if !run.saver.writes {
                return Ok(()); // replica 0 writes the run's files
            }
            if improved {
                write_atomically(&run.best_path(), &bytes)?;
            }
            write_metrics(run.out, &run.pos.history)?;
            plot_curves(&run.out.join("curves.png"), &run.pos.history, run.data.classes.is_some())
        })?;
        self.last_good = Some(self.saver.path.clone());
        self.observer.on_checkpoint(&self.saver.path);
        Ok(())
    }

    /// The end of the run: the best epoch's weights restored when early stopping asks for
    /// them, the test set's one evaluation (confusion matrix, per-class scores), the summary.
    pub(super) fn finish(mut self, started: Instant) -> Result<RunSummary> {
        let be = self.be;
        let best_path = self.best_path();
        let best = match self.pos.early {
            Some(e) if self.cfg.patience.is_some() => {
                let last_epoch = self.pos.history.last().map_or(0, |r| r.epoch);
                // With replicas, replica 0 (which wrote the file) loads it and broadcasts it: the
                // others may not see its folder, and all must take the same branch.
                let replicas = self.trainer.collective().cloned();
                let found = replicas.is_some() || best_path.is_file();
                let restored = self.cfg.restore_best_weights && e.best_epoch != last_epoch && found;
                if restored {
                    if self.saver.writes {
                        let best = Checkpoint::load(&best_path)?;
                        self.trainer.model.load(be, &best.params)?;
                        self.trainer.model.load_buffers(be, &best.buffers)?;
                    }
                    if let Some(comm) = replicas {
                        parts::broadcast_weights(be, &mut self.trainer, comm.as_ref())?;
                    }
                }
                let metric = parts::reported_metric(self.cfg, e.best);
                Some(BestEpoch { epoch: e.best_epoch, metric, checkpoint: best_path, restored })
            }
            _ => None,
        };
        // The test set's one score: the final weights (the best epoch's when restored).
        let final_eval = self.trainer.evaluate(be, &self.data.test)?;
        let names = self.data.label_names.clone().unwrap_or_default();
        let class_scores = final_eval.confusion.as_ref().map(|m| class_scores(m, &names));
        let (confusion_csv, class_scores_csv) = match (&final_eval.confusion, &class_scores) {
            (Some(m), Some(scores)) if self.saver.writes => {
                (Some(write_confusion(self.out, m, &names)?), Some(write_class_scores(self.out, scores)?))
            }
            _ => (None, None),
        };
        let last_train_loss = self.pos.history.last().map_or(f64::NAN, |r| r.train_loss);
        Ok(RunSummary {
            device: be.describe(),
            epochs: self.pos.history.len(),
            train_loss: last_train_loss,
            test_loss: final_eval.loss,
            test_accuracy: final_eval.accuracy,
            test_regression: self.data.regression_metrics(&final_eval),
            macro_f1: class_scores.as_deref().map(macro_f1),
            class_scores,
            class_scores_csv,
            label_names: self.data.label_names.clone(),
            samples_per_s: self.rows_trained as f64 / self.train_seconds.max(1e-9),
            wall_s: started.elapsed().as_secs_f64(),
            train_s: self.train_seconds,
            checkpoint: self.saver.path.clone(),
            best,
            plot: self.out.join("curves.png"),
            metrics: self.out.join("metrics.csv"),
            confusion: final_eval.confusion,
            confusion_csv,
            stopped_early: self.stopped_early,
            all_reduce: self.trainer.all_reduce_stats(),
            history: self.pos.history,
        })
    }
}
