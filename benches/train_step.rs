//! One training step (forward, fused loss, backward, fused AdamW update) of the default MNIST MLP
//! (784→256→128→10), and the fused optimizer update alone, on both paths.
//!
//! `cargo bench --bench train_step`: criterion's "thrpt" reads as samples/s for the step and as
//! parameters/s for the update; a summary with the GPU/CPU ratio follows. Every GPU iteration
//! waits for the device inside the timed region. `DOWNHILL_DEVICE` picks the adapter.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use downhill::data::{Dataset, Targets};
use downhill::device::open_gpu_from_env;
use downhill::loss::LossKind;
use downhill::nn::{Init, Model, ModelSpec};
use downhill::optim::{AdamConfig, Optimizer, OptimizerConfig};
use downhill::rng::Rng;
use downhill::train::{BatchSize, TrainConfig, Trainer};
use downhill::{Activation, Backend, CpuBackend, GpuBackend, Tensor};
use std::time::{Duration, Instant};

fn open_gpu() -> Option<GpuBackend> {
    open_gpu_from_env().map_err(|e| eprintln!("no GPU for the benchmark ({e}); CPU only")).ok()
}

fn data(rows: usize) -> Dataset {
    let mut rng = Rng::new(1);
    let x = (0..rows * 784).map(|_| rng.next_f64() as f32).collect();
    let labels = (0..rows).map(|i| (i % 10) as u32).collect();
    Dataset::new(Tensor::from_vec(&[rows, 784], x).unwrap(), Targets::Labels { labels, classes: 10 }).unwrap()
}

fn trainer<B: Backend>(be: &B, batch: usize) -> Trainer<B> {
    let spec = ModelSpec::mlp(&[784, 256, 128, 10], Activation::Relu, 0.0, Init::TorchDefault).unwrap();
    let model = Model::new(be, spec.clone(), 0).unwrap();
    let opt = Optimizer::new(be, OptimizerConfig::Adam(AdamConfig::adamw()), &spec.layout().unwrap(), &[]).unwrap();
    let config =
        TrainConfig { batch_size: BatchSize::Rows(batch), shuffle: false, report_every: 0, ..Default::default() };
    Trainer::new(be, model, opt, LossKind::CrossEntropy, config).unwrap()
}

/// One optimizer step over rows 0..batch, waited for.
fn step<B: Backend>(be: &B, t: &mut Trainer<B>, d: &Dataset, idx: &[usize]) {
    t.step(be, d, &[idx]).unwrap();
    be.sync().unwrap();
}

fn update<B: Backend>(be: &B, t: &mut Trainer<B>) {
    let (p, g) = (t.model.params.flat_mut(), t.model.grads.flat());
    t.optimizer.step(be, p, g).unwrap();
    be.sync().unwrap();
}

fn bench(c: &mut Criterion) {
    let cpu = CpuBackend::new();
    let gpu = open_gpu();
    let d = data(256);
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(300));
    for batch in [64usize, 256] {
        let idx: Vec<usize> = (0..batch).collect();
        group.throughput(Throughput::Elements(batch as u64));
        let mut t = trainer(&cpu, batch);
        group.bench_function(BenchmarkId::new("cpu/mlp", batch), |b| b.iter(|| step(&cpu, &mut t, &d, &idx)));
        if let Some(g) = &gpu {
            let mut t = trainer(g, batch);
            step(g, &mut t, &d, &idx);
            group.bench_function(BenchmarkId::new("gpu/mlp", batch), |b| b.iter(|| step(g, &mut t, &d, &idx)));
        }
    }
    let params = trainer(&cpu, 1).model.params.layout().total() as u64;
    group.throughput(Throughput::Elements(params));
    let mut t = trainer(&cpu, 64);
    group.bench_function("cpu/adamw_update", |b| b.iter(|| update(&cpu, &mut t)));
    if let Some(g) = &gpu {
        let mut t = trainer(g, 64);
        update(g, &mut t);
        group.bench_function("gpu/adamw_update", |b| b.iter(|| update(g, &mut t)));
    }
    group.finish();
}

fn per_second(mut f: impl FnMut(), min: Duration) -> f64 {
    f();
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 3 || start.elapsed() < min {
        f();
        runs += 1;
    }
    runs as f64 / start.elapsed().as_secs_f64()
}

/// Side-by-side rates and the GPU/CPU ratio, measured in this one run.
fn summary() {
    let cpu = CpuBackend::new();
    let Some(gpu) = open_gpu() else { return };
    let d = data(256);
    println!("\ntrain_step — {} vs {}", gpu.describe(), cpu.describe());
    println!("{:<22} {:>14} {:>14} {:>9}", "", "gpu", "cpu", "gpu/cpu");
    for batch in [64usize, 256] {
        let idx: Vec<usize> = (0..batch).collect();
        let (mut tg, mut tc) = (trainer(&gpu, batch), trainer(&cpu, batch));
        let g = batch as f64 * per_second(|| step(&gpu, &mut tg, &d, &idx), Duration::from_millis(800));
        let c = batch as f64 * per_second(|| step(&cpu, &mut tc, &d, &idx), Duration::from_millis(800));
        println!("{:<22} {:>10.0} s/s {:>10.0} s/s {:>9.3}", format!("MLP step, batch {batch}"), g, c, g / c);
    }
    let (mut tg, mut tc) = (trainer(&gpu, 64), trainer(&cpu, 64));
    let n = tc.model.params.layout().total() as f64;
    let g = n * per_second(|| update(&gpu, &mut tg), Duration::from_millis(800)) / 1e6;
    let c = n * per_second(|| update(&cpu, &mut tc), Duration::from_millis(800)) / 1e6;
    println!("{:<22} {:>8.1} Mpar/s {:>8.1} Mpar/s {:>9.3}", "AdamW update", g, c, g / c);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
