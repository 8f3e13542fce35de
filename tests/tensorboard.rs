//! `--tensorboard DIR`: event files TensorBoard reads. Each frame's checksums and the
//! `Event`s are checked by downhill's reader; TensorBoard's own `EventAccumulator` (PyPI
//! `tensorboard`, in the Python the Python-side tests use; without it the test fails unless
//! `DOWNHILL_REQUIRE_TENSORBOARD=0`) reads the same folder independently: the epoch scalars equal the checkpoint's history, a resumed run adds a
//! second file whose epochs continue, and the configuration is a text summary. A language
//! model logs each evaluation. An unwritable folder stops the run before it trains.

mod common;

use downhill::checkpoint::Checkpoint;
use downhill::tensorboard::{masked_crc, read_events, What};
use std::path::{Path, PathBuf};
use std::process::Command;

fn downhill(args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_downhill")).args(args).env("DOWNHILL_DEVICE", "cpu").output().unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-tb-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("events.out.tfevents."))
        .collect();
    files.sort();
    files
}

/// (tag, step, value) of every scalar in a file.
fn scalars(path: &Path) -> Vec<(String, i64, f32)> {
    read_events(path)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.what {
            Some(What::Summary(s)) => Some((e.step, s)),
            _ => None,
        })
        .flat_map(|(step, s)| s.value.into_iter().filter_map(move |v| Some((v.tag, step, v.simple_value?))))
        .collect()
}

/// TensorBoard's own reader over `dir`: {"scalars": {tag: [[step, value]…]}, "texts": {tag: [text…]}}.
fn tensorboard_reads(dir: &Path) -> Option<serde_json::Value> {
    let py = common::python::python()?;
    let has = Command::new(&py).args(["-c", "import tensorboard"]).output().is_ok_and(|o| o.status.success());
    if !has {
        assert_eq!(
            std::env::var("DOWNHILL_REQUIRE_TENSORBOARD").as_deref(),
            Ok("0"),
            "{py} cannot import tensorboard: `target/pyvenv/bin/pip install tensorboard` (as .ci/run does), or \
             DOWNHILL_REQUIRE_TENSORBOARD=0 to skip this check on purpose"
        );
        eprintln!("SKIPPED (DOWNHILL_REQUIRE_TENSORBOARD=0): no tensorboard package");
        return None;
    }
    let script = r#"
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
ea = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "tensors": 0})
ea.Reload()
tags = ea.Tags()
out = {"scalars": {t: [[e.step, e.value] for e in ea.Scalars(t)] for t in tags["scalars"]},
       "texts": {t: [e.tensor_proto.string_val[0].decode() for e in ea.Tensors(t)] for t in tags["tensors"]}}
print(json.dumps(out))
"#;
    let o = Command::new(&py).args(["-c", script]).arg(dir).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

#[test]
fn the_checksum_is_tfrecords_masked_crc32c() {
    // CRC-32C's check value, then TFRecord's mask: rotate right 15, add 0xa282ead8.
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    assert_eq!(masked_crc(b"123456789"), 0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8));
}

#[test]
fn an_epoch_run_and_its_resume_log_what_tensorboard_reads() {
    let (out, board) = (fresh("run"), fresh("board"));
    let (o, b) = (out.to_str().unwrap(), board.to_str().unwrap());
    let (ok, log) = downhill(&["train", "--hidden", "16", "--epochs", "2", "--quiet", "--out", o, "--tensorboard", b]);
    assert!(ok, "{log}");
    let files = event_files(&board);
    assert_eq!(files.len(), 1, "{files:?}");
    let events = read_events(&files[0]).unwrap();
    assert_eq!(events[0].what, Some(What::FileVersion("brain.Event:2".into())));
    let first = scalars(&files[0]);
    let history = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap().meta.history;
    for (epoch, record) in history.iter().enumerate() {
        let at = |tag: &str| first.iter().find(|(t, s, _)| t == tag && *s == epoch as i64 + 1).map(|v| v.2);
        assert_eq!(at("epoch/val_loss"), record.val_loss.map(|v| v as f32), "epoch {}", epoch + 1);
        assert_eq!(at("epoch/train_loss"), Some(record.train_loss as f32));
        assert_eq!(at("epoch/val_accuracy"), record.val_accuracy.map(|v| v as f32));
        assert_eq!(at("epoch/lr"), Some(record.lr as f32));
    }
    assert!(first.iter().any(|(t, s, _)| t == "train/running_loss" && *s > 0), "per-step losses: {first:?}");

    // A resumed run writes a second file; its epochs continue the first's.
    let ckpt = out.join("checkpoint.safetensors");
    let (ok, log) = downhill(&["train", "--resume", ckpt.to_str().unwrap(), "--epochs", "3", "--quiet"]);
    assert!(ok, "{log}");
    let files = event_files(&board);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(scalars(&files[1]).iter().any(|(t, s, _)| t == "epoch/val_loss" && *s == 3));

    let Some(tb) = tensorboard_reads(&board) else { return };
    let history = Checkpoint::load(&ckpt).unwrap().meta.history;
    let val: Vec<(i64, f64)> = tb["scalars"]["epoch/val_loss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_i64().unwrap(), p[1].as_f64().unwrap()))
        .collect();
    assert_eq!(val.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 2, 3], "{tb}");
    for (k, (_, v)) in val.iter().enumerate() {
        assert_eq!(*v as f32, history[k].val_loss.unwrap() as f32);
    }
    let config = tb["texts"]["config"][0].as_str().unwrap();
    assert!(config.contains("epochs = 2") && config.contains("hidden = [16]"), "{config}");
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&board);
}

#[test]
fn two_replicas_write_one_event_file() {
    let (out, board) = (fresh("replicas"), fresh("replicas-board"));
    let (ok, log) = downhill(&[
        "train",
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--device",
        "cpu,cpu",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--tensorboard",
        board.to_str().unwrap(),
    ]);
    assert!(ok, "{log}");
    let files = event_files(&board);
    assert_eq!(files.len(), 1, "replica 0 alone writes: {files:?}");
    assert!(scalars(&files[0]).iter().filter(|(t, _, _)| t == "epoch/val_loss").count() == 1);
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&board);
}

#[test]
fn a_language_model_logs_each_evaluation() {
    let (dir, board) = (fresh("lm"), fresh("lm-board"));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("corpus.txt");
    std::fs::write(&text, "to be or not to be, that is the question.\n".repeat(100)).unwrap();
    let run = dir.join("run");
    let args = [
        "train",
        "--data",
        text.to_str().unwrap(),
        "--model",
        "gpt(n_layer=1, n_head=2, n_embd=16, block_size=16)",
        "--max-iters",
        "20",
        "--eval-interval",
        "10",
        "--eval-iters",
        "2",
        "--batch-size",
        "4",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
        "--tensorboard",
        board.to_str().unwrap(),
    ];
    let (ok, log) = downhill(&args);
    assert!(ok, "{log}");
    let files = event_files(&board);
    assert_eq!(files.len(), 1);
    let s = scalars(&files[0]);
    let steps = |tag: &str| s.iter().filter(|(t, _, _)| t == tag).map(|v| v.1).collect::<Vec<_>>();
    assert_eq!(steps("val/loss"), [0, 10, 20], "{s:?}");
    assert_eq!(steps("tokens_per_s"), [10, 20]);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&board);
}

#[test]
fn an_unwritable_tensorboard_folder_stops_the_run_before_it_trains() {
    let out = fresh("unwritable");
    let blocker = fresh("blocker");
    std::fs::write(&blocker, b"a file, not a folder").unwrap();
    let inside = blocker.join("logs");
    let (ok, log) = downhill(&[
        "train",
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--tensorboard",
        inside.to_str().unwrap(),
    ]);
    assert!(!ok, "{log}");
    assert!(log.contains("TensorBoard folder") && log.contains(&inside.display().to_string()), "{log}");
    assert!(!log.contains("epoch 1"), "it must not train: {log}");
    assert!(!out.join("checkpoint.safetensors").exists());
    let _ = std::fs::remove_file(&blocker);
    let _ = std::fs::remove_dir_all(&out);
}
