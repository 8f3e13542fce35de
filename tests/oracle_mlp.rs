//! Both paths against PyTorch (tests/fixtures/oracle/mlp.json): the 13→32→16→3 MLP at its
//! initial weights, for all 7 activations × 3 losses: output, loss and every parameter gradient,
//! computed by `nn::Model` with its parameters and gradients in flat buffers.

mod common;

use common::oracle::{host, load, sequential_name, tensor};
use common::{gpu, worst_relative};
use downhill::loss::{LossKind, Target};
use downhill::nn::{Init, Model, ModelSpec};
use downhill::{Activation, Backend, CpuBackend, Tensor};

/// The required agreement: relative error at most 1e-5 for every element.
const RTOL: f64 = 1e-5;
/// Elements below FLOOR × (the tensor's largest magnitude) are measured against that floor
/// instead of their own size: PyTorch's float32 gradients are themselves off from float64 by
/// up to 6e-8 absolute (`f64_shadow`), so the relative error of an element near 0 only
/// measures that rounding, not the engine.
const FLOOR: f64 = 1e-1;

/// Runs every case on `be`; returns the worst relative error seen for outputs, losses and
/// gradients, each with where it happened.
fn run_all<B: Backend>(be: &B) -> [(f64, String); 3] {
    let oracle = load("mlp.json");
    let names: Vec<&str> = oracle["param_names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let params: Vec<(String, Tensor)> =
        names.iter().map(|&n| (sequential_name(n), host(&oracle["initial_params"][n]))).collect();
    let dims: Vec<usize> = oracle["dims"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let x = be.upload(&host(&oracle["inputs"])).unwrap();
    let mut worst: [(f64, String); 3] = Default::default();
    let mut check = |family: usize, what: String, got: &[f32], want: &[f64]| {
        let largest = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let (err, i) = worst_relative(got, want, FLOOR * largest);
        assert!(
            err <= RTOL,
            "{what}: element {i}: got {} want {} (relative error {err:e} > {RTOL:e})",
            got[i],
            want[i]
        );
        if err >= worst[family].0 {
            worst[family] = (err, format!("{what}[{i}]"));
        }
    };
    for case in oracle["cases"].as_array().unwrap() {
        let act: Activation = case["activation"].as_str().unwrap().parse().unwrap();
        let loss_name = case["loss"].as_str().unwrap();
        let targets = &oracle["targets"][loss_name];
        let mut model = Model::new(be, ModelSpec::mlp(&dims, act, 0.0, Init::TorchDefault).unwrap(), 0).unwrap();
        model.load(be, &params).unwrap();
        let output = be.read(model.forward(be, &x, true).unwrap()).unwrap();
        match loss_name {
            "mse" | "bce_with_logits" => {
                let t = be.upload(&host(targets)).unwrap();
                model.loss(be, loss_name.parse::<LossKind>().unwrap(), &Target::Values(&t)).unwrap();
            }
            "cross_entropy" => {
                let labels: Vec<u32> = tensor(targets).1.iter().map(|&v| v as u32).collect();
                let l = be.upload_labels(&labels, dims[3]).unwrap();
                model.loss(be, LossKind::CrossEntropy, &Target::Labels(&l)).unwrap();
            }
            other => panic!("unknown loss {other}"),
        }
        model.zero_grad(be).unwrap();
        model.backward(be, &x, false).unwrap();
        let loss = be.read(model.loss_tensor().unwrap()).unwrap().data()[0];
        let tag = format!("{}+{loss_name}", act.name());
        check(0, format!("{tag} output_at_init"), output.data(), &tensor(&case["output_at_init"]).1);
        check(1, format!("{tag} loss_at_init"), &[loss], &[case["loss_at_init"].as_f64().unwrap()]);
        for name in &names {
            let got = model.grads.read(be, &sequential_name(name)).unwrap();
            check(2, format!("{tag} {name}"), got.data(), &tensor(&case["grads_at_init"][*name]).1);
        }
    }
    worst
}

#[test]
fn cpu_path_matches_pytorch_on_all_21_mlp_cases() {
    report("cpu path", run_all(&CpuBackend::new()));
}

#[test]
fn gpu_path_matches_pytorch_on_all_21_mlp_cases() {
    let Some(g) = gpu() else { return };
    report(&g.describe(), run_all(g));
}

fn report(path: &str, worst: [(f64, String); 3]) {
    for (family, (err, at)) in ["outputs", "losses", "gradients"].iter().zip(worst) {
        eprintln!("{path}: {family}: worst relative error {err:.3e} at {at}");
    }
}
