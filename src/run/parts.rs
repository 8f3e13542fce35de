//! The named steps of a run, each small (its data is `prepared.rs`): the model and trainer
//! (memory checked first), the position to start from (fresh or a resumed checkpoint), saving
//! a checkpoint, and what a divergence most likely means.

use super::prepared::Prepared;
use super::setup::{model_spec, optimizer_config, schedule};
use super::RunOptions;
use crate::backend::Backend;
use crate::checkpoint::{write_atomically, Checkpoint, CheckpointMeta, EarlyStopState, EpochRecord, FORMAT};
use crate::config::RunConfig;
use crate::distributed::Collective;
use crate::error::{file_error, Error, Result};
use crate::memory::check_fits;
use crate::nn::{Model, ModelSpec};
use crate::optim::{Clip, Optimizer};
use crate::train::{BatchSize, TrainConfig, Trainer};
use std::path::{Path, PathBuf};

/// The run's config with its data path made absolute, so `eval` from another folder finds the
/// data the checkpoint names.
pub fn absolute_data_path(cfg: &RunConfig) -> RunConfig {
    let mut cfg = cfg.clone();
    if let Some(d) = &cfg.data {
        cfg.data = Some(d.canonicalize().or_else(|_| std::path::absolute(d)).unwrap_or_else(|_| d.clone()));
    }
    cfg
}

/// Loads the checkpoint to resume from and refuses what cannot be continued: non-finite
/// weights, or a run that has already done every epoch `cfg` asks for.
pub fn load_for_resume(path: &Path, cfg: &RunConfig) -> Result<Checkpoint> {
    let ckpt = Checkpoint::load(path)?;
    ckpt.check_finite(path)?;
    let m = &ckpt.meta;
    if m.epoch >= cfg.epochs && m.epoch_step == 0 {
        return Err(file_error(
            path,
            format!(
                "this run already finished: it completed {} of {} epochs; to train further, pass --epochs with \
                 more than {}",
                m.epoch, cfg.epochs, m.epoch
            ),
        ));
    }
    Ok(ckpt)
}

/// The model, optimizer and trainer `cfg` describes for one replica of `replicas` (each
/// training on `ceil(rows / replicas)` rows an epoch), after checking that they fit in memory;
/// also the model spec and the optimizer steps per epoch.
pub fn build_trainer<B: Backend>(
    be: &B,
    cfg: &RunConfig,
    data: &Prepared,
    replicas: usize,
) -> Result<(Trainer<B>, ModelSpec, u64)> {
    let train_rows = data.train.len().div_ceil(replicas.max(1));
    let batch_size = if cfg.batch_size == 0 { BatchSize::Full } else { BatchSize::Rows(cfg.batch_size) };
    let mut tc = TrainConfig {
        batch_size,
        accumulation: cfg.accumulation,
        clip: match (cfg.clip_norm, cfg.clip_value) {
            (Some(n), _) => Clip::L2Norm(n),
            (None, Some(v)) => Clip::Value(v),
            _ => Clip::None,
        },
        l1: cfg.l1,
        l2: cfg.l2,
        shuffle: true,
        seed: cfg.seed,
        feed: cfg.feed,
        report_every: 25,
        bucket_bytes: (cfg.bucket_mb * 1e6) as usize,
        ..Default::default()
    };
    let spec = model_spec(cfg, data.train.features(), &data.schema, data.outputs)?;
    let aug = crate::train::augment::parse(&cfg.augment)?;
    if !aug.is_identity() {
        let [c, h, w] = spec.input[..] else {
            return Err(Error::InvalidArgument {
                what: "augment".into(),
                detail: format!(
                    "{:?} transforms images, but the model takes rows of shape {:?}: use an image model (cnn, \
                     lenet5, a conv spec) on image data, or give input_shape = [C, H, W]",
                    cfg.augment, spec.input
                ),
            });
        };
        tc.augment = Some((aug, [c, h, w]));
        tc.augment_fill = Some(data.normalizer.of_zeros(c * h * w)?);
    }
    // Parameters, gradients, up to three optimizer states, two host copies; the data once more
    // on the device (the resident feed).
    for set in [Some(&data.train), data.val.as_ref(), Some(&data.test)].into_iter().flatten() {
        spec.check_inputs(set.x.data())?;
    }
    let full = tc.batch_rows(train_rows);
    spec.check_train_batch(full)?;
    // One tensor of a step (a convolution's columns, say) grows with the batch; a device binds
    // at most so many bytes at once.
    let per_row = spec.largest_tensor_per_row().max(1) as u64;
    let max_rows = be.max_binding_bytes() / 4 / per_row;
    if full as u64 > max_rows {
        return Err(Error::InvalidArgument {
            what: "batch_size".into(),
            detail: format!(
                "{full} rows would make a tensor of {} bytes ({per_row} values a row), but {} binds at most {} bytes \
                 at once: use a batch_size of at most {max_rows}",
                4 * per_row * full as u64,
                be.describe(),
                be.max_binding_bytes()
            ),
        });
    }
    if full > 0 && !train_rows.is_multiple_of(full) {
        spec.check_train_batch(train_rows % full)?; // the epoch's last, smaller batch
    }
    let rows = full.max(data.test.len().min(4096));
    check_fits(&format!("the model `{}`", spec.text()), spec.memory_bytes(rows, 7.0), data.bytes())?;
    let model = Model::new(be, spec.clone(), cfg.seed)?;
    let mut optimizer_cfg = optimizer_config(cfg)?;
    if let Some(rows) = optimizer_cfg.rule_mut().rows_per_step() {
        *rows *= replicas as f64; // the rows behind one step's (all-reduced) estimate
    }
    let optimizer = Optimizer::new(be, optimizer_cfg, &spec.layout()?, &[])?;
    let steps_per_epoch = tc.steps_in_epoch(train_rows);
    tc.schedule = schedule(cfg, steps_per_epoch, optimizer_cfg.lr())?;
    Ok((Trainer::new(be, model, optimizer, data.loss, tc)?, spec, steps_per_epoch))
}

/// Where a run stands: the next epoch, the step inside it, the shuffle state at its start, the
/// loss accumulated in it, early stopping, and the metrics of every completed epoch.
pub struct Position {
    /// Epoch to run next (1-based).
    pub epoch: usize,
    /// Steps of it already done.
    pub epoch_step: u64,
    /// The shuffle RNG state at its start.
    pub epoch_rng: u64,
    /// Loss sum and micro-batches of it so far.
    pub partial: (f64, usize),
    /// Early stopping's state.
    pub early: Option<EarlyStopState>,
    /// Completed epochs.
    pub history: Vec<EpochRecord>,
}

impl Position {
    /// The start of a fresh run.
    pub fn start<B: Backend>(trainer: &Trainer<B>) -> Self {
        Self {
            epoch: 1,
            epoch_step: 0,
            epoch_rng: trainer.rng_state(),
            partial: (0.0, 0),
            early: None,
            history: vec![],
        }
    }
}

/// Puts the checkpoint's weights, optimizer state and position into `trainer`. A different
/// optimizer than the checkpoint's is refused unless `reset_optimizer`, which starts its state
/// fresh and says so in `notes`.
#[allow(clippy::too_many_arguments, reason = "the resume's inputs, each used once")]
pub fn restore<B: Backend>(
    be: &B,
    trainer: &mut Trainer<B>,
    c: &Checkpoint,
    path: &Path,
    cfg: &RunConfig,
    opts: &RunOptions,
    replicas: usize,
    notes: &mut Vec<String>,
) -> Result<Position> {
    let m = &c.meta;
    if c.params.len() != m.names.len() {
        return Err(file_error(path, "parameter count differs from its metadata"));
    }
    trainer.model.load(be, &c.params).map_err(|e| file_error(path, format!("does not fit this model: {e}")))?;
    trainer
        .model
        .load_buffers(be, &c.buffers)
        .map_err(|e| file_error(path, format!("does not fit this model: {e}")))?;
    let (was, now) = (&m.config.optimizer, &cfg.optimizer);
    if was != now {
        if !opts.reset_optimizer {
            return Err(file_error(
                path,
                format!(
                    "was trained with the {was} optimizer, this run asks for {now}: their states differ; pass \
                     --reset-optimizer to keep the weights and start {now}'s state fresh, or keep --optimizer {was}"
                ),
            ));
        }
        notes.push(format!("optimizer state reset: the checkpoint used {was}; {now} starts fresh (weights kept)"));
    } else {
        trainer.optimizer.load_state(be, &c.optimizer_state()).map_err(|e| file_error(path, e.to_string()))?;
    }
    trainer.model.set_dropout_calls(m.dropout_calls);
    trainer.restore_position(be, m.steps, m.rng_state)?;
    let epoch_step = epoch_step_for(m, cfg, replicas).map_err(|detail| file_error(path, detail))?;
    if m.replicas != replicas {
        notes.push(format!(
            "resumed a {}-replica checkpoint on {replicas} replica(s): {} rows per step before, {} now",
            m.replicas,
            rows_per_step(&m.config, m.replicas),
            rows_per_step(cfg, replicas)
        ));
    }
    Ok(Position {
        epoch: m.epoch + 1,
        epoch_step,
        epoch_rng: m.epoch_rng_state,
        partial: m.partial_loss,
        early: m.early_stop,
        history: m.history.clone(),
    })
}

/// Puts replica 0's parameters and buffers (BatchNorm's running statistics) on every replica
/// and returns the largest difference a replica's own parameters had from them (0 when they
/// agreed bit for bit). A no-op for one replica. The optimizer state is not exchanged: the
/// replicas take the same steps from the same (loaded or zero) state.
pub fn broadcast_weights<B: Backend>(be: &B, trainer: &mut Trainer<B>, comm: &dyn Collective) -> Result<f64> {
    if comm.size() <= 1 {
        return Ok(0.0);
    }
    let step = trainer.steps();
    let mine = be.read(trainer.model.params.flat())?;
    let mut root = mine.clone();
    comm.broadcast_f32(&format!("the weight broadcast after step {step}"), root.data_mut())?;
    let drift = mine.data().iter().zip(root.data()).fold(0f64, |m, (a, b)| m.max((a - b).abs() as f64));
    let differs = mine.data().iter().zip(root.data()).any(|(a, b)| a.to_bits() != b.to_bits());
    if differs {
        be.write(trainer.model.params.flat_mut(), &root)?;
    }
    let mut buffers = trainer.model.read_buffers(be)?;
    for (name, t) in &mut buffers {
        comm.broadcast_f32(&format!("the broadcast of {name} after step {step}"), t.data_mut())?;
    }
    trainer.model.load_buffers(be, &buffers)?;
    Ok(drift)
}

/// Rows one optimizer step takes over all replicas (0: the full batch).
fn rows_per_step(cfg: &RunConfig, replicas: usize) -> usize {
    cfg.batch_size * cfg.accumulation.max(1) * replicas
}

/// The step of the epoch in progress where a run with `replicas` replicas and `cfg`'s batch
/// continues the checkpoint `m`. Step k of any replica count covers rows `k·R .. (k+1)·R` of the
/// epoch's (padded) permutation, R the rows per step over all replicas (see
/// [`crate::distributed::ShardPlan`]); so a mid-epoch position carries over when the rows done
/// are a whole number of the new run's steps.
fn epoch_step_for(m: &CheckpointMeta, cfg: &RunConfig, replicas: usize) -> std::result::Result<u64, String> {
    let (was, now) = (rows_per_step(&m.config, m.replicas), rows_per_step(cfg, replicas));
    if m.epoch_step == 0 || was == now {
        return Ok(m.epoch_step);
    }
    let done = m.epoch_step as usize * was;
    if was == 0 || now == 0 || !done.is_multiple_of(now) {
        return Err(format!(
            "was saved {} steps into an epoch by {} replica(s) taking {was} rows a step; {replicas} replica(s) taking              {now} rows a step cannot continue from row {done} of that epoch: resume with the same rows per step              (batch size × accumulation × replicas) or from an epoch-end checkpoint",
            m.epoch_step, m.replicas
        ));
    }
    Ok((done / now) as u64)
}

/// Writes the run's checkpoint.
pub struct Saver<'a> {
    /// The run's config.
    pub cfg: &'a RunConfig,
    /// Its data (schema, normaliser, classes).
    pub data: &'a Prepared,
    /// Its model.
    pub spec: &'a ModelSpec,
    /// `checkpoint.safetensors` in the output folder.
    pub path: PathBuf,
    /// Replicas of the run (recorded in the checkpoint).
    pub replicas: usize,
    /// This replica writes files (replica 0); the others only switch the weights as it does.
    pub writes: bool,
}

impl Saver<'_> {
    /// The checkpoint of `pos` after `epoch` completed epochs (the shuffle state now is `rng`)
    /// as the bytes of its file, not yet written (so a write that fails can be repeated, and
    /// `best.safetensors` is the same bytes); empty on replicas that do not write. Non-finite
    /// weights are refused: that is a divergence.
    pub fn encode<B: Backend>(
        &self,
        be: &B,
        trainer: &mut Trainer<B>,
        epoch: usize,
        pos: &Position,
        rng: u64,
    ) -> Result<Vec<u8>> {
        // Checkpoints hold schedule-free AdamW's eval-mode weights x (the state says so).
        trainer.optimizer.eval_mode(be, trainer.model.params.flat_mut())?;
        if !self.writes {
            return Ok(Vec::new());
        }
        let state = trainer.optimizer.state(be)?;
        let meta = CheckpointMeta {
            format: FORMAT.into(),
            config: self.cfg.clone(),
            inputs: self.data.train.features(),
            input_shape: self.spec.input.clone(),
            torch_code: self.spec.torch_code(),
            schema: self.data.schema.clone(),
            outputs: self.data.outputs,
            classes: self.data.classes,
            epoch,
            epoch_step: pos.epoch_step,
            steps: trainer.steps(),
            epoch_rng_state: pos.epoch_rng,
            rng_state: rng,
            dropout_calls: trainer.model.dropout_calls(),
            partial_loss: pos.partial,
            optimizer_step: state.step,
            mu_product: state.mu_product,
            lrs: state.lrs.clone(),
            momenta: state.momenta.clone(),
            schedule_free: state.schedule_free.clone(),
            params_in_eval_mode: state.eval_mode,
            normalizer: self.data.normalizer.clone(),
            target_normalizer: self.data.target_normalizer.clone(),
            label_names: self.data.label_names.clone(),
            history: pos.history.clone(),
            early_stop: pos.early,
            replicas: self.replicas,
            names: self.spec.param_shapes().into_iter().map(|(n, _)| (n.clone(), n)).collect(),
        };
        let params = trainer.model.params.read_all(be)?;
        let buffers = trainer.model.read_buffers(be)?;
        let ckpt = Checkpoint { meta, params, buffers, optimizer: state.tensors };
        if let Err(Error::File { detail, .. }) = ckpt.check_finite(&self.path) {
            return Err(Error::Diverged(format!(
                "training diverged by step {}: {} (not written; the loss and gradients were still finite, so \
                 the update itself overflowed: {})",
                trainer.steps(),
                detail.split(':').next().unwrap_or(&detail),
                likely_cause(self.cfg, self.data)
            )));
        }
        ckpt.to_bytes()
    }

    /// Writes encoded checkpoint bytes to `checkpoint.safetensors` (nothing on replicas that
    /// do not write).
    pub fn write(&self, bytes: &[u8]) -> Result<()> {
        if !self.writes {
            return Ok(());
        }
        write_atomically(&self.path, bytes)
    }
}

/// The cause of a divergence that the settings and data make most likely, with its remedy.
fn likely_cause(cfg: &RunConfig, data: &Prepared) -> String {
    let max_abs = data.train.x.data().iter().fold(0f32, |m, v| m.max(v.abs()));
    if max_abs > 1e4 {
        return format!(
            "the input features reach {max_abs:e} after normalisation ({:?}); rescale them (normalization = \
             \"standardize\") or remove the outlying rows",
            data.normalizer.kind
        );
    }
    if cfg.eps.is_some_and(|e| e < 1e-12) {
        return format!(
            "eps {:e} is too small: a parameter whose gradient is near 0 divides by almost nothing; use the \
             default",
            cfg.eps.unwrap_or(0.0)
        );
    }
    "a learning rate too high for this model; lower it, clip gradients (e.g. clip_norm = 1) or warm up \
     (schedule = \"warmup-cosine\")"
        .into()
}

/// A divergence message with its likely cause and the last checkpoint that holds finite
/// weights.
pub fn explain_divergence(msg: &str, cfg: &RunConfig, data: &Prepared, last_good: Option<&Path>) -> String {
    format!(
        "{msg}. Likely cause: {}. Last good checkpoint: {}",
        likely_cause(cfg, data),
        last_good.map_or("none yet".to_string(), |p| p.display().to_string())
    )
}

/// Micro-batches in the first `k` steps of an epoch of `rows` rows.
pub fn micro_batches_counter(tc: &TrainConfig, rows: usize) -> impl Fn(u64) -> usize {
    let total = rows.div_ceil(tc.batch_rows(rows));
    let acc = tc.accumulation.max(1);
    move |k| (k as usize * acc).min(total)
}

/// An early-stopping value as the metric itself (accuracy back to positive), for reports.
pub fn reported_metric(cfg: &RunConfig, value: f64) -> f64 {
    if cfg.early_stop_metric == "val_accuracy" {
        -value
    } else {
        value
    }
}

/// The early-stopping metric of an epoch (lower is better; accuracy is negated, see
/// [`reported_metric`]).
pub fn early_stop_value(cfg: &RunConfig, record: &EpochRecord) -> Result<f64> {
    let value = match cfg.early_stop_metric.as_str() {
        "val_loss" => record.val_loss,
        "val_accuracy" => record.val_accuracy.map(|a| -a),
        "train_loss" => Some(record.train_loss),
        "test_loss" => {
            return Err(Error::InvalidArgument {
                what: "early_stop_metric".into(),
                detail: "test_loss is no longer scored each epoch: the test set is scored once, at the end, so that \
                         nothing is tuned to it; stop on val_loss (validation = 0.1 holds out a tenth of the \
                         training rows)"
                    .into(),
            })
        }
        other => {
            return Err(Error::InvalidArgument {
                what: "early_stop_metric".into(),
                detail: format!("unknown {other:?}; expected val_loss, val_accuracy or train_loss"),
            })
        }
    };
    value.ok_or_else(|| Error::InvalidArgument {
        what: "early_stop_metric".into(),
        detail: format!(
            "{} needs a validation split (set validation, e.g. 0.1) and, for accuracy, class labels",
            cfg.early_stop_metric
        ),
    })
}

/// Refuses an unknown early-stopping metric, or one without its data, before training rather
/// than after the first epoch.
pub fn check_early_stop_metric(cfg: &RunConfig, data: &Prepared) -> Result<()> {
    let probe = EpochRecord {
        epoch: 0,
        train_loss: 0.0,
        val_loss: data.val.as_ref().map(|_| 0.0),
        val_accuracy: data.val.as_ref().and(data.classes).map(|_| 0.0),
        val_regression: None,
        lr: 0.0,
        samples_per_s: 0.0,
        seconds: 0.0,
    };
    early_stop_value(cfg, &probe).map(|_| ())
}
