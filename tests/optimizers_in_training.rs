//! The newer optimizers inside the trainer, through the CLI: LAMB and schedule-free AdamW
//! train digits; schedule-free AdamW evaluates and checkpoints its eval-mode weights x (the
//! checkpoint evaluates to the run's own test loss) and resumes from them; settings that
//! cannot apply are refused before anything is written.

mod common;

use common::{digits_csv, tmp_dir};
use downhill::checkpoint::Checkpoint;
use std::path::{Path, PathBuf};
use std::process::Command;

fn downhill(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_downhill")).env("DOWNHILL_DEVICE", "cpu").args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn json(args: &[&str]) -> serde_json::Value {
    let (ok, stdout, stderr) = downhill(args);
    assert!(ok, "{args:?} failed: {stderr}");
    serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap()
}

fn train<'a>(data: &'a str, optimizer: &'a str, epochs: &'a str, out: &'a str) -> Vec<&'a str> {
    // A constant rate, so a one-epoch run is the first epoch of a two-epoch one.
    let common = ["--input-shape", "64", "--lr", "0.01", "--schedule", "constant", "--json", "--epochs", epochs];
    let mut args = vec!["train", "--data", data, "--optimizer", optimizer, "--out", out];
    args.extend(common);
    args
}

/// `args(epochs, out)` run for 2 epochs straight, and for 1 epoch then resumed to 2: the
/// straight run's summary and folder, and the resumed run's summary.
fn straight_and_resumed(
    dir: &Path,
    name: &str,
    args: &dyn Fn(&str, &Path) -> Vec<String>,
) -> (serde_json::Value, PathBuf, serde_json::Value) {
    let straight = dir.join(format!("{name}-straight"));
    let run = json(&as_strs(&args("2", &straight)));
    let first = dir.join(format!("{name}-first"));
    json(&as_strs(&args("1", &first)));
    let ckpt = first.join("checkpoint.safetensors");
    let resumed = dir.join(format!("{name}-resumed"));
    let again = json(&[
        "train",
        "--resume",
        ckpt.to_str().unwrap(),
        "--epochs",
        "2",
        "--out",
        resumed.to_str().unwrap(),
        "--json",
    ]);
    (run, straight, again)
}

/// Borrowed views of owned arguments, for [`json`].
fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// [`train`] as owned strings, for [`straight_and_resumed`].
fn train_args(data: &str, optimizer: &str, epochs: &str, out: &Path) -> Vec<String> {
    train(data, optimizer, epochs, out.to_str().unwrap()).iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_newer_optimizers_train_digits() {
    let dir = tmp_dir("new-optimizers");
    let data = digits_csv();
    let data = data.to_str().unwrap();
    for (optimizer, floor) in [("lamb", 0.75), ("adamw-schedule-free", 0.9), ("adafactor", 0.85), ("muon", 0.9)] {
        let out = dir.join(optimizer);
        let run = json(&train(data, optimizer, "3", out.to_str().unwrap()));
        let acc = run["test_accuracy"].as_f64().unwrap();
        assert!(acc > floor, "{optimizer}: test accuracy {acc} after 3 epochs");
    }
}

#[test]
fn schedule_free_adamw_evaluates_checkpoints_and_resumes_from_its_eval_weights() {
    let dir = tmp_dir("schedule-free-run");
    let data = digits_csv();
    let data = data.to_str().unwrap();
    let args = |epochs: &str, out: &Path| train_args(data, "adamw-schedule-free", epochs, out);
    let (run, straight, again) = straight_and_resumed(&dir, "schedule-free", &args);
    let ckpt = straight.join("checkpoint.safetensors");
    let c = Checkpoint::load(&ckpt).unwrap();
    assert!(c.meta.params_in_eval_mode, "the checkpoint holds x");
    let eval = json(&["eval", "--checkpoint", ckpt.to_str().unwrap(), "--json"]);
    assert_eq!(eval["test_loss"], run["test_loss"], "the run evaluated the same weights it saved");
    // The straight run also moved to x for its epoch-1 evaluation and back to y after it, so
    // the resumed run (y rebuilt from the checkpoint's x and z) matches it bit for bit.
    assert_eq!(run["test_loss"], again["test_loss"], "straight vs resumed");
}

#[test]
fn lamb_refuses_a_second_clip() {
    let dir = tmp_dir("lamb-clip");
    let data = digits_csv();
    let out = dir.join("run");
    for flag in ["--clip-norm", "--clip-value"] {
        let mut args = train(data.to_str().unwrap(), "lamb", "1", out.to_str().unwrap());
        args.extend([flag, "1.0"]);
        let (ok, _, stderr) = downhill(&args);
        assert!(!ok && stderr.contains("its own max_grad_norm"), "{flag}: {stderr}");
        assert!(!out.exists(), "nothing written for a refused run");
    }
}

#[test]
fn sophia_trains_with_its_hessian_estimate_and_resumes_exactly() {
    let dir = tmp_dir("sophia-run");
    let data = digits_csv();
    let data = data.to_str().unwrap();
    let run_args = |epochs: &str, out: &Path| -> Vec<String> {
        let mut a = train_args(data, "sophia", epochs, out);
        let i = a.iter().position(|s| s == "--lr").unwrap();
        a[i + 1] = "0.003".into();
        a.extend(["--hessian-interval".into(), "4".into()]);
        a
    };
    let (run, straight, again) = straight_and_resumed(&dir, "sophia", &run_args);
    assert!(run["test_accuracy"].as_f64().unwrap() > 0.85, "sophia on digits: {}", run["test_accuracy"]);
    let c = Checkpoint::load(&straight.join("checkpoint.safetensors")).unwrap();
    let hessian: Vec<_> = c.optimizer.iter().filter(|(k, _)| k.ends_with(".hessian")).collect();
    assert!(!hessian.is_empty(), "the hessian state is checkpointed");
    assert!(
        hessian.iter().all(|(_, t)| t.data().iter().any(|&v| v > 0.0)),
        "every tensor's Hessian EMA was fed by the sampled-label estimate"
    );
    assert_eq!(
        run["test_loss"], again["test_loss"],
        "the sampling keys follow the step count: a resume draws the same labels"
    );
}

#[test]
fn sophia_settings_are_checked() {
    let dir = tmp_dir("sophia-bad");
    let data = digits_csv();
    let out = dir.join("run");
    let cases: &[(&[&str], &str)] = &[
        (&["--optimizer", "sophia", "--rho", "0"], "rho"),
        (&["--optimizer", "sophia", "--hessian-interval", "0"], "hessian_interval"),
        (&["--optimizer", "sophia", "--beta1", "1"], "beta1"),
        (&["--optimizer", "adam", "--rho", "0.1"], "does not apply to adam"),
        (&["--optimizer", "sophia", "--loss", "mse"], "cross-entropy"),
    ];
    for (flags, want) in cases {
        let mut args = vec!["train", "--data", data.to_str().unwrap(), "--input-shape", "64", "--epochs", "1"];
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend_from_slice(flags);
        let (ok, _, stderr) = downhill(&args);
        assert!(!ok && stderr.contains(want), "{flags:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
        assert!(!out.exists(), "{flags:?}: nothing written for a refused run");
    }
}

#[test]
fn lamb_adafactor_and_muon_resume_bit_for_bit() {
    let dir = tmp_dir("per-tensor-resume");
    let data = digits_csv();
    let data = data.to_str().unwrap();
    for optimizer in ["lamb", "adafactor", "muon"] {
        let args = |epochs: &str, out: &Path| train_args(data, optimizer, epochs, out);
        let (run, _, again) = straight_and_resumed(&dir, optimizer, &args);
        assert_eq!(run["test_loss"], again["test_loss"], "{optimizer}: straight vs resumed");
    }
}

#[test]
fn compare_optimizers_writes_a_table_a_csv_and_a_figure() {
    let dir = tmp_dir("compare");
    let data = digits_csv();
    let out = dir.join("cmp");
    let (ok, stdout, stderr) = downhill(&[
        "compare-optimizers",
        "--data",
        data.to_str().unwrap(),
        "--input-shape",
        "64",
        "--epochs",
        "1",
        "--optimizers",
        "sgd,adafactor,muon",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    for name in ["sgd", "adafactor", "muon"] {
        assert!(stdout.contains(&format!("| {name} |")), "{name} in the table: {stdout}");
        assert!(out.join(name).join("checkpoint.safetensors").is_file());
    }
    let csv = std::fs::read_to_string(out.join("comparison.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "a header and three rows: {csv}");
    let png = std::fs::read(out.join("comparison.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the figure is a PNG");
    let (ok, _, stderr) =
        downhill(&["compare-optimizers", "--optimizers", "sgd,adamz", "--out", out.to_str().unwrap()]);
    assert!(!ok && stderr.contains("unknown \"adamz\""), "{stderr}");
}

#[test]
fn compare_optimizers_checks_its_settings_before_writing() {
    let dir = tmp_dir("compare-bad");
    let data = digits_csv();
    let out = dir.join("cmp");
    let cases: [(&[&str], &str); 4] = [
        (&["--epochs", "0"], "epochs"),
        (&["--input-shape", "0,8,8"], "input_shape"),
        (&["--input-shape", "8,x"], "--input-shape"),
        (&["--optimizers", "sgd,adamz"], "unknown \"adamz\""),
    ];
    for (flags, want) in cases {
        let mut args = vec!["compare-optimizers", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend_from_slice(flags);
        let (ok, _, stderr) = downhill(&args);
        assert!(!ok && stderr.contains(want), "{flags:?}: {stderr}");
        assert!(!out.exists(), "{flags:?}: no folder for a refused comparison");
    }
}
