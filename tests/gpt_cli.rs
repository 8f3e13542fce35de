//! `downhill train` on text and `downhill generate` (issue 21 items 5, 6 and 9): a tiny GPT
//! trains on a text file by iterations, its validation loss falls, the best checkpoint holds
//! the vocabulary, generation is seeded and streams the prompt's continuation; bad text, bad
//! settings and bad prompts are refused before anything is written, naming what is wrong.

mod common;

use common::tmp_dir;
use downhill::config::RunConfig;
use downhill::run::lm::{train_lm, LmEvent};
use downhill::run::RunOptions;
use downhill::DeviceRequest;
use std::path::Path;
use std::process::Command;

const TINY: &str = "gpt(n_layer=1, n_head=2, n_embd=16, block_size=16)";

/// The library-API tests' run: [`TINY`] on the test corpus in `dir`, the other settings default.
fn tiny_text_run(dir: &Path) -> RunConfig {
    RunConfig { data: Some(corpus(dir)), model: TINY.into(), ..RunConfig::default() }
}

fn downhill(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_downhill")).env("DOWNHILL_DEVICE", "cpu").args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

fn corpus(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/tinyshakespeare/input.txt")).unwrap();
    let path = dir.join("corpus.txt");
    std::fs::write(&path, &text[..60_000]).unwrap();
    path
}

#[test]
fn a_tiny_gpt_trains_on_text_and_generates() {
    let dir = tmp_dir("gpt-cli");
    let data = corpus(&dir);
    let out = dir.join("run");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let args =
        ["train", "--data", d, "--model", TINY, "--max-iters", "60", "--eval-interval", "30", "--eval-iters", "4"];
    let (ok, stdout, stderr) =
        downhill(&[&args[..], &["--batch-size", "8", "--lr", "3e-3", "--out", o, "--json"]].concat());
    assert!(ok, "{stderr}");
    let run: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let evals = run["evals"].as_array().unwrap();
    assert_eq!(evals.len(), 3, "iterations 0, 30 and 60: {run}");
    let val = |k: usize| evals[k]["val_loss"].as_f64().unwrap();
    assert!(val(2) < val(0) - 0.3, "the validation loss falls: {evals:?}");
    // Token accuracy: a share, and it rises as the loss falls (an untrained model's most likely
    // token is the right one about 1 time in the vocabulary's size).
    let accuracy = |k: usize| evals[k]["val_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy(0)) && (0.0..=1.0).contains(&accuracy(2)), "{evals:?}");
    assert!(accuracy(2) > accuracy(0) + 0.05, "the token accuracy rises: {evals:?}");
    assert!((run["best_val_loss"].as_f64().unwrap() - val(2)).abs() < 1e-12);

    let ckpt = out.join("checkpoint.safetensors");
    let c = ckpt.to_str().unwrap();
    // The file holds nanoGPT's state_dict names (both of the tied pair), for GPT.load_state_dict.
    let bytes = std::fs::read(&ckpt).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> =
        st.names().into_iter().filter(|n| !n.starts_with("optimizer.")).map(str::to_string).collect();
    names.sort();
    let mut want = downhill::nn::gpt::nanogpt_names(1, true);
    want.sort();
    assert_eq!(names, want);
    assert_eq!(st.tensor("lm_head.weight").unwrap().data(), st.tensor("transformer.wte.weight").unwrap().data());
    let sample = |seed: &str| {
        downhill(&["generate", "--checkpoint", c, "--prompt", "KING", "--max-new-tokens", "40", "--seed", seed])
    };
    let (ok, first, stderr) = sample("3");
    assert!(ok, "{stderr}");
    assert!(first.starts_with("KING") && first.trim_end().chars().count() >= 44, "{first:?}");
    assert_eq!(sample("3").1, first, "the same seed, the same text");
    assert_ne!(sample("4").1, first, "another seed, another sample");
    let (ok, greedy, _) = downhill(&["generate", "--checkpoint", c, "--temperature", "0", "--max-new-tokens", "10"]);
    assert!(ok && greedy.chars().count() >= 11, "{greedy:?}");

    // Bad prompts and settings: each named.
    for (args, needle) in [
        (vec!["--prompt", "KINGü"], "character 'ü' at position 4"),
        (vec!["--temperature", "-1"], "temperature: -1 is not a number"),
        (vec!["--temperature", "NaN"], "temperature: NaN"),
        (vec!["--top-k", "0"], "top_k: 0 is outside"),
        (vec!["--top-k", "1000"], "top_k: 1000 is outside"),
    ] {
        let (ok, _, stderr) = downhill(&[&["generate", "--checkpoint", c][..], &args[..]].concat());
        assert!(!ok && stderr.contains(needle), "{args:?}: {stderr}");
    }
    let long = "KING ".repeat(10);
    let (ok, text, stderr) = downhill(&["generate", "--checkpoint", c, "--prompt", &long, "--max-new-tokens", "3"]);
    assert!(ok && stderr.contains("more than the model's context of 16"), "{stderr}");
    assert!(text.starts_with(&long[long.len() - 16..]), "cropped from the left: {text:?}");
    // eval and predict are for images and tables: they say what to use instead.
    let (ok, _, stderr) = downhill(&["eval", "--checkpoint", c]);
    assert!(!ok && stderr.contains("downhill generate"), "{stderr}");
    let (ok, _, stderr) = downhill(&["predict", "--checkpoint", c, "--input", data.to_str().unwrap()]);
    assert!(!ok && stderr.contains("downhill generate"), "{stderr}");
    // A checkpoint that is not a language model.
    let table = dir.join("table.csv");
    std::fs::write(&table, (0..40).map(|i| format!("{i},{}\n", i % 2)).collect::<String>()).unwrap();
    let mlp = dir.join("mlp");
    let (ok, _, stderr) =
        downhill(&["train", "--data", table.to_str().unwrap(), "--epochs", "1", "--out", mlp.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = downhill(&["generate", "--checkpoint", mlp.join("checkpoint.safetensors").to_str().unwrap()]);
    assert!(!ok && stderr.contains("is not a language model"), "{stderr}");
}

#[test]
fn bad_text_settings_and_prompts_are_named() {
    let dir = tmp_dir("gpt-cli-bad");
    let never = dir.join("never");
    let n = never.to_str().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (vec!["--data".into(), write("empty.txt", b"")], vec!["empty"]),
        (
            vec!["--data".into(), write("short.txt", b"to be or not to be")],
            vec!["fewer than one window", "block_size + 1 = 17"],
        ),
        (vec!["--data".into(), write("latin1.txt", b"caf\xe9 au lait")], vec!["byte offset 3", "--tokenizer bytes"]),
    ];
    for (data, needles) in cases {
        let args: Vec<&str> =
            ["train", "--model", TINY, "--out", n].into_iter().chain(data.iter().map(String::as_str)).collect();
        let (ok, _, stderr) = downhill(&args);
        assert!(!ok, "{args:?} must fail");
        for needle in needles {
            assert!(stderr.contains(needle), "{args:?}: {stderr}");
        }
        assert!(!never.exists(), "{args:?} left a folder");
    }
    for flag in [["--epochs", "3"], ["--loss", "mse"], ["--normalization", "standardize"]] {
        let (ok, _, stderr) = downhill(&["train", "--model", TINY, flag[0], flag[1], "--out", n]);
        let key = flag[0].trim_start_matches("--");
        assert!(!ok && stderr.contains(key) && stderr.contains("would be ignored"), "{flag:?}: {stderr}");
        assert!(!never.exists());
    }
    // The text settings' own ranges.
    for (flag, needle) in [
        (["--max-iters", "0"], "each at least 1"),
        (["--eval-iters", "0"], "each at least 1"),
        (["--min-lr", "-1"], "min_lr"),
        (["--tokenizer", "words"], "chars or bytes"),
    ] {
        let (ok, _, stderr) = downhill(&["train", "--model", TINY, flag[0], flag[1], "--out", n]);
        assert!(!ok && stderr.contains(needle), "{flag:?}: {stderr}");
        assert!(!never.exists());
    }
    // Layer arguments the preset writes are checked too: a negative std, a tie to no weight.
    for (model, needle) in [
        ("embedding(65, 16, std=-1) position_embedding(16) layernorm(16) linear(65)", "std=-1"),
        ("embedding(65, 16) position_embedding(16) linear(65, bias=false, tie=1)", "1.weight"),
        ("embedding(65, 16) position_embedding(16) causal_self_attention(2, dropout=1.5) linear(65)", "dropout"),
    ] {
        let text = corpus(&dir);
        let args = ["train", "--data", text.to_str().unwrap(), "--model", model, "--input-shape", "16", "--out", n];
        let (ok, _, stderr) = downhill(&args);
        assert!(!ok && stderr.contains(needle), "{model}: {stderr}");
        assert!(!never.exists(), "{model} left a folder");
    }
    let (ok, _, stderr) = downhill(&["train", "--max-iters", "3", "--out", n]);
    assert!(!ok && stderr.contains("max_iters") && stderr.contains("language models"), "{stderr}");
    for (model, needle) in [
        ("gpt(n_layer=1, n_head=3, n_embd=16, block_size=16)", "not divisible by n_head 3"),
        ("gpt(n_layer=1, n_head=2, n_embd=16, block_size=0)", "block_size=0"),
        ("gpt(n_layer=1, n_head=2, n_embd=16, block_size=16, dropout=1)", "dropout"),
        ("gpt(n_layer=1, n_head=2, n_embd=16, block_size=16, dropout=-0.1)", "dropout"),
    ] {
        let (ok, _, stderr) = downhill(&["train", "--model", model, "--out", n]);
        assert!(!ok && stderr.contains(needle), "{model}: {stderr}");
        assert!(!never.exists());
    }
}

/// `--resume` continues a text run bit for bit: a run stopped at its iteration-20 checkpoint and
/// resumed ends with the weights and the last evaluation of the run that went straight through.
#[test]
fn a_text_run_resumes_bit_for_bit() {
    let dir = tmp_dir("gpt-resume");
    let cfg = RunConfig {
        max_iters: 40,
        eval_interval: 20,
        eval_iters: 2,
        batch_size: 4,
        lr: Some(3e-3),
        ..tiny_text_run(&dir)
    };
    let cpu = DeviceRequest::Cpu;
    let straight = train_lm(&cfg, &cpu, &dir.join("straight"), &RunOptions::default(), &mut |_| {}).unwrap();
    let at20 = dir.join("at20.safetensors");
    let mut last_eval = 0;
    let mut keep = |e: &LmEvent| match e {
        LmEvent::Eval { iter, .. } => last_eval = *iter,
        LmEvent::Checkpoint(p) if last_eval == 20 => {
            std::fs::copy(p, &at20).unwrap();
        }
        _ => {}
    };
    train_lm(&cfg, &cpu, &dir.join("first"), &RunOptions::default(), &mut keep).unwrap();
    let opts = RunOptions { resume: Some(at20.clone()), ..Default::default() };
    let resumed = train_lm(&cfg, &cpu, &dir.join("resumed"), &opts, &mut |_| {}).unwrap();
    assert_eq!(resumed.iters, 20, "the resumed run trains the last 20 iterations");
    assert_eq!(resumed.evals.last(), straight.evals.last(), "the same last evaluation");
    let params = |p: &Path| downhill::checkpoint::Checkpoint::load(p).unwrap().params;
    assert_eq!(params(&resumed.checkpoint), params(&straight.checkpoint), "bit for bit");
    // A finished run is not resumed; a checkpoint of another model is refused.
    let e = train_lm(
        &cfg,
        &cpu,
        &dir.join("again"),
        &RunOptions { resume: Some(straight.checkpoint.clone()), ..Default::default() },
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("already finished") && e.contains("--max-iters"), "{e}");
    let other = RunConfig { model: "gpt(n_layer=2, n_head=2, n_embd=16, block_size=16)".into(), ..cfg.clone() };
    let e = train_lm(&other, &cpu, &dir.join("other"), &opts, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("holds the model"), "{e}");
}

/// Gradient accumulation on text: 2 micro-batches of 4 windows take the step one batch of the
/// same 8 windows takes (the windows are drawn in the same order; the mean of two equal-sized
/// means is the mean), so the weights after 6 iterations agree to float rounding.
#[test]
fn text_accumulation_steps_as_the_whole_batch_does() {
    let dir = tmp_dir("gpt-accumulation");
    let cfg = RunConfig { max_iters: 6, eval_interval: 6, eval_iters: 1, lr: Some(3e-3), ..tiny_text_run(&dir) };
    let run = |batch_size, accumulation, name: &str| {
        let cfg = RunConfig { batch_size, accumulation, ..cfg.clone() };
        let s = train_lm(&cfg, &DeviceRequest::Cpu, &dir.join(name), &RunOptions::default(), &mut |_| {}).unwrap();
        (s.tokens_per_s > 0.0, downhill::checkpoint::Checkpoint::load(&s.checkpoint).unwrap().params)
    };
    let (_, whole) = run(8, 1, "whole");
    let (_, micro) = run(4, 2, "micro");
    let (_, half) = run(4, 1, "half");
    let worst = |a: &[(String, downhill::Tensor)], b: &[(String, downhill::Tensor)]| {
        a.iter()
            .zip(b)
            .flat_map(|((_, x), (_, y))| x.data().iter().zip(y.data()).map(|(p, q)| (p - q).abs()))
            .fold(0.0f32, f32::max)
    };
    assert!(worst(&whole, &micro) < 1e-5, "accumulated vs whole batch: {}", worst(&whole, &micro));
    assert!(worst(&whole, &half) > 1e-4, "a different batch gives different weights (the test can tell)");
}
