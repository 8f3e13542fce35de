//! Every optimizer against PyTorch (tests/fixtures/oracle/optimizers.json; Lion against its
//! float64 reference): 22 cases × 25 steps on three tensors, on both paths, used standalone
//! (as torch.optim is) on a flat buffer, then the final state under PyTorch's names.

mod common;

use common::oracle::{host, load, tensor};
use common::{gpu, worst_relative};
use downhill::optim::{
    AdagradConfig, AdamConfig, AdamaxConfig, LionConfig, NadamConfig, Optimizer, OptimizerConfig, RadamConfig,
    RmspropConfig, SgdConfig,
};
use downhill::params::{FlatStore, ParamLayout};
use downhill::{Backend, CpuBackend};
use serde_json::Value;

/// Builds the downhill config from the case's PyTorch hyperparameters (all given explicitly).
pub fn config(optimizer: &str, h: &Value) -> OptimizerConfig {
    let f = |k: &str| h[k].as_f64().unwrap_or_else(|| panic!("{optimizer}: missing {k}"));
    let b = |k: &str| h[k].as_bool().unwrap_or_else(|| panic!("{optimizer}: missing {k}"));
    let betas = || (h["betas"][0].as_f64().unwrap(), h["betas"][1].as_f64().unwrap());
    match optimizer {
        "SGD" => OptimizerConfig::Sgd(SgdConfig {
            lr: f("lr"),
            momentum: f("momentum"),
            dampening: f("dampening"),
            weight_decay: f("weight_decay"),
            nesterov: b("nesterov"),
        }),
        "Adam" | "AdamW" => OptimizerConfig::Adam(AdamConfig {
            lr: f("lr"),
            betas: betas(),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
            amsgrad: b("amsgrad"),
            decoupled_weight_decay: optimizer == "AdamW",
        }),
        "RMSprop" => OptimizerConfig::Rmsprop(RmspropConfig {
            lr: f("lr"),
            alpha: f("alpha"),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
            momentum: f("momentum"),
            centered: b("centered"),
        }),
        "Adagrad" => OptimizerConfig::Adagrad(AdagradConfig {
            lr: f("lr"),
            lr_decay: f("lr_decay"),
            weight_decay: f("weight_decay"),
            initial_accumulator_value: f("initial_accumulator_value"),
            eps: f("eps"),
        }),
        "Adamax" => OptimizerConfig::Adamax(AdamaxConfig {
            lr: f("lr"),
            betas: betas(),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
        }),
        "NAdam" => OptimizerConfig::Nadam(NadamConfig {
            lr: f("lr"),
            betas: betas(),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
            momentum_decay: f("momentum_decay"),
            decoupled_weight_decay: b("decoupled_weight_decay"),
        }),
        "RAdam" => OptimizerConfig::Radam(RadamConfig {
            lr: f("lr"),
            betas: betas(),
            eps: f("eps"),
            weight_decay: f("weight_decay"),
            decoupled_weight_decay: b("decoupled_weight_decay"),
        }),
        o if o.starts_with("Lion") => {
            OptimizerConfig::Lion(LionConfig { lr: f("lr"), betas: betas(), weight_decay: f("weight_decay") })
        }
        other => panic!("unknown optimizer {other}"),
    }
}

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
        if let Some(final_state) = case.get("final_state") {
            let state = opt.state(be).unwrap();
            assert_eq!(state.step, 25);
            for n in &names {
                for (key, value) in final_state[n].as_object().unwrap() {
                    match key.as_str() {
                        "step" => assert_eq!(value.as_f64().unwrap(), 25.0),
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
    eprintln!("{path}: worst parameter error over 22 cases × 25 steps: {:.3e} ({})", worst.1, worst.0);
    for (name, err) in report {
        eprintln!("    {name:<28} {err:.3e}");
    }
}

#[test]
fn cpu_optimizers_match_pytorch_for_25_steps() {
    print("cpu path", &run_all(&CpuBackend::new()));
}

#[test]
fn gpu_optimizers_match_pytorch_for_25_steps() {
    let Some(g) = gpu() else { return };
    print(&g.describe(), &run_all(g));
}
