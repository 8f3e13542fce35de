//! `downhill bench`: the standard workloads on the CPU path, a GPU adapter, or both side by
//! side (with the GPU/CPU ratio). `--json` prints one line per workload and device, with the
//! names `benches/pytorch_reference.py` uses; `--against-torch` runs that script too
//! (`bench_torch.rs`).

use clap::Args;
use downhill::bench::{run, Measurement, Timing, Unit, Workload};
use downhill::device::{open, Device, DeviceRequest};
use downhill::{Backend, CpuBackend, GpuBackend, Result};
use std::io::IsTerminal;

/// Flags of `downhill bench` (a negative number is taken as a value and range-checked).
#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct BenchArgs {
    /// cpu, gpu, all (both, with the GPU/CPU ratio), auto, an adapter index or part of its name.
    #[arg(long, default_value = "all")]
    device: String,
    /// Only the workloads whose name contains this text (e.g. `matmul`, `mlp`, `adamw`).
    #[arg(long)]
    only: Option<String>,
    /// Timed repetitions per workload (the median is reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Seconds each repetition runs at least.
    #[arg(long, default_value_t = 0.5)]
    seconds: f64,
    /// One JSON object per line instead of the table.
    #[arg(long)]
    json: bool,
    /// On the GPU, also time every kernel with timestamp queries (adapters with
    /// TIMESTAMP_QUERY) and print where each workload's device time goes.
    #[arg(long)]
    profile: bool,
    /// Also run PyTorch's side of every workload (`benches/pytorch_reference.py`, built in) with
    /// this Python (default python3), interleaved with downhill's rounds at the same thread
    /// count (CPU, downhill's GPU and PyTorch CUDA where they exist); one table of medians and
    /// ratios. Without torch it says how to install it and runs downhill's side alone.
    #[arg(long, value_name = "PYTHON", num_args = 0..=1, default_missing_value = "python3")]
    against_torch: Option<String>,
}

/// One device's results, by workload name (None: skipped, with why).
type Results = Vec<(String, std::result::Result<Measurement, String>)>;

fn bench_on<B: Backend>(be: &B, software: bool, workloads: &[Workload], t: &Timing) -> Result<Results> {
    let mut out = Vec::new();
    let progress = std::io::stderr().is_terminal();
    for (i, w) in workloads.iter().enumerate() {
        if software && w.heavy() {
            out.push((w.name(), Err("skipped on a software adapter (about 100× slower than the CPU path)".into())));
            continue;
        }
        if progress {
            eprint!("\r\x1b[Kbench [{}/{}] {} on {}…", i + 1, workloads.len(), w.name(), be.describe());
        }
        out.push((w.name(), Ok(run(be, w, t)?)));
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    Ok(out)
}

fn rate_text(m: &Measurement) -> String {
    match m.unit {
        Unit::Flops => format!("{:.1} GFLOP/s", m.rate),
        Unit::Samples => format!("{:.0} samples/s", m.rate),
        Unit::Tokens => format!("{:.0} tokens/s", m.rate),
        Unit::Params => format!("{:.3e} params/s ({:.1} GB/s)", m.rate, m.gb_per_s().unwrap_or(0.0)),
        Unit::StartSteps => format!("{:.3e} start-steps/s", m.rate),
    }
}

fn json_line(device: &str, m: &Measurement) -> String {
    let mut v = serde_json::json!({"workload": m.workload, "device": device, m.unit.key(): m.rate, "reps": m.reps});
    if let Some(gb) = m.gb_per_s() {
        v["gb_per_s"] = gb.into();
    }
    if let Some(c) = m.step_cost {
        v["dispatches_per_step"] = c.dispatches.into();
        v["submits_per_step"] = c.submits.into();
        v["host_us_per_step"] = c.host_us.into();
    }
    v.to_string()
}

/// `--profile`: each workload once more (a warm-up and one timed iteration) with per-kernel
/// timestamps; prints each kernel's share and the rate the device time alone allows.
fn profile(g: &GpuBackend, software: bool, workloads: &[Workload], json: bool) -> Result<()> {
    if !g.set_profiling(true)? {
        eprintln!("--profile: {} has no TIMESTAMP_QUERY; only wall-clock rates", g.describe());
        return Ok(());
    }
    for w in workloads.iter().filter(|w| !(software && w.heavy())) {
        g.take_profile()?;
        let m = run(g, w, &Timing { reps: 1, min_seconds: 0.0 })?;
        let kernels = g.take_profile()?;
        let total_ns: f64 = kernels.iter().map(|k| k.ns).sum::<f64>().max(1.0);
        let iterations = m.iterations as f64;
        let device_rate = m.work_per_iteration * iterations / (total_ns / 1e9);
        if json {
            let rows: Vec<_> = kernels
                .iter()
                .map(|k| serde_json::json!({"entry": k.entry, "dispatches": k.dispatches, "ms": k.ns / 1e6}))
                .collect();
            let key = format!("device_time_{}", m.unit.key());
            println!(
                "{}",
                serde_json::json!({"workload": m.workload, "device": g.describe(), "profile": rows, key: device_rate})
            );
            continue;
        }
        let mut device_only = m.clone();
        device_only.rate = device_rate;
        println!(
            "profile {} on {}: {:.3} ms of device time per iteration ({} from device time alone, {} wall)",
            m.workload,
            g.describe(),
            total_ns / iterations / 1e6,
            rate_text(&device_only),
            rate_text(&m)
        );
        for k in &kernels {
            let share = 100.0 * k.ns / total_ns;
            println!("  {:28} {:6} dispatches {:10.3} ms {:5.1} %", k.entry, k.dispatches, k.ns / 1e6, share);
        }
    }
    g.set_profiling(false)?;
    Ok(())
}

/// Runs `downhill bench`.
pub fn run_bench(args: BenchArgs) -> Result<()> {
    if args.reps == 0 {
        return Err(downhill::Error::InvalidArgument {
            what: "--reps".into(),
            detail: "0 is out of range: at least 1".into(),
        });
    }
    if !(args.seconds.is_finite() && args.seconds >= 0.0) {
        return Err(downhill::Error::InvalidArgument {
            what: "--seconds".into(),
            detail: format!("{} is out of range: a finite number ≥ 0", args.seconds),
        });
    }
    let t = Timing { reps: args.reps, min_seconds: args.seconds };
    let workloads: Vec<Workload> = Workload::standard()
        .into_iter()
        .filter(|w| args.only.as_ref().is_none_or(|o| w.name().contains(o.as_str())))
        .collect();
    if workloads.is_empty() {
        return Err(downhill::Error::InvalidArgument {
            what: "--only".into(),
            detail: format!(
                "no workload matches; they are {}",
                Workload::standard().iter().map(|w| w.name()).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    if let Some(python) = &args.against_torch {
        if !matches!(args.device.as_str(), "all" | "cpu") || args.profile {
            return Err(downhill::Error::InvalidArgument {
                what: "--against-torch".into(),
                detail: "measures the CPU path and the best GPU itself (--device cpu leaves the GPU out); \
                         --profile and other devices do not apply"
                    .into(),
            });
        }
        let with_gpu = args.device == "all";
        if crate::bench_torch::run_against(python, &workloads, args.reps, args.seconds, args.json, with_gpu)? {
            return Ok(());
        }
    }
    let mut columns: Vec<(String, Results)> = Vec::new();
    let mut profiled = None;
    if args.profile && args.device == "cpu" {
        eprintln!("--profile times GPU kernels (timestamp queries); the CPU path has none to time");
    }
    let want_cpu = matches!(args.device.as_str(), "cpu" | "all");
    if want_cpu {
        let cpu = CpuBackend::new();
        columns.push((cpu.describe(), bench_on(&cpu, false, &workloads, &t)?));
    }
    if args.device != "cpu" {
        let request: DeviceRequest = if args.device == "all" { "gpu".parse()? } else { args.device.parse()? };
        match open(&request)?.device {
            Device::Gpu(g) => {
                let software = g.adapter().is_software;
                columns.push((g.describe(), bench_on(g.as_ref(), software, &workloads, &t)?));
                if args.profile {
                    profiled = Some((g, software));
                }
            }
            Device::Cpu(c) if !want_cpu => columns.push((c.describe(), bench_on(&c, false, &workloads, &t)?)),
            Device::Cpu(_) => {}
        }
    }
    if args.json {
        for (device, results) in &columns {
            for (_, r) in results {
                if let Ok(m) = r {
                    println!("{}", json_line(device, m));
                }
            }
        }
        if let Some((g, software)) = profiled {
            profile(&g, software, &workloads, true)?;
        }
        return Ok(());
    }
    for (device, _) in &columns {
        println!("device: {device}");
    }
    for (i, w) in workloads.iter().enumerate() {
        let mut line = format!("{:34}", w.name());
        let mut rates = Vec::new();
        for (_, results) in &columns {
            match &results[i].1 {
                Ok(m) => {
                    line.push_str(&format!("  {:>32}", rate_text(m)));
                    rates.push(Some(m.rate));
                }
                Err(why) => {
                    line.push_str(&format!("  {:>32}", "skipped"));
                    rates.push(None);
                    let _ = why;
                }
            }
        }
        if let [Some(cpu), Some(gpu)] = rates[..] {
            line.push_str(&format!("  GPU/CPU {:.2}×", gpu / cpu));
        }
        println!("{line}");
    }
    for (device, results) in &columns {
        let costs: Vec<_> = results.iter().filter_map(|(w, m)| Some((w, m.as_ref().ok()?.step_cost?))).collect();
        if !costs.is_empty() {
            println!("host cost per training step on {device} (recording + submit):");
        }
        for (w, c) in costs {
            println!("  {:32} {:6.1} dispatches  {:5.2} submits  {:8.1} µs", w, c.dispatches, c.submits, c.host_us);
        }
    }
    if columns.iter().any(|(_, r)| r.iter().any(|(_, m)| m.is_err())) {
        println!("skipped: the heavy workloads on a software adapter (about 100× slower than the CPU path)");
    }
    if let Some((g, software)) = profiled {
        profile(&g, software, &workloads, false)?;
    }
    Ok(())
}
