//! A GPT in nanoGPT's layout against PyTorch (tests/fixtures/oracle/transformer.json, section
//! `gpt`), on both paths: logits, the token cross-entropy with ignored positions (−1), and the
//! gradient of every parameter. The model is written in the spec language from the fixture's
//! configuration — token embedding, position embedding, pre-LN blocks as `residual(...)`,
//! the final LayerNorm and the head — and loaded with the fixture's parameters in nanoGPT's
//! order. The head is tied to the token embedding (`linear(V, bias=false, tie=0)`): one
//! tensor under both names, whose gradient is the sum of both uses, as the fixture's.

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

/// nanoGPT's `bias` (True when the configuration leaves it out, as nanoGPT's default).
fn has_bias(config: &Value) -> bool {
    config["bias"].as_bool().unwrap_or(true)
}

/// The case's model in the spec language.
fn gpt_spec(config: &Value) -> String {
    let (v, block, layers, heads, c) =
        (size(config, "V"), size(config, "block"), size(config, "L"), size(config, "H"), size(config, "C"));
    let bias = if has_bias(config) { "" } else { ", bias=false" };
    let mut spec = format!("embedding({v}, {c}) position_embedding({block})");
    for _ in 0..layers {
        spec += &format!(
            " residual(layernorm({c}{bias}) causal_self_attention({heads}{bias})) \
             residual(layernorm({c}{bias}) linear({}{bias}) gelu linear({c}{bias}))",
            4 * c
        );
    }
    spec + &format!(" layernorm({c}{bias}) linear({v}, bias=false, tie=0)")
}

/// nanoGPT's parameter names in its `named_parameters()` order (the order of the spec's
/// parameters too), `lm_head.weight` last.
fn nanogpt_names(config: &Value) -> Vec<String> {
    downhill::nn::gpt::nanogpt_names(size(config, "L"), has_bias(config))
}

/// The case's model built for input length `t` with the fixture's parameters `params` (by
/// nanoGPT's names) loaded: (model, downhill's names, nanoGPT's names), in the same order.
fn loaded_gpt<B: Backend>(be: &B, config: &Value, t: usize, params: &Value) -> (Model<B>, Vec<String>, Vec<String>) {
    let spec = ModelSpec::parse(&gpt_spec(config), &[t], size(config, "V"), Init::TorchDefault).unwrap();
    let ours: Vec<String> = spec.param_shapes().into_iter().map(|(n, _)| n).collect();
    let theirs = nanogpt_names(config);
    assert_eq!(theirs.len(), params.as_object().unwrap().len(), "every fixture parameter, once");
    assert_eq!(ours.len(), theirs.len(), "one parameter each, in nanoGPT's order");
    let loaded: Vec<(String, Tensor)> =
        ours.iter().zip(&theirs).map(|(o, n)| (o.clone(), host(&params[n.as_str()]))).collect();
    let mut model = Model::new(be, spec, 0).unwrap();
    model.load(be, &loaded).unwrap();
    (model, ours, theirs)
}

/// Runs every case on `be`; returns the worst relative errors (logits, loss, gradients).
fn run_all<B: Backend>(be: &B) -> [f64; 3] {
    let oracle = load("transformer.json");
    let mut worst = [0.0f64; 3];
    for case in oracle["gpt"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config = &case["config"];
        let (b, t, v) = (size(config, "B"), size(config, "T"), size(config, "V"));
        let (mut model, ours, theirs) = loaded_gpt(be, config, t, &case["params"]);

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
        // The fixture lists the tied matrix's gradient once, under the name it shares.
        let tied = case["tied"].as_object().unwrap();
        assert_eq!(model.spec().ties().len(), tied.len(), "{name}: the fixture's ties");
        for (o, t) in ours.iter().zip(&theirs) {
            let got = model.grads.read(be, o).unwrap();
            let shared = tied.get(t.as_str()).and_then(Value::as_str).unwrap_or(t);
            check(2, format!("grad {t}"), got.data(), &tensor(&case["grads"][shared]).1, RTOL);
        }
        // One tensor: the optimizer, clipping and the checkpoint's count see it once.
        let layout = model.spec().layout().unwrap();
        assert_eq!(layout.aliases().len(), tied.len());
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
    let run = |spec: ModelSpec| {
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

/// nanoGPT's optimizer on that GPT (section `gpt_adamw`): AdamW with two groups (decay on the
/// tensors the fixture names, none on the rest), `clip_grad_norm_` before each step, the
/// fixture's steps from its initial weights. Per step the loss and the gradient norm before
/// clipping; at the end every parameter.
fn adamw_steps<B: Backend>(be: &B) -> [f64; 3] {
    use downhill::optim::{AdamConfig, Clip, Optimizer, OptimizerConfig, ParamGroup};
    let oracle = load("transformer.json");
    let case = &oracle["gpt_adamw"];
    let (config, o) = (&case["config"], &case["optimizer"]);
    assert_eq!(o["class"], "AdamW");
    let (t, v) = (size(config, "T"), size(config, "V"));
    let (mut model, ours, theirs) = loaded_gpt(be, config, t, &case["initial_params"]);
    let decayed: Vec<&str> = o["weight_decay_on"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    let layout = model.spec().layout().unwrap();
    let no_decay: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|(ours, theirs)| !decayed.contains(&theirs.as_str()) && layout.views().iter().any(|v| &v.name == *ours))
        .map(|(ours, _)| ours.clone())
        .collect();
    let betas = o["betas"].as_array().unwrap();
    let adamw = AdamConfig {
        lr: o["lr"].as_f64().unwrap(),
        betas: (betas[0].as_f64().unwrap(), betas[1].as_f64().unwrap()),
        eps: o["eps"].as_f64().unwrap(),
        weight_decay: o["weight_decay"].as_f64().unwrap(),
        ..AdamConfig::adamw()
    };
    let group =
        ParamGroup { params: no_decay, lr: None, weight_decay: Some(o["others_weight_decay"].as_f64().unwrap()) };
    let mut optimizer = Optimizer::new(be, OptimizerConfig::Adam(adamw), &layout, &[group]).unwrap();
    optimizer.set_clip(Clip::L2Norm(o["clip_grad_norm"].as_f64().unwrap())).unwrap();
    let mut worst = [0.0f64; 3];
    let relative = |got: f64, want: f64| (got - want).abs() / want.abs().max(1e-30);
    for (step, batch) in case["batches"].as_array().unwrap().iter().enumerate() {
        let idx = be.upload(&host(&batch["idx"])).unwrap();
        let targets: Vec<u32> =
            tensor(&batch["targets"]).1.iter().map(|&y| if y < 0.0 { IGNORE_LABEL } else { y as u32 }).collect();
        let labels = be.upload_labels(&targets, v).unwrap();
        model.forward(be, &idx, true).unwrap();
        model.loss(be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
        model.backward(be, &idx, false).unwrap();
        let loss = be.read(model.loss_tensor().unwrap()).unwrap().data()[0] as f64;
        let want = case["losses_before_each_step"][step].as_f64().unwrap();
        assert!(relative(loss, want) <= LOSS_RTOL, "step {step}: loss {loss} vs {want}");
        worst[0] = worst[0].max(relative(loss, want));
        // ‖g‖ over each tensor once (the tied one too), as clip_grad_norm_ over parameters().
        let flat = be.read(model.grads.flat()).unwrap();
        let norm = flat.data().iter().map(|&g| (g as f64) * (g as f64)).sum::<f64>().sqrt();
        let want = case["grad_norms_before_clip"][step].as_f64().unwrap();
        assert!(relative(norm, want) <= RTOL, "step {step}: gradient norm {norm} vs {want}");
        worst[1] = worst[1].max(relative(norm, want));
        optimizer.step(be, model.params.flat_mut(), model.grads.flat()).unwrap();
    }
    // Parameters after the steps, by the optimizer oracle's measure |Δ| / max(|p|, 1): Adam
    // divides by √v, so an element whose gradient is near 0 turns the gradient's last-bit
    // rounding into a relative difference of its small value.
    for (o, t) in ours.iter().zip(&theirs) {
        let got = model.params.read(be, o).unwrap();
        let want = tensor(&case["params_after"][t.as_str()]).1;
        for (i, (&g, &w)) in got.data().iter().zip(&want).enumerate() {
            let err = (g as f64 - w).abs() / w.abs().max(1.0);
            assert!(err <= RTOL, "{t}[{i}] after the steps: got {g} want {w} ({err:e})");
            worst[2] = worst[2].max(err);
        }
    }
    worst
}

#[test]
fn cpu_path_takes_nanogpts_adamw_steps() {
    let w = adamw_steps(&CpuBackend::new());
    eprintln!("cpu path: losses {:.2e}, gradient norms {:.2e}, parameters after 5 steps {:.2e}", w[0], w[1], w[2]);
}

#[test]
fn gpu_path_takes_nanogpts_adamw_steps() {
    let Some(be) = gpu() else { return };
    let w = adamw_steps(be);
    eprintln!("gpu path: losses {:.2e}, gradient norms {:.2e}, parameters after 5 steps {:.2e}", w[0], w[1], w[2]);
}

/// Greedy decoding (section `gpt_generate`): from the prompt, the argmax of the last position's
/// logits appended each step, the context cropped to block_size: the fixture's ids exactly.
fn greedy<B: Backend>(be: &B) {
    use downhill::generate::{generate, Sampling};
    let oracle = load("transformer.json");
    let case = &oracle["gpt"][0];
    let config = &case["config"];
    let block = size(config, "block");
    let prompt: Vec<u32> = tensor(&oracle["gpt_generate"]["prompt"]).1.iter().map(|&i| i as u32).collect();
    let want: Vec<u32> = tensor(&oracle["gpt_generate"]["greedy_ids"]).1.iter().map(|&i| i as u32).collect();
    // The spec is built for the full block; shorter contexts take their own step plans.
    let (mut model, _, _) = loaded_gpt(be, config, block, &case["params"]);
    let mut streamed = Vec::new();
    let new = want.len() - prompt.len();
    let got =
        generate(be, &mut model, &prompt, new, block, &Sampling::GREEDY, false, &mut |t| streamed.push(t)).unwrap();
    assert_eq!(got, want);
    assert_eq!(streamed, want[prompt.len()..]);
    // With the KV cache: the same ids; and on past a full context (where it falls back to
    // re-running the cropped context) the same sampled tokens as without.
    let cached = generate(be, &mut model, &prompt, new, block, &Sampling::GREEDY, true, &mut |_| {}).unwrap();
    assert_eq!(cached, want, "cached greedy decoding");
    let sampling = Sampling { temperature: 1.0, top_k: Some(10), seed: 5 };
    let a = generate(be, &mut model, &prompt, 2 * block, block, &sampling, false, &mut |_| {}).unwrap();
    let b = generate(be, &mut model, &prompt, 2 * block, block, &sampling, true, &mut |_| {}).unwrap();
    assert_eq!(a, b, "sampled, cached and not, through a full context");
}

#[test]
fn cpu_path_decodes_greedily_as_pytorch() {
    greedy(&CpuBackend::new());
}

#[test]
fn gpu_path_decodes_greedily_as_pytorch() {
    let Some(be) = gpu() else { return };
    greedy(be);
}

/// Seeded sampling (temperature 0.8, all tokens; the KV cache, then the cropped context past a
/// full one) from the fixture's model: `2·block_size` tokens.
fn sampled<B: Backend>(be: &B) -> Vec<u32> {
    use downhill::generate::{generate, Sampling};
    let oracle = load("transformer.json");
    let case = &oracle["gpt"][0];
    let block = size(&case["config"], "block");
    let prompt: Vec<u32> = tensor(&oracle["gpt_generate"]["prompt"]).1.iter().map(|&i| i as u32).collect();
    let (mut model, _, _) = loaded_gpt(be, &case["config"], block, &case["params"]);
    let sampling = Sampling { temperature: 0.8, top_k: None, seed: 11 };
    generate(be, &mut model, &prompt, 2 * block, block, &sampling, true, &mut |_| {}).unwrap()
}

/// The same seed samples the same tokens on both paths (the draws are on the host; the logits
/// the two paths give differ by float rounding only).
#[test]
fn sampling_is_the_same_on_both_paths() {
    let Some(be) = gpu() else { return };
    let (cpu, gpu) = (sampled(&CpuBackend::new()), sampled(be));
    assert_eq!(cpu, gpu);
    assert!(cpu.iter().collect::<std::collections::BTreeSet<_>>().len() > 3, "sampling, not one repeated token");
}

/// nanoGPT's training loop (section `gpt_train`) on the first characters of tiny-shakespeare
/// (shipped as `data/tinyshakespeare/input.txt`): the character vocabulary, a 90/10 split,
/// the fixture's windows per step, AdamW with decay on every tensor of two or more dims,
/// linear warm-up then cosine decay to min_lr by iteration, clipping. Each step's loss within
/// `tol`, then the validation loss on the fixture's windows, then the parameters.
fn train_steps<B: Backend>(be: &B, tol: f64) -> [f64; 3] {
    use downhill::optim::{AdamConfig, Clip, Optimizer, OptimizerConfig, ParamGroup};
    let oracle = load("transformer.json");
    let case = &oracle["gpt_train"];
    let mut config = case["config"].clone();
    let vocab: Vec<char> = config["vocab"].as_str().unwrap().chars().collect();
    let chars = size(&config, "corpus_chars");
    let corpus =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/tinyshakespeare/input.txt")).unwrap();
    let ids: Vec<u32> = corpus
        .chars()
        .take(chars)
        .map(|c| vocab.iter().position(|&v| v == c).expect("in the vocabulary") as u32)
        .collect();
    let split = ids.len() * 9 / 10;
    let (train, val) = ids.split_at(split);
    config["V"] = vocab.len().into();
    let (block, v, steps) = (size(&config, "block"), vocab.len(), size(&config, "steps"));
    let (mut model, ours, theirs) = loaded_gpt(be, &config, block, &case["initial_params"]);
    let layout = model.spec().layout().unwrap();
    let no_decay: Vec<String> = layout.views().iter().filter(|v| v.shape.len() < 2).map(|v| v.name.clone()).collect();
    let betas = config["betas"].as_array().unwrap();
    let f = |k: &str| config[k].as_f64().unwrap();
    let adamw = AdamConfig {
        lr: f("lr"),
        betas: (betas[0].as_f64().unwrap(), betas[1].as_f64().unwrap()),
        weight_decay: f("wd"),
        ..AdamConfig::adamw()
    };
    let group = ParamGroup { params: no_decay, lr: None, weight_decay: Some(0.0) };
    let mut optimizer = Optimizer::new(be, OptimizerConfig::Adam(adamw), &layout, &[group]).unwrap();
    optimizer.set_clip(Clip::L2Norm(f("clip"))).unwrap();
    let windows = |data: &[u32], offsets: &[Value]| -> (B::Tensor, B::U32Buffer) {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for o in offsets {
            let o = o.as_u64().unwrap() as usize;
            x.extend(data[o..o + block].iter().map(|&i| i as f32));
            y.extend_from_slice(&data[o + 1..o + 1 + block]);
        }
        (be.upload(&Tensor::from_vec(&[offsets.len(), block], x).unwrap()).unwrap(), be.upload_labels(&y, v).unwrap())
    };
    let (warmup, lr, min_lr) = (size(&config, "warmup"), f("lr"), f("min_lr"));
    let mut worst = [0.0f64; 3];
    let relative = |got: f64, want: f64| (got - want).abs() / want.abs();
    for it in 0..steps {
        // The rate a text run uses (run::lm) against the fixture's.
        let rate = downhill::run::lm::lm_lr(it as u64, lr, min_lr, warmup as u64, steps as u64);
        let want_lr = case["lrs"][it].as_f64().unwrap();
        assert!(relative(rate, want_lr) < 1e-12, "step {it}: lr {rate} vs {want_lr}");
        optimizer.set_lrs(&[rate, rate]).unwrap();
        let (x, y) = windows(train, case["train_offsets"][it].as_array().unwrap());
        model.forward(be, &x, true).unwrap();
        model.loss(be, LossKind::CrossEntropy, &Target::Labels(&y)).unwrap();
        model.backward(be, &x, false).unwrap();
        let loss = be.read(model.loss_tensor().unwrap()).unwrap().data()[0] as f64;
        let want = case["losses"][it].as_f64().unwrap();
        assert!(relative(loss, want) <= tol, "step {it}: loss {loss} vs {want}");
        worst[0] = worst[0].max(relative(loss, want));
        optimizer.step(be, model.params.flat_mut(), model.grads.flat()).unwrap();
    }
    let (x, y) = windows(val, case["val_offsets"].as_array().unwrap());
    model.forward(be, &x, false).unwrap();
    model.loss(be, LossKind::CrossEntropy, &Target::Labels(&y)).unwrap();
    let val_loss = be.read(model.loss_tensor().unwrap()).unwrap().data()[0] as f64;
    let want = case["val_loss_after"].as_f64().unwrap();
    assert!(relative(val_loss, want) <= tol, "validation loss after training {val_loss} vs {want}");
    worst[1] = relative(val_loss, want);
    for (o, t) in ours.iter().zip(&theirs) {
        let got = model.params.read(be, o).unwrap();
        for (i, (&g, &w)) in got.data().iter().zip(&tensor(&case["params_after"][t.as_str()]).1).enumerate() {
            let err = (g as f64 - w).abs() / w.abs().max(1.0);
            assert!(err <= 10.0 * tol, "{t}[{i}] after training: got {g} want {w} ({err:e})");
            worst[2] = worst[2].max(err);
        }
    }
    worst
}

#[test]
fn cpu_path_trains_like_nanogpt_on_tiny_shakespeare() {
    let w = train_steps(&CpuBackend::new(), 1e-4);
    eprintln!("cpu path: step losses {:.2e}, validation loss {:.2e}, parameters {:.2e}", w[0], w[1], w[2]);
}

#[test]
fn gpu_path_trains_like_nanogpt_on_tiny_shakespeare() {
    let Some(be) = gpu() else { return };
    let w = train_steps(be, 1e-3);
    eprintln!("gpu path: step losses {:.2e}, validation loss {:.2e}, parameters {:.2e}", w[0], w[1], w[2]);
}

/// The `gpt(...)` preset is the model above (same parameters in the same order and shapes,
/// the head tied), initialised as nanoGPT's `_init_weights`: weights normal(0, 0.02), the two
/// residual projections of each block 0.02/√(2·n_layer), biases 0, LayerNorm weights 1.
#[test]
fn the_gpt_preset_is_nanogpts_model_and_initialisation() {
    let oracle = load("transformer.json");
    let config = &oracle["gpt"][0]["config"];
    let (v, block, layers) = (size(config, "V"), size(config, "block"), size(config, "L"));
    let text = format!(
        "gpt(n_layer={layers}, n_head={}, n_embd={}, block_size={block})",
        size(config, "H"),
        size(config, "C")
    );
    let preset = ModelSpec::parse(&text, &[block], v, Init::TorchDefault).unwrap();
    let by_hand = ModelSpec::parse(&gpt_spec(config), &[block], v, Init::TorchDefault).unwrap();
    assert_eq!(preset.param_shapes(), by_hand.param_shapes());
    assert_eq!(preset.ties(), by_hand.ties());
    // Big enough for the sample statistics to be sharp.
    let big = ModelSpec::parse("gpt(n_layer=2, n_head=4, n_embd=128, block_size=64)", &[64], 500, Init::TorchDefault)
        .unwrap();
    let std_of =
        |t: &Tensor| (t.data().iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / t.data().len() as f64).sqrt();
    let names = nanogpt_names(&serde_json::json!({"L": 2, "bias": true}));
    for ((ours, t), theirs) in big.initial_params(7).unwrap().iter().zip(&names) {
        if theirs == "lm_head.weight" {
            continue; // the token embedding itself in the model (its own draw is not loaded)
        }
        let want = if theirs.ends_with("c_proj.weight") {
            0.02 / (2.0 * 2.0f64).sqrt() // 0.02/√(2·n_layer)
        } else if theirs.contains(".ln_") && theirs.ends_with("weight") {
            assert!(t.data().iter().all(|&x| x == 1.0), "{theirs} starts at 1");
            continue;
        } else if theirs.ends_with("bias") {
            assert!(t.data().iter().all(|&x| x == 0.0), "{theirs} starts at 0");
            continue;
        } else {
            0.02
        };
        let got = std_of(t);
        assert!((got - want).abs() < 0.05 * want, "{theirs} ({ours}): std {got} vs {want}");
    }
    let e = ModelSpec::parse("gpt(n_layer=1, n_head=3, n_embd=32, block_size=8)", &[8], 65, Init::TorchDefault)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not divisible by n_head 3"), "{e}");
}

/// `gpt(…, dropout=p)` is nanoGPT's model with its four dropouts (after the embeddings, of the
/// attention probabilities, after each block's two projections): in training the same masks on
/// both paths (so one step's loss and gradients agree), in evaluation none (the output of the
/// same weights without dropout).
#[test]
fn a_gpt_with_dropout_masks_the_same_on_both_paths() {
    let text = "gpt(n_layer=2, n_head=2, n_embd=16, block_size=8, dropout=0.2)";
    let (v, t, batch) = (11, 8, 3);
    let expanded = downhill::nn::gpt::expand(text, v).unwrap().unwrap();
    assert_eq!(expanded.matches("dropout(0.2)").count(), 5, "{expanded}");
    assert_eq!(expanded.matches("causal_self_attention(2, std=0.02, proj_std=0.01, dropout=0.2)").count(), 2);
    let mut rng = common::Rng::new(4);
    let ids: Vec<f32> = (0..batch * t).map(|_| rng.below(v as u32) as f32).collect();
    let targets: Vec<u32> = (0..batch * t).map(|_| rng.below(v as u32)).collect();
    fn run<B: Backend>(
        be: &B,
        text: &str,
        ids: &[f32],
        targets: &[u32],
        (v, t, batch): (usize, usize, usize),
    ) -> Vec<Tensor> {
        let expanded = downhill::nn::gpt::expand(text, v).unwrap().unwrap();
        let spec = ModelSpec::parse(&expanded, &[t], v, Init::TorchDefault).unwrap();
        let mut model = Model::new(be, spec, 3).unwrap();
        let x = be.upload(&Tensor::from_vec(&[batch, t], ids.to_vec()).unwrap()).unwrap();
        let labels = be.upload_labels(targets, v).unwrap();
        let eval = be.read(model.forward(be, &x, false).unwrap()).unwrap();
        let train = be.read(model.forward(be, &x, true).unwrap()).unwrap();
        model.loss(be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
        model.zero_grad(be).unwrap();
        model.backward(be, &x, false).unwrap();
        let mut out = vec![eval, train, be.read(model.loss_tensor().unwrap()).unwrap()];
        out.extend(model.grads.read_all(be).unwrap().into_iter().map(|(_, g)| g));
        out
    }
    let dims = (v, t, batch);
    let cpu = run(&CpuBackend::new(), text, &ids, &targets, dims);
    let plain = run(&CpuBackend::new(), "gpt(n_layer=2, n_head=2, n_embd=16, block_size=8)", &ids, &targets, dims);
    assert_eq!(cpu[0].data(), plain[0].data(), "evaluation: no dropout, the same weights");
    let moved = cpu[1].data().iter().zip(plain[1].data()).filter(|(a, b)| a != b).count();
    assert!(moved > cpu[1].data().len() / 2, "training: dropout changes the output ({moved} values)");
    let Some(be) = gpu() else { return };
    let gpu = run(be, text, &ids, &targets, dims);
    for (k, (a, b)) in cpu.iter().zip(&gpu).enumerate() {
        let largest = a.data().iter().fold(0.0f64, |m, x| m.max(x.abs() as f64));
        let want: Vec<f64> = a.data().iter().map(|&x| x as f64).collect();
        let (err, i) = worst_relative(b.data(), &want, 0.1 * largest);
        assert!(err < 1e-4, "tensor {k}: element {i}: gpu {} cpu {} ({err:e})", b.data()[i], a.data()[i]);
    }
}
