//! Whole runs through the library and the `downhill` binary: exact resume after an
//! interruption, checkpoint contents, and every bad input the issue lists (clear error, non-zero
//! exit, no panic, nothing overwritten).

mod common;

use common::{checkpoint_params, ControlAt};
use downhill::checkpoint::Checkpoint;
use downhill::config::RunConfig;
use downhill::run::{train, Control, Quiet, RunOptions};
use downhill::DeviceRequest;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-run-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn digits() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digits.csv.gz")
}

fn small_config() -> RunConfig {
    RunConfig {
        data: Some(digits()),
        hidden: vec![24],
        epochs: 2,
        batch_size: 32,
        dropout: 0.1,
        optimizer: "adamw".into(),
        weight_decay: Some(0.01),
        schedule: "warmup-cosine".into(),
        checkpoint_every: 10,
        normalization: downhill::data::normalize::Normalization::Standardize,
        ..Default::default()
    }
}

#[test]
fn an_interrupted_and_resumed_run_ends_with_the_same_weights_on_the_cpu_path() {
    let cfg = small_config();
    let straight = tmp("straight");
    let full = train(&cfg, &DeviceRequest::Cpu, &straight, &RunOptions::default(), &mut Quiet).unwrap();
    assert_eq!(full.epochs, 2);

    // Stop in the middle of the second epoch (41 steps per epoch: 1,294 training rows after
    // the default validation split; checkpoints every 10 steps).
    let broken = tmp("broken");
    let err = train(
        &cfg,
        &DeviceRequest::Cpu,
        &broken,
        &RunOptions::default(),
        &mut ControlAt { at: 57, then: Control::Stop },
    )
    .unwrap_err();
    assert!(matches!(err, downhill::Error::Interrupted(57)), "{err}");
    let ckpt = broken.join("checkpoint.safetensors");
    let meta = Checkpoint::load(&ckpt).unwrap().meta;
    assert_eq!((meta.epoch, meta.epoch_step, meta.steps), (1, 10, 51), "the last checkpoint before the stop");

    let resumed = train(
        &cfg,
        &DeviceRequest::Cpu,
        &broken,
        &RunOptions { resume: Some(ckpt.clone()), ..Default::default() },
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(
        checkpoint_params(&resumed.checkpoint),
        checkpoint_params(&full.checkpoint),
        "resume must end bit for bit where the straight run ends"
    );
    let curve = |h: &[downhill::checkpoint::EpochRecord]| -> Vec<(f64, Option<f64>, Option<f64>)> {
        h.iter().map(|r| (r.train_loss, r.val_loss, r.val_accuracy)).collect()
    };
    assert_eq!(curve(&resumed.history), curve(&full.history), "the resumed run's metrics match too");
}

#[test]
fn checkpoints_hold_sequential_names_optimizer_state_and_metadata() {
    let out = tmp("contents");
    let cfg = RunConfig { epochs: 1, checkpoint_every: 0, ..small_config() };
    let summary = train(&cfg, &DeviceRequest::Cpu, &out, &RunOptions::default(), &mut Quiet).unwrap();
    let bytes = std::fs::read(&summary.checkpoint).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<&str> = st.names().into_iter().filter(|n| !n.starts_with("optimizer.")).collect();
    names.sort();
    // nn.Sequential(Linear, ReLU, Dropout, Linear): indices 0 and 3.
    assert_eq!(names, ["0.bias", "0.weight", "3.bias", "3.weight"]);
    assert_eq!(st.tensor("0.weight").unwrap().shape(), &[24, 64]);
    assert!(st.names().contains(&"optimizer.0.weight.exp_avg_sq"));
    for f in ["metrics.csv", "metrics.jsonl", "curves.png"] {
        assert!(out.join(f).is_file(), "{f} is written");
    }
    assert!(std::fs::read(out.join("curves.png")).unwrap().starts_with(b"\x89PNG"));
}

#[test]
fn early_stopping_stops_after_patience_epochs_without_improvement() {
    let out = tmp("early");
    // lr 0 never improves the validation loss, so patience 2 stops after epoch 3.
    let cfg = RunConfig {
        epochs: 10,
        lr: Some(1e-12),
        validation: 0.2,
        patience: Some(2),
        checkpoint_every: 0,
        ..small_config()
    };
    let s = train(&cfg, &DeviceRequest::Cpu, &out, &RunOptions::default(), &mut Quiet).unwrap();
    assert!(s.stopped_early && s.epochs == 3, "stopped early after {} epochs", s.epochs);
    // A validation metric without a validation split is refused before any training.
    let bad = RunConfig { validation: 0.0, ..cfg };
    let dir = tmp("early-bad");
    let e = train(&bad, &DeviceRequest::Cpu, &dir, &RunOptions::default(), &mut Quiet).unwrap_err();
    assert!(e.to_string().contains("needs a validation split"), "{e}");
    assert!(!dir.join("checkpoint.safetensors").exists(), "refused before the first epoch's checkpoint");
}

fn downhill(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_downhill")).args(args).env("DOWNHILL_DEVICE", "cpu").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn the_command_trains_evaluates_and_predicts() {
    let out = tmp("cli");
    let o = out.to_str().unwrap();
    let data = digits();
    let (ok, stdout, stderr) = downhill(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--epochs",
        "8",
        "--hidden",
        "32",
        "--lr",
        "2e-3",
        "--json",
        "--out",
        o,
    ]);
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for key in ["device", "epochs", "train_loss", "test_loss", "test_accuracy", "samples_per_s", "wall_s", "checkpoint"]
    {
        assert!(!json[key].is_null(), "--json has {key}: {json}");
    }
    assert!(json["test_accuracy"].as_f64().unwrap() > 0.85, "{json}");
    let ckpt = out.join("checkpoint.safetensors");
    let (ok, stdout, stderr) = downhill(&["eval", "--checkpoint", ckpt.to_str().unwrap()]);
    assert!(ok && stdout.contains("accuracy") && stdout.contains("confusion"), "{stdout}{stderr}");
    let csv = out.join("rows.csv");
    std::fs::write(&csv, "0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0,0,3,15,2,0,11,8,0,0,4,12,0,0,8,8,0,0,5,8,0,0,9,8,0,0,4,11,0,1,12,7,0,0,2,14,5,10,12,0,0,0,0,6,13,10,0,0,0\n").unwrap();
    let (ok, stdout, stderr) =
        downhill(&["predict", "--checkpoint", ckpt.to_str().unwrap(), "--input", csv.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("row,prediction,p0"), "{stdout}");
}

#[test]
fn bad_input_fails_clearly_and_overwrites_nothing() {
    let out = tmp("bad");
    let o = out.to_str().unwrap();
    let fail = |args: &[&str], needle: &str| {
        let (ok, stdout, stderr) = downhill(args);
        assert!(!ok, "{args:?} must fail; stdout: {stdout}");
        assert!(stderr.contains(needle), "{args:?}: {stderr:?} should mention {needle:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    fail(&["train", "--data", "/no/such/dir", "--out", o], "no such file or folder");
    let cfg = out.join("typo.toml");
    std::fs::write(&cfg, "batchsize = 32\n").unwrap();
    fail(&["train", "--config", cfg.to_str().unwrap(), "--out", o], "did you mean `batch_size`");

    // A good checkpoint, then damaged copies of it; the good one must survive every failure.
    let good = tmp("good");
    let (ok, _, stderr) = downhill(&[
        "train",
        "--data",
        digits().to_str().unwrap(),
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--quiet",
        "--out",
        good.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let ckpt = good.join("checkpoint.safetensors");
    let before = std::fs::read(&ckpt).unwrap();
    let truncated = out.join("truncated.safetensors");
    std::fs::write(&truncated, &before[..before.len() / 3]).unwrap();
    fail(&["eval", "--checkpoint", truncated.to_str().unwrap()], "truncated.safetensors");
    let corrupt = out.join("corrupt.safetensors");
    let mut bytes = before.clone();
    bytes[0..8].copy_from_slice(&[0xff; 8]);
    std::fs::write(&corrupt, bytes).unwrap();
    fail(&["eval", "--checkpoint", corrupt.to_str().unwrap()], "corrupt.safetensors");
    fail(&["eval", "--checkpoint", "/no/such.safetensors"], "cannot read checkpoint");

    // A checkpoint for 64 inputs against MNIST images (784): another model shape.
    let mnist = tmp("mnist-like");
    let img = |n: u32| {
        let mut b = vec![0u8, 0, 8, 3];
        for d in [n, 28, 28] {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend(std::iter::repeat_n(7u8, (n * 784) as usize));
        b
    };
    let lab = |n: u32, v: u8| {
        let mut b = vec![0u8, 0, 8, 1];
        b.extend_from_slice(&n.to_be_bytes());
        b.extend(std::iter::repeat_n(v, n as usize));
        b
    };
    std::fs::write(mnist.join("train-images-idx3-ubyte"), img(4)).unwrap();
    std::fs::write(mnist.join("train-labels-idx1-ubyte"), lab(4, 1)).unwrap();
    std::fs::write(mnist.join("t10k-images-idx3-ubyte"), img(2)).unwrap();
    std::fs::write(mnist.join("t10k-labels-idx1-ubyte"), lab(2, 1)).unwrap();
    fail(&["eval", "--checkpoint", ckpt.to_str().unwrap(), "--data", mnist.to_str().unwrap()], "784");
    fail(
        &["train", "--resume", ckpt.to_str().unwrap(), "--epochs", "2", "--data", mnist.to_str().unwrap(), "--out", o],
        "784",
    );

    // A label outside the model's 10 classes.
    let labels12 = out.join("labels12.csv");
    std::fs::write(&labels12, format!("{}12\n", "1,".repeat(64))).unwrap();
    let twelve = tmp("twelve");
    std::fs::write(twelve.join("x.csv"), format!("{}12\n{}3\n", "1,".repeat(64), "2,".repeat(64))).unwrap();
    fail(
        &["eval", "--checkpoint", ckpt.to_str().unwrap(), "--data", twelve.join("x.csv").to_str().unwrap()],
        "classes",
    );
    assert_eq!(std::fs::read(&ckpt).unwrap(), before, "failed commands must not touch the checkpoint");
}

#[test]
fn a_diverging_command_names_the_step_and_the_last_good_checkpoint() {
    let out = tmp("diverge");
    let (ok, _, stderr) = downhill(&[
        "train",
        "--data",
        digits().to_str().unwrap(),
        "--optimizer",
        "sgd",
        "--lr",
        "1e6",
        "--dropout",
        "0",
        "--normalization",
        "none",
        "--epochs",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(!ok, "lr 1e6 must diverge");
    assert!(
        stderr.contains("diverged at step")
            && stderr.contains("learning rate")
            && stderr.contains("Last good checkpoint"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_gpu_path_trains_the_same_run_in_both_feed_modes() {
    let Some(_) = common::gpu() else { return };
    let gpu = DeviceRequest::Gpu;
    let mut accuracies = Vec::new();
    for feed in [downhill::feed::FeedMode::Resident, downhill::feed::FeedMode::Streaming] {
        let cfg = RunConfig { epochs: 2, hidden: vec![16], feed, checkpoint_every: 0, ..small_config() };
        let s = train(&cfg, &gpu, &tmp(&format!("gpu-{feed:?}")), &RunOptions::default(), &mut Quiet).unwrap();
        assert!(s.device.starts_with("gpu"), "{}", s.device);
        accuracies.push((s.test_accuracy.unwrap(), checkpoint_params(&s.checkpoint)));
    }
    let cpu_cfg = RunConfig { epochs: 2, hidden: vec![16], checkpoint_every: 0, ..small_config() };
    let cpu = train(&cpu_cfg, &DeviceRequest::Cpu, &tmp("gpu-cpu"), &RunOptions::default(), &mut Quiet).unwrap();
    assert_eq!(accuracies[0].1, accuracies[1].1, "both feeds give the same weights on the GPU path");
    assert!(
        (accuracies[0].0 - cpu.test_accuracy.unwrap()).abs() < 0.02,
        "GPU {} vs CPU {:?}",
        accuracies[0].0,
        cpu.test_accuracy
    );
}

#[test]
fn csv_regression_trains_with_a_named_label_column() {
    let out = tmp("regression");
    let mut csv = String::from("y,a,b\n");
    let mut rng = downhill::rng::Rng::new(3);
    for _ in 0..200 {
        let (a, b) = (rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0));
        csv.push_str(&format!("{},{a},{b}\n", 2.0 * a - b));
    }
    let file = out.join("line.csv");
    std::fs::write(&file, csv).unwrap();
    let (ok, stdout, stderr) = downhill(&[
        "train",
        "--data",
        file.to_str().unwrap(),
        "--label",
        "y",
        "--loss",
        "mse",
        "--hidden",
        "16",
        "--dropout",
        "0",
        "--epochs",
        "100",
        "--lr",
        "0.01",
        "--normalization",
        "none",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(json["test_accuracy"].is_null());
    assert!(json["test_loss"].as_f64().unwrap() < 0.05, "y = 2a − b is learnable: {json}");
}

#[test]
fn the_built_in_set_trains_and_predicts_from_idx_images() {
    let out = tmp("builtin");
    let o = out.to_str().unwrap();
    let (ok, stdout, stderr) = downhill(&["train", "--epochs", "2", "--hidden", "16", "--json", "--out", o]);
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(json["test_accuracy"].as_f64().unwrap() > 0.75, "two short epochs already learn: {json}");
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-mini/t10k-images-idx3-ubyte.gz");
    let csv = out.join("pred.csv");
    let ckpt = out.join("checkpoint.safetensors");
    let (ok, _, stderr) = downhill(&[
        "predict",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--input",
        images.to_str().unwrap(),
        "--output",
        csv.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 1001, "a header and one row per test image");
    let first: Vec<f64> = text.lines().nth(1).unwrap().split(',').skip(2).map(|v| v.parse().unwrap()).collect();
    assert!((first.iter().sum::<f64>() - 1.0).abs() < 1e-4, "probabilities sum to 1: {first:?}");
}
