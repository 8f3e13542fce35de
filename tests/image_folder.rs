//! Image folders (`--data DIR` with `train/<class>/*.png` and `test/<class>/…`, torchvision's
//! `ImageFolder` layout): a generated three-class set of grey stripes trains a small CNN past
//! 90 % test accuracy with per-channel normalisation; the class names are in the checkpoint
//! and `predict` answers with them; `val/` is the validation split; colour images are read as
//! RGB; `--image-size` resizes; and every bad folder is refused naming what is wrong (one
//! class, an empty class, mixed sizes, an undecodable file unless `--on-bad-image skip`).

mod common;

use downhill::checkpoint::Checkpoint;
use downhill::data::InputSchema;
use std::path::{Path, PathBuf};
use std::process::Command;

fn downhill(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_downhill")).args(args).env("DOWNHILL_DEVICE", "cpu").output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-imgf-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `size`×`size` grey image of class `k` (0: horizontal stripes, 1: vertical, 2: a
/// diagonal), variant `v` shifting the pattern and adding a little seeded noise.
fn stripes(k: usize, v: usize, size: u32) -> image::GrayImage {
    image::GrayImage::from_fn(size, size, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let on = match k {
            0 => (y + v) % 4 < 2,
            1 => (x + v) % 4 < 2,
            _ => (x + y + v) % 4 < 2,
        };
        let noise = ((x * 31 + y * 17 + v * 7) % 23) as u8;
        image::Luma([if on { 200 + noise } else { 30 + noise }])
    })
}

/// Writes `count` images per class into `dir/<split>/<class>/`.
fn write_split(dir: &Path, split: &str, classes: &[&str], count: usize, offset: usize) {
    for (k, name) in classes.iter().enumerate() {
        let d = dir.join(split).join(name);
        std::fs::create_dir_all(&d).unwrap();
        for v in 0..count {
            stripes(k, v + offset, 8).save(d.join(format!("{v:03}.png"))).unwrap();
        }
    }
}

const CLASSES: [&str; 3] = ["diagonal", "horizontal", "vertical"];
const SMALL_CNN: &str = "conv2d(4, 3, padding=1) relu flatten linear(3)";

#[test]
fn a_grey_image_folder_trains_and_predict_answers_with_class_names() {
    let dir = fresh("grey");
    // Class folders are numbered in sorted order: diagonal 0, horizontal 1, vertical 2.
    let kinds = ["diagonal", "horizontal", "vertical"];
    for (k, name) in [(2, kinds[0]), (0, kinds[1]), (1, kinds[2])] {
        for (split, count, offset) in [("train", 40, 0), ("val", 8, 100), ("test", 12, 200)] {
            let d = dir.join(split).join(name);
            std::fs::create_dir_all(&d).unwrap();
            for v in 0..count {
                stripes(k, v + offset, 8).save(d.join(format!("{v:03}.png"))).unwrap();
            }
        }
    }
    std::fs::write(dir.join("train/horizontal/notes.txt"), "not an image: ignored").unwrap();
    let out = dir.join("run");
    let (ok, stdout, stderr) = downhill(&[
        "train",
        "--data",
        dir.to_str().unwrap(),
        "--model",
        SMALL_CNN,
        "--epochs",
        "8",
        "--batch-size",
        "16",
        "--lr",
        "0.01",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let j: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let acc = j["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "test accuracy {acc}: {stdout}");
    let ckpt = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ckpt.meta.label_names.as_deref(), Some(&CLASSES.map(String::from)[..]));
    assert_eq!(ckpt.meta.schema, InputSchema::Image { channels: 1, height: 8, width: 8 });
    assert_eq!(ckpt.meta.input_shape, [1, 8, 8]);
    // The validation rows are val/'s 24, not a split of train/'s 120.
    let again = dir.join("again");
    let (ok, _, stderr) = downhill(&[
        "train",
        "--data",
        dir.to_str().unwrap(),
        "--model",
        SMALL_CNN,
        "--epochs",
        "1",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("120 train / 24 validation / 36 test rows"), "{stderr}");
    assert!(stderr.contains("3 classes, 1×8×8 images"), "{stderr}");

    // predict on a folder of images answers with the class names.
    let preds = dir.join("preds.csv");
    let (ok, _, stderr) = downhill(&[
        "predict",
        "--checkpoint",
        out.join("checkpoint.safetensors").to_str().unwrap(),
        "--input",
        dir.join("test/vertical").to_str().unwrap(),
        "--output",
        preds.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let csv = std::fs::read_to_string(&preds).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 12);
    assert!(csv.starts_with("row,file,prediction,p_diagonal,p_horizontal,p_vertical\n"), "{csv}");
    // Each row names its file (below --input, in sorted order), then the class.
    let files: Vec<&str> = rows.iter().map(|r| r.split(',').nth(1).unwrap()).collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert!(files == sorted && files.iter().all(|f| f.ends_with(".png") && !f.contains('/')), "{csv}");
    let vertical = rows.iter().filter(|r| r.split(',').nth(2) == Some("vertical")).count();
    assert!(vertical >= 11, "{csv}");
    // One image: its row names it as given.
    let one = dir.join("test/vertical/000.png");
    let (ok, stdout, stderr) = downhill(&[
        "predict",
        "--checkpoint",
        out.join("checkpoint.safetensors").to_str().unwrap(),
        "--input",
        one.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let line = stdout.lines().nth(1).unwrap_or_default();
    assert!(line.starts_with(&format!("0,{},", one.display())), "{stdout}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn colour_images_are_rgb_and_image_size_resizes() {
    let dir = fresh("rgb");
    for (split, count) in [("train", 6), ("test", 2)] {
        for (k, name) in ["blue", "red"].iter().enumerate() {
            let d = dir.join(split).join(name);
            std::fs::create_dir_all(&d).unwrap();
            for v in 0..count {
                let size = 10 + v as u32; // mixed sizes: only --image-size makes them one
                let img = image::RgbImage::from_fn(size, size, |_, _| {
                    if k == 0 {
                        image::Rgb([0, 0, 220])
                    } else {
                        image::Rgb([220, 0, 0])
                    }
                });
                img.save(d.join(format!("{v}.png"))).unwrap();
            }
        }
    }
    let out = dir.join("run");
    let base = ["train", "--data", dir.to_str().unwrap(), "--model", "flatten linear(2)", "--epochs", "1", "--quiet"];
    let (ok, _, stderr) = downhill(&[&base[..], &["--out", out.to_str().unwrap()]].concat());
    assert!(!ok && stderr.contains("images differ in size") && stderr.contains("--image-size"), "{stderr}");
    assert!(stderr.contains(".png is 10×10") || stderr.contains(".png is 1"), "names a file and its size: {stderr}");
    let (ok, _, stderr) = downhill(&[&base[..], &["--image-size", "6,4", "--out", out.to_str().unwrap()]].concat());
    assert!(ok, "{stderr}");
    let ckpt = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ckpt.meta.schema, InputSchema::Image { channels: 3, height: 6, width: 4 });
    // Per-channel statistics: each channel's 24 features share one shift; blue and red differ.
    let shift = &ckpt.meta.normalizer.shift;
    assert_eq!(shift.len(), 3 * 24);
    assert!(shift[..24].iter().all(|v| *v == shift[0]) && shift[48..].iter().all(|v| *v == shift[48]));
    assert_ne!(shift[0], shift[48]);
    // The GPU path reads the same folder into the same model and loss.
    if common::gpu().is_some() {
        let on_gpu = dir.join("gpu");
        let (ok, _, stderr) = downhill(
            &[&base[..], &["--image-size", "6,4", "--device", "gpu", "--out", on_gpu.to_str().unwrap()]].concat(),
        );
        assert!(ok, "{stderr}");
        let loss = |d: &Path| Checkpoint::load(&d.join("checkpoint.safetensors")).unwrap().meta.history[0].train_loss;
        let (cpu, gpu) = (loss(&out), loss(&on_gpu));
        assert!((cpu - gpu).abs() <= 1e-4 * cpu.abs().max(1.0), "train loss {cpu} on the CPU, {gpu} on the GPU");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_image_folders_are_refused_naming_what_is_wrong() {
    let train = |dir: &Path, extra: &[&str]| {
        let out = dir.join("run");
        let mut args = vec!["train", "--data", dir.to_str().unwrap(), "--model", "flatten linear(3)", "--epochs", "1"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", out.to_str().unwrap(), "--overwrite"]);
        downhill(&args)
    };

    let one = fresh("one-class");
    write_split(&one, "train", &["only"], 3, 0);
    write_split(&one, "test", &["only"], 1, 0);
    let (ok, _, err) = train(&one, &[]);
    assert!(!ok && err.contains("1 class folder(s) (only)") && err.contains("at least two"), "{err}");

    let empty = fresh("empty-class");
    write_split(&empty, "train", &CLASSES, 3, 0);
    write_split(&empty, "test", &CLASSES, 1, 0);
    std::fs::create_dir_all(empty.join("train/zebra")).unwrap();
    std::fs::write(empty.join("train/zebra/readme.txt"), "no images").unwrap();
    let (ok, _, err) = train(&empty, &[]);
    assert!(!ok && err.contains("zebra") && err.contains("has no images"), "{err}");

    let strange = fresh("test-class");
    write_split(&strange, "train", &CLASSES, 3, 0);
    write_split(&strange, "test", &["diagonal", "horizontal", "sideways"], 1, 0);
    let (ok, _, err) = train(&strange, &[]);
    assert!(!ok && err.contains("\"sideways\" is not one of the training classes"), "{err}");

    let corrupt = fresh("corrupt");
    write_split(&corrupt, "train", &CLASSES, 4, 0);
    write_split(&corrupt, "test", &CLASSES, 2, 0);
    let broken = corrupt.join("train/vertical/broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n not really").unwrap();
    let (ok, _, err) = train(&corrupt, &[]);
    assert!(!ok && err.contains("broken.png") && err.contains("--on-bad-image skip"), "{err}");
    let (ok, out, err) = train(&corrupt, &["--on-bad-image", "skip"]);
    assert!(ok, "{err}");
    let said = format!("{out}{err}");
    assert!(said.contains("1 files skipped as undecodable") && said.contains("broken.png"), "{said}");
    let (ok, _, err) = train(&corrupt, &["--on-bad-image", "ignore"]);
    assert!(!ok && err.contains("expected skip or error"), "{err}");
    let (ok, _, err) = train(&corrupt, &["--image-size", "0,4"]);
    assert!(!ok && err.contains("expected two sizes above 0"), "{err}");
    let (ok, _, err) = train(&corrupt, &["--channels", "2"]);
    assert!(!ok && err.contains("expected 1 (grey) or 3 (RGB)"), "{err}");

    for d in [one, empty, strange, corrupt] {
        let _ = std::fs::remove_dir_all(d);
    }
}
