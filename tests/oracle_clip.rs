//! Gradient clipping against torch.nn.utils (tests/fixtures/oracle/clipping.json): 6 gradient
//! sets × {L2 norm 1 and 5, ∞ norm, L1 norm, value}, on both paths, applied the way training
//! applies it: on the device, inside the optimizer step. An SGD step with lr 1 from zero
//! parameters leaves exactly −(clipped gradient) in the parameters.

mod common;

use common::oracle::{host, load, tensor};
use common::{gpu, worst_relative};
use downhill::ops::reduce;
use downhill::optim::{Clip, Optimizer, OptimizerConfig, SgdConfig};
use downhill::params::{FlatStore, ParamLayout};
use downhill::{Backend, CpuBackend};

/// Returns (worst clipped-gradient error, worst norm error).
fn run_all<B: Backend>(be: &B) -> (f64, f64) {
    let oracle = load("clipping.json");
    let names: Vec<String> =
        oracle["param_names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
    let first_set = oracle["grad_sets"].as_object().unwrap().values().next().unwrap();
    let shapes: Vec<(String, Vec<usize>)> =
        names.iter().map(|n| (n.clone(), host(&first_set[n]).shape().to_vec())).collect();
    let layout = ParamLayout::new(&shapes).unwrap();
    let (mut worst_grad, mut worst_norm) = (0.0f64, 0.0f64);
    // Every case twice: the optimizer reducing the gradients itself, and given their sum of
    // squares as the trainer hands it over (`step_with_sum_squares`).
    for (case, given_sum) in oracle["cases"].as_array().unwrap().iter().flat_map(|c| [(c, false), (c, true)]) {
        let set = case["grad_set"].as_str().unwrap();
        let args = &case["args"];
        let clip = match case["op"].as_str().unwrap() {
            "clip_grad_value_" => Clip::Value(args["clip_value"].as_f64().unwrap()),
            "clip_grad_norm_" => {
                let max = args["max_norm"].as_f64().unwrap();
                match (args["norm_type"].as_f64(), args["norm_type"].as_str()) {
                    (Some(2.0), _) => Clip::L2Norm(max),
                    (Some(1.0), _) => Clip::L1Norm(max),
                    (_, Some("inf")) => Clip::InfNorm(max),
                    other => panic!("unexpected norm_type {other:?}"),
                }
            }
            other => panic!("unknown op {other}"),
        };
        let what = format!("{set} {clip:?}{}", if given_sum { " (sum of squares given)" } else { "" });
        let mut params = FlatStore::zeros(be, &layout).unwrap();
        let mut grads = FlatStore::zeros(be, &layout).unwrap();
        for n in &names {
            grads.load(be, n, &host(&oracle["grad_sets"][set][n])).unwrap();
        }
        let sgd = OptimizerConfig::Sgd(SgdConfig { lr: 1.0, ..Default::default() });
        let mut opt = Optimizer::new(be, sgd, &layout, &[]).unwrap();
        opt.set_clip(clip).unwrap();
        if given_sum {
            let mut sum = be.zeros(&[1]).unwrap();
            reduce::sum_squares(be, &mut sum, grads.flat()).unwrap();
            opt.step_with_sum_squares(be, params.flat_mut(), grads.flat(), &sum).unwrap();
        } else {
            opt.step(be, params.flat_mut(), grads.flat()).unwrap();
        }
        for n in &names {
            let got: Vec<f32> = params.read(be, n).unwrap().data().iter().map(|v| -v).collect();
            let want = tensor(&case["clipped_grads"][n]).1;
            let (err, i) = worst_relative(&got, &want, 1e-6);
            assert!(err <= 1e-5, "{what}: clipped {n}[{i}] = {} but torch has {} ({err:e})", got[i], want[i]);
            worst_grad = worst_grad.max(err);
        }
        if let Some(want) = case.get("total_norm_returned").and_then(|v| v.as_f64()) {
            let got = opt.last_grad_norm(be).unwrap().expect("norm clipping reports the pre-clip norm");
            let err = (got - want).abs() / want.max(1e-12);
            let err = if want == 0.0 { got.abs() } else { err };
            assert!(err <= 1e-5, "{what}: pre-clip norm {got} but torch returned {want}");
            worst_norm = worst_norm.max(err);
        }
    }
    (worst_grad, worst_norm)
}

#[test]
fn cpu_clipping_matches_torch() {
    let (g, n) = run_all(&CpuBackend::new());
    eprintln!("cpu path: clipped gradients worst relative error {g:.3e}; pre-clip norms {n:.3e}");
}

#[test]
fn gpu_clipping_matches_torch() {
    let Some(be) = gpu() else { return };
    let (g, n) = run_all(be);
    eprintln!("{}: clipped gradients worst relative error {g:.3e}; pre-clip norms {n:.3e}", be.describe());
}
