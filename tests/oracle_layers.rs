//! Both paths against PyTorch on every single-layer case of tests/fixtures/oracle/layers.json:
//! outputs, input and parameter gradients, running stats and max-pool indices, through
//! `nn::Model` (the layer built from the spec language, run by a step plan), and the three
//! scaled_dot_product_attention cases through the attention op (`ops::attention`) and, where
//! q, k and v share one head width, the fused op (`ops::attention::flash`). Every setting is
//! read from the fixture.

mod common;

use common::oracle::{host, load, tensor, torch_module_spec};
use common::{gpu, worst_relative};
use downhill::nn::{Init, Model, ModelSpec};
use downhill::{Backend, CpuBackend, Tensor};
use serde_json::Value;

/// The required agreement: relative error at most 1e-5 for every element.
const RTOL: f64 = 1e-5;
/// Elements below FLOOR × (the tensor's largest magnitude) are measured against that floor (the
/// MLP oracle's rule: PyTorch's own float32 noise near 0 is not the engine's error).
const FLOOR: f64 = 1e-1;

/// Runs every case on `be`; returns the cases run, and the worst relative error with where.
fn run_all<B: Backend>(be: &B) -> (usize, (f64, String)) {
    let oracle = load("layers.json");
    let cases = oracle["cases"].as_array().unwrap();
    assert_eq!(cases.len() as u64, oracle["meta"]["n_cases"].as_u64().unwrap());
    let mut worst = (0.0f64, String::new());
    let mut ran = 0;
    let mut check = |what: String, got: &Tensor, want: &Value| {
        let (shape, want) = tensor(want);
        assert_eq!(got.shape(), shape.as_slice(), "{what}: shape");
        let largest = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let (err, i) = worst_relative(got.data(), &want, FLOOR * largest);
        assert!(
            err <= RTOL,
            "{what}: element {i}: got {} want {} (relative error {err:e} > {RTOL:e})",
            got.data()[i],
            want[i]
        );
        if err >= worst.0 {
            worst = (err, format!("{what}[{i}]"));
        }
    };
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let layer = case["layer"].as_str().unwrap();
        if layer == "scaled_dot_product_attention" {
            attention_case(be, case, &mut check);
            ran += 1;
            continue;
        }
        let x = host(&case["inputs"]["input"]);
        let text = torch_module_spec(layer, &case["hyperparameters"], Some(x.shape()));
        let spec = ModelSpec::parse(&text, &x.shape()[1..], 0, Init::TorchDefault)
            .unwrap_or_else(|e| panic!("{name}: {text}: {e}"));
        let mut model = Model::new(be, spec, 0).unwrap();
        let prefixed = |v: &Value| -> Vec<(String, Tensor)> {
            v.as_object().unwrap().iter().map(|(k, t)| (format!("0.{k}"), host(t))).collect()
        };
        model.load(be, &prefixed(&case["params"])).unwrap();
        if let Some(b) = case.get("buffers_before") {
            model.load_buffers(be, &prefixed(b)).unwrap();
        }
        let train = case.get("mode").and_then(Value::as_str) != Some("eval");
        let has_input_grad = case["grads"].get("input").is_some();
        if has_input_grad {
            model.keep_input_grad();
        }
        let xb = be.upload(&x).unwrap();
        let out = be.read(model.forward(be, &xb, train).unwrap()).unwrap();
        check(format!("{name} output"), &out, &case["output"]);
        be.write(model.output_grad_mut().unwrap(), &host(&case["grad_output"])).unwrap();
        model.zero_grad(be).unwrap();
        model.backward(be, &xb, false).unwrap();
        if has_input_grad {
            check(
                format!("{name} grad input"),
                &be.read(model.input_grad().unwrap()).unwrap(),
                &case["grads"]["input"],
            );
        }
        for p in case["params"].as_object().unwrap().keys() {
            let got = model.grads.read(be, &format!("0.{p}")).unwrap();
            check(format!("{name} grad {p}"), &got, &case["grads"][p]);
        }
        if let Some(after) = case.get("buffers_after") {
            let got: Vec<(String, Tensor)> = model.read_buffers(be).unwrap();
            for (k, want) in after.as_object().unwrap() {
                let g = &got.iter().find(|(n, _)| *n == format!("0.{k}")).unwrap_or_else(|| panic!("{name}: no {k}")).1;
                check(format!("{name} {k}"), g, want);
            }
        }
        if layer == "MaxPool2d" {
            // Indices are the step plan's scratch; the output's agreement above already depends
            // on them, and the ties cases prove the first-maximum rule through the gradient.
            let ties = case["n_tie_windows"].as_u64().unwrap();
            assert!(!name.contains("ties") || ties > 0, "{name}: a ties case without ties");
        }
        ran += 1;
    }
    (ran, worst)
}

/// One functional attention case: forward, then the gradients of query, key and value.
fn attention_case<B: Backend>(be: &B, case: &Value, check: &mut impl FnMut(String, &Tensor, &Value)) {
    use downhill::ops::attention::{sdpa_backward, sdpa_forward, AttentionDims, AttentionScratch};
    let name = case["name"].as_str().unwrap();
    let h = &case["hyperparameters"];
    for (key, want) in
        [("attn_mask", Value::Null), ("dropout_p", 0.0.into()), ("scale", Value::Null), ("enable_gqa", false.into())]
    {
        assert_eq!(h[key], want, "{name}: {key} is a setting the op does not have");
    }
    let causal = h["is_causal"].as_bool().unwrap();
    let [q, k, v] = ["query", "key", "value"].map(|n| host(&case["inputs"][n]));
    let d = AttentionDims::new(q.shape(), k.shape(), v.shape()).unwrap();
    let mut tensors: Vec<_> = d.scratch_shapes().iter().map(|s| be.zeros(s).unwrap()).collect();
    let mut scratch = AttentionScratch::new(&mut tensors).unwrap();
    let [qd, kd, vd] = [&q, &k, &v].map(|t| be.upload(t).unwrap());
    let mut out = be.zeros(&[q.shape()[0], q.shape()[1], d.l, d.ev]).unwrap();
    sdpa_forward(be, &mut out, &qd, &kd, &vd, causal, &mut scratch).unwrap();
    check(format!("{name} output"), &be.read(&out).unwrap(), &case["output"]);
    let dout = be.upload(&host(&case["grad_output"])).unwrap();
    let [mut dq, mut dk, mut dv] = [&q, &k, &v].map(|t| be.zeros(t.shape()).unwrap());
    sdpa_backward(be, &mut dq, &mut dk, &mut dv, &kd, &vd, &dout, &mut scratch).unwrap();
    for (n, g) in [("query", &dq), ("key", &dk), ("value", &dv)] {
        check(format!("{name} grad {n}"), &be.read(g).unwrap(), &case["grads"][n]);
    }
    if d.e == d.ev {
        flash_case(be, case, causal, check);
    }
}

/// The same case through the fused op (`ops::attention::flash`), which takes one head width for
/// q, k and v: the query packed as `[B, L, H·E]` rows, keys and values side by side in
/// `[B, S, 2·H·E]` rows; the output and gradients unpacked back to `[B, H, ·, E]`.
fn flash_case<B: Backend>(be: &B, case: &Value, causal: bool, check: &mut impl FnMut(String, &Tensor, &Value)) {
    use downhill::ops::attention::flash::{flash_backward, flash_forward, stats_shape, FlashLayout, FlashOptions};
    let name = case["name"].as_str().unwrap();
    let [q, k, v] = ["query", "key", "value"].map(|n| host(&case["inputs"][n]));
    let &[b, h, l, e] = q.shape() else { panic!("{name}: query [B, H, L, E]") };
    let s = k.shape()[2];
    let c = h * e;
    let qrows = be.upload(&pack(&[&q])).unwrap();
    let kv = be.upload(&pack(&[&k, &v])).unwrap();
    let layout = FlashLayout { heads: h, q_off: 0, k_off: 0, v_off: c, causal };
    let (mut out, mut stats) = (be.zeros(&[b, l, c]).unwrap(), be.zeros(&stats_shape(b, h, l)).unwrap());
    flash_forward(be, &mut out, &mut stats, &qrows, &kv, &layout, FlashOptions::default()).unwrap();
    let unpacked = |t: &Tensor, at: usize, n: usize| unpack(t, at, [b, h, n, e]);
    check(format!("{name} flash output"), &unpacked(&be.read(&out).unwrap(), 0, l), &case["output"]);
    let dout = be.upload(&pack(&[&host(&case["grad_output"])])).unwrap();
    let (dq, dkv) = (be.zeros(&[b, l, c]).unwrap(), be.zeros(&[b, s, 2 * c]).unwrap());
    flash_backward(be, &dq, &dkv, &stats, &qrows, &kv, &out, &dout, &layout, FlashOptions::default()).unwrap();
    let (dq, dkv) = (be.read(&dq).unwrap(), be.read(&dkv).unwrap());
    for (n, g) in [("query", unpacked(&dq, 0, l)), ("key", unpacked(&dkv, 0, s)), ("value", unpacked(&dkv, c, s))] {
        check(format!("{name} flash grad {n}"), &g, &case["grads"][n]);
    }
}

/// `[B, H, N, E]` tensors side by side as `[B, N, Σ H·E]` rows (each head's E columns in turn).
fn pack(parts: &[&Tensor]) -> Tensor {
    let &[b, h, n, e] = parts[0].shape() else { panic!("[B, H, N, E]") };
    let mut rows = Vec::with_capacity(parts.len() * b * n * h * e);
    for bi in 0..b {
        for i in 0..n {
            for t in parts {
                for hi in 0..h {
                    let at = ((bi * h + hi) * n + i) * e;
                    rows.extend_from_slice(&t.data()[at..at + e]);
                }
            }
        }
    }
    Tensor::from_vec(&[b, n, parts.len() * h * e], rows).unwrap()
}

/// The `[B, H, N, E]` tensor whose heads start at column `at` of `[B, N, W]` rows.
fn unpack(rows: &Tensor, at: usize, [b, h, n, e]: [usize; 4]) -> Tensor {
    let w = rows.shape()[2];
    let mut out = Vec::with_capacity(b * h * n * e);
    for bi in 0..b {
        for hi in 0..h {
            for i in 0..n {
                let from = (bi * n + i) * w + at + hi * e;
                out.extend_from_slice(&rows.data()[from..from + e]);
            }
        }
    }
    Tensor::from_vec(&[b, h, n, e], out).unwrap()
}

fn report(path: &str, (ran, (err, at)): (usize, (f64, String))) {
    eprintln!("{path}: {ran} layer cases; worst relative error {err:.3e} at {at}");
    let cases = load("layers.json")["meta"]["n_cases"].as_u64().unwrap() as usize;
    assert_eq!(ran, cases, "every case of layers.json runs");
}

#[test]
fn cpu_path_matches_pytorch_on_every_layer_case() {
    report("cpu path", run_all(&CpuBackend::new()));
}

#[test]
fn gpu_path_matches_pytorch_on_every_layer_case() {
    let Some(g) = gpu() else { return };
    report(&g.describe(), run_all(g));
}
