//! The newer optimizers against their references (tests/fixtures/oracle/optimizers_extra.json,
//! README "Extra optimizers"): every case, every step, on both paths, standalone on a flat
//! buffer, then the final state under the reference's names. Settings come from the fixture.

mod common;

use common::oracle::{host, load, tensor};
use common::{gpu, worst_relative};
use downhill::optim::{
    AdafactorConfig, AdamConfig, LambConfig, MuonConfig, Optimizer, OptimizerConfig, ScheduleFreeConfig, SophiaConfig,
};
use downhill::params::{FlatStore, ParamLayout};
use downhill::{Backend, CpuBackend};
use serde_json::Value;

/// Required agreement, |got − want| / max(|want|, 1) (the README's measure).
const TOL: f64 = 1e-5;

fn names(case: &Value) -> Vec<String> {
    case["param_names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect()
}

/// The case's parameters in a flat store, its gradients' store and the layout.
fn setup<B: Backend>(be: &B, oracle: &Value, names: &[String]) -> (ParamLayout, FlatStore<B>, FlatStore<B>) {
    let shapes: Vec<(String, Vec<usize>)> =
        names.iter().map(|n| (n.clone(), host(&oracle["initial_params"][n]).shape().to_vec())).collect();
    let layout = ParamLayout::new(&shapes).unwrap();
    let mut params = FlatStore::zeros(be, &layout).unwrap();
    for n in names {
        params.load(be, n, &host(&oracle["initial_params"][n])).unwrap();
    }
    let grads = FlatStore::zeros(be, &layout).unwrap();
    (layout, params, grads)
}

/// Fails unless every tensor of `store` is within TOL of `want[name]`; returns the worst error.
fn check<B: Backend>(be: &B, what: &str, store: &FlatStore<B>, want: &Value, names: &[String]) -> f64 {
    let mut worst = 0.0f64;
    for n in names {
        let got = store.read(be, n).unwrap();
        let want = tensor(&want[n]).1;
        let (err, i) = worst_relative(got.data(), &want, 1.0);
        assert!(err <= TOL, "{what}: {n}[{i}] = {} but the reference has {} (error {err:e})", got.data()[i], want[i]);
        worst = worst.max(err);
    }
    worst
}

/// Fails unless the optimizer's state tensors match the case's `final_state` (numbers such as
/// `step` are the step count).
fn check_state<B: Backend>(be: &B, case: &Value, opt: &Optimizer<B>, names: &[String], steps: usize) {
    let state = opt.state(be).unwrap();
    let case_name = case["name"].as_str().unwrap();
    for n in names {
        for (key, value) in case["final_state"][n].as_object().unwrap() {
            if key == "step" {
                assert_eq!(value.as_f64().unwrap(), steps as f64, "{case_name} {n}.step");
                continue;
            }
            let full = format!("{n}.{key}");
            let got =
                &state.tensors.iter().find(|(k, _)| *k == full).unwrap_or_else(|| panic!("{case_name}: no {full}")).1;
            let (err, i) = worst_relative(got.data(), &tensor(value).1, 1e-3);
            assert!(err <= 1e-4, "{case_name} final {full}[{i}] = {} (error {err:e})", got.data()[i]);
        }
    }
}

/// The optimizers of the fixture this file runs, by the fixture's names.
const RUN_HERE: [&str; 5] = ["SophiaG", "AdamWScheduleFree", "LAMB", "Adafactor", "Muon"];

/// The fixture's cases of `optimizer` (one of [`RUN_HERE`]); at least one, so a misspelt name
/// cannot make a runner check nothing.
fn cases<'a>(oracle: &'a Value, optimizer: &'a str) -> Vec<&'a Value> {
    assert!(RUN_HERE.contains(&optimizer), "{optimizer} is not in RUN_HERE");
    let found: Vec<&Value> =
        oracle["cases"].as_array().unwrap().iter().filter(|c| c["optimizer"] == optimizer).collect();
    assert!(!found.is_empty(), "the fixture has no {optimizer} case");
    found
}

/// Every case of the fixture belongs to an optimizer a runner here checks.
#[test]
fn every_fixture_case_is_run() {
    let oracle = load("optimizers_extra.json");
    for case in oracle["cases"].as_array().unwrap() {
        let name = case["optimizer"].as_str().unwrap();
        assert!(RUN_HERE.contains(&name), "case {} of {name}: no runner", case["name"]);
    }
}

/// What a case runner does after each step, given the optimizer, params, grads and step t;
/// returns the worst error of any extra check.
type AfterStep<'a, B> = dyn FnMut(&mut Optimizer<B>, &mut FlatStore<B>, &mut FlatStore<B>, usize) -> f64 + 'a;

/// One case: `config` through the fixture's gradients, the params checked against
/// `case[expected][t]` after every step, then `after`, then the final state. Returns the
/// optimizer and the worst error.
fn run_case<B: Backend>(
    be: &B,
    oracle: &Value,
    case: &Value,
    config: OptimizerConfig,
    expected: &str,
    after: &mut AfterStep<'_, B>,
) -> (Optimizer<B>, f64) {
    let case_name = case["name"].as_str().unwrap();
    let names = names(case);
    let (layout, mut params, mut grads) = setup(be, oracle, &names);
    let mut opt = Optimizer::new(be, config, &layout, &[]).unwrap();
    let mut worst = 0.0f64;
    let steps = oracle["grads"].as_array().unwrap().len();
    for t in 0..steps {
        for n in &names {
            grads.load(be, n, &host(&oracle["grads"][t][n])).unwrap();
        }
        opt.step(be, params.flat_mut(), grads.flat()).unwrap();
        let what = format!("{case_name} step {}", t + 1);
        worst = worst.max(check(be, &what, &params, &case[expected][t], &names));
        worst = worst.max(after(&mut opt, &mut params, &mut grads, t));
    }
    check_state(be, case, &opt, &names, steps);
    (opt, worst)
}

/// Sophia-G cases: `step(bs)` every iteration, the Hessian EMA from `hessian_grads[t]` after
/// iterations t with (t + 1) % k == 0, as the official training script.
fn sophia_cases<B: Backend>(be: &B) -> Vec<(String, f64)> {
    let oracle = load("optimizers_extra.json");
    let mut report = Vec::new();
    for case in cases(&oracle, "SophiaG") {
        let case_name = case["name"].as_str().unwrap();
        let names = names(case);
        let k = case["hessian_update_interval"].as_u64().unwrap();
        let bs = case["step_kwargs"]["bs"].as_f64().unwrap();
        let config = OptimizerConfig::Sophia(SophiaConfig::from_reference(&case["hyperparameters"], bs, k).unwrap());
        let mut hessian_steps = Vec::new();
        let (_, worst) = run_case(be, &oracle, case, config, "expected_params", &mut |opt, params, grads, t| {
            if (t as u64 + 1).is_multiple_of(k) {
                for n in &names {
                    grads.load(be, n, &host(&oracle["hessian_grads"][t][n])).unwrap();
                }
                opt.update_hessian(be, params.flat_mut(), grads.flat()).unwrap();
                hessian_steps.push(t);
            }
            0.0
        });
        let want: Vec<usize> =
            case["hessian_update_steps"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(hessian_steps, want, "{case_name}: the Hessian is refreshed when the reference refreshes it");
        report.push((case_name.to_string(), worst));
    }
    report
}

#[test]
fn sophia_matches_the_official_implementation_on_the_cpu_path() {
    for (case, worst) in sophia_cases(&CpuBackend::new()) {
        eprintln!("{case}: worst relative error {worst:e}");
    }
}

#[test]
fn sophia_matches_the_official_implementation_on_the_gpu_path() {
    let Some(g) = gpu() else { return };
    for (case, worst) in sophia_cases(g) {
        eprintln!("{case}: worst relative error {worst:e}");
    }
}

#[test]
fn sophia_settings_out_of_range_are_refused() {
    let be = CpuBackend::new();
    let layout = ParamLayout::new(&[("w", vec![3])]).unwrap();
    let d = SophiaConfig::default();
    for (c, want) in [
        (SophiaConfig { rho: 0.0, ..d }, "rho"),
        (SophiaConfig { rho: -1.0, ..d }, "rho"),
        (SophiaConfig { hessian_interval: 0, ..d }, "hessian_interval"),
        (SophiaConfig { bs: 0.0, ..d }, "bs"),
        (SophiaConfig { betas: (1.0, 0.99), ..d }, "betas[0]"),
        (SophiaConfig { betas: (0.9, -0.1), ..d }, "betas[1]"),
    ] {
        let err = Optimizer::new(&be, OptimizerConfig::Sophia(c), &layout, &[]).err().expect("refused").to_string();
        assert!(err.contains(want), "expected {want:?} in {err:?}");
    }
    let mut adam = Optimizer::new(&be, OptimizerConfig::Adam(Default::default()), &layout, &[]).unwrap();
    let mut p = be.zeros(&[layout.total()]).unwrap();
    let g = be.zeros(&[layout.total()]).unwrap();
    let err = adam.update_hessian(&be, &mut p, &g).unwrap_err().to_string();
    assert!(err.contains("only Sophia-G"), "{err}");
}

/// Schedule-free AdamW cases: train mode throughout; after each step the params are y
/// (`expected_params`) and eval mode gives x (`expected_eval_params`, which the reference takes
/// from a deep copy: here y is restored exactly after reading x).
fn schedule_free_cases<B: Backend>(be: &B) -> Vec<(String, f64)> {
    let oracle = load("optimizers_extra.json");
    let mut report = Vec::new();
    for case in cases(&oracle, "AdamWScheduleFree") {
        let case_name = case["name"].as_str().unwrap();
        let names = names(case);
        let config =
            OptimizerConfig::ScheduleFree(ScheduleFreeConfig::from_reference(&case["hyperparameters"]).unwrap());
        let (opt, worst) = run_case(be, &oracle, case, config, "expected_params", &mut |opt, params, _, t| {
            let y: Vec<_> = names.iter().map(|n| params.read(be, n).unwrap()).collect();
            opt.eval_mode(be, params.flat_mut()).unwrap();
            assert!(opt.is_eval_mode());
            let what = format!("{case_name} step {} (eval mode)", t + 1);
            let worst = check(be, &what, params, &case["expected_eval_params"][t], &names);
            opt.train_mode(be, params.flat_mut()).unwrap();
            for (n, y) in names.iter().zip(&y) {
                params.load(be, n, y).unwrap();
            }
            worst
        });
        let state = opt.state(be).unwrap();
        let group = &case["final_group_state"];
        let (lr_max, weight_sum) = state.schedule_free[0];
        assert_eq!(state.step, group["k"].as_u64().unwrap());
        assert!((lr_max - group["lr_max"].as_f64().unwrap()).abs() <= 1e-15, "{case_name} lr_max {lr_max}");
        let want = group["weight_sum"].as_f64().unwrap();
        assert!((weight_sum - want).abs() <= 1e-12 * want.abs(), "{case_name} weight_sum {weight_sum} vs {want}");
        report.push((case_name.to_string(), worst));
    }
    report
}

#[test]
fn schedule_free_adamw_matches_the_reference_on_the_cpu_path() {
    for (case, worst) in schedule_free_cases(&CpuBackend::new()) {
        eprintln!("{case}: worst relative error {worst:e}");
    }
}

#[test]
fn schedule_free_adamw_matches_the_reference_on_the_gpu_path() {
    let Some(g) = gpu() else { return };
    for (case, worst) in schedule_free_cases(g) {
        eprintln!("{case}: worst relative error {worst:e}");
    }
}

#[test]
fn schedule_free_refuses_to_step_in_eval_mode_and_its_state_round_trips() {
    let be = CpuBackend::new();
    let layout = ParamLayout::new(&[("w", vec![3])]).unwrap();
    let config = OptimizerConfig::ScheduleFree(ScheduleFreeConfig { lr: 0.1, warmup_steps: 2, ..Default::default() });
    let mut opt = Optimizer::new(&be, config, &layout, &[]).unwrap();
    let mut p = be.upload(&downhill::Tensor::from_vec(&[layout.total()], vec![1.0; layout.total()]).unwrap()).unwrap();
    let g = be.upload(&downhill::Tensor::from_vec(&[layout.total()], vec![0.5; layout.total()]).unwrap()).unwrap();
    opt.eval_mode(&be, &mut p).unwrap();
    assert!(!opt.is_eval_mode(), "before the first step x = y: nothing to switch");
    for _ in 0..3 {
        opt.step(&be, &mut p, &g).unwrap();
    }
    opt.eval_mode(&be, &mut p).unwrap();
    let err = opt.step(&be, &mut p, &g).unwrap_err().to_string();
    assert!(err.contains("eval mode"), "{err}");
    opt.train_mode(&be, &mut p).unwrap();
    let saved = opt.state(&be).unwrap();
    let mut again = Optimizer::new(&be, config, &layout, &[]).unwrap();
    again.load_state(&be, &saved).unwrap();
    let (mut p1, mut p2) = (be.upload(&be.read(&p).unwrap()).unwrap(), be.upload(&be.read(&p).unwrap()).unwrap());
    opt.step(&be, &mut p1, &g).unwrap();
    again.step(&be, &mut p2, &g).unwrap();
    // The 3 elements of `w` (the layout pads to ALIGN; the state holds only the tensor's own).
    assert_eq!(
        be.read(&p1).unwrap().data()[..3],
        be.read(&p2).unwrap().data()[..3],
        "a restored optimizer continues bit for bit"
    );
}

/// LAMB cases (timm): every step; the final moments and the group's step.
fn lamb_cases<B: Backend>(be: &B) -> Vec<(String, f64)> {
    let oracle = load("optimizers_extra.json");
    let mut report = Vec::new();
    for case in cases(&oracle, "LAMB") {
        let config = OptimizerConfig::Lamb(LambConfig::from_reference(&case["hyperparameters"]).unwrap());
        let (opt, worst) = run_case(be, &oracle, case, config, "expected_params", &mut |_, _, _, _| 0.0);
        assert_eq!(opt.step_count() as f64, case["final_group_state"]["step"].as_f64().unwrap());
        report.push((case["name"].as_str().unwrap().to_string(), worst));
    }
    report
}

#[test]
fn lamb_matches_timm_on_the_cpu_path() {
    for (case, worst) in lamb_cases(&CpuBackend::new()) {
        eprintln!("{case}: worst relative error {worst:e}");
    }
}

#[test]
fn lamb_matches_timm_on_the_gpu_path() {
    let Some(g) = gpu() else { return };
    for (case, worst) in lamb_cases(g) {
        eprintln!("{case}: worst relative error {worst:e}");
    }
}

/// Dispatches per call on the GPU, as documented in each optimizer's file.
#[test]
fn the_new_optimizers_dispatch_what_their_files_say() {
    let Some(g) = common::own_gpu() else { return };
    let layout = ParamLayout::new(&[("a", vec![300]), ("b", vec![7, 5]), ("c", vec![3])]).unwrap();
    let n = layout.total();
    let mut p = g.upload(&downhill::Tensor::from_vec(&[n], vec![0.5; n]).unwrap()).unwrap();
    let grads = g.upload(&downhill::Tensor::from_vec(&[n], vec![0.25; n]).unwrap()).unwrap();
    let count = |f: &mut dyn FnMut()| {
        g.sync().unwrap();
        let before = g.recording_stats().unwrap().dispatches;
        f();
        g.sync().unwrap();
        g.recording_stats().unwrap().dispatches - before
    };
    let lamb = |max_grad_norm| OptimizerConfig::Lamb(LambConfig { max_grad_norm, ..Default::default() });
    let mut opt = Optimizer::new(&g, lamb(None), &layout, &[]).unwrap();
    assert_eq!(count(&mut || opt.step(&g, &mut p, &grads).unwrap()), 3, "LAMB: phase 0, trust ratios, phase 1");
    let mut opt = Optimizer::new(&g, lamb(Some(1.0)), &layout, &[]).unwrap();
    assert_eq!(count(&mut || opt.step(&g, &mut p, &grads).unwrap()), 4, "LAMB with max_grad_norm: + Σg²");
    let mut opt = Optimizer::new(&g, OptimizerConfig::Sophia(SophiaConfig::default()), &layout, &[]).unwrap();
    assert_eq!(count(&mut || opt.step(&g, &mut p, &grads).unwrap()), 1, "Sophia-G step");
    assert_eq!(count(&mut || opt.update_hessian(&g, &mut p, &grads).unwrap()), 1, "Sophia-G Hessian EMA");
    let mut opt =
        Optimizer::new(&g, OptimizerConfig::ScheduleFree(ScheduleFreeConfig::default()), &layout, &[]).unwrap();
    assert_eq!(count(&mut || opt.step(&g, &mut p, &grads).unwrap()), 1, "schedule-free step");
    assert_eq!(count(&mut || opt.eval_mode(&g, &mut p).unwrap()), 1, "schedule-free switch to x");
    let mut opt = Optimizer::new(&g, OptimizerConfig::Adafactor(AdafactorConfig::default()), &layout, &[]).unwrap();
    assert_eq!(count(&mut || opt.step(&g, &mut p, &grads).unwrap()), 1, "Adafactor: one workgroup per tensor");
    let mut opt = Optimizer::new(&g, OptimizerConfig::Muon(MuonConfig::default()), &layout, &[]).unwrap();
    assert_eq!(
        count(&mut || opt.step(&g, &mut p, &grads).unwrap()),
        1 + 4 + 7 * 5,
        "Muon: 1 + (4 + 7·ns) per 2-D tensor"
    );
}

/// Adafactor cases (torch.optim.Adafactor): every step; the final row/column statistics (or
/// the vectors' variance) under torch's names and shapes.
fn adafactor_cases<B: Backend>(be: &B) -> Vec<(String, f64)> {
    let oracle = load("optimizers_extra.json");
    let mut report = Vec::new();
    for case in cases(&oracle, "Adafactor") {
        let case_name = case["name"].as_str().unwrap();
        let config = AdafactorConfig::from_reference(&case["hyperparameters"]).unwrap();
        assert_eq!(config.eps1() as f32, case["eps1_resolved"].as_f64().unwrap() as f32, "{case_name}: ε1");
        let config = OptimizerConfig::Adafactor(config);
        let (_, worst) = run_case(be, &oracle, case, config, "expected_params", &mut |_, _, _, _| 0.0);
        report.push((case_name.to_string(), worst));
    }
    report
}

#[test]
fn adafactor_matches_torch_on_the_cpu_path() {
    for (case, worst) in adafactor_cases(&CpuBackend::new()) {
        eprintln!("{case}: worst relative error {worst:e}");
    }
}

#[test]
fn adafactor_matches_torch_on_the_gpu_path() {
    let Some(g) = gpu() else { return };
    for (case, worst) in adafactor_cases(g) {
        eprintln!("{case}: worst relative error {worst:e}");
    }
}

/// Muon cases against the float32 Newton–Schulz trajectory (`expected_params_ns_float32`; torch's
/// own runs the iteration in bfloat16, 2e-3 away from float64). Returns the worst error.
fn muon_cases<B: Backend>(be: &B) -> Vec<(String, f64)> {
    let oracle = load("optimizers_extra.json");
    let mut report = Vec::new();
    for case in cases(&oracle, "Muon") {
        let case_name = case["name"].as_str().unwrap();
        let mut config = MuonConfig::from_reference(&case["hyperparameters"]).unwrap();
        if let Some(groups) = case["param_groups"].as_array() {
            let adamw = groups.iter().find(|g| g["optimizer"] == "AdamW").unwrap();
            let h = &adamw["hyperparameters"];
            config.adamw = AdamConfig {
                lr: h["lr"].as_f64().unwrap(),
                betas: (h["betas"][0].as_f64().unwrap(), h["betas"][1].as_f64().unwrap()),
                eps: h["eps"].as_f64().unwrap(),
                weight_decay: h["weight_decay"].as_f64().unwrap(),
                ..AdamConfig::adamw()
            };
        }
        for (name, ratio) in case["lr_ratio_per_param"].as_object().unwrap() {
            let shape = host(&oracle["initial_params"][name]).shape().to_vec();
            let want = ratio.as_f64().unwrap();
            assert!((config.adjust_lr.ratio(shape[0], shape[1]) - want).abs() < 1e-12, "{case_name} {name} ratio");
        }
        let config = OptimizerConfig::Muon(config);
        let (_, worst) = run_case(be, &oracle, case, config, "expected_params_ns_float32", &mut |_, _, _, _| 0.0);
        report.push((case_name.to_string(), worst));
    }
    report
}

#[test]
fn muon_matches_the_float32_newton_schulz_trajectory_on_the_cpu_path() {
    for (case, worst) in muon_cases(&CpuBackend::new()) {
        eprintln!("{case}: worst relative error {worst:e}");
    }
}

#[test]
fn muon_matches_the_float32_newton_schulz_trajectory_on_the_gpu_path() {
    let Some(g) = gpu() else { return };
    for (case, worst) in muon_cases(g) {
        eprintln!("{case}: worst relative error {worst:e}");
    }
}

#[test]
fn muon_needs_two_dimensional_weights_and_makes_its_own_groups() {
    let be = CpuBackend::new();
    let vectors = ParamLayout::new(&[("bias", vec![4]), ("gain", vec![4])]).unwrap();
    let err =
        Optimizer::new(&be, OptimizerConfig::Muon(MuonConfig::default()), &vectors, &[]).err().unwrap().to_string();
    assert!(err.contains("has none"), "{err}");
    let layout = ParamLayout::new(&[("w", vec![3, 4]), ("b", vec![3])]).unwrap();
    let group = downhill::optim::ParamGroup { params: vec!["b".into()], lr: Some(0.1), weight_decay: None };
    let err =
        Optimizer::new(&be, OptimizerConfig::Muon(MuonConfig::default()), &layout, &[group]).err().unwrap().to_string();
    assert!(err.contains("its own parameter groups"), "{err}");
}

/// LAMB with a max_grad_norm clips by it; a second clip is refused when it is set, and without
/// max_grad_norm LAMB takes one.
#[test]
fn lamb_refuses_a_second_clip_when_it_is_set() {
    let be = CpuBackend::new();
    let layout = ParamLayout::new(&[("a", vec![3])]).unwrap();
    let lamb = |max_grad_norm| OptimizerConfig::Lamb(LambConfig { max_grad_norm, ..Default::default() });
    let mut opt = Optimizer::new(&be, lamb(Some(1.0)), &layout, &[]).unwrap();
    let err = opt.set_clip(downhill::optim::Clip::L2Norm(1.0)).unwrap_err().to_string();
    assert!(err.contains("its own max_grad_norm"), "{err}");
    opt.set_clip(downhill::optim::Clip::None).unwrap();
    let mut opt = Optimizer::new(&be, lamb(None), &layout, &[]).unwrap();
    opt.set_clip(downhill::optim::Clip::L2Norm(1.0)).unwrap();
}
