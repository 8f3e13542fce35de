//! Checkpoints load with `load_state_dict` into the equivalent PyTorch module: for each model
//! below, every parameter and buffer name and shape equals the state_dict of the
//! `nn.Sequential` that `ModelSpec::torch_code` writes. The reference state_dicts were produced
//! by PyTorch from that very code (tests/fixtures/torch_state_dicts.json); the test also checks
//! that the code is still the code those came from. With `DOWNHILL_TORCH_PYTHON` pointing at a
//! Python with torch, it builds the modules again and compares live (set
//! `DOWNHILL_WRITE_TORCH_FIXTURE=1` as well to rewrite the fixture).

use downhill::nn::{Init, ModelSpec};
use serde_json::{json, Value};
use std::path::PathBuf;

/// (spec, per-sample input shape): the presets and a model using every other layer kind.
const MODELS: &[(&str, &[usize])] = &[
    ("cnn", &[1, 28, 28]),
    ("lenet5", &[1, 28, 28]),
    ("mlp-like: flatten linear(32) relu dropout(0.1) linear(10)", &[1, 8, 8]),
    (
        "conv2d(8, 3, padding=1) batchnorm2d relu residual(conv2d(8, 3, padding=1, groups=8) batchnorm2d gelu) \
         avgpool2d(2) adaptiveavgpool2d(1) flatten layernorm linear(16) batchnorm1d silu linear(10)",
        &[3, 16, 16],
    ),
    ("embedding(20, 8, padding_idx=0) layernorm flatten linear(5)", &[6]),
];

fn spec_of(text: &str, input: &[usize]) -> ModelSpec {
    let text = text.strip_prefix("mlp-like: ").unwrap_or(text);
    ModelSpec::parse(text, input, 10, Init::TorchDefault).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// downhill's names and shapes: parameters, float buffers, then the batch counters ([]).
fn ours(spec: &ModelSpec) -> Vec<(String, Vec<usize>)> {
    let mut all = spec.param_shapes();
    all.extend(spec.buffer_specs().into_iter().map(|(n, s, _)| (n, s)));
    all.extend(spec.batch_counters().into_iter().map(|n| (n, vec![])));
    all.sort();
    all
}

fn parse_pairs(v: &Value) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The state_dict names and shapes PyTorch gives the module `code` defines.
fn torch_state_dict(python: &str, code: &str) -> Value {
    let script = format!(
        "{code}\nimport json\nprint(json.dumps([[k, list(v.shape)] for k, v in model.state_dict().items()]))\n"
    );
    let out = std::process::Command::new(python).arg("-c").arg(&script).output().expect("running python");
    assert!(out.status.success(), "python failed on:\n{script}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn state_dict_names_and_shapes_match_the_equivalent_torch_module() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch_state_dicts.json");
    let python = std::env::var("DOWNHILL_TORCH_PYTHON").ok();
    let stored: Value =
        std::fs::read_to_string(&fixture).ok().map(|t| serde_json::from_str(&t).unwrap()).unwrap_or(json!({}));
    let mut written = serde_json::Map::new();
    for (text, input) in MODELS {
        let spec = spec_of(text, input);
        let code = spec.torch_code();
        let want = match &python {
            Some(py) => torch_state_dict(py, &code),
            None => {
                let entry = &stored[*text];
                assert_eq!(
                    entry["code"].as_str(),
                    Some(code.as_str()),
                    "{text}: torch_code changed since the fixture was made; rerun with DOWNHILL_TORCH_PYTHON and \
                     DOWNHILL_WRITE_TORCH_FIXTURE=1"
                );
                entry["state_dict"].clone()
            }
        };
        assert_eq!(ours(&spec), parse_pairs(&want), "{text}: names and shapes vs torch's state_dict");
        written.insert(text.to_string(), json!({"code": code, "state_dict": want}));
    }
    if python.is_some() && std::env::var("DOWNHILL_WRITE_TORCH_FIXTURE").is_ok() {
        std::fs::write(&fixture, serde_json::to_string_pretty(&Value::Object(written)).unwrap() + "\n").unwrap();
    }
}
