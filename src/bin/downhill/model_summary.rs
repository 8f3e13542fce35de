//! `downhill summary`: a model's layers before a run (Keras's `model.summary()`, torchinfo):
//! per layer its state-dict name, output shape, parameters, trainable or frozen, forward FLOPs
//! and activation memory for the batch; the totals, the flat buffer and each optimizer's state.

use clap::Args;
use downhill::checkpoint::Checkpoint;
use downhill::config::RunConfig;
use downhill::summary::{summarize, Summary, Trainable};
use downhill::Result;
use std::path::PathBuf;

/// `downhill summary` flags.
#[derive(Args)]
pub struct SummaryArgs {
    /// mlp (the default), a preset (cnn, lenet5, gpt, …) or a layer spec.
    #[arg(long)]
    model: Option<String>,
    /// The mlp's hidden sizes (comma-separated).
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// The data the model is for (as `train --data`; default: the built-in data): it gives
    /// the input shape and the number of outputs.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The shape of one sample, e.g. 3,32,32 (as `train --input-shape`).
    #[arg(long, value_delimiter = ',')]
    input_shape: Option<Vec<usize>>,
    /// Outputs of the model with --input-shape and no --data (classes, or regression targets).
    #[arg(long, default_value_t = 10)]
    outputs: usize,
    /// Summarise the model a checkpoint holds (its own settings; other model flags refused).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// The batch the FLOPs and activations are counted for (default: train's batch size).
    #[arg(long)]
    batch_size: Option<usize>,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Runs `downhill summary`.
pub fn run(args: SummaryArgs) -> Result<()> {
    let bad = |what: &str, detail: &str| downhill::Error::InvalidArgument { what: what.into(), detail: detail.into() };
    if args.outputs == 0 {
        return Err(bad("--outputs", "must be at least 1"));
    }
    let (cfg, spec) = match &args.checkpoint {
        Some(path) => {
            if args.model.is_some() || args.hidden.is_some() || args.data.is_some() || args.input_shape.is_some() {
                return Err(bad(
                    "--checkpoint",
                    "takes the model from the checkpoint: drop --model, --hidden, --data and --input-shape",
                ));
            }
            let c = Checkpoint::load(path)?;
            let m = &c.meta;
            let spec = downhill::run::model_spec(&m.config, m.inputs, &m.schema, m.outputs)
                .map_err(|e| downhill::Error::File { path: path.display().to_string(), detail: e.to_string() })?;
            (m.config.clone(), spec)
        }
        None => {
            let mut cfg = RunConfig::default();
            if let Some(m) = &args.model {
                cfg.model = m.clone();
            }
            if let Some(h) = &args.hidden {
                cfg.hidden = h.clone();
            }
            cfg.data = args.data.clone();
            cfg.input_shape = args.input_shape.clone();
            let spec = match (&args.input_shape, &args.data) {
                // A shape without data: the model alone, for --outputs outputs.
                (Some(shape), None) if !downhill::run::lm::is_language_model(&cfg) => {
                    let features = shape.iter().product();
                    let schema = downhill::data::InputSchema::Idx { pixels: features };
                    downhill::run::model_spec(&cfg, features, &schema, args.outputs)?
                }
                _ => downhill::run::model_for(&cfg)?,
            };
            (cfg, spec)
        }
    };
    let batch = args.batch_size.unwrap_or(cfg.batch_size);
    if batch == 0 {
        return Err(bad("--batch-size", "must be at least 1"));
    }
    let s = summarize(&spec, batch)?;
    if args.json {
        println!("{}", json(&s));
        return Ok(());
    }
    print_table(&spec.text(), &s);
    Ok(())
}

fn trains(t: Trainable) -> &'static str {
    match t {
        Trainable::None => "-",
        Trainable::Yes => "yes",
        Trainable::Frozen => "frozen",
        Trainable::Partly => "partly",
    }
}

fn json(s: &Summary) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = s
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.name, "layer": r.layer, "output_shape": r.output, "params": r.params,
                "tied_params": r.tied, "trainable": trains(r.trainable), "flops": r.flops,
                "activation_bytes": r.activation_bytes,
            })
        })
        .collect();
    let state: serde_json::Map<String, serde_json::Value> =
        s.optimizer_state.iter().map(|(name, bytes)| (name.to_string(), (*bytes).into())).collect();
    serde_json::json!({
        "input_shape": s.input, "layers": rows, "params": s.params, "trainable_params": s.trainable,
        "flops": s.flops, "activation_bytes": s.activation_bytes, "flat_bytes": s.flat_bytes,
        "step_bytes_estimate": s.step_bytes, "optimizer_state_bytes": state,
    })
}

/// 1234567 → "1,234,567".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 1.5e9 → "1.50 G" (decimal prefixes).
fn si(x: f64) -> String {
    match x {
        x if x >= 1e12 => format!("{:.2} T", x / 1e12),
        x if x >= 1e9 => format!("{:.2} G", x / 1e9),
        x if x >= 1e6 => format!("{:.2} M", x / 1e6),
        x if x >= 1e3 => format!("{:.2} k", x / 1e3),
        x => format!("{x:.0} "),
    }
}

fn shape(s: &[usize]) -> String {
    format!("[{}]", s.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
}

fn print_table(text: &str, s: &Summary) {
    println!("model: {text}");
    println!("input: {} (batch {})", shape(&s.input), s.input[0]);
    let name_w = s.rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(4).max(4);
    let layer_w = s.rows.iter().map(|r| r.layer.chars().count()).max().unwrap_or(5).clamp(5, 40);
    let out_w = s.rows.iter().map(|r| shape(&r.output).len()).max().unwrap_or(12).max(12);
    println!(
        "{:<name_w$}  {:<layer_w$}  {:<out_w$}  {:>12}  {:>6}  {:>11}  {:>11}",
        "name", "layer", "output shape", "params", "trains", "FLOPs", "activations"
    );
    for r in &s.rows {
        let layer: String = if r.layer.chars().count() > layer_w {
            format!("{}…", r.layer.chars().take(layer_w - 1).collect::<String>())
        } else {
            r.layer.clone()
        };
        let params = if r.tied > 0 { format!("tied {}", grouped(r.tied as u64)) } else { grouped(r.params as u64) };
        println!(
            "{:<name_w$}  {layer:<layer_w$}  {:<out_w$}  {params:>12}  {:>6}  {:>10}  {:>10}B",
            r.name,
            shape(&r.output),
            trains(r.trainable),
            format!("{}FLOP", si(r.flops as f64)),
            si(r.activation_bytes as f64),
        );
    }
    let batch = s.input[0] as f64;
    println!(
        "total: {} parameters ({} trainable, {} frozen)",
        grouped(s.params as u64),
        grouped(s.trainable as u64),
        grouped((s.params - s.trainable) as u64)
    );
    println!(
        "forward: {}FLOPs per batch ({}FLOPs per sample; 2 per multiply-add, as torch.utils.flop_counter counts)",
        si(s.flops as f64),
        si(s.flops as f64 / batch)
    );
    println!("activations: {}B of layer outputs per batch", si(s.activation_bytes as f64));
    println!("flat parameter buffer: {}B (each tensor starts on a 64-element boundary)", si(s.flat_bytes as f64));
    let state: Vec<String> = s.optimizer_state.iter().map(|(n, b)| format!("{n} {}B", si(*b as f64))).collect();
    println!("optimizer state (default settings): {}", state.join(", "));
    println!("one training step needs about {}B (parameters ×4, activations, gradients, scratch)", si(s.step_bytes));
}
