//! The data of a run: read as the config says, split into training, validation and test
//! rows, features normalised and regression targets rescaled with statistics of the training
//! rows (or the resumed checkpoint's), the class count and class names settled.

use super::setup::load_data;
use crate::checkpoint::Checkpoint;
use crate::config::RunConfig;
use crate::data::labels::StatedClasses;
use crate::data::mnist::TrainTest;
use crate::data::normalize::{Normalization, Normalizer};
use crate::data::{Dataset, InputSchema, Targets};
use crate::error::{Error, Result};
use crate::loss::LossKind;
use crate::metrics::RegressionMetrics;
use crate::train::Evaluation;

/// The data of a run: split, normalised with statistics of the training rows (or the resumed
/// checkpoint's), with the class count settled.
pub struct Prepared {
    /// Training rows.
    pub train: Dataset,
    /// Validation rows (with `validation`).
    pub val: Option<Dataset>,
    /// Test rows.
    pub test: Dataset,
    /// Where the data came from.
    pub source: String,
    /// How the rows were read.
    pub schema: InputSchema,
    /// The fitted normalisation.
    pub normalizer: Normalizer,
    /// The fitted target rescaling (regression under `mse`, by default).
    pub target_normalizer: Option<Normalizer>,
    /// Each class's original label, when the labels were mapped.
    pub label_names: Option<Vec<String>>,
    /// Classes (classification).
    pub classes: Option<usize>,
    /// Model outputs.
    pub outputs: usize,
    /// The loss.
    pub loss: LossKind,
}

impl Prepared {
    /// Reads, checks, splits and normalises the data `cfg` names.
    pub fn load(cfg: &RunConfig, ckpt: Option<&Checkpoint>) -> Result<Self> {
        let loss: LossKind = cfg.loss.parse()?;
        let stated = match (cfg.classes, ckpt.and_then(|c| c.meta.classes)) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::InvalidArgument {
                    what: "classes".into(),
                    detail: format!("{a} given, but the checkpoint being resumed has {b} classes"),
                })
            }
            (Some(n), _) => Some(StatedClasses {
                count: n,
                source: "set by `classes`".into(),
                names: ckpt.and_then(|c| c.meta.label_names.clone()),
            }),
            (None, Some(n)) => Some(StatedClasses {
                count: n,
                source: "of the checkpoint being resumed".into(),
                names: ckpt.and_then(|c| c.meta.label_names.clone()),
            }),
            (None, None) => None,
        };
        let TrainTest { train: all_train, mut test, val: given_val, source, schema, label_names } =
            load_data(cfg, stated.as_ref())?;
        let total = all_train.len();
        let (mut train, mut val) = if given_val.is_some() {
            (all_train, given_val) // the data's own validation split (an image folder's val/)
        } else if cfg.validation > 0.0 {
            let (t, v) = all_train.split(cfg.validation, cfg.seed ^ 0x5A11)?;
            (t, Some(v))
        } else {
            (all_train, None)
        };
        if train.is_empty() {
            let why = if total == 0 {
                "the training data has no rows".to_string()
            } else {
                format!("validation {} of its {total} rows leaves none to train on", cfg.validation)
            };
            return Err(Error::InvalidArgument { what: "training rows".into(), detail: format!("{source}: {why}") });
        }
        if val.as_ref().is_some_and(Dataset::is_empty) {
            return Err(Error::InvalidArgument {
                what: "validation rows".into(),
                detail: format!(
                    "validation {} of {total} rows rounds to no row; use a larger fraction",
                    cfg.validation
                ),
            });
        }
        if test.is_empty() {
            return Err(Error::InvalidArgument {
                what: "test rows".into(),
                detail: format!("{source}: the test set has no rows"),
            });
        }
        let normalizer = match ckpt {
            Some(c) => c.meta.normalizer.clone(),
            None => {
                let images = cfg.input_shape.as_ref().is_some_and(|s| s.len() == 3);
                match cfg.normalization.resolve(&schema, images) {
                    Normalization::PerChannel => {
                        let channels = match (&schema, cfg.input_shape.as_deref()) {
                            (InputSchema::Image { channels, .. }, _) => *channels,
                            (_, Some([c, _, _])) => *c,
                            _ => {
                                return Err(Error::InvalidArgument {
                                    what: "normalization".into(),
                                    detail: "per-channel needs images: an image folder, or rows given a C,H,W \
                                             input_shape"
                                        .into(),
                                })
                            }
                        };
                        Normalizer::fit_per_channel(&train.x, channels)?
                    }
                    kind => Normalizer::fit(kind, &train),
                }
            }
        };
        normalizer.apply(&mut train)?;
        normalizer.apply(&mut test)?;
        if let Some(v) = val.as_mut() {
            normalizer.apply(v)?;
        }
        let target_normalizer = rescale_targets(cfg, loss, ckpt, [Some(&mut train), val.as_mut(), Some(&mut test)])?;
        let classes = match (&train.targets, loss) {
            (Targets::Labels { classes, .. }, LossKind::CrossEntropy) => Some(*classes),
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
        if let Some(c) = ckpt {
            if c.meta.inputs != train.features() || c.meta.outputs != outputs {
                return Err(Error::InvalidArgument {
                    what: "resume".into(),
                    detail: format!(
                        "the checkpoint's model takes {} inputs and gives {} outputs; this data has {} features and \
                         needs {outputs}",
                        c.meta.inputs,
                        c.meta.outputs,
                        train.features()
                    ),
                });
            }
        }
        Ok(Self {
            train,
            val,
            test,
            source,
            schema,
            normalizer,
            target_normalizer,
            label_names,
            classes,
            outputs,
            loss,
        })
    }

    /// An evaluation's regression metrics in the targets' own units (regression under `mse`).
    pub fn regression_metrics(&self, e: &Evaluation) -> Option<RegressionMetrics> {
        let scales = self.target_normalizer.as_ref().map(Normalizer::scales).unwrap_or_default();
        e.values.as_ref().map(|v| v.metrics(&scales))
    }

    /// Host bytes the data sets hold.
    pub(super) fn bytes(&self) -> f64 {
        let rows = self.train.len() + self.test.len() + self.val.as_ref().map_or(0, |v| v.len());
        4.0 * rows as f64 * self.train.features() as f64
    }
}

/// Fits the target rescaling `cfg` asks for on the training rows (the first set), or takes
/// the resumed checkpoint's, and applies it to every set's value targets; None for class
/// labels or `none`.
fn rescale_targets(
    cfg: &RunConfig,
    loss: LossKind,
    ckpt: Option<&Checkpoint>,
    sets: [Option<&mut Dataset>; 3],
) -> Result<Option<Normalizer>> {
    let fitted = match (sets[0].as_ref().map(|d| &d.targets), ckpt) {
        (Some(Targets::Values(_)), Some(c)) => c.meta.target_normalizer.clone(),
        (Some(Targets::Values(t)), None) => match cfg.target_normalization.resolve_targets(loss) {
            Normalization::None => None,
            kind => Some(Normalizer::fit_rows(kind, t)),
        },
        _ => None,
    };
    if let Some(tn) = &fitted {
        for set in sets.into_iter().flatten() {
            if let Targets::Values(t) = &mut set.targets {
                tn.apply_rows(t)?;
            }
        }
    }
    Ok(fitted)
}
