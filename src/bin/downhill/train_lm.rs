//! `downhill train` on text (a `.txt` file, or the `gpt` preset without `--data`): a language
//! model trained by iterations as nanoGPT's `train.py`, with its evaluations printed as it goes
//! (`run::lm`).

use super::train::TrainArgs;
use downhill::config::RunConfig;
use downhill::run::lm::{train_lm, LmEvent};
use downhill::run::RunOptions;
use downhill::{DeviceRequest, Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;

/// Trains the language model `cfg` describes into `out`.
pub fn run(args: &TrainArgs, cfg: &RunConfig, out: PathBuf) -> Result<()> {
    if args.distributed {
        return Err(Error::InvalidArgument {
            what: "--distributed".into(),
            detail: "language-model runs (text data) are not data-parallel yet".into(),
        });
    }
    let device = match args.device.as_deref() {
        Some(flag) => flag.parse::<DeviceRequest>()?,
        None => DeviceRequest::from_env()?,
    };
    let talk = !(args.quiet || args.json);
    // The bar counts iterations and shows the training tokens/s since the last evaluation
    // (evaluation time left out), refreshed every few iterations.
    let mut bar: Option<ProgressBar> = None;
    let (mut window_tokens, mut window_started) = (0u64, Instant::now());
    let mut report = |e: &LmEvent| match e {
        LmEvent::Start { device, data, vocabulary, tokens, parameters, model, optimizer, first_iter, max_iters }
            if talk =>
        {
            eprintln!("device: {device}");
            eprintln!(
                "data:   {data}: vocabulary of {vocabulary}, {} train / {} validation tokens",
                tokens.0, tokens.1
            );
            eprintln!("model:  {parameters} parameters: {model}");
            eprintln!("optim:  {optimizer}");
            let b = ProgressBar::new(*max_iters);
            b.set_style(
                ProgressStyle::with_template("[{bar:28}] {pos}/{len} iterations, {msg}, ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_position(*first_iter);
            bar = Some(b);
        }
        LmEvent::Step { iter, tokens } => {
            window_tokens += tokens;
            if let Some(b) = &bar {
                b.set_position(*iter);
                if iter % 10 == 0 {
                    let s = window_started.elapsed().as_secs_f64().max(1e-9);
                    b.set_message(format!("{:.0} tokens/s", window_tokens as f64 / s));
                }
            }
        }
        LmEvent::Eval { iter, train, val, val_accuracy, tokens_per_s, lr } if talk => {
            let rate = if *iter == 0 { String::new() } else { format!(", {tokens_per_s:.0} tokens/s, lr {lr:.2e}") };
            // Perplexity and bits per token (per character for a character vocabulary) follow
            // from the mean cross-entropy in nats.
            let (ppl, bits) = (val.exp(), val / std::f64::consts::LN_2);
            let line = format!(
                "iter {iter:>6}: train loss {train:.4}, val loss {val:.4} (perplexity {ppl:.2}, {bits:.3} bits per \
                 token, token accuracy {:.1}%){rate}",
                100.0 * val_accuracy
            );
            // Above the bar on a terminal; a plain line otherwise (a hidden bar prints nothing).
            match &bar {
                Some(b) if !b.is_hidden() => b.println(line),
                _ => eprintln!("{line}"),
            }
            (window_tokens, window_started) = (0, Instant::now());
        }
        LmEvent::Note(note) => eprintln!("note:   {note}"),
        _ => {}
    };
    let opts = RunOptions { resume: args.resume.clone(), overwrite: args.overwrite, reset_optimizer: false };
    let s = train_lm(cfg, &device, &out, &opts, &mut report);
    if let Some(b) = bar.take() {
        b.finish_and_clear();
    }
    let s = s.inspect_err(|e| super::train::exit_if_a_checkpoint_survived(e, &out))?;
    if args.json {
        let json = serde_json::json!({
            "device": s.device, "iters": s.iters, "best_val_loss": s.best_val_loss,
            "tokens_per_s": s.tokens_per_s, "wall_s": s.wall_s, "checkpoint": s.checkpoint,
            "best_checkpoint": s.best_checkpoint,
            "evals": s.evals,
        });
        println!("{json}");
        return Ok(());
    }
    println!(
        "done: {} iterations in {:.1} s on {}: best val loss {:.4}, {:.0} tokens/s",
        s.iters, s.wall_s, s.device, s.best_val_loss, s.tokens_per_s
    );
    println!("checkpoint: {} (the last evaluation's; --resume continues it)", s.checkpoint.display());
    println!("best:       {}", s.best_checkpoint.display());
    println!("sample:     downhill generate --checkpoint {}", s.best_checkpoint.display());
    Ok(())
}
