//! `downhill lr-find` on scikit-learn's digits: the suggested rate, written as `lr = …` TOML
//! that `train --config` takes, trains the MLP to a sane test accuracy; the sweep's plot and
//! numbers are written; impossible sweeps are refused with the reason.

mod common;

use std::process::Command;

fn downhill(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_downhill")).args(args).env("DOWNHILL_DEVICE", "cpu").output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const DIGITS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/digits.csv.gz");

#[test]
fn the_suggested_rate_trains_the_digits_to_a_sane_accuracy() {
    let dir = std::env::temp_dir().join(format!("downhill-lrfind-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let found = dir.join("find");
    let (ok, out, err) =
        downhill(&["lr-find", "--data", DIGITS, "--batch-size", "8", "--seed", "1", "--out", found.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("suggested lr:"), "{out}");
    let toml = std::fs::read_to_string(found.join("lr.toml")).unwrap();
    let lr: f64 = toml.trim().strip_prefix("lr = ").unwrap().parse().unwrap();
    assert!((1e-5..0.5).contains(&lr), "a sane rate for Adam on digits: {lr}");
    let csv = std::fs::read_to_string(found.join("lr_find.csv")).unwrap();
    let rows: Vec<Vec<f64>> = csv.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    assert!(rows.len() >= 20 && rows.len() <= 100, "{} steps", rows.len());
    assert!(rows.windows(2).all(|w| w[1][0] > w[0][0]), "the rate grows every step");
    assert_eq!(rows[0][0], 1e-8);
    assert!(std::fs::metadata(found.join("lr_find.png")).unwrap().len() > 1000);

    // The TOML is a config `train` takes as it is.
    let run = dir.join("run");
    let (ok, out, err) = downhill(&[
        "train",
        "--config",
        found.join("lr.toml").to_str().unwrap(),
        "--data",
        DIGITS,
        "--batch-size",
        "8",
        "--epochs",
        "5",
        "--quiet",
        "--json",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let j: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let acc = j["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "test accuracy {acc} with lr {lr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn impossible_sweeps_are_refused() {
    for (flags, needle) in [
        (&["--start-lr", "1", "--end-lr", "0.1"][..], "must be below end_lr"),
        (&["--start-lr", "0"][..], "start_lr: 0 must be a finite rate > 0"),
        (&["--end-lr", "-1"][..], "end_lr: -1 must be a finite rate > 0"),
        (&["--num-steps", "1"][..], "steps: 1 must be at least 2"),
    ] {
        let mut args = vec!["lr-find", "--data", DIGITS, "--out", "/nonexistent/never-written"];
        args.extend_from_slice(flags);
        let (ok, out, err) = downhill(&args);
        assert!(!ok && err.contains(needle), "{flags:?}: {out}{err}");
    }
}

/// The sweep on the GPU path: the same rates, and losses within float tolerance of the CPU's
/// (the same weights and batches; sums differ in order).
#[test]
fn the_gpu_path_sweeps_the_same_rates_to_the_same_losses() {
    if common::gpu().is_none() {
        return; // DOWNHILL_REQUIRE_GPU=1 makes a missing adapter fail inside gpu()
    }
    let dir = std::env::temp_dir().join(format!("downhill-lrfind-gpu-{}", std::process::id()));
    let rows = |device: &str| -> Vec<Vec<f64>> {
        let out = dir.join(device);
        let args = ["lr-find", "--data", DIGITS, "--batch-size", "32", "--num-steps", "20", "--device", device];
        let (ok, out_text, err) = downhill(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
        assert!(ok || err.contains("no suggestion"), "{device}: {out_text}{err}");
        let csv = std::fs::read_to_string(out.join("lr_find.csv")).unwrap();
        csv.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect()
    };
    let (cpu, gpu) = (rows("cpu"), rows("gpu"));
    assert_eq!(cpu.len(), gpu.len());
    for (c, g) in cpu.iter().zip(&gpu) {
        assert_eq!(c[0], g[0], "the same rate");
        assert!((c[1] - g[1]).abs() <= 1e-3 * c[1].abs().max(1.0), "loss {} vs {} at lr {}", c[1], g[1], c[0]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
