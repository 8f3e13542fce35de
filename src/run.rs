//! A whole training run as the `downhill train` command does it: data, model, optimizer,
//! schedule, epochs with evaluation, early stopping, checkpoints, metrics log and plot, resume.
//! Written once over `Backend`; observers (the CLI's progress bar, a library user's callbacks)
//! watch it without owning it.

use crate::backend::Backend;
use crate::checkpoint::{sequential_names, Checkpoint, CheckpointMeta, EpochRecord, FORMAT};
use crate::config::RunConfig;
use crate::data::csv::{read_csv, CsvOptions, LabelColumn, Task};
use crate::data::mnist::{builtin, load_dir, TrainTest};
use crate::data::normalize::Normalizer;
use crate::data::{Dataset, Targets};
use crate::device::{open, Device, DeviceRequest};
use crate::error::{file_error, Error, Result};
use crate::loss::LossKind;
use crate::nn::{Init, Model, ModelSpec};
use crate::optim::{
    AdagradConfig, AdamConfig, AdamaxConfig, Clip, LionConfig, NadamConfig, Optimizer, OptimizerConfig, RadamConfig,
    RmspropConfig, SgdConfig,
};
use crate::report::{plot_curves, write_metrics};
use crate::schedule::Schedule;
use crate::train::{BatchSize, StepInfo, TrainConfig, Trainer};
use crate::Activation;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What an observer may answer after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop now, as an interruption would (no checkpoint is written for it).
    Stop,
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

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Where ops ran.
    pub device: String,
    /// Epochs completed.
    pub epochs: usize,
    /// Mean micro-batch loss of the last epoch.
    pub train_loss: f64,
    /// Final test loss.
    pub test_loss: f64,
    /// Final test accuracy (classification).
    pub test_accuracy: Option<f64>,
    /// Training rows per second over the run.
    pub samples_per_s: f64,
    /// Seconds from start to end.
    pub wall_s: f64,
    /// The last checkpoint.
    pub checkpoint: PathBuf,
    /// The loss/accuracy plot.
    pub plot: PathBuf,
    /// The metrics log (CSV; a JSONL twin sits beside it).
    pub metrics: PathBuf,
    /// Final test confusion matrix `[true][predicted]` (classification).
    pub confusion: Option<Vec<Vec<u64>>>,
    /// True when early stopping ended the run.
    pub stopped_early: bool,
    /// Every epoch's metrics.
    pub history: Vec<EpochRecord>,
}

/// Reads the data a config names: the built-in subset, an MNIST-format folder, or a CSV file
/// (label column from `label`, the last by default; 20% held out as the test set, seeded).
pub fn load_data(cfg: &RunConfig) -> Result<TrainTest> {
    match &cfg.data {
        None => builtin(),
        Some(p) if p.is_dir() => load_dir(p),
        Some(p) => {
            let name = p.to_string_lossy();
            if !(name.ends_with(".csv") || name.ends_with(".csv.gz")) {
                if !p.exists() {
                    return Err(file_error(p, "no such file or folder"));
                }
                return Err(file_error(p, "expected an MNIST-format folder or a .csv / .csv.gz file"));
            }
            let task = if cfg.loss == "cross_entropy" { Task::Classification } else { Task::Regression };
            let label = match &cfg.label {
                None => LabelColumn::Last,
                Some(l) => l.parse::<usize>().map_or_else(|_| LabelColumn::Name(l.clone()), LabelColumn::Index),
            };
            let all = read_csv(p, &CsvOptions { task, label, header: None })?;
            let (train, test) = all.split(0.2, cfg.seed ^ 0x5EED)?;
            Ok(TrainTest { train, test, source: name.to_string() })
        }
    }
}

fn parse_init(name: &str, act: Activation) -> Result<Init> {
    let gain = match act {
        Activation::Relu | Activation::LeakyRelu { .. } => 2f64.sqrt(),
        Activation::Tanh => 5.0 / 3.0,
        _ => 1.0,
    };
    Ok(match name {
        "torch" => Init::TorchDefault,
        "xavier-uniform" => Init::XavierUniform { gain },
        "xavier-normal" => Init::XavierNormal { gain },
        "kaiming-uniform" => Init::KaimingUniform { gain },
        "kaiming-normal" => Init::KaimingNormal { gain },
        "zeros" => Init::Zeros,
        other => {
            return Err(Error::InvalidArgument {
                what: "init".into(),
                detail: format!("unknown {other:?}; expected torch, xavier-uniform, xavier-normal, kaiming-uniform, kaiming-normal or zeros"),
            })
        }
    })
}

/// The optimizer a config names, with its hyperparameters.
pub fn optimizer_config(cfg: &RunConfig) -> Result<OptimizerConfig> {
    let betas = (cfg.beta1, cfg.beta2);
    let (lr, wd, eps) = (cfg.lr, cfg.weight_decay, cfg.eps);
    Ok(match cfg.optimizer.as_str() {
        "sgd" => OptimizerConfig::Sgd(SgdConfig {
            lr,
            momentum: cfg.momentum,
            dampening: 0.0,
            weight_decay: wd,
            nesterov: cfg.nesterov,
        }),
        "adam" => OptimizerConfig::Adam(AdamConfig { lr, betas, eps, weight_decay: wd, ..Default::default() }),
        "adamw" => OptimizerConfig::Adam(AdamConfig {
            lr,
            betas,
            eps,
            weight_decay: wd,
            decoupled_weight_decay: true,
            amsgrad: false,
        }),
        "rmsprop" => OptimizerConfig::Rmsprop(RmspropConfig {
            lr,
            eps,
            weight_decay: wd,
            momentum: cfg.momentum,
            ..Default::default()
        }),
        "adagrad" => OptimizerConfig::Adagrad(AdagradConfig { lr, weight_decay: wd, ..Default::default() }),
        "adamax" => OptimizerConfig::Adamax(AdamaxConfig { lr, betas, eps, weight_decay: wd }),
        "nadam" => OptimizerConfig::Nadam(NadamConfig { lr, betas, eps, weight_decay: wd, ..Default::default() }),
        "radam" => OptimizerConfig::Radam(RadamConfig { lr, betas, eps, weight_decay: wd, ..Default::default() }),
        "lion" => OptimizerConfig::Lion(LionConfig { lr, betas, weight_decay: wd }),
        other => {
            return Err(Error::InvalidArgument {
                what: "optimizer".into(),
                detail: format!(
                    "unknown {other:?}; expected sgd, adam, adamw, rmsprop, adagrad, adamax, nadam, radam or lion"
                ),
            })
        }
    })
}

/// The schedule a config names, over `steps_per_epoch · epochs` steps.
pub fn schedule(cfg: &RunConfig, steps_per_epoch: u64) -> Result<Schedule> {
    let total = steps_per_epoch * cfg.epochs as u64;
    Ok(match cfg.schedule.as_str() {
        "constant" => Schedule::Constant,
        "step" => Schedule::Step { step_size: (cfg.step_size * steps_per_epoch).max(1), gamma: cfg.gamma },
        "exponential" => Schedule::Exponential { gamma: cfg.gamma.powf(1.0 / steps_per_epoch.max(1) as f64) },
        "cosine" => Schedule::CosineAnnealing { t_max: total.max(1), eta_min: 0.0 },
        "warmup-cosine" => {
            let warm = (cfg.warmup_epochs * steps_per_epoch).clamp(1, total.saturating_sub(1).max(1));
            Schedule::Sequential {
                schedules: vec![
                    Schedule::Linear { start_factor: 0.01, end_factor: 1.0, total_iters: warm },
                    Schedule::CosineAnnealing { t_max: (total - warm).max(1), eta_min: 0.0 },
                ],
                milestones: vec![warm],
            }
        }
        "onecycle" => Schedule::one_cycle(cfg.lr, total.max(2)),
        other => {
            return Err(Error::InvalidArgument {
                what: "schedule".into(),
                detail: format!(
                    "unknown {other:?}; expected constant, step, exponential, cosine, warmup-cosine or onecycle"
                ),
            })
        }
    })
}

/// Trains as `cfg` says on the device `device` names, writing into `out`. With `resume`,
/// continues from that checkpoint: `cfg` should be the checkpoint's own configuration (see
/// [`Checkpoint::load`]), changed only where the caller means it (more epochs, other data of
/// the same shape); a model that does not fit the checkpoint is refused.
pub fn train(
    cfg: &RunConfig,
    device: &DeviceRequest,
    out: &Path,
    resume: Option<&Path>,
    observer: &mut dyn Observer,
) -> Result<RunSummary> {
    let selection = open(device)?;
    let reason = selection.fallback_reason.clone();
    match &selection.device {
        Device::Cpu(be) => train_on(be, reason, cfg, out, resume, observer),
        Device::Gpu(be) => train_on(be.as_ref(), reason, cfg, out, resume, observer),
    }
}

/// The early-stopping metric of an epoch (lower is better; accuracy is negated).
fn early_stop_value(cfg: &RunConfig, record: &EpochRecord) -> Result<f64> {
    let value = match cfg.early_stop_metric.as_str() {
        "val_loss" => record.val_loss,
        "val_accuracy" => record.val_accuracy.map(|a| -a),
        "train_loss" => Some(record.train_loss),
        "test_loss" => Some(record.test_loss),
        other => {
            return Err(Error::InvalidArgument {
                what: "early_stop_metric".into(),
                detail: format!("unknown {other:?}; expected val_loss, val_accuracy, train_loss or test_loss"),
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

/// Checks labels against the model's classes, naming the first outside.
fn check_classes(data: &Dataset, classes: usize, what: &str) -> Result<()> {
    if let Targets::Labels { labels, .. } = &data.targets {
        if let Some((i, l)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= classes) {
            return Err(Error::InvalidArgument {
                what: format!("{what} labels"),
                detail: format!("label {l} at row {i} is outside the model's {classes} classes (0..{})", classes - 1),
            });
        }
    }
    Ok(())
}

#[allow(clippy::too_many_lines)]
fn train_on<B: Backend>(
    be: &B,
    fallback_reason: Option<String>,
    cfg_in: &RunConfig,
    out: &Path,
    resume: Option<&Path>,
    observer: &mut dyn Observer,
) -> Result<RunSummary> {
    let started = Instant::now();
    let ckpt = resume.map(Checkpoint::load).transpose()?;
    let cfg = cfg_in.clone();
    cfg.validate()?;
    std::fs::create_dir_all(out).map_err(|e| file_error(out, format!("cannot create the output folder: {e}")))?;

    // Data, normalised with statistics of the training rows.
    let TrainTest { train: all_train, mut test, source } = load_data(&cfg)?;
    let (mut train, mut val) = if cfg.validation > 0.0 {
        let (t, v) = all_train.split(cfg.validation, cfg.seed ^ 0x5A11)?;
        (t, Some(v))
    } else {
        (all_train, None)
    };
    let normalizer = match &ckpt {
        Some(c) => c.meta.normalizer.clone(),
        None => Normalizer::fit(cfg.normalization, &train),
    };
    normalizer.apply(&mut train)?;
    normalizer.apply(&mut test)?;
    if let Some(v) = val.as_mut() {
        normalizer.apply(v)?;
    }

    // Model, loss, optimizer.
    let loss: LossKind = cfg.loss.parse()?;
    let classes = match (&train.targets, loss) {
        (Targets::Labels { classes, .. }, LossKind::CrossEntropy) => {
            Some(ckpt.as_ref().and_then(|c| c.meta.classes).unwrap_or(*classes))
        }
        (Targets::Labels { .. }, _) => {
            return Err(Error::InvalidArgument {
                what: "loss".into(),
                detail: format!("{} needs value targets; class labels need cross_entropy", cfg.loss),
            })
        }
        (Targets::Values(_), LossKind::CrossEntropy) => {
            return Err(Error::InvalidArgument {
                what: "loss".into(),
                detail: "cross_entropy needs class labels; use mse for numeric targets".into(),
            })
        }
        _ => None,
    };
    let outputs = classes.unwrap_or(train.target_width());
    for (d, what) in [(Some(&train), "training"), (val.as_ref(), "validation"), (Some(&test), "test")] {
        if let (Some(d), Some(c)) = (d, classes) {
            check_classes(d, c, what)?;
        }
    }
    if let Some(c) = &ckpt {
        if c.meta.inputs != train.features() || c.meta.outputs != outputs {
            return Err(file_error(
                resume.unwrap_or(Path::new("")),
                format!(
                    "checkpoint model takes {} inputs and gives {} outputs; this data has {} features and needs {outputs}",
                    c.meta.inputs, c.meta.outputs, train.features()
                ),
            ));
        }
    }
    let act: Activation = cfg.activation.parse()?;
    let mut sizes = vec![train.features()];
    sizes.extend(&cfg.hidden);
    sizes.push(outputs);
    let spec = ModelSpec::mlp(&sizes, act, cfg.dropout, parse_init(&cfg.init, act)?)?;
    let model = Model::new(be, spec.clone(), cfg.seed)?;
    let optimizer = Optimizer::new(be, optimizer_config(&cfg)?, &spec.layout()?, &[])?;
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
        ..Default::default()
    };
    let steps_per_epoch = tc.steps_in_epoch(train.len());
    tc.schedule = schedule(&cfg, steps_per_epoch)?;
    let mut trainer = Trainer::new(be, model, optimizer, loss, tc)?;

    // Where a resumed run continues from.
    let mut history = Vec::new();
    let (mut first_epoch, mut epoch_step, mut epoch_rng, mut partial, mut early) =
        (1, 0, trainer.rng_state(), (0.0, 0), None);
    if let Some(c) = &ckpt {
        let m = &c.meta;
        if c.params.len() != m.names.len() {
            return Err(file_error(resume.unwrap_or(Path::new("")), "parameter count differs from its metadata"));
        }
        trainer
            .model
            .load(be, &c.params)
            .map_err(|e| file_error(resume.unwrap_or(Path::new("")), format!("does not fit this model: {e}")))?;
        trainer.optimizer.load_state(be, &c.optimizer_state())?;
        trainer.model.set_dropout_calls(m.dropout_calls);
        trainer.restore_position(be, m.steps, m.rng_state)?;
        history = m.history.clone();
        first_epoch = m.epoch + 1;
        epoch_step = m.epoch_step;
        epoch_rng = m.epoch_rng_state;
        partial = m.partial_loss;
        early = m.early_stop;
    }
    observer.on_start(&RunStart {
        device: be.describe(),
        fallback_reason,
        data: source,
        rows: (train.len(), val.as_ref().map_or(0, |v| v.len()), test.len()),
        steps_per_epoch,
        first_epoch,
        epochs: cfg.epochs,
        parameters: spec.layout()?.parameter_count(),
    });

    let ckpt_path = out.join("checkpoint.safetensors");
    let mut last_good: Option<PathBuf> = resume.map(Path::to_path_buf);
    let names = sequential_names(&spec);
    let save = |trainer: &Trainer<B>,
                epoch: usize,
                epoch_step: u64,
                epoch_rng: u64,
                partial: (f64, usize),
                history: &[EpochRecord],
                early: Option<(f64, usize)>|
     -> Result<()> {
        let state = trainer.optimizer.state(be)?;
        let meta = CheckpointMeta {
            format: FORMAT.into(),
            config: cfg.clone(),
            inputs: train.features(),
            outputs,
            classes,
            epoch,
            epoch_step,
            steps: trainer.steps(),
            epoch_rng_state: epoch_rng,
            rng_state: trainer.rng_state(),
            dropout_calls: trainer.model.dropout_calls(),
            partial_loss: partial,
            optimizer_step: state.step,
            mu_product: state.mu_product,
            lrs: state.lrs.clone(),
            momenta: state.momenta.clone(),
            normalizer: normalizer.clone(),
            history: history.to_vec(),
            early_stop: early,
            names: names.clone(),
        };
        let params = trainer.model.params.read_all(be)?;
        Checkpoint { meta, params, optimizer: state.tensors }.save(&ckpt_path)
    };

    if cfg.patience.is_some() {
        // Refuse an unknown metric, or one without its data, before training rather than after.
        let probe = EpochRecord {
            epoch: 0,
            train_loss: 0.0,
            val_loss: val.as_ref().map(|_| 0.0),
            val_accuracy: val.as_ref().and(classes).map(|_| 0.0),
            test_loss: 0.0,
            test_accuracy: None,
            lr: 0.0,
            samples_per_s: 0.0,
            seconds: 0.0,
        };
        early_stop_value(&cfg, &probe)?;
    }
    let mut stopped_early = false;
    let mut last_test = None;
    let mut rows_trained = 0usize;
    let mut train_seconds = 0.0f64;
    let mut last_train_loss = history.last().map_or(f64::NAN, |r: &EpochRecord| r.train_loss);
    for epoch in first_epoch..=cfg.epochs {
        let epoch_started = Instant::now();
        if epoch_step == 0 {
            epoch_rng = trainer.rng_state();
            partial = (0.0, 0);
        } else {
            trainer.restore_position(be, trainer.steps(), epoch_rng)?;
        }
        let order = trainer.epoch_order(train.len());
        let span_len = if cfg.checkpoint_every > 0 { cfg.checkpoint_every } else { steps_per_epoch };
        while epoch_step < steps_per_epoch {
            let end = (epoch_step + span_len).min(steps_per_epoch);
            let mut on_step = |info: &StepInfo| -> Result<()> {
                match observer.on_step(epoch, info) {
                    Control::Continue => Ok(()),
                    Control::Stop => Err(Error::Interrupted(info.step)),
                }
            };
            let span = trainer.run_steps(be, &train, &order, epoch_step..end, &mut on_step).map_err(|e| match e {
                Error::Diverged(msg) => Error::Diverged(format!(
                    "{msg}. Last good checkpoint: {}",
                    last_good.as_ref().map_or("none yet".to_string(), |p| p.display().to_string())
                )),
                other => other,
            })?;
            partial = (partial.0 + span.loss_sum, partial.1 + span.micro_batches);
            epoch_step = end;
            if cfg.checkpoint_every > 0 && epoch_step < steps_per_epoch {
                save(&trainer, epoch - 1, epoch_step, epoch_rng, partial, &history, early)?;
                last_good = Some(ckpt_path.clone());
                observer.on_checkpoint(&ckpt_path);
            }
        }
        let seconds = epoch_started.elapsed().as_secs_f64();
        train_seconds += seconds;
        rows_trained += train.len();
        let train_loss = partial.0 / partial.1.max(1) as f64;
        last_train_loss = train_loss;
        let val_eval = val.as_ref().map(|v| trainer.evaluate(be, v)).transpose()?;
        let test_eval = trainer.evaluate(be, &test)?;
        let record = EpochRecord {
            epoch,
            train_loss,
            val_loss: val_eval.as_ref().map(|e| e.loss),
            val_accuracy: val_eval.as_ref().and_then(|e| e.accuracy),
            test_loss: test_eval.loss,
            test_accuracy: test_eval.accuracy,
            lr: trainer.optimizer.lrs()[0],
            samples_per_s: train.len() as f64 / seconds.max(1e-9),
            seconds,
        };
        history.push(record.clone());
        observer.on_epoch(&record);
        epoch_step = 0;

        // Early stopping on the chosen metric (lower is better; accuracy is negated).
        let mut stop = false;
        if let Some(patience) = cfg.patience {
            let metric = early_stop_value(&cfg, &record)?;
            let (best, bad) = match early {
                Some((best, bad)) if metric >= best => (best, bad + 1),
                _ => (metric, 0),
            };
            early = Some((best, bad));
            stop = bad >= patience;
        }
        save(&trainer, epoch, 0, trainer.rng_state(), (0.0, 0), &history, early)?;
        last_good = Some(ckpt_path.clone());
        observer.on_checkpoint(&ckpt_path);
        write_metrics(out, &history)?;
        last_test = Some(test_eval);
        if stop {
            stopped_early = true;
            break;
        }
    }

    // The last epoch's test evaluation is the final one; evaluate only if no epoch ran now.
    let final_eval = match last_test {
        Some(e) => e,
        None => {
            write_metrics(out, &history)?;
            trainer.evaluate(be, &test)?
        }
    };
    let plot = out.join("curves.png");
    plot_curves(&plot, &history)?;
    Ok(RunSummary {
        device: be.describe(),
        epochs: history.len(),
        train_loss: last_train_loss,
        test_loss: final_eval.loss,
        test_accuracy: final_eval.accuracy,
        samples_per_s: rows_trained as f64 / train_seconds.max(1e-9),
        wall_s: started.elapsed().as_secs_f64(),
        checkpoint: ckpt_path,
        plot,
        metrics: out.join("metrics.csv"),
        confusion: final_eval.confusion,
        stopped_early,
        history,
    })
}
