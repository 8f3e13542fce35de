//! Issue 7 through the library: early stopping keeps and restores the best epoch (item 4), a
//! checkpoint taken on request mid-epoch resumes bit for bit (item 10, Ctrl-C), every
//! optimizer's defaults are PyTorch's (item 12), and throughput is measured over a window of
//! steps (item 13).

mod common;

use common::{checkpoint_params, digits_csv, tmp_dir, ControlAt};
use downhill::checkpoint::Checkpoint;
use downhill::config::RunConfig;
use downhill::data::normalize::Normalization;
use downhill::infer::evaluate_checkpoint;
use downhill::optim::{AdamConfig, OptimizerConfig};
use downhill::report::Throughput;
use downhill::run::{optimizer_config, train, Control, Quiet, RunOptions};
use downhill::{DeviceRequest, Error};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    tmp_dir(&format!("runh-{name}"))
}

fn digits() -> PathBuf {
    digits_csv()
}

/// A run that overfits: a wide layer, no dropout, half the rows held out, a high rate.
fn overfitting() -> RunConfig {
    RunConfig {
        data: Some(digits()),
        hidden: vec![128],
        dropout: 0.0,
        epochs: 40,
        batch_size: 16,
        lr: Some(1e-2),
        schedule: "constant".into(),
        validation: 0.5,
        patience: Some(3),
        normalization: Normalization::Standardize,
        ..Default::default()
    }
}

#[test]
fn item4_early_stopping_restores_the_best_epoch() {
    let out = tmp("best");
    let s = train(&overfitting(), &DeviceRequest::Cpu, &out, &RunOptions::default(), &mut Quiet).unwrap();
    assert!(s.stopped_early, "this run overfits and must stop early ({} epochs)", s.epochs);
    let best = s.best.clone().expect("a best epoch with patience");
    let losses: Vec<f64> = s.history.iter().map(|r| r.val_loss.unwrap()).collect();
    let argmin = 1 + (0..losses.len()).min_by(|&a, &b| losses[a].total_cmp(&losses[b])).unwrap();
    assert_eq!(best.epoch, argmin, "the best epoch is the lowest validation loss: {losses:?}");
    assert_eq!(s.epochs, best.epoch + 3, "stops after patience 3 epochs without improvement");
    assert!(best.restored && best.epoch < s.epochs);
    assert_eq!(Checkpoint::load(&best.checkpoint).unwrap().meta.epoch, best.epoch);
    // The final figures are the best weights' own.
    let again = evaluate_checkpoint(&best.checkpoint, None, &DeviceRequest::Cpu).unwrap();
    assert_eq!(again.evaluation.loss, s.test_loss);

    // Without restoring, the last epoch's weights stay.
    let keep = RunConfig { restore_best_weights: false, ..overfitting() };
    let k = train(&keep, &DeviceRequest::Cpu, &tmp("keep"), &RunOptions::default(), &mut Quiet).unwrap();
    assert!(!k.best.unwrap().restored);
    let last = evaluate_checkpoint(&k.checkpoint, None, &DeviceRequest::Cpu).unwrap();
    assert_eq!(k.test_loss, last.evaluation.loss, "the test figures are the last epoch's weights'");
}

#[test]
fn item4_patience_zero_never_stops_after_an_improving_epoch() {
    let cfg = RunConfig { patience: Some(0), lr: Some(1e-3), epochs: 4, validation: 0.3, ..overfitting() };
    let s = train(&cfg, &DeviceRequest::Cpu, &tmp("p0"), &RunOptions::default(), &mut Quiet).unwrap();
    let losses: Vec<f64> = s.history.iter().map(|r| r.val_loss.unwrap()).collect();
    for (i, w) in losses.windows(2).enumerate() {
        if i + 2 < losses.len() {
            assert!(w[1] < w[0], "every epoch before the last improved: {losses:?}");
        }
    }
    if s.stopped_early {
        assert!(losses[losses.len() - 1] >= losses[losses.len() - 2], "stopped after a worse epoch: {losses:?}");
    } else {
        assert_eq!(s.epochs, 4);
    }
    assert!(s.epochs > 1, "epoch 1 always improves, so patience 0 does not stop there");
}

#[test]
fn item10_a_checkpoint_on_request_resumes_bit_for_bit() {
    let cfg = RunConfig {
        data: Some(digits()),
        hidden: vec![24],
        epochs: 2,
        batch_size: 32,
        dropout: 0.1,
        normalization: Normalization::Standardize,
        ..Default::default()
    };
    let straight = train(&cfg, &DeviceRequest::Cpu, &tmp("straight"), &RunOptions::default(), &mut Quiet).unwrap();
    // Step 57 is mid-way through epoch 2 (1,294 training rows after the default validation
    // split: 41 steps per epoch), between no other checkpoints.
    let out = tmp("paused");
    let e = train(
        &cfg,
        &DeviceRequest::Cpu,
        &out,
        &RunOptions::default(),
        &mut ControlAt { at: 57, then: Control::Checkpoint },
    )
    .unwrap_err();
    let Error::Paused { step, checkpoint } = e else { panic!("expected a pause, got {e}") };
    assert_eq!(step, 57);
    let meta = Checkpoint::load(&checkpoint).unwrap().meta;
    assert_eq!((meta.epoch, meta.epoch_step, meta.steps), (1, 16, 57));
    let opts = RunOptions { resume: Some(checkpoint), ..Default::default() };
    let resumed = train(&cfg, &DeviceRequest::Cpu, &out, &opts, &mut Quiet).unwrap();
    assert_eq!(checkpoint_params(&resumed.checkpoint), checkpoint_params(&straight.checkpoint));
    for (r, t) in resumed.history.iter().zip(&straight.history) {
        assert_eq!((r.epoch, r.val_loss, r.val_accuracy, r.lr), (t.epoch, t.val_loss, t.val_accuracy, t.lr));
        // The epoch's loss sum is kept in f32 on the device per span; a pause splits the span,
        // so its rounding differs in the last bits.
        assert!((r.train_loss - t.train_loss).abs() <= 1e-6 * t.train_loss, "{} vs {}", r.train_loss, t.train_loss);
    }
}

#[test]
fn item12_each_optimizer_starts_from_pytorch_defaults() {
    let cfg = |name: &str| RunConfig { optimizer: name.into(), ..Default::default() };
    assert_eq!(optimizer_config(&cfg("adamw")).unwrap(), OptimizerConfig::Adam(AdamConfig::adamw()));
    let OptimizerConfig::Adam(a) = optimizer_config(&cfg("adamw")).unwrap() else { panic!() };
    assert_eq!((a.lr, a.weight_decay, a.decoupled_weight_decay), (1e-3, 1e-2, true));
    assert_eq!(optimizer_config(&cfg("adam")).unwrap(), OptimizerConfig::Adam(AdamConfig::default()));
    let lrs: Vec<f64> = ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adamax", "nadam", "radam", "lion"]
        .iter()
        .map(|n| optimizer_config(&cfg(n)).unwrap().lr())
        .collect();
    assert_eq!(lrs, [1e-3, 1e-3, 1e-3, 1e-2, 1e-2, 2e-3, 2e-3, 1e-3, 1e-4], "torch.optim's default lr each");
    let given = RunConfig { weight_decay: Some(0.0), ..cfg("adamw") };
    let OptimizerConfig::Adam(a) = optimizer_config(&given).unwrap() else { panic!() };
    assert_eq!(a.weight_decay, 0.0, "a given value wins");
}

#[test]
fn item13_throughput_needs_two_completed_steps() {
    let mut t = Throughput::default();
    let t0 = std::time::Instant::now();
    t.push(t0, 64);
    assert_eq!(t.rate(), None, "no rate from the first step of an epoch");
    t.push(t0 + std::time::Duration::from_millis(100), 128);
    assert!((t.rate().unwrap() - 640.0).abs() < 1e-6);
    for k in 2..50u64 {
        t.push(t0 + std::time::Duration::from_millis(100 * k), 64 * (k as usize + 1));
    }
    assert!((t.rate().unwrap() - 640.0).abs() < 1e-6, "the window slides");
    t.clear();
    assert_eq!(t.rate(), None);
}

#[test]
fn item2_checkpoints_of_another_format_say_which_version_made_them() {
    let out = tmp("format");
    let cfg = RunConfig { data: Some(digits()), hidden: vec![8], epochs: 1, ..Default::default() };
    let s = train(&cfg, &DeviceRequest::Cpu, &out, &RunOptions::default(), &mut Quiet).unwrap();
    let mut c = Checkpoint::load(&s.checkpoint).unwrap();
    for (format, says) in [("downhill-checkpoint-1", "an older"), ("downhill-checkpoint-10", "a newer")] {
        c.meta.format = format.into();
        let path = out.join(format!("{format}.safetensors"));
        c.save(&path).unwrap();
        let e = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(e.contains(says) && e.contains(format), "{format}: {e}");
    }
}
