//! Using a checkpoint: evaluate it on a data set, or predict outputs (and class probabilities)
//! for new rows. The model is rebuilt from the checkpoint's own configuration.

use crate::backend::Backend;
use crate::checkpoint::Checkpoint;
use crate::config::RunConfig;
use crate::data::csv::{is_csv_path, read_matrix, CsvMatrix};
use crate::data::idx::{images, read_idx_file};
use crate::data::labels::StatedClasses;
use crate::data::normalize::Normalizer;
use crate::data::{Dataset, InputSchema, Targets};
use crate::device::{open, Device, DeviceRequest};
use crate::error::{file_error, Result};
use crate::loss::LossKind;
use crate::memory::check_fits;
use crate::metrics::{class_scores, macro_f1, ClassScore, RegressionMetrics};
use crate::nn::{Model, ModelSpec};
use crate::optim::{Optimizer, OptimizerConfig, SgdConfig};
use crate::run::{load_data, model_spec};
use crate::tensor::Tensor;
use crate::train::{Evaluation, TrainConfig, Trainer};
use std::path::Path;

/// Loads a checkpoint to run: its weights must be finite, and the model it describes must fit
/// in memory (a tampered size in its metadata is an error, not an aborting allocation).
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint> {
    let ckpt = Checkpoint::load(path)?;
    ckpt.check_finite(path)?;
    let spec = checkpoint_spec(path, &ckpt)?;
    // Evaluation runs chunks of 4096 rows; a language model generates one sequence at a time.
    let rows = if matches!(ckpt.meta.schema, InputSchema::Text { .. }) { 1 } else { 4096 };
    check_fits(&format!("the checkpoint's model `{}`", spec.text()), spec.memory_bytes(rows, 3.0), 0.0)?;
    Ok(ckpt)
}

/// The model a checkpoint describes (its config's model over its recorded input shape).
pub fn checkpoint_spec(path: &Path, ckpt: &Checkpoint) -> Result<ModelSpec> {
    let m = &ckpt.meta;
    let cfg = RunConfig { input_shape: Some(m.sample_shape()), init: "zeros".into(), ..m.config.clone() };
    model_spec(&cfg, m.inputs, &m.schema, m.outputs)
        .map_err(|e| file_error(path, format!("describes a model this version cannot build: {e}")))
}

/// A model loaded from a checkpoint, ready to run forward passes.
fn trainer_from<B: Backend>(be: &B, path: &Path, ckpt: &Checkpoint) -> Result<Trainer<B>> {
    let m = &ckpt.meta;
    let spec = checkpoint_spec(path, ckpt)?;
    let mut model = Model::new(be, spec.clone(), 0)?;
    model
        .load(be, &ckpt.params)
        .and_then(|()| model.load_buffers(be, &ckpt.buffers))
        .map_err(|e| file_error(path, format!("parameters do not fit the model it describes: {e}")))?;
    let loss: LossKind = m.config.loss.parse()?;
    let opt = Optimizer::new(be, OptimizerConfig::Sgd(SgdConfig::default()), &spec.layout()?, &[])?;
    Trainer::new(be, model, opt, loss, TrainConfig::default())
}

/// What `downhill eval` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointEvaluation {
    /// Where ops ran.
    pub device: String,
    /// The data evaluated.
    pub data: String,
    /// Rows evaluated.
    pub rows: usize,
    /// Loss (in the units the model trains in), accuracy and confusion matrix.
    pub evaluation: Evaluation,
    /// MAE, RMSE and R² in the targets' own units (regression under `mse`).
    pub regression: Option<RegressionMetrics>,
    /// Per-class precision, recall and F1 (classification).
    pub class_scores: Option<Vec<ClassScore>>,
    /// Their macro-averaged F1.
    pub macro_f1: Option<f64>,
    /// Each class's original label, when the labels were mapped.
    pub label_names: Option<Vec<String>>,
}

/// Evaluates the checkpoint on the test set of `data` (or of the data it was trained on).
pub fn evaluate_checkpoint(path: &Path, data: Option<&Path>, device: &DeviceRequest) -> Result<CheckpointEvaluation> {
    let ckpt = load_checkpoint(path)?;
    if let InputSchema::Text { .. } = ckpt.meta.schema {
        return Err(file_error(
            path,
            "is a language model: its validation loss is in the run's output; sample it with `downhill generate`",
        ));
    }
    let cfg =
        RunConfig { data: data.map(Path::to_path_buf).or(ckpt.meta.config.data.clone()), ..ckpt.meta.config.clone() };
    if let (None, Some(d)) = (data, &cfg.data) {
        if !d.exists() {
            return Err(file_error(
                d,
                format!(
                    "the data {} was trained on is not there any more; pass --data with where it is now",
                    path.display()
                ),
            ));
        }
    }
    let stated = ckpt.meta.classes.map(|count| StatedClasses {
        count,
        source: "of the checkpoint".into(),
        names: ckpt.meta.label_names.clone(),
    });
    let sets = load_data(&cfg, stated.as_ref())?;
    let mut test = sets.test;
    if let (Some(tn), Targets::Values(t)) = (&ckpt.meta.target_normalizer, &mut test.targets) {
        tn.apply_rows(t)?;
    }
    if test.features() != ckpt.meta.inputs {
        return Err(file_error(
            path,
            format!("the model takes {} inputs but {} has {} features", ckpt.meta.inputs, sets.source, test.features()),
        ));
    }
    ckpt.meta.normalizer.apply(&mut test)?;
    let selection = open(device)?;
    fn eval_on<B: Backend>(be: &B, path: &Path, ckpt: &Checkpoint, test: &Dataset) -> Result<(String, Evaluation)> {
        Ok((be.describe(), trainer_from(be, path, ckpt)?.evaluate(be, test)?))
    }
    let (device, evaluation) = match &selection.device {
        Device::Cpu(be) => eval_on(be, path, &ckpt, &test)?,
        Device::Gpu(be) => eval_on(be.as_ref(), path, &ckpt, &test)?,
    };
    let scales = ckpt.meta.target_normalizer.as_ref().map(Normalizer::scales).unwrap_or_default();
    let regression = evaluation.values.as_ref().map(|v| v.metrics(&scales));
    let names = ckpt.meta.label_names.clone().unwrap_or_default();
    let class_scores = evaluation.confusion.as_ref().map(|m| class_scores(m, &names));
    Ok(CheckpointEvaluation {
        device,
        data: sets.source,
        rows: test.len(),
        regression,
        macro_f1: class_scores.as_deref().map(macro_f1),
        class_scores,
        label_names: ckpt.meta.label_names.clone(),
        evaluation,
    })
}

/// Reads rows to predict on as the model's training data was read (`schema`): IDX images
/// (gz or raw; u8 pixels ÷ 255), or CSV rows laid out like the training file, either with its
/// label column (dropped, wherever it was) or without it. A header must name the training
/// file's columns; or, for a model trained on an image folder, one image or a folder of them
/// (sorted), whose files come back too, one per row. Anything else is refused, saying what
/// was expected.
pub fn read_inputs(path: &Path, schema: &InputSchema) -> Result<(Tensor, Option<Vec<std::path::PathBuf>>)> {
    if let InputSchema::Text { .. } = schema {
        return Err(file_error(path, "the model is a language model: give it a prompt with `downhill generate`"));
    }
    if let InputSchema::Image { channels, height, width } = schema {
        let (x, files) = crate::data::image_folder::read_for_prediction(path, [*channels, *height, *width])?;
        return Ok((x, Some(files)));
    }
    let x = if is_csv_path(path) {
        let CsvMatrix { names, values, .. } = read_matrix(path, None)?;
        csv_features(path, names, values, schema)?
    } else {
        images(path, read_idx_file(path)?)?
    };
    let inputs = match schema {
        InputSchema::Idx { pixels } => *pixels,
        InputSchema::Csv { columns, .. } => columns - 1,
        InputSchema::Text { .. } | InputSchema::Image { .. } => unreachable!("answered above"),
    };
    if x.shape()[1] != inputs {
        return Err(file_error(path, format!("rows have {} values but the model takes {inputs} inputs", x.shape()[1])));
    }
    Ok((x, None))
}

/// The feature columns of a CSV read for prediction, by the training file's layout.
fn csv_features(path: &Path, names: Option<Vec<String>>, m: Tensor, schema: &InputSchema) -> Result<Tensor> {
    let (rows, cols) = (m.shape()[0], m.shape()[1]);
    let InputSchema::Csv { columns, label_index, header } = schema else {
        return Ok(m);
    };
    let label_name = header.as_ref().map(|h| h[*label_index].clone());
    let features: Vec<&String> =
        header.iter().flatten().enumerate().filter(|(i, _)| i != label_index).map(|(_, n)| n).collect();
    let drop = if cols == *columns {
        Some(*label_index)
    } else if cols + 1 == *columns {
        None
    } else {
        let label = label_name.map_or(format!("column {}", label_index + 1), |n| format!("{n:?}"));
        return Err(file_error(
            path,
            format!(
                "rows have {cols} columns; the model was trained on {columns} columns with the label in {label}, so \
                 it reads {columns} columns (the label is dropped) or {} (features only)",
                columns - 1
            ),
        ));
    };
    if let (Some(have), Some(trained)) = (&names, header) {
        let expected: Vec<&String> = if drop.is_some() { trained.iter().collect() } else { features.clone() };
        if have.iter().collect::<Vec<_>>() != expected {
            return Err(file_error(
                path,
                format!("header {have:?} does not match the training file's columns {expected:?}"),
            ));
        }
    }
    let Some(label) = drop else { return Ok(m) };
    let data = m
        .data()
        .chunks(cols)
        .flat_map(|r| r.iter().enumerate().filter(|&(c, _)| c != label).map(|(_, &v)| v))
        .collect();
    Tensor::from_vec(&[rows, cols - 1], data)
}

/// What a checkpoint predicts for rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// The model's outputs, (rows, outputs): logits for classification, targets in their own
    /// units for regression (the training's target rescaling undone).
    pub outputs: Tensor,
    /// Softmax probabilities (classification).
    pub probabilities: Option<Tensor>,
    /// Each class's original label, when the labels were mapped (text, 1..K).
    pub class_names: Option<Vec<String>>,
    /// The image file of each row, when the input was an image or a folder of them (the
    /// folder's image files in sorted order).
    pub files: Option<Vec<std::path::PathBuf>>,
}

/// Outputs for every row of `input`, normalised as in training, plus softmax probabilities for
/// classification models.
pub fn predict_checkpoint(path: &Path, input: &Path, device: &DeviceRequest) -> Result<Predictions> {
    let ckpt = load_checkpoint(path)?;
    let (mut x, files) = read_inputs(input, &ckpt.meta.schema)?;
    ckpt.meta.normalizer.apply_rows(&mut x)?;
    let selection = open(device)?;
    let mut outputs = match &selection.device {
        Device::Cpu(be) => trainer_from(be, path, &ckpt)?.predict(be, &x)?,
        Device::Gpu(be) => trainer_from(be.as_ref(), path, &ckpt)?.predict(be.as_ref(), &x)?,
    };
    if let Some(tn) = &ckpt.meta.target_normalizer {
        tn.invert_rows(&mut outputs)?;
    }
    let probabilities = if ckpt.meta.classes.is_some() {
        let cols = outputs.shape()[1];
        let mut p = outputs.data().to_vec();
        for row in p.chunks_mut(cols) {
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let s: f32 = row.iter().map(|v| (v - m).exp()).sum();
            row.iter_mut().for_each(|v| *v = (*v - m).exp() / s);
        }
        Some(Tensor::from_vec(outputs.shape(), p)?)
    } else {
        None
    };
    Ok(Predictions { outputs, probabilities, class_names: ckpt.meta.label_names.clone(), files })
}
