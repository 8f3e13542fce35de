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

fn pair(v: &Value) -> String {
    let a = v.as_array().unwrap_or_else(|| panic!("expected a pair, got {v}"));
    format!("({}, {})", a[0], a[1])
}

fn flag(v: &Value) -> &'static str {
    if v.as_bool().unwrap() {
        "true"
    } else {
        "false"
    }
}

/// Fails unless the fixture's setting `key` has the only value this engine implements.
fn expect(h: &Value, key: &str, want: Value) {
    assert_eq!(h[key], want, "{key}: the case uses a setting the test does not map");
}

/// The spec-language text of a torch module (its class and every constructor argument, as the
/// fixtures write them). With the module's `input` shape, the sizes the spec language infers
/// (in_channels, num_features, in_features) are checked against it.
pub fn torch_module_spec(layer: &str, h: &Value, input: Option<&[usize]>) -> String {
    let inferred = |key: &str, dim: usize| {
        if let Some(input) = input {
            assert_eq!(h[key].as_u64().unwrap() as usize, input[dim], "{key} is inferred from the input");
        }
    };
    match layer {
        "Conv2d" => {
            inferred("in_channels", 1);
            expect(h, "padding_mode", "zeros".into());
            format!(
                "conv2d({}, {}, stride={}, padding={}, dilation={}, groups={}, bias={})",
                h["out_channels"],
                pair(&h["kernel_size"]),
                pair(&h["stride"]),
                pair(&h["padding"]),
                pair(&h["dilation"]),
                h["groups"],
                flag(&h["bias"])
            )
        }
        "MaxPool2d" => {
            expect(h, "ceil_mode", false.into());
            format!(
                "maxpool2d({}, stride={}, padding={}, dilation={})",
                pair(&h["kernel_size"]),
                pair(&h["stride"]),
                pair(&h["padding"]),
                pair(&h["dilation"])
            )
        }
        "AvgPool2d" => {
            expect(h, "ceil_mode", false.into());
            expect(h, "divisor_override", Value::Null);
            format!(
                "avgpool2d({}, stride={}, padding={}, count_include_pad={})",
                pair(&h["kernel_size"]),
                pair(&h["stride"]),
                pair(&h["padding"]),
                flag(&h["count_include_pad"])
            )
        }
        "AdaptiveAvgPool2d" => format!("adaptiveavgpool2d({})", pair(&h["output_size"])),
        "BatchNorm2d" | "BatchNorm1d" => {
            inferred("num_features", 1);
            expect(h, "affine", true.into());
            expect(h, "track_running_stats", true.into());
            let name = if layer == "BatchNorm2d" { "batchnorm2d" } else { "batchnorm1d" };
            format!("{name}(eps={:e}, momentum={})", h["eps"].as_f64().unwrap(), h["momentum"])
        }
        "LayerNorm" => {
            expect(h, "elementwise_affine", true.into());
            expect(h, "bias", true.into());
            let dims: Vec<String> = h["normalized_shape"].as_array().unwrap().iter().map(|d| d.to_string()).collect();
            format!("layernorm(({},), eps={:e})", dims.join(", "), h["eps"].as_f64().unwrap())
        }
        "Flatten" => format!("flatten({}, {})", h["start_dim"], h["end_dim"]),
        "Embedding" => {
            expect(h, "max_norm", Value::Null);
            expect(h, "scale_grad_by_freq", false.into());
            expect(h, "sparse", false.into());
            let padding = if h["padding_idx"].is_null() { "None".to_string() } else { h["padding_idx"].to_string() };
            format!("embedding({}, {}, padding_idx={padding})", h["num_embeddings"], h["embedding_dim"])
        }
        "Linear" => {
            if let Some(input) = input {
                assert_eq!(
                    h["in_features"].as_u64().unwrap() as usize,
                    input[input.len() - 1],
                    "in_features is inferred"
                );
            }
            format!("linear({}, bias={})", h["out_features"], flag(&h["bias"]))
        }
        "ReLU" => "relu".into(),
        other => panic!("no mapping for layer {other}"),
    }
}
