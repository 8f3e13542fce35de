//! Matmul throughput on both paths (GFLOP/s), the three forms a Linear layer needs.
//!
//! `cargo bench --bench matmul` runs criterion (its "thrpt" in Gelem/s reads as GFLOP/s: one
//! element is one FLOP, 2·m·n·k per product) and then prints a side-by-side table with the
//! GPU/CPU ratio. Every GPU iteration waits for the device inside the timed region.
//! `DOWNHILL_DEVICE` picks the adapter (index or name); the best one is used otherwise,
//! software rasterisers included.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use downhill::device::open_gpu_from_env;
use downhill::ops::matmul;
use downhill::{Backend, CpuBackend, GpuBackend, MatmulForm, Tensor};
use std::time::{Duration, Instant};

/// (m, n, k): square sizes and the shapes of an MNIST MLP's first layer at batch 256.
const SIZES: [(usize, usize, usize); 4] = [(128, 128, 128), (512, 512, 512), (1024, 1024, 1024), (256, 128, 784)];

fn open_gpu() -> Option<GpuBackend> {
    match open_gpu_from_env() {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("no GPU for the benchmark ({e}); CPU only");
            None
        }
    }
}

fn operands(form: MatmulForm, (m, n, k): (usize, usize, usize)) -> (Tensor, Tensor) {
    let (a, b) = match form {
        MatmulForm::Nt => ([m, k], [n, k]),
        MatmulForm::Nn => ([m, k], [k, n]),
        MatmulForm::Tn => ([k, m], [k, n]),
    };
    let fill = |s: [usize; 2], seed: usize| {
        let data = (0..s[0] * s[1]).map(|i| (((i * 7919 + seed) % 1000) as f32 / 500.0) - 1.0).collect();
        Tensor::from_vec(&s, data).expect("shape")
    };
    (fill(a, 1), fill(b, 2))
}

/// One product plus a wait, the unit every measurement times.
struct Case<B: Backend> {
    form: MatmulForm,
    out: B::Tensor,
    a: B::Tensor,
    b: B::Tensor,
}

impl<B: Backend> Case<B> {
    fn new(be: &B, form: MatmulForm, dims: (usize, usize, usize)) -> Self {
        let (a, b) = operands(form, dims);
        Case { form, out: be.zeros(&[dims.0, dims.1]).unwrap(), a: be.upload(&a).unwrap(), b: be.upload(&b).unwrap() }
    }

    fn run(&mut self, be: &B) {
        matmul::matmul(be, self.form, &mut self.out, &self.a, &self.b, false).unwrap();
        be.sync().unwrap();
    }
}

/// Software rasterisers (lavapipe) run at well under 1 GFLOP/s: skip the largest size there so a
/// run ends in minutes.
fn gpu_runs(g: &GpuBackend, (m, n, k): (usize, usize, usize)) -> bool {
    !g.adapter().is_software || m * n * k <= 512 * 512 * 512
}

fn flops((m, n, k): (usize, usize, usize)) -> u64 {
    2 * (m * n * k) as u64
}

fn bench(c: &mut Criterion) {
    let cpu = CpuBackend::new();
    let gpu = open_gpu();
    let mut group = c.benchmark_group("matmul");
    group.sample_size(10).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
    for dims in SIZES {
        group.throughput(Throughput::Elements(flops(dims)));
        let label = format!("{}x{}x{}", dims.0, dims.1, dims.2);
        for form in [MatmulForm::Nt, MatmulForm::Nn, MatmulForm::Tn] {
            let mut case = Case::new(&cpu, form, dims);
            group.bench_function(BenchmarkId::new(format!("cpu/{}", form.op_name()), &label), |b| {
                b.iter(|| case.run(&cpu))
            });
            if let Some(g) = gpu.as_ref().filter(|g| gpu_runs(g, dims)) {
                let mut case = Case::new(g, form, dims);
                case.run(g); // build the pipeline and bind group outside the timing
                group.bench_function(BenchmarkId::new(format!("gpu/{}", form.op_name()), &label), |b| {
                    b.iter(|| case.run(g))
                });
            }
        }
    }
    group.finish();
}

/// Mean seconds per run over at least `min` of wall time (and at least 3 runs).
fn time<B: Backend>(be: &B, case: &mut Case<B>, min: Duration) -> f64 {
    case.run(be);
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 3 || start.elapsed() < min {
        case.run(be);
        runs += 1;
    }
    start.elapsed().as_secs_f64() / runs as f64
}

/// Side-by-side GFLOP/s and the GPU/CPU ratio, measured in this one run.
fn summary() {
    let cpu = CpuBackend::new();
    let Some(gpu) = open_gpu() else { return };
    println!("\nmatmul GFLOP/s — {} vs {}", gpu.describe(), cpu.describe());
    println!("{:<10} {:>16} {:>10} {:>10} {:>9}", "form", "m x n x k", "gpu", "cpu", "gpu/cpu");
    for dims in SIZES.into_iter().filter(|&d| gpu_runs(&gpu, d)) {
        for form in [MatmulForm::Nt, MatmulForm::Nn, MatmulForm::Tn] {
            let g = flops(dims) as f64 / time(&gpu, &mut Case::new(&gpu, form, dims), Duration::from_millis(500)) / 1e9;
            let c = flops(dims) as f64 / time(&cpu, &mut Case::new(&cpu, form, dims), Duration::from_millis(500)) / 1e9;
            let size = format!("{}x{}x{}", dims.0, dims.1, dims.2);
            println!("{:<10} {:>16} {:>10.2} {:>10.1} {:>9.3}", form.op_name(), size, g, c, g / c);
        }
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
