//! Using a checkpoint: evaluate it on a data set, or predict outputs (and class probabilities)
//! for new rows. The model is rebuilt from the checkpoint's own configuration.

use crate::backend::Backend;
use crate::checkpoint::Checkpoint;
use crate::config::RunConfig;
use crate::data::idx::{images, read_idx_file};
use crate::data::Dataset;
use crate::device::{open, Device, DeviceRequest};
use crate::error::{file_error, Error, Result};
use crate::loss::LossKind;
use crate::nn::{Init, Model, ModelSpec};
use crate::optim::{Optimizer, OptimizerConfig, SgdConfig};
use crate::run::load_data;
use crate::tensor::Tensor;
use crate::train::{Evaluation, TrainConfig, Trainer};
use crate::Activation;
use std::path::Path;

/// A model loaded from a checkpoint, ready to run forward passes.
fn trainer_from<B: Backend>(be: &B, path: &Path, ckpt: &Checkpoint) -> Result<Trainer<B>> {
    let m = &ckpt.meta;
    let act =
        Activation::ALL.iter().copied().find(|a| a.name() == m.config.activation).ok_or_else(|| {
            file_error(path, format!("unknown activation {:?} in the checkpoint", m.config.activation))
        })?;
    let mut sizes = vec![m.inputs];
    sizes.extend(&m.config.hidden);
    sizes.push(m.outputs);
    let spec = ModelSpec::mlp(&sizes, act, m.config.dropout, Init::Zeros)?;
    let mut model = Model::new(be, spec.clone(), 0)?;
    model
        .load(be, &ckpt.params)
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
    /// Loss, accuracy and confusion matrix.
    pub evaluation: Evaluation,
}

/// Evaluates the checkpoint on the test set of `data` (or of the data it was trained on).
pub fn evaluate_checkpoint(path: &Path, data: Option<&Path>, device: &DeviceRequest) -> Result<CheckpointEvaluation> {
    let ckpt = Checkpoint::load(path)?;
    let cfg =
        RunConfig { data: data.map(Path::to_path_buf).or(ckpt.meta.config.data.clone()), ..ckpt.meta.config.clone() };
    let sets = load_data(&cfg)?;
    let mut test = sets.test;
    if test.features() != ckpt.meta.inputs {
        return Err(file_error(
            path,
            format!("the model takes {} inputs but {} has {} features", ckpt.meta.inputs, sets.source, test.features()),
        ));
    }
    if let (Some(classes), Some(have)) = (ckpt.meta.classes, test.classes()) {
        if have > classes {
            return Err(Error::InvalidArgument {
                what: "test labels".into(),
                detail: format!("labels go up to {} but the model has {classes} classes", have - 1),
            });
        }
        if let crate::data::Targets::Labels { classes: c, .. } = &mut test.targets {
            *c = classes;
        }
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
    Ok(CheckpointEvaluation { device, data: sets.source, rows: test.len(), evaluation })
}

/// Reads rows to predict on: IDX images (gz or raw) or a CSV of features (a last column beyond
/// the model's inputs, a label, is ignored).
pub fn read_inputs(path: &Path, inputs: usize) -> Result<Tensor> {
    let name = path.to_string_lossy();
    let x = if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        let m = crate::data::csv::read_matrix(path, None)?.values;
        let (rows, cols) = (m.shape()[0], m.shape()[1]);
        if cols == inputs + 1 {
            // A label column last: drop it.
            let data = m.data().chunks(cols).flat_map(|r| r[..inputs].iter().copied()).collect();
            Tensor::from_vec(&[rows, inputs], data)?
        } else {
            m
        }
    } else {
        images(path, read_idx_file(path)?)?
    };
    if x.shape()[1] != inputs {
        return Err(file_error(path, format!("rows have {} values but the model takes {inputs} inputs", x.shape()[1])));
    }
    Ok(x)
}

/// Outputs for every row of `input`, normalised as in training, plus softmax probabilities for
/// classification models.
pub fn predict_checkpoint(path: &Path, input: &Path, device: &DeviceRequest) -> Result<(Tensor, Option<Tensor>)> {
    let ckpt = Checkpoint::load(path)?;
    let mut x = read_inputs(input, ckpt.meta.inputs)?;
    ckpt.meta.normalizer.apply_rows(&mut x)?;
    let selection = open(device)?;
    let outputs = match &selection.device {
        Device::Cpu(be) => trainer_from(be, path, &ckpt)?.predict(be, &x)?,
        Device::Gpu(be) => trainer_from(be.as_ref(), path, &ckpt)?.predict(be.as_ref(), &x)?,
    };
    let probs = if ckpt.meta.classes.is_some() {
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
    Ok((outputs, probs))
}
