//! `--tensorboard DIR` for epoch runs: an [`Observer`] in front of the caller's that writes
//! the run's configuration (text) and its scalars into a TensorBoard event file — the running
//! training loss at each reported step (step = optimizer steps), and per epoch (step = epoch)
//! the training and validation loss, validation accuracy or regression metrics, learning rate
//! and samples/s. A write that fails stops the logging with a note; training goes on.
//! [`LmBoard`] does the same for language-model runs, at each evaluation's iteration.

use super::lm::LmEvent;
use super::{Control, Observer, RunStart};
use crate::checkpoint::EpochRecord;
use crate::config::RunConfig;
use crate::error::Result;
use crate::tensorboard::EventWriter;
use crate::train::StepInfo;
use std::path::Path;

/// The TensorBoard writer and the observer it passes everything on to.
pub(crate) struct Board<'a> {
    writer: Option<EventWriter>,
    inner: &'a mut dyn Observer,
}

impl<'a> Board<'a> {
    /// A new event file in `dir` (an error here stops the run before it trains), with the
    /// configuration written as the `config` text at step 0.
    pub(crate) fn new(dir: &Path, cfg: &RunConfig, inner: &'a mut dyn Observer) -> Result<Self> {
        let mut writer = EventWriter::create(dir)?;
        writer.text(0, "config", &format!("```toml\n{}\n```", cfg.to_toml()))?;
        writer.flush()?;
        Ok(Board { writer: Some(writer), inner })
    }

    fn log(&mut self, step: u64, values: &[(&str, f64)], flush: bool) {
        let Some(w) = &mut self.writer else { return };
        let written = w.scalars(step, values).and_then(|()| if flush { w.flush() } else { Ok(()) });
        if let Err(e) = written {
            self.writer = None;
            self.inner.on_note(&format!("TensorBoard logging stopped: {e}"));
        }
    }
}

impl Observer for Board<'_> {
    fn on_start(&mut self, start: &RunStart) {
        self.inner.on_start(start);
    }

    fn on_step(&mut self, epoch: usize, info: &StepInfo) -> Control {
        if let Some(loss) = info.mean_loss {
            self.log(info.step, &[("train/running_loss", loss)], false);
        }
        self.inner.on_step(epoch, info)
    }

    fn on_epoch(&mut self, r: &EpochRecord) {
        let mut values =
            vec![("epoch/train_loss", r.train_loss), ("epoch/lr", r.lr), ("epoch/samples_per_s", r.samples_per_s)];
        values.extend(r.val_loss.map(|v| ("epoch/val_loss", v)));
        values.extend(r.val_accuracy.map(|v| ("epoch/val_accuracy", v)));
        if let Some(m) = &r.val_regression {
            values.extend([("epoch/val_mae", m.mae), ("epoch/val_rmse", m.rmse), ("epoch/val_r2", m.r2)]);
        }
        self.log(r.epoch as u64, &values, true);
        self.inner.on_epoch(r);
    }

    fn on_checkpoint(&mut self, path: &Path) {
        self.inner.on_checkpoint(path);
    }

    fn on_note(&mut self, note: &str) {
        self.inner.on_note(note);
    }
}

/// TensorBoard for a language-model run: the configuration, then at each evaluation (step =
/// iteration) the training and validation loss, token accuracy, learning rate and tokens/s.
pub(crate) struct LmBoard {
    writer: EventWriter,
}

impl LmBoard {
    /// A new event file in `dir`, with the configuration as the `config` text.
    pub(crate) fn new(dir: &Path, cfg: &RunConfig) -> Result<Self> {
        let mut writer = EventWriter::create(dir)?;
        writer.text(0, "config", &format!("```toml\n{}\n```", cfg.to_toml()))?;
        writer.flush()?;
        Ok(LmBoard { writer })
    }

    /// Writes what `event` reports (evaluations), or says why it could not.
    pub(crate) fn log(&mut self, event: &LmEvent) -> Result<()> {
        let LmEvent::Eval { iter, train, val, val_accuracy, tokens_per_s, lr } = event else { return Ok(()) };
        let mut values = vec![("train/loss", *train), ("val/loss", *val), ("val/accuracy", *val_accuracy), ("lr", *lr)];
        if *iter > 0 {
            values.push(("tokens_per_s", *tokens_per_s));
        }
        self.writer.scalars(*iter, &values)?;
        self.writer.flush()
    }
}
