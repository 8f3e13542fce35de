//! The newer optimizers inside the trainer, through the CLI: LAMB and schedule-free AdamW
//! train digits; schedule-free AdamW evaluates and checkpoints its eval-mode weights x (the
//! checkpoint evaluates to the run's own test loss) and resumes from them; settings that
//! cannot apply are refused before anything is written.

mod common;

use common::{digits_csv, tmp_dir};
use downhill::checkpoint::Checkpoint;
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
    let straight = dir.join("straight");
    let run = json(&train(data, "adamw-schedule-free", "2", straight.to_str().unwrap()));
    let ckpt = straight.join("checkpoint.safetensors");
    let c = Checkpoint::load(&ckpt).unwrap();
    assert!(c.meta.params_in_eval_mode, "the checkpoint holds x");
    let eval = json(&["eval", "--checkpoint", ckpt.to_str().unwrap(), "--json"]);
    assert_eq!(eval["test_loss"], run["test_loss"], "the run evaluated the same weights it saved");

    let first = dir.join("first");
    json(&train(data, "adamw-schedule-free", "1", first.to_str().unwrap()));
    let resumed = dir.join("resumed");
    let first_ckpt = first.join("checkpoint.safetensors");
    let args = ["train", "--resume", first_ckpt.to_str().unwrap(), "--epochs", "2", "--out", resumed.to_str().unwrap()];
    let mut args = args.to_vec();
    args.push("--json");
    let again = json(&args);
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
    let run_args = |epochs: &'static str, out: &std::path::Path| -> Vec<String> {
        let mut a: Vec<String> =
            train(data, "sophia", epochs, out.to_str().unwrap()).iter().map(|s| s.to_string()).collect();
        let i = a.iter().position(|s| s == "--lr").unwrap();
        a[i + 1] = "0.003".into();
        a.extend(["--hessian-interval".into(), "4".into()]);
        a
    };
    let straight = dir.join("straight");
    let args = run_args("2", &straight);
    let run = json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(run["test_accuracy"].as_f64().unwrap() > 0.85, "sophia on digits: {}", run["test_accuracy"]);
    let c = Checkpoint::load(&straight.join("checkpoint.safetensors")).unwrap();
    let hessian: Vec<_> = c.optimizer.iter().filter(|(k, _)| k.ends_with(".hessian")).collect();
    assert!(!hessian.is_empty(), "the hessian state is checkpointed");
    assert!(
        hessian.iter().all(|(_, t)| t.data().iter().any(|&v| v > 0.0)),
        "every tensor's Hessian EMA was fed by the sampled-label estimate"
    );

    let first = dir.join("first");
    json(&run_args("1", &first).iter().map(String::as_str).collect::<Vec<_>>());
    let resumed = dir.join("resumed");
    let ckpt = first.join("checkpoint.safetensors");
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
        let straight = dir.join(format!("{optimizer}-straight"));
        let run = json(&train(data, optimizer, "2", straight.to_str().unwrap()));
        let first = dir.join(format!("{optimizer}-first"));
        json(&train(data, optimizer, "1", first.to_str().unwrap()));
        let ckpt = first.join("checkpoint.safetensors");
        let resumed = dir.join(format!("{optimizer}-resumed"));
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
