//! In-memory data sets: features (rows × features, f32) and targets (class labels or values),
//! with row gathering for batches; IDX and CSV readers, the built-in MNIST subset,
//! normalisation and seeded train/validation splits.

pub mod csv;
pub mod idx;
pub mod image_folder;
pub mod label_map;
pub mod labels;
pub mod mnist;
pub mod normalize;
pub mod text;
pub mod token_file;

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// How a data set's rows were read, so a model trained on them reads new rows the same way.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InputSchema {
    /// IDX images: values per image (u8 pixels are divided by 255 before normalisation).
    Idx {
        /// Values per image.
        pixels: usize,
    },
    /// Text for a language model: token ids of windows of `block_size`, read with this
    /// vocabulary (`generate` encodes prompts and decodes tokens with it).
    Text {
        /// How text becomes tokens.
        vocabulary: text::Vocabulary,
        /// The window length the model was trained on (its context).
        block_size: usize,
        /// Tokens of the text it was trained on, so a resumed run notices a text that changed
        /// (0: a checkpoint written before this was recorded).
        #[serde(default)]
        tokens: u64,
    },
    /// A CSV file: the column count, which column was the label and the header's names.
    Csv {
        /// Columns per row, the label included.
        columns: usize,
        /// 0-based index of the label column.
        label_index: usize,
        /// Header names, when the file had a header line.
        header: Option<Vec<String>>,
    },
    /// An image folder (`train/<class>/*.png`): every image decoded to this many channels
    /// and resized to this height and width; values in [0, 1], channel-major.
    Image {
        /// 1 (grey) or 3 (RGB).
        channels: usize,
        /// Rows of pixels.
        height: usize,
        /// Pixels per row.
        width: usize,
    },
}

/// What each row is trained towards.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// One class label per row, each below `classes`.
    Labels {
        /// The labels.
        labels: Vec<u32>,
        /// Number of classes.
        classes: usize,
    },
    /// A row of target values per row (regression, multi-label BCE).
    Values(Tensor),
}

/// Rows of features with their targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Features, (rows, features).
    pub x: Tensor,
    /// Targets, one per row.
    pub targets: Targets,
}

impl Dataset {
    /// Checks that features are a matrix, targets have one entry per row and labels fit.
    pub fn new(x: Tensor, targets: Targets) -> Result<Self> {
        let bad = |detail: String| Err(Error::InvalidArgument { what: "dataset".into(), detail });
        if x.shape().len() != 2 {
            return bad(format!("features must be (rows, features), got {:?}", x.shape()));
        }
        let rows = x.shape()[0];
        match &targets {
            Targets::Labels { labels, classes } => {
                if labels.len() != rows {
                    return bad(format!("{rows} rows of features but {} labels", labels.len()));
                }
                if let Some((i, l)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= *classes) {
                    return bad(format!("label {l} at row {i} is outside the {classes} classes"));
                }
            }
            Targets::Values(t) => {
                if t.shape().len() != 2 || t.shape()[0] != rows {
                    return bad(format!("{rows} rows of features but targets of shape {:?}", t.shape()));
                }
            }
        }
        Ok(Self { x, targets })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.x.shape()[0]
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of features per row.
    pub fn features(&self) -> usize {
        self.x.shape()[1]
    }

    /// The rows `idx`, in that order, as a new data set (a batch).
    pub fn gather(&self, idx: &[usize]) -> Result<Dataset> {
        let x = gather_rows(&self.x, idx)?;
        let targets = match &self.targets {
            Targets::Labels { labels, classes } => {
                Targets::Labels { labels: idx.iter().map(|&i| labels[i]).collect(), classes: *classes }
            }
            Targets::Values(t) => Targets::Values(gather_rows(t, idx)?),
        };
        Ok(Dataset { x, targets })
    }
}

impl Dataset {
    /// Number of classes for labels, None for value targets.
    pub fn classes(&self) -> Option<usize> {
        match &self.targets {
            Targets::Labels { classes, .. } => Some(*classes),
            Targets::Values(_) => None,
        }
    }

    /// Width of the targets: classes for labels, columns for values.
    pub fn target_width(&self) -> usize {
        match &self.targets {
            Targets::Labels { classes, .. } => *classes,
            Targets::Values(t) => t.shape()[1],
        }
    }

    /// Splits off a seeded random `fraction` of rows (rounded, at least one of two or more) as a
    /// held-out set: (train, held out).
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::InvalidArgument {
                what: "validation split".into(),
                detail: format!("fraction must be in [0, 1), got {fraction}"),
            });
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        Rng::new(seed).shuffle(&mut order);
        // At least one row when a fraction is asked for and there are rows to spare.
        let n_val = match (self.len() as f64 * fraction).round() as usize {
            0 if fraction > 0.0 && self.len() >= 2 => 1,
            n => n,
        };
        let (val, train) = order.split_at(n_val);
        Ok((self.gather(train)?, self.gather(val)?))
    }
}

/// Rows `idx` of a (rows, cols) tensor.
pub fn gather_rows(t: &Tensor, idx: &[usize]) -> Result<Tensor> {
    let (rows, cols) = (t.shape()[0], t.shape()[1]);
    let mut data = Vec::with_capacity(idx.len() * cols);
    for &i in idx {
        if i >= rows {
            return Err(Error::InvalidArgument { what: "gather".into(), detail: format!("row {i} of {rows}") });
        }
        data.extend_from_slice(&t.data()[i * cols..(i + 1) * cols]);
    }
    Tensor::from_vec(&[idx.len(), cols], data)
}
