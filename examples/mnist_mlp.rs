//! Train an MNIST MLP through the library, step by step: the built-in data, normalisation, a
//! model, AdamW with no weight decay on biases (a parameter group), a warm-up + cosine
//! schedule, gradient clipping, and an evaluation after every epoch.
//!
//! `cargo run --release --example mnist_mlp` (add `DOWNHILL_DEVICE=gpu` to force a GPU).

use downhill::data::mnist::builtin;
use downhill::data::normalize::{Normalization, Normalizer};
use downhill::device::{open, DeviceRequest};
use downhill::loss::LossKind;
use downhill::nn::{Init, Model, ModelSpec};
use downhill::optim::{AdamConfig, Clip, Optimizer, OptimizerConfig, ParamGroup};
use downhill::schedule::Schedule;
use downhill::train::{BatchSize, TrainConfig, Trainer};
use downhill::{Activation, Backend, Device, Result};

fn run<B: Backend>(be: &B) -> Result<()> {
    // 1. Data: 5,000 training and 1,000 test images, scaled with statistics of the training set.
    let mut data = builtin(None)?;
    let norm = Normalizer::fit(Normalization::Scalar, &data.train);
    norm.apply(&mut data.train)?;
    norm.apply(&mut data.test)?;

    // 2. Model: 784 → 128 → 10 with ReLU; parameters, gradients and optimizer state each live
    //    in one flat buffer on the device.
    let spec = ModelSpec::mlp(&[784, 128, 10], Activation::Relu, 0.1, Init::KaimingUniform { gain: 2f64.sqrt() })?;
    let model = Model::new(be, spec.clone(), 7)?;

    // 3. Optimizer: AdamW; biases get no weight decay (one group, still one dispatch per step).
    let adamw = OptimizerConfig::Adam(AdamConfig { lr: 3e-3, weight_decay: 0.05, ..AdamConfig::adamw() });
    let biases = ParamGroup {
        params: vec!["fc1.bias".into(), "fc2.bias".into()],
        weight_decay: Some(0.0),
        ..Default::default()
    };
    let optimizer = Optimizer::new(be, adamw, &spec.layout()?, &[biases])?;

    // 4. The loop's settings: mini-batches of 64, warm-up then cosine over 5 epochs, clipping.
    let epochs = 5u64;
    let steps = data.train.len().div_ceil(64) as u64 * epochs;
    let schedule = Schedule::Sequential {
        schedules: vec![
            Schedule::Linear { start_factor: 0.1, end_factor: 1.0, total_iters: 50 },
            Schedule::CosineAnnealing { t_max: steps - 50, eta_min: 0.0 },
        ],
        milestones: vec![50],
    };
    let config = TrainConfig {
        batch_size: BatchSize::Rows(64),
        schedule,
        clip: Clip::L2Norm(1.0),
        seed: 7,
        ..Default::default()
    };
    let mut trainer = Trainer::new(be, model, optimizer, LossKind::CrossEntropy, config)?;

    // 5. Epochs: a seeded shuffle, the steps (no read-back inside), then an evaluation.
    for epoch in 1..=epochs {
        let order = trainer.epoch_order(data.train.len());
        let stats = trainer.run_epoch(be, &data.train, &order)?;
        let test = trainer.evaluate(be, &data.test)?;
        println!(
            "epoch {epoch}: train loss {:.4}, test loss {:.4}, test accuracy {:.4}, grad norm before clipping {:.3}",
            stats.mean_batch_loss,
            test.loss,
            test.accuracy.unwrap_or(0.0),
            trainer.optimizer.last_grad_norm(be)?.unwrap_or(0.0)
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    let selection = open(&DeviceRequest::from_env()?)?;
    println!("device: {}", selection.device.describe());
    match &selection.device {
        Device::Cpu(be) => run(be),
        Device::Gpu(be) => run(be.as_ref()),
    }
}
