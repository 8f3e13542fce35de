//! python/downhill_torch.py reproduces `downhill predict` on the built-in test set: the same
//! preprocessing (÷255, then the checkpoint's normalisation) and the same forward pass, so
//! every prediction agrees. Runs the helper with NumPy (`DOWNHILL_PYTHON`, else `python3`);
//! without NumPy it says SKIPPED, and fails instead under `DOWNHILL_REQUIRE_PYTHON=1` (CI).

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> Option<String> {
    let py = std::env::var("DOWNHILL_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_numpy = Command::new(&py).args(["-c", "import numpy"]).output().is_ok_and(|o| o.status.success());
    if has_numpy {
        return Some(py);
    }
    if std::env::var("DOWNHILL_REQUIRE_PYTHON").as_deref() == Ok("1") {
        panic!("DOWNHILL_REQUIRE_PYTHON=1 but {py} cannot import numpy");
    }
    eprintln!("SKIPPED: {py} cannot import numpy; set DOWNHILL_PYTHON to an interpreter that can");
    None
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
