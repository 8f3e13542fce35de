//! A Hugging Face BERT against PyTorch + transformers (tests/fixtures/oracle/transformer.json,
//! sections `bert`, `hf_bert`, `bert_adamw`), on both paths: the encoder's last hidden state
//! over padded sequences (HF's attention mask), sentence-transformers' mean pooling, a Linear
//! head's logits and cross-entropy, every parameter's gradient, and three AdamW steps. The
//! model is what `downhill::hf` builds from the `hf-tiny-bert/` folder's config.json (the same
//! model as the `bert` section), loaded with the section's parameters by BERT's names.

mod common;

use common::oracle::{host, load, tensor};
use common::{gpu, worst_relative};
use downhill::hf::{Architecture, HfModel};
use downhill::loss::{LossKind, Target};
use downhill::nn::{Init, Model, ModelSpec};
use downhill::{Backend, CpuBackend, Tensor};
use serde_json::Value;
use std::path::PathBuf;

/// Relative agreement of outputs and gradients (the floor rule), and of losses.
const RTOL: f64 = 1e-5;
const LOSS_RTOL: f64 = 1e-6;
/// Elements below FLOOR × (the tensor's largest magnitude) are measured against that floor.
const FLOOR: f64 = 1e-1;

fn oracle_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle")
}

fn size(config: &Value, key: &str) -> usize {
    config[key].as_u64().unwrap_or_else(|| panic!("config.{key}")) as usize
}

/// The `hf_bert` folder, read by the library, checked to be the section's model.
fn folder(oracle: &Value, config: &Value) -> HfModel {
    let dir = oracle_dir().join(oracle["hf_bert"]["dir"].as_str().unwrap());
    let hf = HfModel::open(&dir).unwrap();
    let Architecture::Bert(cfg) = &hf.arch else { panic!("hf-tiny-bert is a BERT") };
    let pairs = [
        ("V", cfg.vocab),
        ("C", cfg.hidden),
        ("L", cfg.layers),
        ("H", cfg.heads),
        ("I", cfg.intermediate),
        ("P", cfg.max_positions),
    ];
    for (key, ours) in pairs {
        assert_eq!(size(config, key), ours, "config {key}");
    }
    hf
}

/// A model of the encoder plus `tail` (layers after it) for input length `t`, with the
/// encoder's parameters `params` (by BERT's names) and the rest (`head`, by their order).
fn model<B: Backend>(
    be: &B,
    hf: &HfModel,
    tail: &str,
    t: usize,
    params: &Value,
    head: &[Tensor],
) -> (Model<B>, Vec<String>) {
    let text = format!("{} {tail}", hf.spec_text(false));
    let spec = ModelSpec::parse(&text, &[t], 1, Init::TorchDefault).unwrap();
    let ours: Vec<String> = spec.param_shapes().into_iter().map(|(n, _)| n).collect();
    let names = hf.names();
    let mut loaded: Vec<(String, Tensor)> =
        ours.iter().zip(&names).map(|(o, n)| (o.clone(), host(&params[n.as_str()]))).collect();
    loaded.extend(ours[names.len()..].iter().cloned().zip(head.iter().cloned()));
    let mut m = Model::new(be, spec, 0).unwrap();
    m.load(be, &loaded).unwrap();
    (m, ours)
}

/// The batch as the model takes it: padded with the mask set, or packed (real tokens only,
/// `Model::set_packed_batch`).
fn feed<B: Backend>(be: &B, m: &mut Model<B>, ids: &Tensor, mask: &Tensor, packed: bool) -> B::Tensor {
    if packed {
        let ids = m.set_packed_batch(be, ids, mask, 8).unwrap();
        return be.upload(&ids).unwrap();
    }
    m.set_padding(be, Some(mask)).unwrap();
    be.upload(ids).unwrap()
}

fn run_bert<B: Backend>(be: &B, packed: bool) -> [f64; 3] {
    let oracle = load("transformer.json");
    let case = &oracle["bert"];
    let config = &case["config"];
    let (b, t, k) = (size(config, "B"), size(config, "T"), size(config, "K"));
    let hf = folder(&oracle, config);
    let head = [host(&case["head"]["weight"]), host(&case["head"]["bias"])];
    let ids_host = host(&case["input_ids"]);
    let mask = host(&case["attention_mask"]);
    assert_eq!(case["token_type_ids"], "all zero", "single-sentence inputs: every token of type 0");
    let mut worst = [0.0f64; 3];
    let mut check = |family: usize, what: &str, got: &[f32], want: &[f64], rtol: f64| {
        let largest = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let (err, i) = worst_relative(got, want, FLOOR * largest);
        assert!(err <= rtol, "{what}[{i}]: got {} want {} (relative error {err:e})", got[i], want[i]);
        worst[family] = worst[family].max(err);
    };

    // A packed batch's hidden states are packed rows: it is checked from the pooling on.
    let tails: &[(&str, &str)] = if packed {
        &[("pool_tokens", "mean_pooled")]
    } else {
        &[("", "last_hidden_state"), ("pool_tokens", "mean_pooled")]
    };
    for (tail, key) in tails {
        let (mut m, _) = model(be, &hf, tail, t, &case["params"], &[]);
        let ids = feed(be, &mut m, &ids_host, &mask, packed);
        let out = be.read(m.forward(be, &ids, false).unwrap()).unwrap();
        check(0, key, out.data(), &tensor(&case[*key]).1, RTOL);
    }

    let (mut m, ours) = model(be, &hf, &format!("pool_tokens linear({k})"), t, &case["params"], &head);
    let ids = feed(be, &mut m, &ids_host, &mask, packed);
    let logits = be.read(m.forward(be, &ids, true).unwrap()).unwrap();
    assert_eq!(logits.shape(), [b, k]);
    check(0, "logits", logits.data(), &tensor(&case["logits"]).1, RTOL);
    let labels: Vec<u32> = tensor(&case["labels"]).1.iter().map(|&y| y as u32).collect();
    let labels = be.upload_labels(&labels, k).unwrap();
    m.loss(be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
    m.zero_grad(be).unwrap();
    m.backward(be, &ids, false).unwrap();
    let loss = be.read(m.loss_tensor().unwrap()).unwrap().data()[0];
    check(1, "loss", &[loss], &[case["loss"].as_f64().unwrap()], LOSS_RTOL);
    // The key bias adds q·b_k to every score of a query alike, which the softmax ignores: its
    // gradient is 0 but for rounding, on both sides. It is held to the scale of the model's
    // gradients instead of to its own noise.
    let largest =
        case["grads"].as_object().unwrap().values().flat_map(|g| tensor(g).1).fold(0.0f64, |m, g| m.max(g.abs()));
    for (o, n) in ours.iter().zip(hf.names()) {
        let got = m.grads.read(be, o).unwrap();
        if is_key_bias(&n) {
            let most = got.data().iter().fold(0.0f64, |m, g| m.max(g.abs() as f64));
            assert!(most <= RTOL * largest, "grad {n}: {most:e}, not ~0 against the largest gradient {largest:e}");
            continue;
        }
        check(2, &format!("grad {n}"), got.data(), &tensor(&case["grads"][n.as_str()]).1, RTOL);
    }
    let n = hf.names().len();
    for (o, key) in ours[n..].iter().zip(["weight", "bias"]) {
        check(
            2,
            &format!("head grad {key}"),
            m.grads.read(be, o).unwrap().data(),
            &tensor(&case["head_grads"][key]).1,
            RTOL,
        );
    }
    worst
}

/// BERT's key biases, whose gradient is 0 up to rounding (see `run_bert`).
fn is_key_bias(name: &str) -> bool {
    name.ends_with("attention.self.key.bias")
}

fn report(path: &str, w: [f64; 3]) {
    eprintln!("{path}: worst relative error outputs {:.2e}, loss {:.2e}, gradients {:.2e}", w[0], w[1], w[2]);
}

#[test]
fn cpu_path_matches_transformers_bert() {
    report("cpu path", run_bert(&CpuBackend::new(), false));
}

#[test]
fn gpu_path_matches_transformers_bert() {
    let Some(be) = gpu() else { return };
    report("gpu path", run_bert(be, false));
}

/// The same batch packed (no padding rows in the position-wise layers; attention gathers the
/// padded layout and back) gives the same outputs, loss and gradients.
#[test]
fn cpu_path_matches_transformers_bert_packed() {
    report("cpu path, packed", run_bert(&CpuBackend::new(), true));
}

#[test]
fn gpu_path_matches_transformers_bert_packed() {
    let Some(be) = gpu() else { return };
    report("gpu path, packed", run_bert(be, true));
}

/// `hf-tiny-bert/` (written by `save_pretrained`) holds exactly the `bert` section's tensors.
#[test]
fn the_hf_folder_holds_the_sections_model() {
    let oracle = load("transformer.json");
    let hf = folder(&oracle, &oracle["bert"]["config"]);
    assert_eq!(hf.params.len(), oracle["bert"]["params"].as_object().unwrap().len());
    for (name, t) in &hf.params {
        let want = host(&oracle["bert"]["params"][name.as_str()]);
        assert_eq!(t.shape(), want.shape(), "{name}");
        assert_eq!(t.data(), want.data(), "{name}");
    }
    assert!(hf.extra.is_empty(), "BertModel without a pooler: {:?}", hf.extra.iter().map(|e| &e.0).collect::<Vec<_>>());
}

/// Section `bert_adamw`: AdamW over the encoder and the head, no decay on biases and
/// LayerNorm weights; the losses before each step and every parameter after the last.
fn adamw_steps<B: Backend>(be: &B) -> [f64; 2] {
    use downhill::optim::{AdamConfig, Optimizer, OptimizerConfig, ParamGroup};
    let oracle = load("transformer.json");
    let case = &oracle["bert_adamw"];
    let (config, o) = (&case["config"], &case["optimizer"]);
    assert_eq!(o["class"], "AdamW");
    let (t, k) = (size(config, "T"), size(config, "K"));
    let hf = folder(&oracle, config);
    let head = [host(&case["initial_head"]["weight"]), host(&case["initial_head"]["bias"])];
    let (mut m, ours) = model(be, &hf, &format!("pool_tokens linear({k})"), t, &case["initial_params"], &head);
    let mut theirs = hf.names();
    theirs.extend(["head.weight".to_string(), "head.bias".to_string()]);
    // The fixture's rule: no decay on names ending in `bias` or holding `LayerNorm`.
    let no_decay: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|(_, n)| n.ends_with("bias") || n.contains("LayerNorm"))
        .map(|(o, _)| o.clone())
        .collect();
    let betas = o["betas"].as_array().unwrap();
    let adamw = AdamConfig {
        lr: o["lr"].as_f64().unwrap(),
        betas: (betas[0].as_f64().unwrap(), betas[1].as_f64().unwrap()),
        eps: o["eps"].as_f64().unwrap(),
        weight_decay: o["weight_decay"].as_f64().unwrap(),
        ..AdamConfig::adamw()
    };
    let layout = m.spec().layout().unwrap();
    let group = ParamGroup { params: no_decay, lr: None, weight_decay: Some(0.0) };
    let mut optimizer = Optimizer::new(be, OptimizerConfig::Adam(adamw), &layout, &[group]).unwrap();
    let ids = be.upload(&host(&case["input_ids"])).unwrap();
    m.set_padding(be, Some(&host(&case["attention_mask"]))).unwrap();
    let labels: Vec<u32> = tensor(&case["labels"]).1.iter().map(|&y| y as u32).collect();
    let labels = be.upload_labels(&labels, k).unwrap();
    let mut worst = [0.0f64; 2];
    let steps = case["losses_before_each_step"].as_array().unwrap().len();
    for (step, want) in case["losses_before_each_step"].as_array().unwrap().iter().enumerate() {
        m.forward(be, &ids, true).unwrap();
        m.loss(be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
        m.backward(be, &ids, false).unwrap();
        let loss = be.read(m.loss_tensor().unwrap()).unwrap().data()[0] as f64;
        let want = want.as_f64().unwrap();
        let err = (loss - want).abs() / want.abs();
        assert!(err <= LOSS_RTOL, "step {step}: loss {loss} vs {want}");
        worst[0] = worst[0].max(err);
        optimizer.step(be, m.params.flat_mut(), m.grads.flat()).unwrap();
    }
    for (o, n) in ours.iter().zip(&theirs) {
        let want = match n.strip_prefix("head.") {
            Some(key) => tensor(&case["head_after"][key]).1,
            None => tensor(&case["params_after"][n.as_str()]).1,
        };
        let got = m.params.read(be, o).unwrap();
        if is_key_bias(n) {
            // Adam turns a gradient of pure rounding noise into steps of up to lr each, in
            // directions the noise picks: both sides stay within lr·steps of the start.
            let start = tensor(&case["initial_params"][n.as_str()]).1;
            let reach = case["optimizer"]["lr"].as_f64().unwrap() * steps as f64 * 1.001;
            for ((&g, &w), s) in got.data().iter().zip(&want).zip(&start) {
                assert!((g as f64 - s).abs() <= reach && (w - s).abs() <= reach, "{n}: {g} / {w} from {s}");
            }
            continue;
        }
        for (i, (&g, &w)) in got.data().iter().zip(&want).enumerate() {
            let err = (g as f64 - w).abs() / w.abs().max(1.0);
            assert!(err <= RTOL, "{n}[{i}] after the steps: got {g} want {w} ({err:e})");
            worst[1] = worst[1].max(err);
        }
    }
    worst
}

#[test]
fn cpu_path_takes_the_bert_adamw_steps() {
    let w = adamw_steps(&CpuBackend::new());
    eprintln!("cpu path: losses {:.2e}, parameters after the steps {:.2e}", w[0], w[1]);
}

#[test]
fn gpu_path_takes_the_bert_adamw_steps() {
    let Some(be) = gpu() else { return };
    let w = adamw_steps(be);
    eprintln!("gpu path: losses {:.2e}, parameters after the steps {:.2e}", w[0], w[1]);
}

/// `Model::share_plan_memory`: batches of alternating shapes (packed to different lengths)
/// give the same bits as a model whose plans each hold their own tensors, on both paths.
fn shared_plans_agree<B: Backend>(be: &B) {
    let oracle = load("transformer.json");
    let case = &oracle["bert"];
    let (t, k) = (size(&case["config"], "T"), size(&case["config"], "K"));
    let hf = folder(&oracle, &case["config"]);
    let head = [host(&case["head"]["weight"]), host(&case["head"]["bias"])];
    let tail = format!("pool_tokens linear({k})");
    let (mut plain, ours) = model(be, &hf, &tail, t, &case["params"], &head);
    let (mut shared, _) = model(be, &hf, &tail, t, &case["params"], &head);
    shared.share_plan_memory();
    let (ids, mask) = (host(&case["input_ids"]), host(&case["attention_mask"]));
    let labels: Vec<u32> = tensor(&case["labels"]).1.iter().map(|&y| y as u32).collect();
    let labels = be.upload_labels(&labels, k).unwrap();
    // Three shapes: the batch packed to multiples of 8 and of 1, and padded.
    for round in 0..6 {
        let mut outs = Vec::new();
        for m in [&mut plain, &mut shared] {
            let x = match round % 3 {
                0 => be.upload(&m.set_packed_batch(be, &ids, &mask, 8).unwrap()).unwrap(),
                1 => be.upload(&m.set_packed_batch(be, &ids, &mask, 1).unwrap()).unwrap(),
                _ => feed(be, m, &ids, &mask, false),
            };
            let logits = be.read(m.forward(be, &x, true).unwrap()).unwrap();
            m.loss(be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
            m.backward(be, &x, false).unwrap();
            let grads: Vec<Tensor> = ours.iter().map(|n| m.grads.read(be, n).unwrap()).collect();
            outs.push((logits, grads));
        }
        assert_eq!(outs[0].0.data(), outs[1].0.data(), "round {round}: logits");
        for (i, (a, b)) in outs[0].1.iter().zip(&outs[1].1).enumerate() {
            assert_eq!(a.data(), b.data(), "round {round}: gradient of {}", ours[i]);
        }
    }
}

#[test]
fn cpu_path_shared_plan_memory_gives_the_same_bits() {
    shared_plans_agree(&CpuBackend::new());
}

#[test]
fn gpu_path_shared_plan_memory_gives_the_same_bits() {
    let Some(be) = gpu() else { return };
    shared_plans_agree(be);
}

/// A frozen encoder under a trained head: the backward stops at the head (nothing before it
/// trains), and the head's gradients are still transformers'.
#[test]
fn a_frozen_encoder_backpropagates_to_the_head_only() {
    let be = CpuBackend::new();
    let oracle = load("transformer.json");
    let case = &oracle["bert"];
    let (t, k) = (size(&case["config"], "T"), size(&case["config"], "K"));
    let hf = folder(&oracle, &case["config"]);
    let head = [host(&case["head"]["weight"]), host(&case["head"]["bias"])];
    let (m, ours) = model(&be, &hf, &format!("pool_tokens linear({k})"), t, &case["params"], &head);
    let mut spec = m.spec().clone();
    let n = hf.names().len();
    spec.freeze(&ours[..n]).unwrap();
    let mut frozen = Model::new(&be, spec, 0).unwrap();
    let mut loaded: Vec<(String, Tensor)> =
        ours.iter().zip(hf.names()).map(|(o, h)| (o.clone(), host(&case["params"][h.as_str()]))).collect();
    loaded.extend(ours[n..].iter().cloned().zip(head.iter().cloned()));
    frozen.load(&be, &loaded).unwrap();
    let ids = feed(&be, &mut frozen, &host(&case["input_ids"]), &host(&case["attention_mask"]), true);
    frozen.forward(&be, &ids, true).unwrap();
    let labels: Vec<u32> = tensor(&case["labels"]).1.iter().map(|&y| y as u32).collect();
    let labels = be.upload_labels(&labels, k).unwrap();
    frozen.loss(&be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
    frozen.zero_grad(&be).unwrap();
    frozen.backward(&be, &ids, false).unwrap();
    for (o, key) in ours[n..].iter().zip(["weight", "bias"]) {
        let got = frozen.grads.read(&be, o).unwrap();
        let want = tensor(&case["head_grads"][key]).1;
        let (err, i) = worst_relative(got.data(), &want, 0.1 * want.iter().fold(0.0f64, |m, w| m.max(w.abs())));
        assert!(err <= RTOL, "head grad {key}[{i}]: {err:e}");
    }
    // The encoder's gradients were not computed: still the zeros zero_grad left.
    assert!(frozen.grads.read(&be, &ours[0]).unwrap().data().iter().all(|&g| g == 0.0));
}

/// `pool_tokens(first)` is the first token's hidden state (`[CLS]`), padded and packed.
#[test]
fn first_token_pooling_is_the_cls_row() {
    let be = CpuBackend::new();
    let oracle = load("transformer.json");
    let case = &oracle["bert"];
    let (b, t, c) = (size(&case["config"], "B"), size(&case["config"], "T"), size(&case["config"], "C"));
    let hf = folder(&oracle, &case["config"]);
    let hidden = tensor(&case["last_hidden_state"]).1;
    let want: Vec<f64> = (0..b).flat_map(|s| hidden[s * t * c..s * t * c + c].to_vec()).collect();
    for packed in [false, true] {
        let (mut m, _) = model(&be, &hf, "pool_tokens(first)", t, &case["params"], &[]);
        let ids = feed(&be, &mut m, &host(&case["input_ids"]), &host(&case["attention_mask"]), packed);
        let got = be.read(m.forward(&be, &ids, false).unwrap()).unwrap();
        assert_eq!(got.shape(), [b, c]);
        let (err, i) = worst_relative(got.data(), &want, 0.1 * want.iter().fold(0.0f64, |m, w| m.max(w.abs())));
        assert!(err <= RTOL, "packed {packed}: first-token pooling [{i}] {err:e}");
    }
}
