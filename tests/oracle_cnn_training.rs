//! The small CNN of tests/fixtures/oracle/cnn_training.json against PyTorch on both paths:
//! activations, output, loss and gradients at init; 5 full-batch steps with Adam and with
//! SGD-momentum; and a 10-epoch mini-batch SGD run on sklearn digits as [N, 1, 8, 8] images,
//! epoch by epoch. The model is built from the fixture's architecture list and every setting
//! is read from the fixture.

mod common;

use common::oracle::{host, load, optimizer_config, tensor, torch_module_spec};
use common::{gpu, worst_relative};
use downhill::data::{Dataset, Targets};
use downhill::loss::{LossKind, Target};
use downhill::nn::{Init, Model, ModelSpec};
use downhill::optim::Optimizer;
use downhill::train::{BatchSize, TrainConfig, Trainer};
use downhill::{Backend, CpuBackend, Tensor};
use serde_json::Value;

const RTOL: f64 = 1e-5;
const FLOOR: f64 = 1e-1;

/// The spec text of the fixture's `architecture` (torch classes with constructor arguments).
fn spec_text(arch: &Value) -> String {
    let modules = arch.as_array().unwrap().iter();
    modules
        .map(|m| torch_module_spec(m["type"].as_str().unwrap(), &m["hyperparameters"], None))
        .collect::<Vec<_>>()
        .join(" ")
}

fn params(v: &Value) -> Vec<(String, Tensor)> {
    v.as_object().unwrap().iter().map(|(k, t)| (k.clone(), host(t))).collect()
}

fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs().max(1e-12)
}

/// Fails unless `got` matches the fixture tensor within RTOL (with the floor rule); returns the error.
fn check(what: &str, got: &Tensor, want: &Value) -> f64 {
    let (shape, want) = tensor(want);
    assert_eq!(got.shape(), shape.as_slice(), "{what}: shape");
    let largest = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let (err, i) = worst_relative(got.data(), &want, FLOOR * largest);
    assert!(err <= RTOL, "{what}[{i}]: {} vs torch {} ({err:e})", got.data()[i], want[i]);
    err
}

/// Init checks and the two 5-step runs; returns the worst relative error.
fn full_batch<B: Backend>(be: &B) -> f64 {
    let o = &load("cnn_training.json")["full_batch"];
    let x = host(&o["inputs"]);
    let classes = o["num_classes"].as_u64().unwrap() as usize;
    let labels: Vec<u32> = tensor(&o["targets"]).1.iter().map(|&v| v as u32).collect();
    let spec = ModelSpec::parse(&spec_text(&o["architecture"]), &x.shape()[1..], classes, Init::TorchDefault).unwrap();
    let names: Vec<String> = spec.param_shapes().into_iter().map(|(n, _)| n).collect();
    let want_names: Vec<&str> = o["param_names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, want_names, "state_dict names of the equivalent nn.Sequential");
    let mut worst = 0.0f64;

    let mut model = Model::new(be, spec.clone(), 0).unwrap();
    model.load(be, &params(&o["initial_params"])).unwrap();
    let xb = be.upload(&x).unwrap();
    let out = be.read(model.forward(be, &xb, true).unwrap()).unwrap();
    worst = worst.max(check("output_at_init", &out, &o["output_at_init"]));
    let lb = be.upload_labels(&labels, classes).unwrap();
    model.loss(be, LossKind::CrossEntropy, &Target::Labels(&lb)).unwrap();
    model.zero_grad(be).unwrap();
    model.backward(be, &xb, false).unwrap();
    let loss = be.read(model.loss_tensor().unwrap()).unwrap().data()[0] as f64;
    let e = rel(loss, o["loss_at_init"].as_f64().unwrap());
    assert!(e <= RTOL, "loss_at_init {loss} ({e:e})");
    for name in &names {
        worst =
            worst.max(check(&format!("grad {name}"), &model.grads.read(be, name).unwrap(), &o["grads_at_init"][name]));
    }

    let flat = Tensor::from_vec(&[x.shape()[0], x.len() / x.shape()[0]], x.data().to_vec()).unwrap();
    let data = Dataset::new(flat, Targets::Labels { labels, classes }).unwrap();
    let order: Vec<usize> = (0..data.len()).collect();
    for (run, want) in o["training"].as_object().unwrap() {
        let cfg = optimizer_config(want["optimizer"].as_str().unwrap(), &want["hyperparameters"]);
        let mut model = Model::new(be, spec.clone(), 0).unwrap();
        model.load(be, &params(&o["initial_params"])).unwrap();
        let opt = Optimizer::new(be, cfg, &spec.layout().unwrap(), &[]).unwrap();
        let config = TrainConfig { batch_size: BatchSize::Full, shuffle: false, ..Default::default() };
        let mut trainer = Trainer::new(be, model, opt, LossKind::CrossEntropy, config).unwrap();
        let losses = want["losses_before_each_step"].as_array().unwrap();
        for (k, w) in losses.iter().enumerate() {
            let got = trainer.run_epoch(be, &data, &order).unwrap().mean_batch_loss;
            let e = rel(got, w.as_f64().unwrap());
            assert!(e <= RTOL, "{run}: loss before step {k}: {got} vs torch {w} ({e:e})");
            worst = worst.max(e);
        }
        let steps = losses.len();
        let after = trainer.evaluate(be, &data).unwrap().loss;
        let e = rel(after, want[format!("eval_loss_after_{steps}_steps")].as_f64().unwrap());
        assert!(e <= RTOL, "{run}: eval loss after {steps} steps {after} ({e:e})");
        for (name, got) in trainer.model.params.read_all(be).unwrap() {
            worst = worst.max(check(
                &format!("{run} {name} after {steps} steps"),
                &got,
                &want[format!("params_after_{steps}_steps")][&name],
            ));
        }
    }
    worst
}

/// The digits run, epoch by epoch; returns the worst relative loss error.
fn digits<B: Backend>(be: &B, tol: f64) -> f64 {
    let o = &load("cnn_training.json")["digits"];
    let raw = tensor(&o["X_raw"]).1;
    let labels: Vec<u32> = tensor(&o["labels"]).1.iter().map(|&v| v as u32).collect();
    let f64s = |k: &str| -> Vec<f64> { o[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
    let (mean, std) = (f64s("standardize_mean_f64"), f64s("standardize_std_f64"));
    let split: Vec<usize> = o["split_perm"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let n_train = o["n_train"].as_u64().unwrap() as usize;
    let image: Vec<usize> = o["image_shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let f: usize = image.iter().product();
    let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let rows = |idx: &[usize]| {
        let x: Vec<f32> = idx
            .iter()
            .flat_map(|&r| (0..f).map(move |c| (r, c)))
            .map(|(r, c)| ((raw[r * f + c] - mean[c]) / std[c]) as f32)
            .collect();
        let l = idx.iter().map(|&r| labels[r]).collect();
        Dataset::new(Tensor::from_vec(&[idx.len(), f], x).unwrap(), Targets::Labels { labels: l, classes }).unwrap()
    };
    let (train, test) = (rows(&split[..n_train]), rows(&split[n_train..]));
    let spec = ModelSpec::parse(&spec_text(&o["architecture"]), &image, classes, Init::TorchDefault).unwrap();
    let mut model = Model::new(be, spec.clone(), 0).unwrap();
    model.load(be, &params(&o["initial_params"])).unwrap();
    let cfg = optimizer_config(o["optimizer"].as_str().unwrap(), &o["hyperparameters"]);
    let opt = Optimizer::new(be, cfg, &spec.layout().unwrap(), &[]).unwrap();
    let batch = o["batch_size"].as_u64().unwrap() as usize;
    let config = TrainConfig { batch_size: BatchSize::Rows(batch), shuffle: false, ..Default::default() };
    let mut trainer = Trainer::new(be, model, opt, LossKind::CrossEntropy, config).unwrap();
    let h = &o["history"];
    let mut worst = 0.0f64;
    let mut close = |what: String, got: f64, want: &Value| {
        let e = rel(got, want.as_f64().unwrap());
        assert!(e <= tol, "digits CNN {what}: {got} vs torch {want} ({e:e} > {tol:e})");
        worst = worst.max(e);
    };
    let init = trainer.evaluate(be, &train).unwrap();
    close("initial train_loss".into(), init.loss, &h["initial"]["train_loss"]);
    let perms = o["perms"].as_array().unwrap();
    assert_eq!(perms.len() as u64, o["epochs"].as_u64().unwrap());
    for (e, perm) in perms.iter().enumerate() {
        let order: Vec<usize> = perm.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let stats = trainer.run_epoch(be, &train, &order).unwrap();
        close(format!("epoch {e} mean batch loss"), stats.mean_batch_loss, &h["epoch_mean_batch_loss"][e]);
        let tr = trainer.evaluate(be, &train).unwrap();
        let te = trainer.evaluate(be, &test).unwrap();
        close(format!("epoch {e} train_loss"), tr.loss, &h["train_loss"][e]);
        close(format!("epoch {e} test_loss"), te.loss, &h["test_loss"][e]);
        for (what, got, want, n) in [
            ("train", tr.accuracy.unwrap(), &h["train_accuracy"][e], train.len()),
            ("test", te.accuracy.unwrap(), &h["test_accuracy"][e], test.len()),
        ] {
            let want = want.as_f64().unwrap();
            assert!(
                (got - want).abs() * n as f64 <= 1.0 + 1e-9,
                "digits CNN epoch {e}: {what} accuracy {got} vs torch {want}"
            );
        }
    }
    worst
}

#[test]
fn cpu_cnn_full_batch_matches_pytorch() {
    eprintln!("cpu path: CNN init + 5-step Adam/SGD runs: worst relative error {:.3e}", full_batch(&CpuBackend::new()));
}

#[test]
fn gpu_cnn_full_batch_matches_pytorch() {
    let Some(g) = gpu() else { return };
    eprintln!("{}: CNN init + 5-step runs: worst relative error {:.3e}", g.describe(), full_batch(g));
}

#[test]
fn cpu_cnn_digits_run_matches_pytorch() {
    eprintln!("cpu path: CNN digits run: worst relative loss error {:.3e}", digits(&CpuBackend::new(), 1e-4));
}

#[test]
fn gpu_cnn_digits_run_matches_pytorch() {
    let Some(g) = gpu() else { return };
    eprintln!("{}: CNN digits run: worst relative loss error {:.3e}", g.describe(), digits(g, 1e-3));
}
