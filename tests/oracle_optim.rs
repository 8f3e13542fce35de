//! Every optimizer against PyTorch (tests/fixtures/oracle/optimizers.json; Lion against its
//! float64 reference): every case, every step (22 × 25 in today's fixture) on three tensors, on both paths, used standalone
//! (as torch.optim is) on a flat buffer, then the final state under PyTorch's names.

mod common;

use common::oracle::{host, load, optimizer_config as config, tensor};
use common::{gpu, worst_relative};
use downhill::optim::Optimizer;
use downhill::params::{FlatStore, ParamLayout};
use downhill::{Backend, CpuBackend};

/// Required agreement, |got − want| / max(|want|, 1) as the oracle's own cross-check measures it.
const TOL: f64 = 1e-5;

/// Runs every case on `be`; returns the worst error seen per case.
fn run_all<B: Backend>(be: &B) -> Vec<(String, f64)> {
    let oracle = load("optimizers.json");
    let names: Vec<String> =
        oracle["param_names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
    let shapes: Vec<(String, Vec<usize>)> =
        names.iter().map(|n| (n.clone(), host(&oracle["initial_params"][n]).shape().to_vec())).collect();
    let layout = ParamLayout::new(&shapes).unwrap();
    let mut report = Vec::new();
    for case in oracle["cases"].as_array().unwrap() {
        let case_name = case["name"].as_str().unwrap();
        let cfg = config(case["optimizer"].as_str().unwrap(), &case["hyperparameters"]);
        let mut params = FlatStore::zeros(be, &layout).unwrap();
        let mut grads = FlatStore::zeros(be, &layout).unwrap();
        for n in &names {
            params.load(be, n, &host(&oracle["initial_params"][n])).unwrap();
        }
        let mut opt = Optimizer::new(be, cfg, &layout, &[]).unwrap();
        let mut worst = 0.0f64;
        for (t, step_grads) in oracle["grads"].as_array().unwrap().iter().enumerate() {
            for n in &names {
                grads.load(be, n, &host(&step_grads[n])).unwrap();
            }
            opt.step(be, params.flat_mut(), grads.flat()).unwrap();
            for n in &names {
                let got = params.read(be, n).unwrap();
                let want = tensor(&case["expected_params"][t][n]).1;
                let (err, i) = worst_relative(got.data(), &want, 1.0);
                assert!(
                    err <= TOL,
                    "{case_name} step {}: {n}[{i}] = {} but PyTorch has {} (error {err:e} > {TOL:e})",
                    t + 1,
                    got.data()[i],
                    want[i]
                );
                worst = worst.max(err);
            }
        }
        let steps = oracle["grads"].as_array().unwrap().len();
        if let Some(final_state) = case.get("final_state") {
            let state = opt.state(be).unwrap();
            assert_eq!(state.step, steps as u64);
            for n in &names {
                for (key, value) in final_state[n].as_object().unwrap() {
                    match key.as_str() {
                        "step" => assert_eq!(value.as_f64().unwrap(), steps as f64),
                        "mu_product" => {
                            let want = value.as_f64().unwrap();
                            assert!(
                                (state.mu_product as f64 - want).abs() <= 1e-7 * want.abs(),
                                "{case_name} mu_product"
                            );
                        }
                        _ => {
                            let full = format!("{n}.{key}");
                            let got = &state
                                .tensors
                                .iter()
                                .find(|(k, _)| *k == full)
                                .unwrap_or_else(|| panic!("{case_name}: no {full}"))
                                .1;
                            let want = tensor(value).1;
                            let (err, i) = worst_relative(got.data(), &want, 1e-3);
                            assert!(
                                err <= 1e-4,
                                "{case_name} final state {full}[{i}]: {} vs {} ({err:e})",
                                got.data()[i],
                                want[i]
                            );
                        }
                    }
                }
            }
        }
        report.push((case_name.to_string(), worst));
    }
    report
}

fn print(path: &str, report: &[(String, f64)]) {
    let worst = report.iter().cloned().fold((String::new(), 0.0), |a, b| if b.1 >= a.1 { b } else { a });
    eprintln!("{path}: worst parameter error over {} cases, every step: {:.3e} ({})", report.len(), worst.1, worst.0);
    for (name, err) in report {
        eprintln!("    {name:<28} {err:.3e}");
    }
}

#[test]
fn cpu_optimizers_match_pytorch_at_every_step() {
    print("cpu path", &run_all(&CpuBackend::new()));
}

#[test]
fn gpu_optimizers_match_pytorch_at_every_step() {
    let Some(g) = gpu() else { return };
    print(&g.describe(), &run_all(g));
}
