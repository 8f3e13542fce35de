//! Training features on both paths: accumulation equals a bigger batch, one GPU optimizer step
//! is one dispatch whatever the parameter count, parameter groups, state save/restore, L1/L2,
//! gradient-descent modes, dropout training agreeing across paths, and seeded initialisation.

mod common;

use common::{assert_close, gpu, own_gpu};
use downhill::data::{Dataset, Targets};
use downhill::loss::LossKind;
use downhill::nn::{Init, Model, ModelSpec};
use downhill::optim::{AdamConfig, Optimizer, OptimizerConfig, ParamGroup, SgdConfig};
use downhill::params::ParamLayout;
use downhill::rng::Rng;
use downhill::train::{BatchSize, TrainConfig, Trainer};
use downhill::{Activation, Backend, CpuBackend, Tensor};

/// 48 rows of 6 features from a fixed seed; the class is the largest of the first 3 features.
fn toy_data() -> Dataset {
    let mut rng = Rng::new(5);
    let x: Vec<f32> = (0..48 * 6).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
    let labels = x.chunks(6).map(|r| (0..3).fold(0, |b, i| if r[i] > r[b] { i } else { b }) as u32).collect();
    Dataset::new(Tensor::from_vec(&[48, 6], x).unwrap(), Targets::Labels { labels, classes: 3 }).unwrap()
}

fn trainer<B: Backend>(be: &B, dropout: f32, opt: OptimizerConfig, config: TrainConfig) -> Trainer<B> {
    let spec = ModelSpec::mlp(&[6, 16, 3], Activation::Tanh, dropout, Init::TorchDefault).unwrap();
    let model = Model::new(be, spec.clone(), 11).unwrap();
    let opt = Optimizer::new(be, opt, &spec.layout().unwrap(), &[]).unwrap();
    Trainer::new(be, model, opt, LossKind::CrossEntropy, config).unwrap()
}

fn params<B: Backend>(be: &B, t: &Trainer<B>) -> Vec<f32> {
    t.model.params.read_all(be).unwrap().into_iter().flat_map(|(_, t)| t.into_vec()).collect()
}

fn sgd() -> OptimizerConfig {
    OptimizerConfig::Sgd(SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() })
}

fn accumulation_equals_bigger_batch<B: Backend>(be: &B) {
    let data = toy_data();
    let order: Vec<usize> = (0..48).collect();
    let base = TrainConfig { shuffle: false, ..Default::default() };
    let mut big = trainer(be, 0.0, sgd(), TrainConfig { batch_size: BatchSize::Rows(24), ..base.clone() });
    let mut small =
        trainer(be, 0.0, sgd(), TrainConfig { batch_size: BatchSize::Rows(6), accumulation: 4, ..base.clone() });
    for _ in 0..3 {
        big.run_epoch(be, &data, &order).unwrap();
        small.run_epoch(be, &data, &order).unwrap();
    }
    assert_eq!(big.steps(), small.steps(), "4 micro-batches of 6 make one step, like one batch of 24");
    assert_close("accumulated vs big batch", &params(be, &small), &params(be, &big), 1e-6, 1e-5);
}

#[test]
fn accumulation_over_k_micro_batches_equals_one_batch_k_times_larger() {
    accumulation_equals_bigger_batch(&CpuBackend::new());
    if let Some(g) = gpu() {
        accumulation_equals_bigger_batch(g);
    }
}

#[test]
fn one_gpu_optimizer_step_is_one_dispatch_whatever_the_parameter_count() {
    let Some(g) = own_gpu() else { return };
    let g = &g;
    for tensors in [1usize, 6, 40] {
        let shapes: Vec<(String, Vec<usize>)> = (0..tensors).map(|i| (format!("t{i}"), vec![3 + i, 5])).collect();
        let layout = ParamLayout::new(&shapes).unwrap();
        let mut params = g.zeros(&[layout.total()]).unwrap();
        let grads = g.zeros(&[layout.total()]).unwrap();
        for cfg in [sgd(), OptimizerConfig::Adam(AdamConfig::adamw())] {
            let groups = [ParamGroup { params: vec!["t0".into()], weight_decay: Some(0.0), ..Default::default() }];
            let mut opt = Optimizer::new(g, cfg, &layout, &groups).unwrap();
            g.sync().unwrap();
            opt.step(g, &mut params, &grads).unwrap();
            assert_eq!(g.pending_ops(), 1, "{tensors} tensors, {cfg:?}: one step must record exactly one dispatch");
            g.sync().unwrap();
        }
    }
}

fn groups_apply_their_own_settings<B: Backend>(be: &B) {
    let layout = ParamLayout::new(&[("w", vec![2, 3]), ("b", vec![2]), ("frozen", vec![4])]).unwrap();
    let p0: Vec<f32> = (0..layout.total()).map(|i| 0.5 + i as f32 * 0.01).collect();
    let g0: Vec<f32> = (0..layout.total()).map(|i| 0.1 - i as f32 * 0.002).collect();
    let mut params = be.upload(&Tensor::from_vec(&[layout.total()], p0.clone()).unwrap()).unwrap();
    let grads = be.upload(&Tensor::from_vec(&[layout.total()], g0.clone()).unwrap()).unwrap();
    let cfg = OptimizerConfig::Sgd(SgdConfig { lr: 0.1, weight_decay: 0.01, ..Default::default() });
    let groups = [
        ParamGroup { params: vec!["b".into()], weight_decay: Some(0.0), ..Default::default() },
        ParamGroup { params: vec!["frozen".into()], lr: Some(0.0), ..Default::default() },
    ];
    let mut opt = Optimizer::new(be, cfg, &layout, &groups).unwrap();
    opt.step(be, &mut params, &grads).unwrap();
    let got = be.read(&params).unwrap();
    for v in layout.views() {
        let (lr, wd) = match v.name.as_str() {
            "w" => (0.1f32, 0.01f32),
            "b" => (0.1, 0.0),
            _ => (0.0, 0.01),
        };
        for i in v.offset..v.offset + v.len() {
            let g = if wd != 0.0 { g0[i] + wd * p0[i] } else { g0[i] };
            let want = p0[i] + -lr * g;
            assert_eq!(got.data()[i], want, "{}[{}]: lr {lr}, weight decay {wd}", v.name, i - v.offset);
        }
    }
}

#[test]
fn parameter_groups_get_their_own_lr_and_weight_decay() {
    groups_apply_their_own_settings(&CpuBackend::new());
    if let Some(g) = gpu() {
        groups_apply_their_own_settings(g);
    }
}

fn resume_matches_uninterrupted<B: Backend>(be: &B) {
    let data = toy_data();
    let cfg = OptimizerConfig::Adam(AdamConfig { lr: 0.01, amsgrad: true, ..Default::default() });
    let config = TrainConfig { batch_size: BatchSize::Rows(8), shuffle: false, ..Default::default() };
    let order: Vec<usize> = (0..48).collect();
    let mut straight = trainer(be, 0.0, cfg, config.clone());
    for _ in 0..4 {
        straight.run_epoch(be, &data, &order).unwrap();
    }
    let mut first = trainer(be, 0.0, cfg, config.clone());
    for _ in 0..2 {
        first.run_epoch(be, &data, &order).unwrap();
    }
    let saved_params = first.model.params.read_all(be).unwrap();
    let saved_state = first.optimizer.state(be).unwrap();
    assert!(saved_state.tensors.iter().any(|(k, _)| k == "0.weight.max_exp_avg_sq"));
    drop(first);
    let mut second = trainer(be, 0.0, cfg, config);
    second.model.load(be, &saved_params).unwrap();
    second.optimizer.load_state(be, &saved_state).unwrap();
    for _ in 0..2 {
        second.run_epoch(be, &data, &order).unwrap();
    }
    assert_eq!(params(be, &second), params(be, &straight), "a restored optimizer must continue bit for bit");
}

#[test]
fn optimizer_state_restores_exactly() {
    resume_matches_uninterrupted(&CpuBackend::new());
    if let Some(g) = gpu() {
        resume_matches_uninterrupted(g);
    }
}

#[test]
fn l2_penalty_equals_coupled_weight_decay_and_l1_adds_sign() {
    let be = CpuBackend::new();
    let data = toy_data();
    let order: Vec<usize> = (0..48).collect();
    let base = TrainConfig { batch_size: BatchSize::Full, shuffle: false, ..Default::default() };
    let plain = OptimizerConfig::Sgd(SgdConfig { lr: 0.1, ..Default::default() });
    let decayed = OptimizerConfig::Sgd(SgdConfig { lr: 0.1, weight_decay: 0.05, ..Default::default() });
    let mut with_l2 = trainer(&be, 0.0, plain, TrainConfig { l2: 0.05, ..base.clone() });
    let mut with_wd = trainer(&be, 0.0, decayed, base.clone());
    with_l2.run_epoch(&be, &data, &order).unwrap();
    with_wd.run_epoch(&be, &data, &order).unwrap();
    assert_close("L2 penalty vs SGD weight_decay", &params(&be, &with_l2), &params(&be, &with_wd), 1e-7, 1e-6);

    // L1: one full-batch SGD step moves every weight by an extra −lr·λ·sign(w).
    let mut with_l1 = trainer(&be, 0.0, plain, TrainConfig { l1: 0.02, ..base.clone() });
    let mut without = trainer(&be, 0.0, plain, base);
    let before = params(&be, &with_l1);
    with_l1.run_epoch(&be, &data, &order).unwrap();
    without.run_epoch(&be, &data, &order).unwrap();
    let want: Vec<f32> = params(&be, &without).iter().zip(&before).map(|(p, b)| p - 0.1 * 0.02 * b.signum()).collect();
    assert_close("L1 penalty", &params(&be, &with_l1), &want, 1e-6, 1e-5);
}

#[test]
fn full_batch_stochastic_and_mini_batch_descent_all_learn_and_agree_across_paths() {
    let data = toy_data();
    for (batch, lr) in [(BatchSize::Full, 0.5), (BatchSize::Rows(1), 0.01), (BatchSize::Rows(10), 0.05)] {
        let config = TrainConfig { batch_size: batch, seed: 3, ..Default::default() };
        let opt = OptimizerConfig::Sgd(SgdConfig { lr, momentum: 0.9, ..Default::default() });
        let cpu = CpuBackend::new();
        let mut t = trainer(&cpu, 0.0, opt, config.clone());
        let before = t.evaluate(&cpu, &data).unwrap().loss;
        for _ in 0..3 {
            let order = t.epoch_order(data.len());
            t.run_epoch(&cpu, &data, &order).unwrap();
        }
        let after = t.evaluate(&cpu, &data).unwrap().loss;
        assert!(after < before, "{batch:?}: loss {before} → {after} must fall");
        if let Some(g) = gpu() {
            let mut tg = trainer(g, 0.0, opt, config);
            for _ in 0..3 {
                let order = tg.epoch_order(data.len());
                tg.run_epoch(g, &data, &order).unwrap();
            }
            assert_close(&format!("{batch:?} cpu vs gpu"), &params(g, &tg), &params(&cpu, &t), 1e-5, 1e-4);
        }
    }
}

#[test]
fn dropout_training_is_seeded_and_identical_on_both_paths() {
    let data = toy_data();
    let config = TrainConfig { batch_size: BatchSize::Rows(12), seed: 9, ..Default::default() };
    let cpu = CpuBackend::new();
    let cpu_run = || {
        let mut t = trainer(&cpu, 0.3, sgd(), config.clone());
        for _ in 0..2 {
            let order = t.epoch_order(data.len());
            t.run_epoch(&cpu, &data, &order).unwrap();
        }
        params(&cpu, &t)
    };
    let a = cpu_run();
    let b = cpu_run();
    assert_eq!(a, b, "the same seed must give the same run");
    let mut no_dropout = trainer(&cpu, 0.0, sgd(), config.clone());
    for _ in 0..2 {
        let order = no_dropout.epoch_order(data.len());
        no_dropout.run_epoch(&cpu, &data, &order).unwrap();
    }
    assert_ne!(a, params(&cpu, &no_dropout), "dropout must change the run");
    if let Some(g) = gpu() {
        let mut t = trainer(g, 0.3, sgd(), config);
        for _ in 0..2 {
            let order = t.epoch_order(data.len());
            t.run_epoch(g, &data, &order).unwrap();
        }
        assert_close("dropout run cpu vs gpu", &params(g, &t), &a, 1e-5, 1e-4);
    }
}

#[test]
fn initialisers_are_seeded_and_have_the_documented_scale() {
    let (fan_in, fan_out) = (400, 300);
    let n = (fan_in * fan_out) as f64;
    let stats = |init: Init| {
        let w = init.weight(&mut Rng::new(1), fan_in, fan_out);
        assert_eq!(w, init.weight(&mut Rng::new(1), fan_in, fan_out), "{init:?} must be seeded");
        let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        let std = (w.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / n).sqrt();
        (max, std)
    };
    let (fi, fo) = (fan_in as f64, fan_out as f64);
    let near = |got: f64, want: f64, what: &str| assert!((got / want - 1.0).abs() < 0.02, "{what}: {got} vs {want}");
    let (max, std) = stats(Init::TorchDefault);
    assert!(max <= 1.0 / fi.sqrt());
    near(std, 1.0 / fi.sqrt() / 3f64.sqrt(), "torch default std");
    let (max, _) = stats(Init::XavierUniform { gain: 1.0 });
    assert!(max <= (6.0 / (fi + fo)).sqrt());
    near(stats(Init::XavierNormal { gain: 1.0 }).1, (2.0 / (fi + fo)).sqrt(), "xavier normal std");
    let (max, _) = stats(Init::KaimingUniform { gain: 2f64.sqrt() });
    assert!(max <= 2f64.sqrt() * (3.0 / fi).sqrt());
    near(stats(Init::KaimingNormal { gain: 2f64.sqrt() }).1, 2f64.sqrt() / fi.sqrt(), "kaiming normal std");
    assert_eq!(stats(Init::Zeros).0, 0.0);
}
