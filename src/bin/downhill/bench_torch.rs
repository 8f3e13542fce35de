//! `downhill bench --against-torch [PYTHON]`: downhill's workloads and PyTorch's (the same
//! names, `benches/pytorch_reference.py`, compiled into the binary) measured in interleaved
//! rounds on one machine at one thread count, and one table of medians with the ratios. The
//! script runs as a server (`--serve`) so each round pays for a measurement, not for
//! importing torch; a second server measures CUDA when torch sees a GPU.

use downhill::bench::{run, Timing, Unit, Workload};
use downhill::device::{open, Device, DeviceRequest};
use downhill::{Backend, CpuBackend, GpuBackend, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The PyTorch side's script and the module it imports, written next to each other at run time.
const SCRIPTS: [(&str, &str); 3] = [
    ("pytorch_reference.py", include_str!("../../../benches/pytorch_reference.py")),
    ("cnn_pytorch.py", include_str!("../../../benches/cnn_pytorch.py")),
    ("gpt_pytorch.py", include_str!("../../../benches/gpt_pytorch.py")),
];

/// One running `pytorch_reference.py --serve`.
struct TorchServer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// How the script names its device, e.g. `pytorch 2.15.0 cpu (2 threads)`.
    device: String,
    /// The workloads it knows.
    names: Vec<String>,
    /// Workloads it cannot run in this interpreter and why (e.g. `transformers` missing); each
    /// is said on stderr the first time it is asked for, then forgotten.
    unavailable: Vec<(String, String)>,
    /// Whether torch sees a CUDA device.
    cuda: bool,
    /// Set once the script has stopped answering: no request is written to it again (the CLI
    /// restores SIGPIPE's default, so writing to a dead pipe would end downhill).
    stopped: bool,
}

impl TorchServer {
    /// Starts the script with `python` on `device` (cpu or cuda); Err says why it could not.
    fn start(python: &str, dir: &Path, device: &str, threads: usize) -> std::result::Result<Self, String> {
        // Its stderr goes to a file (a pipe nobody reads could fill and stall it), read back if
        // it fails to start.
        let log = dir.join(format!("stderr-{device}.txt"));
        let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(python)
            .arg(dir.join("pytorch_reference.py"))
            .args(["--serve", "--device", device, "--threads", &threads.to_string()])
            .arg("--mnist-mini")
            .arg(dir.join("mnist-mini"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot run `{python}`: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        let ready: serde_json::Value = match serde_json::from_str(&first) {
            Ok(v) => v,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let err = std::fs::read_to_string(&log).unwrap_or_default();
                let last = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("no output").to_string();
                return Err(format!("`{python}` could not run the PyTorch side: {last}"));
            }
        };
        let names = ready["ready"].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect());
        let unavailable = ready["unavailable"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect());
        Ok(TorchServer {
            child,
            stdin,
            stdout,
            device: ready["device"].as_str().unwrap_or(device).to_string(),
            names: names.unwrap_or_default(),
            unavailable: unavailable.unwrap_or_default(),
            cuda: ready["cuda"].as_bool().unwrap_or(false),
            stopped: false,
        })
    }

    /// One timed repetition of `name` of at least `seconds` (after its warm-up); None when the
    /// script has no such workload, or did not answer (said on stderr once).
    fn measure(&mut self, name: &str, key: &str, seconds: f64) -> Option<f64> {
        if let Some(i) = self.unavailable.iter().position(|(n, _)| n == name) {
            let (_, why) = self.unavailable.swap_remove(i);
            eprintln!("--against-torch: {name} on {}: not run: {why}", self.device);
        }
        if self.stopped || !self.names.iter().any(|n| n == name) {
            return None;
        }
        let answer = self.ask(name, seconds);
        self.stopped = answer.is_empty();
        let rate = serde_json::from_str::<serde_json::Value>(&answer).ok().and_then(|v| v[key].as_f64());
        if rate.is_none() {
            // Say why the cell will be empty: the script's answer, or that it has stopped.
            let why = if answer.trim().is_empty() { "no answer (the script stopped)" } else { answer.trim() };
            eprintln!("--against-torch: {} on {}: {why}", name, self.device);
        }
        rate
    }

    /// Sends one request and returns the answer line (empty when the script has stopped).
    fn ask(&mut self, name: &str, seconds: f64) -> String {
        let mut line = String::new();
        let running = matches!(self.child.try_wait(), Ok(None));
        if running && writeln!(self.stdin, "{name} 1 {seconds}").and_then(|_| self.stdin.flush()).is_ok() {
            let _ = self.stdout.read_line(&mut line);
        }
        line
    }
}

impl Drop for TorchServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder holding the scripts and the built-in data set's files, removed when dropped.
struct ScriptDir(PathBuf);

impl ScriptDir {
    fn create() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("downhill-against-torch-{}", std::process::id()));
        let io = |e: std::io::Error| downhill::Error::File {
            path: dir.display().to_string(),
            detail: format!("cannot write: {e}"),
        };
        std::fs::create_dir_all(dir.join("mnist-mini")).map_err(io)?;
        for (name, text) in SCRIPTS {
            std::fs::write(dir.join(name), text).map_err(io)?;
        }
        downhill::data::mnist::write_builtin(&dir.join("mnist-mini"))?;
        Ok(ScriptDir(dir))
    }
}

impl Drop for ScriptDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `--against-torch` prints when torch is missing, before downhill's side runs alone.
fn install_hint(python: &str, why: &str) -> String {
    format!(
        "--against-torch: {why}\n  PyTorch (and numpy) must be importable by `{python}`; for example:\n    \
         python3 -m venv ~/torch-venv && ~/torch-venv/bin/pip install torch numpy\n    \
         downhill bench --against-torch ~/torch-venv/bin/python\n  running downhill's side alone."
    )
}

/// One measured column: a device and its per-round rates, one list per workload.
struct Column {
    name: String,
    rates: Vec<Vec<f64>>,
}

fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied()
}

/// One downhill measurement: a single timed repetition of at least `seconds`.
fn once<B: Backend>(be: &B, software: bool, w: &Workload, seconds: f64) -> Result<Option<f64>> {
    if software && w.heavy() {
        return Ok(None);
    }
    Ok(Some(run(be, w, &Timing { reps: 1, min_seconds: seconds })?.rate))
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Flops => "GFLOP/s",
        Unit::Samples => "samples/s",
        Unit::Tokens => "tokens/s",
        Unit::Params => "params/s",
        Unit::StartSteps => "start-steps/s",
    }
}

/// Runs `--against-torch` (downhill's GPU column when `with_gpu` and an adapter is there): Ok(false) when the PyTorch side could not start (the caller then
/// runs downhill's side alone).
pub fn run_against(
    python: &str,
    workloads: &[Workload],
    rounds: usize,
    seconds: f64,
    json: bool,
    with_gpu: bool,
) -> Result<bool> {
    let dir = ScriptDir::create()?;
    let threads = rayon::current_num_threads();
    let mut torch_cpu = match TorchServer::start(python, &dir.0, "cpu", threads) {
        Ok(s) => s,
        Err(why) => {
            eprintln!("{}", install_hint(python, &why));
            return Ok(false);
        }
    };
    let mut torch_cuda = if torch_cpu.cuda {
        TorchServer::start(python, &dir.0, "cuda", threads)
            .map_err(|e| eprintln!("--against-torch: CUDA side: {e}"))
            .ok()
    } else {
        None
    };
    let cpu = CpuBackend::new();
    let gpu: Option<(Box<GpuBackend>, bool)> = match with_gpu.then(|| open(&DeviceRequest::Gpu)) {
        Some(Ok(o)) => match o.device {
            Device::Gpu(g) => {
                let software = g.adapter().is_software;
                Some((g, software))
            }
            Device::Cpu(_) => None,
        },
        _ => None,
    };
    let mut columns =
        vec![Column { name: format!("downhill {}", cpu.describe()), rates: vec![Vec::new(); workloads.len()] }];
    if let Some((g, _)) = &gpu {
        columns.push(Column { name: format!("downhill {}", g.describe()), rates: vec![Vec::new(); workloads.len()] });
    }
    columns.push(Column { name: torch_cpu.device.clone(), rates: vec![Vec::new(); workloads.len()] });
    if let Some(c) = &torch_cuda {
        columns.push(Column { name: c.device.clone(), rates: vec![Vec::new(); workloads.len()] });
    }
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for round in 0..rounds {
        for (i, w) in workloads.iter().enumerate() {
            if progress {
                eprint!("\r\x1b[Kround {}/{rounds}: {}…", round + 1, w.name());
            }
            let key = w.unit().key();
            let mut col = 0;
            let mut push = |col: &mut usize, r: Option<f64>| {
                if let Some(r) = r {
                    columns[*col].rates[i].push(r);
                }
                *col += 1;
            };
            push(&mut col, once(&cpu, false, w, seconds)?);
            if let Some((g, software)) = &gpu {
                push(&mut col, once(g.as_ref(), *software, w, seconds)?);
            }
            push(&mut col, torch_cpu.measure(&w.name(), key, seconds));
            if let Some(c) = torch_cuda.as_mut() {
                push(&mut col, c.measure(&w.name(), key, seconds));
            }
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    print_results(&columns, workloads, gpu.is_some(), torch_cuda.is_some(), rounds, threads, json);
    Ok(true)
}

/// The table (or JSON lines): each column's median and the ratios downhill/PyTorch on the CPU
/// and, where both exist, downhill's GPU over PyTorch's CUDA.
fn print_results(
    columns: &[Column],
    workloads: &[Workload],
    gpu: bool,
    cuda: bool,
    rounds: usize,
    threads: usize,
    json: bool,
) {
    let at = |c: usize, i: usize| median(&columns[c].rates[i]);
    let torch_col = if gpu { 2 } else { 1 };
    for (i, w) in workloads.iter().enumerate() {
        let (d_cpu, t_cpu) = (at(0, i), at(torch_col, i));
        let d_gpu = if gpu { at(1, i) } else { None };
        let t_cuda = if cuda { at(torch_col + 1, i) } else { None };
        let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        if json {
            let v = serde_json::json!({
                "workload": w.name(), "unit": w.unit().key(), "threads": threads, "rounds": rounds,
                "downhill_cpu": d_cpu, "downhill_gpu": d_gpu, "torch_cpu": t_cpu, "torch_cuda": t_cuda,
                "cpu_ratio": ratio(d_cpu, t_cpu), "gpu_ratio": ratio(d_gpu, t_cuda),
                "devices": columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            });
            println!("{v}");
        }
    }
    if json {
        return;
    }
    println!("medians of {rounds} interleaved rounds, {threads} CPU threads on both sides");
    for (k, c) in columns.iter().enumerate() {
        println!("  [{}] {}", k + 1, c.name);
    }
    let mut header = format!("{:34} {:>13}", "workload", "unit");
    for k in 0..columns.len() {
        header.push_str(&format!(" {:>11}", format!("[{}]", k + 1)));
    }
    header.push_str(&format!(" {:>9}", "CPU ×"));
    if gpu && cuda {
        header.push_str(&format!(" {:>9}", "GPU ×"));
    }
    println!("{header}");
    for (i, w) in workloads.iter().enumerate() {
        let mut line = format!("{:34} {:>13}", w.name(), unit_name(w.unit()));
        for k in 0..columns.len() {
            line.push_str(&format!(" {:>11}", at(k, i).map_or("—".to_string(), compact)));
        }
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map_or("—".into(), |(a, b)| format!("{:.2}×", a / b));
        line.push_str(&format!(" {:>9}", ratio(at(0, i), at(torch_col, i))));
        if gpu && cuda {
            line.push_str(&format!(" {:>9}", ratio(at(1, i), at(torch_col + 1, i))));
        }
        println!("{line}");
    }
    println!("CPU × = downhill's CPU path / PyTorch on the CPU; GPU × = downhill's GPU / PyTorch CUDA (above 1: downhill faster)");
}

/// A rate in at most 10 characters: whole numbers up to 10⁷, then scientific notation.
fn compact(v: f64) -> String {
    match v.abs() {
        a if a >= 1e7 => format!("{v:.3e}"),
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.3e}"),
    }
}
