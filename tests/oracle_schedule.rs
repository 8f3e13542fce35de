//! Learning-rate schedules against torch.optim.lr_scheduler (tests/fixtures/oracle/
//! schedulers.json): all 60 values of 8 schedulers, OneCycle's momentum, and ReduceLROnPlateau.

mod common;

use common::oracle::load;
use downhill::schedule::{ReduceLrOnPlateau, Schedule};
use serde_json::Value;

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("missing {k}"))
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("missing {k}"))
}

fn schedule(name: &str, h: &Value) -> Schedule {
    match name {
        "StepLR" => Schedule::Step { step_size: u(h, "step_size"), gamma: f(h, "gamma") },
        "MultiStepLR" => Schedule::MultiStep {
            milestones: h["milestones"].as_array().unwrap().iter().map(|m| m.as_u64().unwrap()).collect(),
            gamma: f(h, "gamma"),
        },
        "ExponentialLR" => Schedule::Exponential { gamma: f(h, "gamma") },
        "CosineAnnealingLR" => Schedule::CosineAnnealing { t_max: u(h, "T_max"), eta_min: f(h, "eta_min") },
        "CosineAnnealingWarmRestarts" => {
            Schedule::CosineWarmRestarts { t_0: u(h, "T_0"), t_mult: u(h, "T_mult"), eta_min: f(h, "eta_min") }
        }
        "LinearLR" => Schedule::Linear {
            start_factor: f(h, "start_factor"),
            end_factor: f(h, "end_factor"),
            total_iters: u(h, "total_iters"),
        },
        "OneCycleLR" => Schedule::OneCycle {
            max_lr: f(h, "max_lr"),
            total_steps: u(h, "total_steps"),
            pct_start: f(h, "pct_start"),
            div_factor: f(h, "div_factor"),
            final_div_factor: f(h, "final_div_factor"),
            base_momentum: f(h, "base_momentum"),
            max_momentum: f(h, "max_momentum"),
        },
        "SequentialLR" => Schedule::Sequential {
            schedules: h["schedulers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| schedule(s["type"].as_str().unwrap(), s))
                .collect(),
            milestones: h["milestones"].as_array().unwrap().iter().map(|m| m.as_u64().unwrap()).collect(),
        },
        other => panic!("unknown scheduler {other}"),
    }
}

#[test]
fn all_schedules_match_torch_for_60_steps() {
    let oracle = load("schedulers.json");
    let base = oracle["base_lr"].as_f64().unwrap();
    let mut worst = 0.0f64;
    for case in oracle["schedulers"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let s = schedule(name, &case["hyperparameters"]);
        s.validate().unwrap();
        for (k, want) in case["lr"].as_array().unwrap().iter().enumerate() {
            let (got, want) = (s.lr(base, k as u64), want.as_f64().unwrap());
            let err = (got - want).abs();
            assert!(err <= 1e-15, "{name} k={k}: lr {got} vs torch {want}");
            worst = worst.max(err);
        }
        if let Some(momenta) = case.get("momentum") {
            for (k, want) in momenta.as_array().unwrap().iter().enumerate() {
                let got = s.momentum(k as u64).expect("OneCycle cycles momentum");
                assert!((got - want.as_f64().unwrap()).abs() <= 1e-15, "{name} k={k}: momentum {got} vs {want}");
            }
        }
    }
    eprintln!("schedules: worst absolute lr difference from torch over 8 × 60 values: {worst:.3e}");
}

#[test]
fn reduce_on_plateau_waits_patience_then_cuts() {
    let mut p = ReduceLrOnPlateau::default();
    p.patience = 2;
    p.factor = 0.5;
    let metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5];
    let mut lr = 0.1;
    let mut lrs = Vec::new();
    for m in metrics {
        lr = p.step(m, lr);
        lrs.push(lr);
    }
    // Improvement at epochs 0, 1 and 5; no improvement for 3 epochs (> patience 2) at 4 and 8.
    assert_eq!(lrs, vec![0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025]);
}

#[test]
fn bad_schedules_are_refused() {
    assert!(Schedule::Step { step_size: 0, gamma: 0.5 }.validate().is_err());
    assert!(Schedule::MultiStep { milestones: vec![5, 3], gamma: 0.5 }.validate().is_err());
    assert!(Schedule::one_cycle(0.1, 1).validate().is_err());
    let seq = Schedule::Sequential { schedules: vec![Schedule::Constant], milestones: vec![3] };
    assert!(seq.validate().unwrap_err().to_string().contains("milestones"));
}

/// The scheduled lr reaches the fused kernel on both paths: with a constant gradient g and plain
/// SGD, p_k = p_0 − g·Σ lr_i, for every torch schedule of the oracle.
fn schedule_drives_the_kernel<B: downhill::Backend>(be: &B) {
    use downhill::optim::{Optimizer, OptimizerConfig, SgdConfig};
    use downhill::params::ParamLayout;
    use downhill::Tensor;
    let oracle = load("schedulers.json");
    let base = oracle["base_lr"].as_f64().unwrap();
    let layout = ParamLayout::new(&[("w", vec![3])]).unwrap();
    for case in oracle["schedulers"].as_array().unwrap() {
        let s = schedule(case["name"].as_str().unwrap(), &case["hyperparameters"]);
        let cfg = OptimizerConfig::Sgd(SgdConfig { lr: base, ..Default::default() });
        let mut opt = Optimizer::new(be, cfg, &layout, &[]).unwrap();
        let mut p = be.upload(&Tensor::from_vec(&[layout.total()], vec![1.0; layout.total()]).unwrap()).unwrap();
        let g = be.upload(&Tensor::from_vec(&[layout.total()], vec![0.5; layout.total()]).unwrap()).unwrap();
        let mut want = 1.0f32;
        for k in 0..60u64 {
            let lr = s.lr(base, k);
            opt.set_lrs(&[lr]).unwrap();
            opt.step(be, &mut p, &g).unwrap();
            want += -(lr as f32) * 0.5;
        }
        let got = be.read(&p).unwrap().data()[0];
        assert_eq!(got, want, "{}: the kernel must apply each step's scheduled lr", case["name"]);
    }
}

#[test]
fn schedules_drive_the_fused_kernel_on_both_paths() {
    schedule_drives_the_kernel(&downhill::CpuBackend::new());
    if let Some(g) = common::gpu() {
        schedule_drives_the_kernel(g);
    }
}
