//! Reads the PyTorch reference files in tests/fixtures/oracle (copied from shared/oracle).

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
