//! Linear regression by plain gradient descent, written only with the core's ops, on whichever
//! device `DOWNHILL_DEVICE` (or `auto`) picks. Fits y = x·wᵀ + b to noiseless data from known
//! weights and prints the loss and the recovered parameters.
//!
//! `cargo run --release --example linear_regression` (add `DOWNHILL_DEVICE=gpu` to force a GPU).

use downhill::device::{open, DeviceRequest};
use downhill::ops::elementwise;
use downhill::ops::loss;
use downhill::ops::matmul;
use downhill::ops::reduce;
use downhill::{Backend, Device, MatmulForm, Result, Tensor};

const TRUE_W: [f32; 3] = [2.0, -3.0, 0.5];
const TRUE_B: f32 = 1.25;

fn fit<B: Backend>(be: &B) -> Result<()> {
    // 64 samples of 3 features on a fixed grid; targets from the true weights.
    let n = 64;
    let x: Vec<f32> = (0..n * 3).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
    let y: Vec<f32> = (0..n).map(|r| (0..3).map(|c| x[r * 3 + c] * TRUE_W[c]).sum::<f32>() + TRUE_B).collect();
    let x = be.upload(&Tensor::from_vec(&[n, 3], x)?)?;
    let y = be.upload(&Tensor::from_vec(&[n, 1], y)?)?;

    let mut w = be.zeros(&[1, 3])?; // weight (out, in), as torch.nn.Linear
    let mut b = be.zeros(&[1])?;
    let (mut pred, mut dpred, mut loss) = (be.zeros(&[n, 1])?, be.zeros(&[n, 1])?, be.zeros(&[1])?);
    let (mut dw, mut db) = (be.zeros(&[1, 3])?, be.zeros(&[1])?);
    let lr = 0.1;
    for step in 0..=300 {
        matmul::matmul(be, MatmulForm::Nt, &mut pred, &x, &w, false)?; // pred = x·wᵀ
        elementwise::bias_add(be, &mut pred, &b)?;
        loss::mse_loss(be, &mut loss, &mut dpred, &pred, &y)?; // loss and dL/dpred in one kernel
        matmul::matmul(be, MatmulForm::Tn, &mut dw, &dpred, &x, false)?; // dw = dpredᵀ·x
        reduce::column_sum(be, &mut db, &dpred, false)?;
        elementwise::axpy(be, &mut w, -lr, &dw)?; // w -= lr·dw
        elementwise::axpy(be, &mut b, -lr, &db)?;
        if step % 100 == 0 {
            println!("step {step:>3}: mse {:.3e}", be.read(&loss)?.data()[0]); // the only read-backs
        }
    }
    println!("w = {:?} (true {TRUE_W:?}), b = {:.4} (true {TRUE_B})", be.read(&w)?.data(), be.read(&b)?.data()[0]);
    Ok(())
}

fn main() -> Result<()> {
    let selection = open(&DeviceRequest::from_env()?)?;
    println!("device: {}", selection.device.describe());
    if let Some(why) = &selection.fallback_reason {
        println!("({why})");
    }
    match &selection.device {
        Device::Cpu(be) => fit(be),
        Device::Gpu(be) => fit(be.as_ref()),
    }
}
