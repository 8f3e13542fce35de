//! Reads the PyTorch reference files in tests/fixtures/oracle (copied from shared/oracle).

use downhill::optim::{registry, OptimizerConfig};
use serde_json::Value;
use std::path::PathBuf;

/// Parses `tests/fixtures/oracle/<name>`.
pub fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// A `{"shape": [...], "data": [...]}` tensor as (shape, f64 data).
pub fn tensor(v: &Value) -> (Vec<usize>, Vec<f64>) {
    let shape = v["shape"].as_array().expect("shape").iter().map(|d| d.as_u64().expect("dim") as usize).collect();
    let data = v["data"].as_array().expect("data").iter().map(|x| x.as_f64().expect("number")).collect();
    (shape, data)
}

/// The tensor as a downhill host tensor (f32; the oracle's values are exact f32 decimals).
pub fn host(v: &Value) -> downhill::Tensor {
    let (shape, data) = tensor(v);
    downhill::Tensor::from_vec(&shape, data.iter().map(|&x| x as f32).collect()).expect("oracle tensor")
}

/// Builds the downhill config from the case's PyTorch class and hyperparameters (all given
/// explicitly), through the library's one name→config registry. Lion cases name lion-pytorch's
/// `Lion` (some fixtures add a suffix to it).
pub fn optimizer_config(optimizer: &str, h: &Value) -> OptimizerConfig {
    let torch = if optimizer.starts_with("Lion") { "Lion" } else { optimizer };
    registry::from_torch(torch, h).unwrap_or_else(|e| panic!("{optimizer}: {e}"))
}

/// The MLP fixtures name Linear layer k `fc{k}`; downhill names parameters by their
/// nn.Sequential path, and those MLPs are Linear, activation, Linear, …: `fc2.weight` is `2.weight`.
pub fn sequential_name(fixture: &str) -> String {
    let (layer, rest) = fixture.split_once('.').expect("a dotted name");
    let k: usize = layer.strip_prefix("fc").and_then(|k| k.parse().ok()).expect("an fc<k> name");
    format!("{}.{rest}", 2 * (k - 1))
}

/// The inverse of [`sequential_name`].
pub fn fixture_name(model: &str) -> String {
    let (index, rest) = model.split_once('.').expect("a dotted name");
    format!("fc{}.{rest}", index.parse::<usize>().expect("an index") / 2 + 1)
}
