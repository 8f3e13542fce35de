//! LoRA against PEFT (tests/fixtures/oracle/transformer.json, section `lora`), on both paths:
//! the tiny BERT with adapters on the fixture's targets (`y = W x + b + (alpha/r)·B(A x)`), its
//! mean-pooled output, the fixture's loss and the adapters' gradients; the base frozen (no
//! optimizer state: the trainable layout holds the adapters alone); the adapters saved under
//! PEFT's names and merged into the weights on export (`merge_and_unload`).
//!
//! The GPT case (LoRA on nanoGPT's `c_attn`, `causal_self_attention(…, lora_r, lora_alpha)`):
//! logits, loss and adapter gradients, and PEFT's merged weights giving the same logits from a
//! plain GPT.

mod common;

use common::oracle::{host, load, tensor};
use common::{gpu, worst_relative};
use downhill::hf::bert::LoraSettings;
use downhill::hf::task::{adapters, task_model_with, Task, TaskOptions};
use downhill::hf::HfModel;
use downhill::nn::layers::pool_tokens::Pooling;
use downhill::{Backend, CpuBackend, Tensor};
use serde_json::Value;
use std::path::PathBuf;

const RTOL: f64 = 1e-5;

fn oracle_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle")
}

fn bert_case(oracle: &Value) -> &Value {
    oracle["lora"].as_array().unwrap().iter().find(|c| c["model"] == "bert").expect("a BERT LoRA case")
}

fn settings(case: &Value) -> LoraSettings {
    let l = &case["lora"];
    let targets: Vec<String> =
        l["target_modules"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
    LoraSettings::new(l["r"].as_i64().unwrap(), l["alpha"].as_f64().unwrap(), l["dropout"].as_f64().unwrap(), &targets)
        .unwrap()
}

/// The case's model: hf-tiny-bert's architecture (checked against the case's config) with the
/// case's base parameters and adapters loaded; pooled by the mean over the mask.
fn lora_model<B: Backend>(be: &B, case: &Value) -> (downhill::nn::Model<B>, HfModel, Vec<(String, String)>) {
    let hf = HfModel::open(&oracle_dir().join("hf-tiny-bert")).unwrap();
    let downhill::hf::Architecture::Bert(cfg) = &hf.arch else { panic!("a BERT") };
    assert_eq!(
        (cfg.hidden, cfg.layers, cfg.heads),
        (
            case["config"]["C"].as_u64().unwrap() as usize,
            case["config"]["L"].as_u64().unwrap() as usize,
            case["config"]["H"].as_u64().unwrap() as usize
        )
    );
    let t = case["input_ids"]["shape"][1].as_u64().unwrap() as usize;
    let opts = TaskOptions { lora: Some(settings(case)), ..TaskOptions::default() };
    let mut model = task_model_with(be, &hf, Task::Embed(Pooling::Mean), t, &opts).unwrap();
    let base = downhill::hf::folder::base_names(model.spec());
    let mut loaded: Vec<(String, Tensor)> =
        base.iter().zip(hf.names()).map(|(o, n)| (o.clone(), host(&case["base_params"][n.as_str()]))).collect();
    // Adapters: downhill's names in order, paired with PEFT's (in memory: `.default`).
    let ours: Vec<String> = model
        .spec()
        .param_shapes()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| downhill::hf::folder::is_adapter(n))
        .collect();
    let peft: Vec<String> = adapters(be, &hf, &model)
        .unwrap()
        .into_iter()
        .map(|(n, _)| {
            n.replace(".lora_A.weight", ".lora_A.default.weight").replace(".lora_B.weight", ".lora_B.default.weight")
        })
        .collect();
    assert_eq!(peft.len(), case["adapters"].as_object().unwrap().len(), "one adapter per fixture tensor");
    let pairs: Vec<(String, String)> = ours.into_iter().zip(peft).collect();
    loaded.extend(pairs.iter().map(|(o, p)| (o.clone(), host(&case["adapters"][p.as_str()]))));
    model.load(be, &loaded).unwrap();
    (model, hf, pairs)
}

fn run<B: Backend>(be: &B) -> f64 {
    let oracle = load("transformer.json");
    let case = bert_case(&oracle);
    assert_eq!(case["loss_rule"], "mean(mean_pooled ** 2)");
    let (mut model, _, pairs) = lora_model(be, case);
    // Frozen base: the optimizer's layout is the adapters alone.
    let (_, trainable) = model.spec().trainable_layout().unwrap();
    let names: Vec<&str> = trainable.views().iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, pairs.iter().map(|(o, _)| o.as_str()).collect::<Vec<_>>());
    assert_eq!(case["frozen_params_with_grad"].as_array().map_or(0, Vec::len), 0);

    let ids = be.upload(&host(&case["input_ids"])).unwrap();
    model.set_padding(be, Some(&host(&case["attention_mask"]))).unwrap();
    let pooled = be.read(model.forward(be, &ids, true).unwrap()).unwrap();
    let want = tensor(&case["mean_pooled"]).1;
    let largest = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    let (mut worst, i) = worst_relative(pooled.data(), &want, 0.1 * largest);
    assert!(worst <= RTOL, "mean_pooled[{i}]: {worst:e}");
    // loss = mean(p²): dL/dp = 2p / n.
    let n = pooled.data().len() as f64;
    let loss = pooled.data().iter().map(|&p| (p as f64).powi(2)).sum::<f64>() / n;
    let want_loss = case["loss"].as_f64().unwrap();
    assert!((loss - want_loss).abs() / want_loss <= 1e-6, "loss {loss} vs {want_loss}");
    let dp: Vec<f32> = pooled.data().iter().map(|&p| (2.0 * p as f64 / n) as f32).collect();
    let dp = Tensor::from_vec(pooled.shape(), dp).unwrap();
    be.write(model.output_grad_mut().unwrap(), &dp).unwrap();
    model.backward(be, &ids, false).unwrap();
    for (ours, peft) in &pairs {
        let got = model.grads.read(be, ours).unwrap();
        let want = tensor(&case["adapter_grads"][peft.as_str()]).1;
        let largest = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let (err, i) = worst_relative(got.data(), &want, 0.1 * largest);
        assert!(err <= RTOL, "grad {peft}[{i}]: got {} want {} ({err:e})", got.data()[i], want[i]);
        worst = worst.max(err);
    }
    worst
}

#[test]
fn cpu_path_matches_peft_lora_on_bert() {
    eprintln!("cpu path: LoRA worst relative error {:.2e}", run(&CpuBackend::new()));
}

#[test]
fn gpu_path_matches_peft_lora_on_bert() {
    let Some(be) = gpu() else { return };
    eprintln!("gpu path: LoRA worst relative error {:.2e}", run(be));
}

/// Export merges each adapter into its weight (W + (alpha/r)·B·A, computed here from the
/// fixture's tensors) and saves the adapters alone under PEFT's file names.
#[test]
fn export_merges_adapters_and_saves_them_as_peft_does() {
    let be = CpuBackend::new();
    let oracle = load("transformer.json");
    let case = bert_case(&oracle);
    let (model, hf, pairs) = lora_model(&be, case);
    let dir = common::tmp_dir("lora-export");
    downhill::hf::task::export(&be, &hf, &model, Task::Embed(Pooling::Mean), &[], &dir.join("merged")).unwrap();
    let merged = HfModel::open(&dir.join("merged")).unwrap();
    let l = settings(case);
    let scale = l.alpha / l.rank as f64;
    for (name, t) in &merged.params {
        let base = host(&case["base_params"][name.as_str()]);
        let module = name.strip_suffix(".weight").unwrap_or(name);
        let a_name = format!("base_model.model.{module}.lora_A.default.weight");
        if case["adapters"].get(&a_name).is_none() {
            assert_eq!(t.data(), base.data(), "{name} has no adapter: unchanged");
            continue;
        }
        let (a, b) = (
            host(&case["adapters"][a_name.as_str()]),
            host(&case["adapters"][a_name.replace("lora_A", "lora_B").as_str()]),
        );
        let (rows, r, cols) = (b.shape()[0], a.shape()[0], a.shape()[1]);
        for row in 0..rows {
            for col in 0..cols {
                let delta: f64 = (0..r).map(|k| b.data()[row * r + k] as f64 * a.data()[k * cols + col] as f64).sum();
                let want = base.data()[row * cols + col] as f64 + scale * delta;
                let got = t.data()[row * cols + col] as f64;
                assert!((got - want).abs() <= 1e-6 * want.abs().max(1.0), "{name}[{row},{col}]: {got} vs {want}");
            }
        }
    }
    downhill::hf::task::export_adapter(&be, &hf, &model, &l, &dir.join("adapter")).unwrap();
    let saved = downhill::hf::safetensors_io::read_floats(&dir.join("adapter/adapter_model.safetensors")).unwrap();
    assert_eq!(saved.len(), pairs.len());
    for (name, t) in &saved {
        let fixture = name
            .replace(".lora_A.weight", ".lora_A.default.weight")
            .replace(".lora_B.weight", ".lora_B.default.weight");
        assert_eq!(t.data(), host(&case["adapters"][fixture.as_str()]).data(), "{name}");
    }
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("adapter/adapter_config.json")).unwrap()).unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["r"], case["lora"]["r"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// r ≤ 0, alpha ≤ 0, a target that matches no module and dropout other than 0 are refused.
#[test]
fn bad_lora_settings_are_refused() {
    let t = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let err =
        |r: i64, a: f64, d: f64, targets: &[&str]| LoraSettings::new(r, a, d, &t(targets)).unwrap_err().to_string();
    assert!(err(0, 8.0, 0.0, &["query"]).contains("r must be ≥ 1"));
    assert!(err(-2, 8.0, 0.0, &["query"]).contains("r must be ≥ 1"));
    assert!(err(4, 0.0, 0.0, &["query"]).contains("alpha must be > 0"));
    assert!(err(4, -1.0, 0.0, &["query"]).contains("alpha must be > 0"));
    assert!(err(4, 8.0, 0.0, &["dense"]).contains("\"dense\" matches no module"));
    assert!(err(4, 8.0, 0.1, &["query"]).contains("only 0"));
}

/// The GPT case's model in the spec language, with LoRA on every `c_attn` when `lora`.
fn gpt_spec(config: &Value, lora: Option<(i64, f64)>) -> String {
    let u = |k: &str| config[k].as_u64().unwrap() as usize;
    let (v, block, layers, heads, c) = (u("V"), u("block"), u("L"), u("H"), u("C"));
    let bias = if config["bias"].as_bool().unwrap_or(true) { "" } else { ", bias=false" };
    let adapter = lora.map_or(String::new(), |(r, a)| format!(", lora_r={r}, lora_alpha={a:?}"));
    let mut spec = format!("embedding({v}, {c}) position_embedding({block})");
    for _ in 0..layers {
        spec += &format!(
            " residual(layernorm({c}{bias}) causal_self_attention({heads}{bias}{adapter})) \
             residual(layernorm({c}{bias}) linear({}{bias}) gelu linear({c}{bias}))",
            4 * c
        );
    }
    spec + &format!(" layernorm({c}{bias}) linear({v}, bias=false, tie=0)")
}

fn run_gpt<B: Backend>(be: &B) -> f64 {
    use downhill::loss::{LossKind, Target};
    use downhill::nn::{Init, Model, ModelSpec};
    let oracle = load("transformer.json");
    let case = oracle["lora"].as_array().unwrap().iter().find(|c| c["model"] == "gpt").expect("a GPT LoRA case");
    let config = &case["config"];
    assert_eq!(case["lora"]["target_modules"], serde_json::json!(["c_attn"]));
    assert_eq!(case["lora"]["dropout"].as_f64(), Some(0.0));
    let lora = (case["lora"]["r"].as_i64().unwrap(), case["lora"]["alpha"].as_f64().unwrap());
    let (t, v) = (config["T"].as_u64().unwrap() as usize, config["V"].as_u64().unwrap() as usize);
    let mut spec = ModelSpec::parse(&gpt_spec(config, Some(lora)), &[t], v, Init::TorchDefault).unwrap();
    let names: Vec<String> = spec.param_shapes().into_iter().map(|(n, _)| n).collect();
    let (adapters, base): (Vec<String>, Vec<String>) = names.iter().cloned().partition(|n| n.contains(".lora_"));
    let theirs = downhill::nn::gpt::nanogpt_names(
        config["L"].as_u64().unwrap() as usize,
        config["bias"].as_bool().unwrap_or(true),
    );
    assert_eq!(base.len(), theirs.len());
    spec.freeze(&base).unwrap();
    let (_, trainable) = spec.trainable_layout().unwrap();
    assert_eq!(
        trainable.views().iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
        adapters,
        "the adapters alone train"
    );
    let peft: Vec<&String> = case["adapters"].as_object().unwrap().keys().collect();
    assert_eq!(peft.len(), adapters.len());
    let mut loaded: Vec<(String, Tensor)> =
        base.iter().zip(&theirs).map(|(o, n)| (o.clone(), host(&case["base_params"][n.as_str()]))).collect();
    // The adapters in layer order, A then B, as the fixture lists them.
    let mut ordered: Vec<&String> = peft.clone();
    ordered.sort_by_key(|n| {
        (
            n.split(".h.").nth(1).and_then(|r| r.split('.').next()).unwrap().parse::<usize>().unwrap(),
            n.contains("lora_B"),
        )
    });
    loaded.extend(adapters.iter().zip(&ordered).map(|(o, p)| (o.clone(), host(&case["adapters"][p.as_str()]))));
    let mut model = Model::new(be, spec, 0).unwrap();
    model.load(be, &loaded).unwrap();

    let idx = be.upload(&host(&case["idx"])).unwrap();
    let logits = be.read(model.forward(be, &idx, true).unwrap()).unwrap();
    let want = tensor(&case["logits"]).1;
    let largest = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    let (mut worst, i) = worst_relative(logits.data(), &want, 0.1 * largest);
    assert!(worst <= RTOL, "logits[{i}]: {worst:e}");
    let targets: Vec<u32> = tensor(&case["targets"])
        .1
        .iter()
        .map(|&y| if y < 0.0 { downhill::ops::loss::IGNORE_LABEL } else { y as u32 })
        .collect();
    let labels = be.upload_labels(&targets, v).unwrap();
    model.loss(be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
    model.backward(be, &idx, false).unwrap();
    let loss = be.read(model.loss_tensor().unwrap()).unwrap().data()[0] as f64;
    let want_loss = case["loss"].as_f64().unwrap();
    assert!((loss - want_loss).abs() / want_loss <= 1e-6, "loss {loss} vs {want_loss}");
    for (o, p) in adapters.iter().zip(&ordered) {
        let got = model.grads.read(be, o).unwrap();
        let want = tensor(&case["adapter_grads"][p.as_str()]).1;
        let largest = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let (err, i) = worst_relative(got.data(), &want, 0.1 * largest);
        assert!(err <= RTOL, "grad {p}[{i}]: got {} want {} ({err:e})", got.data()[i], want[i]);
        worst = worst.max(err);
    }
    // PEFT's merge_and_unload weights in a plain GPT give the adapted model's logits.
    let plain_spec = ModelSpec::parse(&gpt_spec(config, None), &[t], v, Init::TorchDefault).unwrap();
    let plain_names: Vec<String> = plain_spec.param_shapes().into_iter().map(|(n, _)| n).collect();
    let mut plain = Model::new(be, plain_spec, 0).unwrap();
    let merged: Vec<(String, Tensor)> =
        plain_names.iter().zip(&theirs).map(|(o, n)| (o.clone(), host(&case["merged_params"][n.as_str()]))).collect();
    plain.load(be, &merged).unwrap();
    let merged_logits = be.read(plain.forward(be, &idx, false).unwrap()).unwrap();
    let (err, i) = worst_relative(merged_logits.data(), &want, 0.1 * largest);
    assert!(err <= RTOL, "merged logits[{i}]: {err:e}");
    worst.max(err)
}

#[test]
fn cpu_path_matches_peft_lora_on_gpt() {
    eprintln!("cpu path: GPT LoRA worst relative error {:.2e}", run_gpt(&CpuBackend::new()));
}

#[test]
fn gpu_path_matches_peft_lora_on_gpt() {
    let Some(be) = gpu() else { return };
    eprintln!("gpu path: GPT LoRA worst relative error {:.2e}", run_gpt(be));
}
