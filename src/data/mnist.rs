//! MNIST-format folders (the four standard IDX file names, gzipped or raw: MNIST,
//! Fashion-MNIST, …) and the built-in real MNIST subset compiled into the binary.

use super::idx::{images, labels, maybe_gunzip, parse_idx, read_idx_file};
use super::labels::{class_count, LabelSource, StatedClasses};
use super::{Dataset, InputSchema, Targets};
use crate::error::{file_error, Result};
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};

/// A train and a test set.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainTest {
    /// Training rows.
    pub train: Dataset,
    /// Held-out rows.
    pub test: Dataset,
    /// The data's own validation rows (an image folder's `val/`); None: split from `train`.
    pub val: Option<Dataset>,
    /// Where the data came from, for logs.
    pub source: String,
    /// How the rows were read.
    pub schema: InputSchema,
    /// Each class's original label, when CSV labels were mapped to classes (text, 1..K).
    pub label_names: Option<Vec<String>>,
}

/// The standard file stems, without `.gz`.
const FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// The first 5,000 training and 1,000 test images of MNIST (data/mnist-mini, CC BY-SA 3.0,
/// Yann LeCun and Corinna Cortes; see data/mnist-mini/SOURCES.md).
const BUILTIN: [&[u8]; 4] = [
    include_bytes!("../../data/mnist-mini/train-images-idx3-ubyte.gz"),
    include_bytes!("../../data/mnist-mini/train-labels-idx1-ubyte.gz"),
    include_bytes!("../../data/mnist-mini/t10k-images-idx3-ubyte.gz"),
    include_bytes!("../../data/mnist-mini/t10k-labels-idx1-ubyte.gz"),
];

fn assemble(
    paths: [PathBuf; 4],
    decoded: [super::idx::Idx; 4],
    source: String,
    classes: Option<&StatedClasses>,
) -> Result<TrainTest> {
    let [ti, tl, ei, el] = decoded;
    let read = |ip: &Path, lp: &Path, i, l| -> Result<(Tensor, Vec<u32>)> {
        let x = images(ip, i)?;
        let y = labels(lp, l)?;
        if x.shape()[0] != y.len() {
            return Err(file_error(
                lp,
                format!("{} labels but {} has {} images; the counts must match", y.len(), ip.display(), x.shape()[0]),
            ));
        }
        Ok((x, y))
    };
    let (train_x, train_y) = read(&paths[0], &paths[1], ti, tl)?;
    let (test_x, test_y) = read(&paths[2], &paths[3], ei, el)?;
    let locate_train = |i: usize| format!("{}: item {i}", paths[1].display());
    let locate_test = |i: usize| format!("{}: item {i}", paths[3].display());
    let classes = class_count(
        &[
            LabelSource { labels: &train_y, locate: &locate_train },
            LabelSource { labels: &test_y, locate: &locate_test },
        ],
        classes,
    )?;
    let train = Dataset::new(train_x, Targets::Labels { labels: train_y, classes })?;
    let test = Dataset::new(test_x, Targets::Labels { labels: test_y, classes })?;
    if train.features() != test.features() {
        return Err(file_error(
            &paths[2],
            format!("test images have {} pixels but training images have {}", test.features(), train.features()),
        ));
    }
    let schema = InputSchema::Idx { pixels: train.features() };
    Ok(TrainTest { train, test, val: None, source, schema, label_names: None })
}

/// The built-in MNIST subset (5,000 train / 1,000 test, real images). `classes`: a class count
/// stated outside the data (else the label set's own, which must be dense).
pub fn builtin(classes: Option<&StatedClasses>) -> Result<TrainTest> {
    let paths = FILES.map(|f| PathBuf::from(format!("<built-in mnist-mini>/{f}.gz")));
    let mut decoded = Vec::new();
    for (bytes, path) in BUILTIN.iter().zip(&paths) {
        decoded.push(parse_idx(path, &maybe_gunzip(path, bytes.to_vec())?)?);
    }
    let decoded: [super::idx::Idx; 4] = decoded.try_into().expect("four files");
    assemble(paths, decoded, "built-in MNIST subset (mnist-mini)".into(), classes)
}

/// Writes the built-in subset's four files into `dir` as `<name>.gz` (for another program to
/// read the same data: `downhill bench --against-torch`).
pub fn write_builtin(dir: &Path) -> Result<()> {
    for (stem, bytes) in FILES.iter().zip(BUILTIN) {
        let path = dir.join(format!("{stem}.gz"));
        std::fs::write(&path, bytes).map_err(|e| file_error(&path, format!("cannot write: {e}")))?;
    }
    Ok(())
}

/// Reads the four standard files from `dir`, each as `<name>.gz` or `<name>`. `classes`: as
/// for [`builtin`].
pub fn load_dir(dir: &Path, classes: Option<&StatedClasses>) -> Result<TrainTest> {
    if !dir.is_dir() {
        return Err(file_error(dir, "no such folder (expected a folder holding the four MNIST IDX files)"));
    }
    let mut paths = Vec::new();
    for stem in FILES {
        let gz = dir.join(format!("{stem}.gz"));
        let raw = dir.join(stem);
        paths.push(if gz.is_file() {
            gz
        } else if raw.is_file() {
            raw
        } else {
            return Err(file_error(&gz, format!("missing: expected {stem}.gz or {stem} in this folder")));
        });
    }
    let paths: [PathBuf; 4] = paths.try_into().expect("four files");
    let mut decoded = Vec::new();
    for p in &paths {
        decoded.push(read_idx_file(p)?);
    }
    let decoded = decoded.try_into().expect("four files");
    assemble(paths, decoded, format!("{}", dir.display()), classes)
}
