//! Load on `downhill explore` over loopback (issue 24): starts the release binary's server on
//! the CPU and runs three phases with keep-alive HTTP/1.1 clients on threads.
//!
//! 1. **mix**: `--connections` (32) clients for `--secs` (60) s; every 8th sends basin maps
//!    (256² starts × 500 steps), the rest heat maps (256²), races (4 runs × 500 steps) and
//!    info in turn. Wanted: no 5xx (the 4 basin clients fit the default queue of 4).
//! 2. **maximal**: one maximal basin map (1024² × 1907 steps, the API's limit) while 8 clients
//!    send light requests until it is answered. Wanted: light p99 ≤ 100 ms.
//! 3. **overload**: 16 clients send basin maps for 10 s: the queue refuses the excess with 503
//!    and `Retry-After`, which the clients honour.
//!
//! Prints latency percentiles per kind and the server's peak RSS per phase.
//! `cargo bench --bench explore_load -- --secs 60 --connections 32`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SURFACE: &str = r#"{"surface": {"name": "rosenbrock"}, "resolution": 256}"#;
const RACE: &str = r#"{"surface": {"name": "himmelblau"}, "start": [0.5, -0.5], "steps": 500, "runs": [
    {"label": "sgd", "optimizer": {"name": "sgd", "lr": 0.01}},
    {"label": "momentum", "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}},
    {"label": "adam", "optimizer": {"name": "adam", "lr": 0.05}},
    {"label": "lion", "optimizer": {"name": "lion", "lr": 0.01}}]}"#;
const BASIN: &str =
    r#"{"surface": {"name": "two-basin"}, "optimizer": {"name": "sgd", "lr": 0.05}, "grid": 256, "steps": 500}"#;
const SMALL_BASIN: &str =
    r#"{"surface": {"name": "two-basin"}, "optimizer": {"name": "sgd", "lr": 0.05}, "grid": 128, "steps": 200}"#;
const MAXIMAL_BASIN: &str =
    r#"{"surface": {"name": "two-basin"}, "optimizer": {"name": "sgd", "lr": 0.01}, "grid": 1024, "steps": 1907}"#;

/// One request kind of the mix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Info,
    Surface,
    Race,
    Basin,
}

impl Kind {
    fn request(self, basin: &'static str) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Kind::Info => ("GET", "/api/info", None),
            Kind::Surface => ("POST", "/api/surface", Some(SURFACE)),
            Kind::Race => ("POST", "/api/race", Some(RACE)),
            Kind::Basin => ("POST", "/api/basin", Some(basin)),
        }
    }
}

/// What one request came back with.
struct Sample {
    kind: Kind,
    status: u16,
    seconds: f64,
    retry_after: Option<u64>,
}

/// A keep-alive connection that reconnects when the server closed it.
struct Client {
    addr: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Client {
    fn new(addr: &str) -> Self {
        Client { addr: addr.to_string(), stream: None }
    }

    /// Sends one request and reads its answer; (status, retry-after) or the I/O failure.
    fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, Option<u64>)> {
        if self.stream.is_none() {
            self.stream = Some(BufReader::new(TcpStream::connect(&self.addr)?));
        }
        let result = self.exchange(method, path, body);
        if !matches!(result, Ok((_, _, true))) {
            self.stream = None;
        }
        result.map(|(status, retry, _)| (status, retry))
    }

    fn exchange(&mut self, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, Option<u64>, bool)> {
        let reader = self.stream.as_mut().expect("connected");
        let body = body.unwrap_or("");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        reader.get_mut().write_all(head.as_bytes())?;
        reader.get_mut().write_all(body.as_bytes())?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 =
            line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("no status line: {line:?}"))
            })?;
        let (mut length, mut retry, mut keep) = (0usize, None, true);
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (name, value) = l.split_once(':').unwrap_or((l, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "retry-after" => retry = value.trim().parse().ok(),
                "connection" => keep = !value.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut rest = vec![0u8; length];
        reader.read_exact(&mut rest)?;
        Ok((status, retry, keep))
    }
}

/// Peak and current resident memory of a process, in MB, from /proc.
fn rss_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
    };
    (field("VmHWM:").unwrap_or(f64::NAN) / 1024.0, field("VmRSS:").unwrap_or(f64::NAN) / 1024.0)
}

/// Runs `clients` threads, each calling `work(index, client, &stop)` until it returns, and
/// collects every sample.
fn run_clients(
    addr: &str,
    clients: usize,
    work: impl Fn(usize, &mut Client, &AtomicBool, &mut Vec<Sample>) + Sync,
    stop: &AtomicBool,
) -> Vec<Sample> {
    let all = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for i in 0..clients {
            let (all, work) = (&all, &work);
            scope.spawn(move || {
                let mut client = Client::new(addr);
                let mut mine = Vec::new();
                work(i, &mut client, stop, &mut mine);
                all.lock().unwrap().extend(mine);
            });
        }
    });
    all.into_inner().unwrap()
}

/// Sends one request of `kind` and records it; on a 503 with Retry-After, waits that long.
fn timed(client: &mut Client, kind: Kind, basin: &'static str, samples: &mut Vec<Sample>) {
    let (method, path, body) = kind.request(basin);
    let start = Instant::now();
    // A failed connection counts as status 0 ("other").
    let (status, retry_after) = client.send(method, path, body).unwrap_or_default();
    samples.push(Sample { kind, status, seconds: start.elapsed().as_secs_f64(), retry_after });
    if let (503, Some(secs)) = (status, retry_after) {
        std::thread::sleep(Duration::from_secs(secs));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Prints one row per kind: count, statuses, latency percentiles in ms.
fn report(phase: &str, samples: &[Sample], peak_rss: f64) {
    println!("\n## {phase}: {} requests, server peak RSS {peak_rss:.0} MB", samples.len());
    println!("| kind | requests | 2xx | 503 (Retry-After) | other | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for kind in [Kind::Info, Kind::Surface, Kind::Race, Kind::Basin] {
        let mine: Vec<&Sample> = samples.iter().filter(|s| s.kind == kind).collect();
        if mine.is_empty() {
            continue;
        }
        let ok = mine.iter().filter(|s| (200..300).contains(&s.status)).count();
        let busy = mine.iter().filter(|s| s.status == 503 && s.retry_after.is_some()).count();
        let other = mine.len() - ok - busy;
        let mut ms: Vec<f64> =
            mine.iter().filter(|s| (200..300).contains(&s.status)).map(|s| s.seconds * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let p = |q| if ms.is_empty() { f64::NAN } else { percentile(&ms, q) };
        println!(
            "| {kind:?} | {} | {ok} | {busy} | {other} | {:.1} | {:.1} | {:.1} | {:.1} |",
            mine.len(),
            p(0.5),
            p(0.9),
            p(0.99),
            ms.last().copied().unwrap_or(f64::NAN)
        );
    }
}

fn flag(args: &[String], name: &str, default: u64) -> u64 {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(default)
}

/// The server, its address, and its standard output (kept open: it prints when it stops).
fn start_server() -> (Child, String, BufReader<ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_downhill"))
        .args(["explore", "--port", "0", "--device", "cpu"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start downhill explore");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("the URL line");
    (child, url.trim_start_matches("http://").trim_end_matches('/').to_string(), stdout)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs = flag(&args, "--secs", 60);
    let connections = flag(&args, "--connections", 32) as usize;
    let (mut server, addr, mut stdout) = start_server();
    let pid = server.id();
    println!("# downhill explore under load ({addr}, CPU, {connections} connections, {secs} s mix)");

    // 1. The mix.
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mix = run_clients(
        &addr,
        connections,
        |i, client, _, samples| {
            let light = [Kind::Surface, Kind::Race, Kind::Info];
            let mut turn = i;
            while Instant::now() < deadline {
                let kind = if i % 8 == 0 { Kind::Basin } else { light[turn % 3] };
                timed(client, kind, BASIN, samples);
                turn += 1;
            }
        },
        &stop,
    );
    report("mix", &mix, rss_mb(pid).0);

    // 2. Light requests while a maximal basin map computes.
    let done = Arc::new(AtomicBool::new(false));
    let maximal_seconds = Arc::new(Mutex::new((0u16, f64::NAN)));
    let heavy = {
        let (addr, done, out) = (addr.clone(), done.clone(), maximal_seconds.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let status = Client::new(&addr).send("POST", "/api/basin", Some(MAXIMAL_BASIN)).map_or(0, |a| a.0);
            *out.lock().unwrap() = (status, start.elapsed().as_secs_f64());
            done.store(true, Ordering::SeqCst);
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let cap = Instant::now() + Duration::from_secs(600);
    let during = run_clients(
        &addr,
        8,
        |i, client, done, samples| {
            let light = [Kind::Surface, Kind::Race, Kind::Info];
            let mut turn = i;
            while !done.load(Ordering::SeqCst) && Instant::now() < cap {
                timed(client, light[turn % 3], BASIN, samples);
                turn += 1;
            }
        },
        &done,
    );
    heavy.join().unwrap();
    let (status, seconds) = *maximal_seconds.lock().unwrap();
    report(
        &format!("light requests during one maximal basin map (status {status}, {seconds:.1} s)"),
        &during,
        rss_mb(pid).0,
    );

    // 3. Overload of the heavy lane.
    let deadline = Instant::now() + Duration::from_secs(10);
    let overload = run_clients(
        &addr,
        16,
        |_, client, _, samples| {
            while Instant::now() < deadline {
                timed(client, Kind::Basin, SMALL_BASIN, samples);
            }
        },
        &stop,
    );
    report("overload: 16 clients of basin maps for 10 s", &overload, rss_mb(pid).0);

    let killed = Command::new("kill").args(["-TERM", &pid.to_string()]).status().map(|s| s.success());
    let clock = Instant::now();
    let exit = server.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
    let mut said = String::new();
    let _ = stdout.read_to_string(&mut said);
    println!(
        "\nSIGTERM sent ({killed:?}); the server exited after {:.2} s: {exit}; it said {:?}",
        clock.elapsed().as_secs_f64(),
        said.trim()
    );
}
