//! How a run's configuration becomes its parts: the data it names, the initialiser, the
//! optimizer (PyTorch's defaults under the config's overrides) and the schedule.

use crate::config::RunConfig;
use crate::data::csv::{is_csv_path, read_csv_with_schema, CsvOptions, LabelColumn, Task};
use crate::data::labels::StatedClasses;
use crate::data::mnist::{builtin, load_dir, TrainTest};
use crate::data::{image_folder, InputSchema};
use crate::error::{file_error, Error, Result};
use crate::nn::{Init, ModelSpec};
use crate::optim::{registry, OptimizerConfig};
use crate::schedule::Schedule;
use crate::Activation;
use std::path::Path;

/// The model a config describes for rows of `features` values (read as `schema` says) and
/// `outputs` outputs: the `mlp` of `hidden`/`activation`/`dropout`, a preset, or a spec.
pub fn model_spec(cfg: &RunConfig, features: usize, schema: &InputSchema, outputs: usize) -> Result<ModelSpec> {
    let act: Activation = cfg.activation.parse()?;
    let init = parse_init(&cfg.init, act)?;
    let input = sample_shape(cfg, features, schema)?;
    if cfg.model.trim() == "mlp" {
        let mut sizes = vec![features];
        sizes.extend(&cfg.hidden);
        sizes.push(outputs);
        return ModelSpec::mlp(&sizes, act, cfg.dropout, init);
    }
    let spec = ModelSpec::parse(&cfg.model, &input, outputs, init)?;
    if !matches!(schema, InputSchema::Text { .. }) {
        spec.check_trainable()?; // a language model's [N, T, V] output takes the token loss
    }
    if spec.outputs() != outputs {
        return Err(Error::InvalidArgument {
            what: "model".into(),
            detail: format!(
                "it gives {} outputs per sample but the data needs {outputs} (one per class, or per target); end \
                 the model with linear({outputs})",
                spec.outputs()
            ),
        });
    }
    Ok(spec)
}

/// The shape one row is given to the model as: `input_shape` when set, `[1, H, W]` for square
/// IDX images under a model other than `mlp`, else the flat feature count.
fn sample_shape(cfg: &RunConfig, features: usize, schema: &InputSchema) -> Result<Vec<usize>> {
    if let Some(shape) = &cfg.input_shape {
        if shape.iter().product::<usize>() != features {
            return Err(Error::InvalidArgument {
                what: "input_shape".into(),
                detail: format!(
                    "{shape:?} holds {} values but each row has {features}",
                    shape.iter().product::<usize>()
                ),
            });
        }
        return Ok(shape.clone());
    }
    if let (InputSchema::Image { channels, height, width }, false) = (schema, cfg.model.trim() == "mlp") {
        return Ok(vec![*channels, *height, *width]);
    }
    if let (InputSchema::Idx { pixels }, false) = (schema, cfg.model.trim() == "mlp") {
        let side = (*pixels as f64).sqrt().round() as usize;
        if side * side == *pixels {
            return Ok(vec![1, side, side]);
        }
    }
    Ok(vec![features])
}

/// Reads the data a config names: the built-in subset, an MNIST-format folder, or a CSV file
/// (label column from `label`, the last by default; 20% held out as the test set, seeded).
/// `classes`: the class count stated by the config or a checkpoint (else the data's own).
pub fn load_data(cfg: &RunConfig, classes: Option<&StatedClasses>) -> Result<TrainTest> {
    let idx_label = |p: &Path| -> Result<()> {
        match &cfg.label {
            Some(l) => Err(file_error(
                p,
                format!(
                    "`label = {l:?}` applies to CSV files only; MNIST-format data keeps its labels in their own file"
                ),
            )),
            None => Ok(()),
        }
    };
    match &cfg.data {
        None => {
            idx_label(Path::new("<built-in mnist-mini>"))?;
            builtin(classes)
        }
        Some(p) if p.is_dir() && image_folder::is_image_folder(p) => {
            idx_label(p)?;
            load_image_folder(cfg, p, classes)
        }
        Some(p) if p.is_dir() => {
            idx_label(p)?;
            load_dir(p, classes)
        }
        Some(p) => {
            if !is_csv_path(p) {
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
            let opts = CsvOptions { task, label, header: None, classes: classes.cloned(), label_map: cfg.label_map };
            let (all, schema, label_names) = read_csv_with_schema(p, &opts)?;
            let (train, test) = all.split(0.2, cfg.seed ^ 0x5EED)?;
            Ok(TrainTest { train, test, val: None, source: p.display().to_string(), schema, label_names })
        }
    }
}

/// An image folder as `cfg` asks (size, channels, undecodable files); its class names become
/// the label names. A stated class count must match the folder's classes.
fn load_image_folder(cfg: &RunConfig, dir: &Path, classes: Option<&StatedClasses>) -> Result<TrainTest> {
    let size = match cfg.image_size.as_deref() {
        None => None,
        Some([h, w]) if *h > 0 && *w > 0 => Some([*h, *w]),
        Some(other) => {
            return Err(Error::InvalidArgument {
                what: "image_size".into(),
                detail: format!("{other:?}; expected two sizes above 0: height, width"),
            })
        }
    };
    let opts = image_folder::ImageOptions { size, channels: cfg.channels, on_bad: cfg.on_bad_image.parse()? };
    let f = image_folder::read(dir, &opts)?;
    if let Some(stated) = classes {
        let same_names = stated.names.as_ref().is_none_or(|n| *n == f.classes);
        if stated.count != f.classes.len() || !same_names {
            return Err(file_error(
                dir,
                format!(
                    "has the classes {} ({}), but {} classes {} are {}",
                    f.classes.len(),
                    f.classes.join(", "),
                    stated.count,
                    stated.source,
                    stated.names.as_ref().map_or("unnamed".into(), |n| n.join(", "))
                ),
            ));
        }
    }
    let [c, h, w] = f.shape;
    let mut source = format!("{} ({} classes, {c}×{h}×{w} images", dir.display(), f.classes.len());
    if let Some((first, why)) = f.skipped.first() {
        source.push_str(&format!(
            "; {} files skipped as undecodable, the first {}: {why}",
            f.skipped.len(),
            first.display()
        ));
    }
    source.push(')');
    Ok(TrainTest {
        train: f.train,
        test: f.test,
        val: f.val,
        source,
        schema: InputSchema::Image { channels: c, height: h, width: w },
        label_names: Some(f.classes),
    })
}

pub(crate) fn parse_init(name: &str, act: Activation) -> Result<Init> {
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

/// The optimizer `cfg` names with its settings; what it leaves out takes the optimizer's own
/// default (PyTorch's). The names live in `optim::registry`.
pub fn optimizer_config(cfg: &RunConfig) -> Result<OptimizerConfig> {
    let entry = registry::find(&cfg.optimizer)?;
    let mut config = (entry.from_settings)(&cfg.optimizer_settings());
    if let Some(rows) = config.rule_mut().rows_per_step() {
        // Sophia-G's Hessian EMA is scaled by the examples behind one estimate: one step's rows.
        *rows = (cfg.batch_size * cfg.accumulation) as f64;
    }
    Ok(config)
}

/// The schedule a config names, over `steps_per_epoch · epochs` steps; `base_lr` is the
/// optimizer's learning rate (OneCycle's peak).
pub fn schedule(cfg: &RunConfig, steps_per_epoch: u64, base_lr: f64) -> Result<Schedule> {
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
        "onecycle" => Schedule::one_cycle(base_lr, total.max(2)),
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
