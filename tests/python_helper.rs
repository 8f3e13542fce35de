//! python/downhill_torch.py reproduces `downhill predict` on the built-in test set: the same
//! preprocessing (÷255, then the checkpoint's normalisation) and the same forward pass, so
//! every prediction agrees. Runs the helper with NumPy: `DOWNHILL_PYTHON`, else the venv
//! `target/pyvenv` when there is one (`.ci/run` makes it), else `python3`. Without NumPy the
//! test FAILS, saying how to install it: a skip printed into captured output would read as a
//! pass. `DOWNHILL_REQUIRE_PYTHON=0` skips it on purpose.

mod common;
use common::python::{plan, python, Plan};
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn a_missing_numpy_fails_unless_skipping_is_asked_for() {
    assert_eq!(plan("python3", true, None), Plan::Run);
    assert!(matches!(plan("python3", false, None), Plan::Fail(m) if m.contains("pip install numpy")));
    assert!(matches!(plan("python3", false, Some("1")), Plan::Fail(_)));
    assert_eq!(plan("python3", false, Some("0")), Plan::Skip);
}

/// (header, rows of (prediction, probabilities)) of a predictions CSV.
fn parse(csv: &str) -> (String, Vec<(u32, Vec<f64>)>) {
    let mut lines = csv.lines();
    let header = lines.next().unwrap().to_string();
    let rows = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[1].parse().unwrap(), cells[2..].iter().map(|c| c.parse().unwrap()).collect())
        })
        .collect();
    (header, rows)
}

#[test]
fn the_python_helper_reproduces_downhill_predict_on_the_built_in_test_set() {
    let Some(py) = python() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out: PathBuf = std::env::temp_dir().join(format!("downhill-py-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let bin = env!("CARGO_BIN_EXE_downhill");
    let train = Command::new(bin)
        .args(["train", "--epochs", "2", "--hidden", "64,32", "--quiet", "--out", out.to_str().unwrap()])
        .env("DOWNHILL_DEVICE", "cpu")
        .output()
        .unwrap();
    assert!(train.status.success(), "{}", String::from_utf8_lossy(&train.stderr));
    let ckpt = out.join("checkpoint.safetensors");
    let images = root.join("data/mnist-mini/t10k-images-idx3-ubyte.gz");
    let ours = Command::new(bin)
        .args(["predict", "--checkpoint", ckpt.to_str().unwrap(), "--input", images.to_str().unwrap()])
        .env("DOWNHILL_DEVICE", "cpu")
        .output()
        .unwrap();
    assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
    let theirs = Command::new(&py)
        .arg(root.join("python/downhill_torch.py"))
        .args([ckpt.to_str().unwrap(), images.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(theirs.status.success(), "{}", String::from_utf8_lossy(&theirs.stderr));
    let (h1, a) = parse(&String::from_utf8_lossy(&ours.stdout));
    let (h2, b) = parse(&String::from_utf8_lossy(&theirs.stdout));
    assert_eq!(h1, h2);
    assert_eq!(a.len(), 1000);
    assert_eq!(a.len(), b.len());
    let agree = a.iter().zip(&b).filter(|(x, y)| x.0 == y.0).count();
    assert_eq!(agree, a.len(), "every prediction agrees ({agree} of {})", a.len());
    let worst =
        a.iter().zip(&b).flat_map(|(x, y)| x.1.iter().zip(&y.1).map(|(p, q)| (p - q).abs())).fold(0.0, f64::max);
    assert!(worst <= 2e-6, "probabilities agree to the printed digits, worst {worst:e}");
    eprintln!("python helper: {agree}/{} predictions agree; worst probability difference {worst:e}", a.len());
}

/// A stand-in for the few torch calls `model_input` makes (PyTorch is too large for CI): enough
/// to check that rows are reshaped to the recorded input shape and that an embedding model
/// gets int64 indices (PyTorch's Embedding refuses float ones).
const TORCH_STUB: &str = "import numpy as np
class Tensor:
    def __init__(self, a): self.a = a
    def reshape(self, shape): return Tensor(self.a.reshape(shape))
    def long(self): return Tensor(self.a.astype(np.int64))
def from_numpy(a): return Tensor(a)
";

const NN_STUB: &str = "class Module:
    def __init__(self, *children): self._children = list(children)
    def children(self): return iter(self._children)
    def modules(self):
        yield self
        for c in self._children: yield from c.modules()
class Sequential(Module): pass
class Embedding(Module): pass
class Linear(Module): pass
";

#[test]
fn the_torch_path_gives_embeddings_integer_indices_and_cnns_their_shape() {
    let Some(py) = python() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("downhill-py-stub-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("torch")).unwrap();
    std::fs::write(dir.join("torch/__init__.py"), TORCH_STUB).unwrap();
    std::fs::write(dir.join("torch/nn.py"), NN_STUB).unwrap();
    let script = "import numpy as np, downhill_torch as dt
from torch import nn
x = np.array([[1, 2, 3, 0], [4, 5, 6, 7]], dtype=np.float32)
emb = dt.model_input(nn.Sequential(nn.Embedding(), nn.Linear()), x, {'input_shape': [4]})
cnn = dt.model_input(nn.Sequential(nn.Linear()), x, {'input_shape': [1, 2, 2]})
print(emb.a.dtype, cnn.a.dtype, cnn.a.shape)
";
    let path = format!("{}:{}", dir.display(), root.join("python").display());
    let out = Command::new(&py).args(["-c", script]).env("PYTHONPATH", path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "int64 float32 (2, 1, 2, 2)");
    let _ = std::fs::remove_dir_all(&dir);
}
