//! The batch scheduler: resident and streaming feeds give the same batches and the same trained
//! weights for the same seed, on both paths; the automatic choice follows the data size; and a
//! diverging run stops with a message naming the step and the likely cause.

mod common;

use common::gpu;
use downhill::data::{Dataset, Targets};
use downhill::feed::{choose_mode, FeedMode};
use downhill::loss::LossKind;
use downhill::nn::{Init, Model, ModelSpec};
use downhill::optim::{Optimizer, OptimizerConfig, SgdConfig};
use downhill::rng::Rng;
use downhill::train::{BatchSize, TrainConfig, Trainer};
use downhill::{Activation, Backend, CpuBackend, Error, Tensor};

fn data(rows: usize, regression: bool) -> Dataset {
    let mut rng = Rng::new(2);
    let x: Vec<f32> = (0..rows * 5).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
    let targets = if regression {
        let y = x.chunks(5).map(|r| r[0] - 2.0 * r[3]).collect();
        Targets::Values(Tensor::from_vec(&[rows, 1], y).unwrap())
    } else {
        Targets::Labels { labels: x.chunks(5).map(|r| (r[1] > 0.0) as u32).collect(), classes: 2 }
    };
    Dataset::new(Tensor::from_vec(&[rows, 5], x).unwrap(), targets).unwrap()
}

fn train<B: Backend>(be: &B, d: &Dataset, feed: FeedMode, lr: f64) -> downhill::Result<(Vec<f32>, Vec<f64>)> {
    let regression = d.classes().is_none();
    let outputs = if regression { 1 } else { 2 };
    let spec = ModelSpec::mlp(&[5, 8, outputs], Activation::Relu, 0.2, Init::TorchDefault)?;
    let model = Model::new(be, spec.clone(), 4)?;
    let opt = Optimizer::new(
        be,
        OptimizerConfig::Sgd(SgdConfig { lr, momentum: 0.9, ..Default::default() }),
        &spec.layout()?,
        &[],
    )?;
    let loss = if regression { LossKind::Mse } else { LossKind::CrossEntropy };
    let config = TrainConfig {
        batch_size: BatchSize::Rows(7),
        accumulation: 2,
        feed,
        seed: 8,
        report_every: 3,
        ..Default::default()
    };
    let mut t = Trainer::new(be, model, opt, loss, config)?;
    let mut losses = Vec::new();
    for _ in 0..3 {
        let order = t.epoch_order(d.len());
        losses.push(t.run_epoch(be, d, &order)?.mean_batch_loss);
        assert_eq!(t.last_feed_mode(), Some(feed));
    }
    let p = t.model.params.read_all(be)?.into_iter().flat_map(|(_, t)| t.into_vec()).collect();
    Ok((p, losses))
}

fn modes_agree<B: Backend>(be: &B) {
    for regression in [false, true] {
        let d = data(45, regression);
        let resident = train(be, &d, FeedMode::Resident, 0.05).unwrap();
        let streaming = train(be, &d, FeedMode::Streaming, 0.05).unwrap();
        assert_eq!(resident, streaming, "resident and streaming feeds must train to the same weights");
    }
}

#[test]
fn resident_and_streaming_feeds_train_identically() {
    modes_agree(&CpuBackend::new());
    if let Some(g) = gpu() {
        modes_agree(g);
    }
}

#[test]
fn the_feed_is_chosen_from_the_data_size() {
    let d = data(100, false);
    assert_eq!(choose_mode(&d, 1 << 20, 1 << 30), FeedMode::Resident);
    assert_eq!(choose_mode(&d, 1000, 1 << 30), FeedMode::Streaming, "over the binding limit");
    assert_eq!(choose_mode(&d, 1 << 20, 1000), FeedMode::Streaming, "over the memory budget");
}

fn divergence_is_caught<B: Backend>(be: &B) {
    let d = data(45, true);
    match train(be, &d, FeedMode::Resident, 1e6) {
        Err(Error::Diverged(msg)) => {
            assert!(msg.contains("diverged at step") && msg.contains("learning rate"), "{msg}");
        }
        Err(other) => panic!("expected a divergence error, got {other}"),
        Ok(_) => panic!("lr 1e6 must diverge"),
    }
}

#[test]
fn a_diverging_run_stops_with_the_step_and_likely_cause() {
    divergence_is_caught(&CpuBackend::new());
    if let Some(g) = gpu() {
        divergence_is_caught(g);
    }
}
