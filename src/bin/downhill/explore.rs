//! `downhill explore`: the gradient-descent explorer. Serves the page on 127.0.0.1, or writes a
//! self-contained page (`--export`) or a still image (`--png`) without a server.

use clap::Args;
use downhill::explore::listen::{ServerLimits, Stopped};
use downhill::explore::{export, server, Surface};
use downhill::{Backend, Device, DeviceRequest, Result};
use std::io::Write;
use std::path::PathBuf;

/// `downhill explore` flags.
#[derive(Args)]
pub struct ExploreArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the URL is printed).
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Open the page in the system browser once the server listens.
    #[arg(long)]
    open: bool,
    /// auto, cpu, gpu, an adapter index or part of its name (default: DOWNHILL_DEVICE or auto).
    #[arg(long)]
    device: Option<String>,
    /// Write one self-contained interactive page here (trajectories precomputed for a grid of
    /// learning rates) instead of serving.
    #[arg(long)]
    export: Option<PathBuf>,
    /// Write a still image (PNG) of the race here instead of serving.
    #[arg(long)]
    png: Option<PathBuf>,
    /// Surface of --export / --png (bowl, rosenbrock, himmelblau, beale, rastrigin, camel,
    /// saddle, plateau, two-basin).
    #[arg(long, default_value = "himmelblau")]
    surface: String,
    /// Start point "x,y" of --export / --png (default: the surface's own).
    #[arg(long, allow_hyphen_values = true)]
    start: Option<String>,
    /// Steps of --export / --png.
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Optimizers of --export / --png, as the page names its presets (comma-separated).
    #[arg(long, default_value = "sgd,momentum,nesterov,rmsprop,adam,lion")]
    optimizers: String,
    /// Connections served at once; one more is answered 503 and closed.
    #[arg(long, default_value_t = ServerLimits::default().max_connections)]
    max_connections: usize,
    /// Basin maps admitted at once (one computes, the rest wait); one more is answered 503
    /// with Retry-After.
    #[arg(long, default_value_t = ServerLimits::default().heavy_queue)]
    heavy_queue: usize,
    /// Seconds a client has to send a request's headers, and then its body.
    #[arg(long, default_value_t = ServerLimits::default().request_timeout.as_secs_f64())]
    request_timeout: f64,
}

fn parse_start(s: &str) -> Result<[f64; 2]> {
    let bad = || downhill::Error::InvalidArgument {
        what: "--start".into(),
        detail: format!("{s:?} is not \"x,y\" with two finite numbers"),
    };
    let parts: Vec<f64> = s.split(',').map(|p| p.trim().parse::<f64>().map_err(|_| bad())).collect::<Result<_>>()?;
    match parts[..] {
        [x, y] if x.is_finite() && y.is_finite() => Ok([x, y]),
        _ => Err(bad()),
    }
}

/// Runs `downhill explore`.
pub fn run(args: ExploreArgs) -> Result<()> {
    let request = DeviceRequest::from_flag_or_env(args.device.as_deref())?;
    let selection = downhill::device::open(&request)?;
    match selection.device {
        Device::Cpu(be) => run_on(be, &args, selection.fallback_reason),
        Device::Gpu(be) => run_on(*be, &args, selection.fallback_reason),
    }
}

/// Exports or serves on `be`; `fallback` (why the CPU path was chosen) is said once the
/// settings are known good, so it never precedes an error about something else.
fn run_on<B: Backend + Send + Sync + 'static>(be: B, args: &ExploreArgs, fallback: Option<String>) -> Result<()> {
    let say_fallback = || {
        if let Some(why) = &fallback {
            eprintln!("device: {why}");
        }
    };
    if args.export.is_some() || args.png.is_some() {
        let surface = Surface::new(&args.surface, None, None)?;
        let start = match &args.start {
            Some(s) => parse_start(s)?,
            None => surface.info.start,
        };
        let presets: Vec<&str> = args.optimizers.split(',').map(str::trim).collect();
        let spec = export::ExportSpec::new(surface, start, args.steps, &presets)?;
        say_fallback();
        if let Some(path) = &args.export {
            export::write_page(&be, &spec, path)?;
            println!("wrote {} (open it in any browser; no server needed)", path.display());
        }
        if let Some(path) = &args.png {
            export::write_png(&be, &spec, path)?;
            println!("wrote {}", path.display());
        }
        return Ok(());
    }
    say_fallback();
    let device = be.describe();
    let open = args.open;
    let limits = limits(args)?;
    let stopped = server::serve(be, args.port, &limits, |addr| {
        let url = format!("http://{addr}/");
        println!("downhill explore: {url} (computing on {device}; Ctrl-C stops)");
        if open {
            open_browser(&url);
        }
    })?;
    let why = match stopped {
        Stopped::Interrupt => "Ctrl-C",
        Stopped::Terminate => "SIGTERM",
    };
    // Whoever started the server may have closed its end of stdout by now: not an error.
    let _ = writeln!(std::io::stdout(), "downhill explore: stopped ({why})");
    Ok(())
}

/// The server's limits from the flags, each checked.
fn limits(args: &ExploreArgs) -> Result<ServerLimits> {
    let bad = |what: &str, detail: String| downhill::Error::InvalidArgument { what: what.into(), detail };
    if args.max_connections == 0 {
        return Err(bad("--max-connections", "must be at least 1".into()));
    }
    if args.heavy_queue == 0 {
        return Err(bad("--heavy-queue", "must be at least 1 (the basin map computing)".into()));
    }
    let t = args.request_timeout;
    if !(t.is_finite() && (0.001..=3600.0).contains(&t)) {
        return Err(bad("--request-timeout", format!("{t} s must be between 0.001 and 3600")));
    }
    Ok(ServerLimits {
        max_connections: args.max_connections,
        heavy_queue: args.heavy_queue,
        request_timeout: std::time::Duration::from_secs_f64(t),
        ..ServerLimits::default()
    })
}

/// Starts the system's browser on `url`, or says why it could not.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("--open: cannot start {opener} ({e}); open {url} yourself");
    }
}
