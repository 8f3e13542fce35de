//! Reads the PyTorch reference files in tests/fixtures/oracle (copied from shared/oracle).

use downhill::optim::{
    AdagradConfig, AdamConfig, AdamaxConfig, LionConfig, NadamConfig, OptimizerConfig, RadamConfig, RmspropConfig,
    SgdConfig,
};
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

/// Builds the downhill config from the case's PyTorch hyperparameters (all given explicitly).
pub fn optimizer_config(optimizer: &str, h: &Value) -> OptimizerConfig {
    let f = |k: &str| h[k].as_f64().unwrap_or_else(|| panic!("{optimizer}: missing {k}"));
    let b = |k: &str| h[k].as_bool().unwrap_or_else(|| panic!("{optimizer}: missing {k}"));
    let betas = || (h["betas"][0].as_f64().unwrap(), h["betas"][1].as_f64().unwrap());
    match optimizer {
        "SGD" => OptimizerConfig::Sgd(SgdConfig {
            lr: f("lr"),
            momentum: f("momentum"),
            dampening: f("dampening"),
            weight_decay: f("weight_decay"),
            nesterov: b("nesterov"),
        }),
        "Adam" | "AdamW" => OptimizerConfig::Adam(AdamConfig {
            lr: f("lr"),
            betas: betas(),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
            amsgrad: b("amsgrad"),
            decoupled_weight_decay: optimizer == "AdamW",
        }),
        "RMSprop" => OptimizerConfig::Rmsprop(RmspropConfig {
            lr: f("lr"),
            alpha: f("alpha"),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
            momentum: f("momentum"),
            centered: b("centered"),
        }),
        "Adagrad" => OptimizerConfig::Adagrad(AdagradConfig {
            lr: f("lr"),
            lr_decay: f("lr_decay"),
            weight_decay: f("weight_decay"),
            initial_accumulator_value: f("initial_accumulator_value"),
            eps: f("eps"),
        }),
        "Adamax" => OptimizerConfig::Adamax(AdamaxConfig {
            lr: f("lr"),
            betas: betas(),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
        }),
        "NAdam" => OptimizerConfig::Nadam(NadamConfig {
            lr: f("lr"),
            betas: betas(),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
            momentum_decay: f("momentum_decay"),
            decoupled_weight_decay: b("decoupled_weight_decay"),
        }),
        "RAdam" => OptimizerConfig::Radam(RadamConfig {
            lr: f("lr"),
            betas: betas(),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
            decoupled_weight_decay: b("decoupled_weight_decay"),
        }),
        o if o.starts_with("Lion") => {
            OptimizerConfig::Lion(LionConfig { lr: f("lr"), betas: betas(), weight_decay: f("weight_decay") })
        }
        other => panic!("unknown optimizer {other}"),
    }
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
