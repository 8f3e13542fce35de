//! A GPT in nanoGPT's layout against PyTorch (tests/fixtures/oracle/transformer.json, section
//! `gpt`), on both paths: logits, the token cross-entropy with ignored positions (−1), and the
//! gradient of every parameter. The model is written in the spec language from the fixture's
//! configuration — token embedding, position embedding, pre-LN blocks as `residual(...)`,
//! the final LayerNorm and the head — and loaded with the fixture's parameters in nanoGPT's
//! order. Weight tying is emulated here: `lm_head.weight` is loaded with the same values as
//! `transformer.wte.weight`, and the fixture's gradient of the tied matrix (the sum of both
//! uses) is compared with the sum of downhill's two gradients.

mod common;

use common::oracle::{host, load, tensor};
use common::{gpu, worst_relative};
use downhill::loss::{LossKind, Target};
use downhill::nn::{Init, Model, ModelSpec};
use downhill::ops::loss::IGNORE_LABEL;
use downhill::{Backend, CpuBackend, Tensor};
use serde_json::Value;

/// Relative agreement required of logits and gradients (the floor rule below), and of losses.
const RTOL: f64 = 1e-5;
const LOSS_RTOL: f64 = 1e-6;
/// Elements below FLOOR × (the tensor's largest magnitude) are measured against that floor.
const FLOOR: f64 = 1e-1;

fn size(config: &Value, key: &str) -> usize {
    config[key].as_u64().unwrap_or_else(|| panic!("config.{key}")) as usize
}

/// The case's model in the spec language.
fn gpt_spec(config: &Value) -> String {
    let (v, block, layers, heads, c) =
        (size(config, "V"), size(config, "block"), size(config, "L"), size(config, "H"), size(config, "C"));
    let bias = if config["bias"].as_bool().unwrap() { "" } else { ", bias=false" };
    let mut spec = format!("embedding({v}, {c}) position_embedding({block})");
    for _ in 0..layers {
        spec += &format!(
            " residual(layernorm({c}{bias}) causal_self_attention({heads}{bias})) \
             residual(layernorm({c}{bias}) linear({}{bias}) gelu linear({c}{bias}))",
            4 * c
        );
    }
    spec + &format!(" layernorm({c}{bias}) linear({v}, bias=false)")
}

/// nanoGPT's parameter names in its `named_parameters()` order (the order of the spec's
/// parameters too), `lm_head.weight` last.
fn nanogpt_names(config: &Value) -> Vec<String> {
    let bias = config["bias"].as_bool().unwrap();
    let with_bias = |module: String| -> Vec<String> {
        let mut v = vec![format!("{module}.weight")];
        if bias {
            v.push(format!("{module}.bias"));
        }
        v
    };
    let mut names = vec!["transformer.wte.weight".to_string(), "transformer.wpe.weight".to_string()];
    for i in 0..size(config, "L") {
        for module in ["ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"] {
            names.extend(with_bias(format!("transformer.h.{i}.{module}")));
        }
    }
    names.extend(with_bias("transformer.ln_f".into()));
    names.push("lm_head.weight".into());
    names
}

/// Runs every case on `be`; returns the worst relative errors (logits, loss, gradients).
fn run_all<B: Backend>(be: &B) -> [f64; 3] {
    let oracle = load("transformer.json");
    let mut worst = [0.0f64; 3];
    for case in oracle["gpt"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config = &case["config"];
        let (b, t, v) = (size(config, "B"), size(config, "T"), size(config, "V"));
        let spec = ModelSpec::parse(&gpt_spec(config), &[t], v, Init::TorchDefault).unwrap();
        let ours: Vec<String> = spec.param_shapes().into_iter().map(|(n, _)| n).collect();
        let theirs = nanogpt_names(config);
        assert_eq!(theirs.len(), case["params"].as_object().unwrap().len(), "{name}: every fixture parameter");
        assert_eq!(ours.len(), theirs.len(), "{name}: one parameter each, in nanoGPT's order");
        let params: Vec<(String, Tensor)> =
            ours.iter().zip(&theirs).map(|(o, t)| (o.clone(), host(&case["params"][t.as_str()]))).collect();
        let mut model = Model::new(be, spec, 0).unwrap();
        model.load(be, &params).unwrap_or_else(|e| panic!("{name}: {e}"));

        let idx = be.upload(&host(&case["idx"])).unwrap();
        let logits = be.read(model.forward(be, &idx, true).unwrap()).unwrap();
        assert_eq!(logits.shape(), [b, t, v]);
        let targets: Vec<u32> =
            tensor(&case["targets"]).1.iter().map(|&y| if y < 0.0 { IGNORE_LABEL } else { y as u32 }).collect();
        let labels = be.upload_labels(&targets, v).unwrap();
        model.loss(be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
        model.zero_grad(be).unwrap();
        model.backward(be, &idx, false).unwrap();
        let loss = be.read(model.loss_tensor().unwrap()).unwrap().data()[0] as f64;

        let mut check = |family: usize, what: String, got: &[f32], want: &[f64], rtol: f64| {
            let largest = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
            let (err, i) = worst_relative(got, want, FLOOR * largest);
            assert!(err <= rtol, "{name} {what}[{i}]: got {} want {} (relative error {err:e})", got[i], want[i]);
            worst[family] = worst[family].max(err);
        };
        check(0, "logits".into(), logits.data(), &tensor(&case["logits"]).1, RTOL);
        let want_loss = case["loss"].as_f64().unwrap();
        check(1, "loss".into(), &[loss as f32], &[want_loss], LOSS_RTOL);
        let tied = case["tied"].as_object().unwrap();
        for (o, t) in ours.iter().zip(&theirs) {
            let mut got = model.grads.read(be, o).unwrap().data().to_vec();
            if tied.contains_key(t.as_str()) {
                continue; // the head's gradient is counted in the embedding's below
            }
            if let Some((head, _)) = tied.iter().find(|(_, shared)| shared.as_str() == Some(t.as_str())) {
                let k = theirs.iter().position(|n| n == head).unwrap();
                let head_grad = model.grads.read(be, &ours[k]).unwrap();
                got.iter_mut().zip(head_grad.data()).for_each(|(g, h)| *g += h);
            }
            check(2, format!("grad {t}"), &got, &tensor(&case["grads"][t.as_str()]).1, RTOL);
        }
    }
    worst
}

fn report(path: &str, worst: [f64; 3]) {
    eprintln!(
        "{path}: worst relative error logits {:.2e}, loss {:.2e}, gradients {:.2e}",
        worst[0], worst[1], worst[2]
    );
}

#[test]
fn cpu_path_matches_pytorch_on_the_gpt_cases() {
    report("cpu path", run_all(&CpuBackend::new()));
}

#[test]
fn gpu_path_matches_pytorch_on_the_gpt_cases() {
    let Some(be) = gpu() else { return };
    report("gpu path", run_all(be));
}

/// `bias=false` (nanoGPT's `bias=False`: no bias in any Linear or LayerNorm) is the same model
/// as one whose biases are all zero: same logits and the same weight gradients, on the CPU
/// path. (The fixture's cases have biases; its hidden variants may not.)
#[test]
fn a_gpt_without_biases_is_one_with_zero_biases() {
    let be = CpuBackend::new();
    let oracle = load("transformer.json");
    let case = &oracle["gpt"][0];
    let mut config = case["config"].clone();
    let (t, v) = (size(&config, "T"), size(&config, "V"));
    let with = ModelSpec::parse(&gpt_spec(&config), &[t], v, Init::TorchDefault).unwrap();
    config["bias"] = Value::Bool(false);
    let without = ModelSpec::parse(&gpt_spec(&config), &[t], v, Init::TorchDefault).unwrap();
    let weights: Vec<(String, Tensor)> = with
        .param_shapes()
        .into_iter()
        .zip(nanogpt_names(&case["config"]))
        .map(|((ours, shape), theirs)| {
            let t = host(&case["params"][theirs.as_str()]);
            let zero = Tensor::from_vec(&shape, vec![0.0; shape.iter().product()]).unwrap();
            (ours.clone(), if ours.ends_with("bias") { zero } else { t })
        })
        .collect();
    let idx = be.upload(&host(&case["idx"])).unwrap();
    let targets: Vec<u32> =
        tensor(&case["targets"]).1.iter().map(|&y| if y < 0.0 { IGNORE_LABEL } else { y as u32 }).collect();
    let labels = be.upload_labels(&targets, v).unwrap();
    let mut run = |spec: ModelSpec| {
        let names: Vec<String> = spec.param_shapes().into_iter().map(|(n, _)| n).collect();
        let mut model = Model::new(&be, spec, 0).unwrap();
        let params: Vec<(String, Tensor)> = weights.iter().filter(|(n, _)| names.contains(n)).cloned().collect();
        model.load(&be, &params).unwrap();
        let logits = be.read(model.forward(&be, &idx, true).unwrap()).unwrap();
        model.loss(&be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
        model.zero_grad(&be).unwrap();
        model.backward(&be, &idx, false).unwrap();
        let grads: Vec<Tensor> =
            names.iter().filter(|n| n.ends_with("weight")).map(|n| model.grads.read(&be, n).unwrap()).collect();
        (logits, grads)
    };
    let (logits_with, grads_with) = run(with);
    let (logits_without, grads_without) = run(without);
    assert_eq!(logits_with.data(), logits_without.data());
    assert_eq!(grads_with.len(), grads_without.len());
    for (a, b) in grads_with.iter().zip(&grads_without) {
        assert_eq!(a.data(), b.data());
    }
}
