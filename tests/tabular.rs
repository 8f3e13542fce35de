//! Tables as users have them (issue 20, items 2–5): regression targets in their own units
//! (standardised for training, reported and predicted in the data's units, with MAE, RMSE and
//! R²), class labels as text or 1..K (mapped in sorted order, kept in the checkpoint, printed
//! and predicted as written), a validation split scored each epoch with the test set scored
//! once at the end, and per-class precision, recall and F1.

mod common;

use common::{tmp_dir, Rng};
use downhill::checkpoint::Checkpoint;
use downhill::data::normalize::Normalization;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (success, stdout, stderr) of the CLI on the CPU.
fn downhill(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_downhill")).env("DOWNHILL_DEVICE", "cpu").args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

fn ok(args: &[&str]) -> (String, String) {
    let (ok, stdout, stderr) = downhill(args);
    assert!(ok, "{args:?} failed: {stderr}");
    (stdout, stderr)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// 300 rows of a target in the thousands: y = 5000 + 800·a − 300·b + noise.
fn price_csv(dir: &Path) -> PathBuf {
    let mut rng = Rng::new(11);
    let mut text = String::from("a,b,price\n");
    for _ in 0..300 {
        let (a, b) = (rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0));
        let y = 5000.0 + 800.0 * a - 300.0 * b + rng.uniform(-20.0, 20.0);
        text += &format!("{a:.4},{b:.4},{y:.2}\n");
    }
    write(dir, "prices.csv", &text)
}

/// 240 rows of three classes that the first feature separates, labelled by `label(class)`.
fn three_class_csv(dir: &Path, name: &str, label: &dyn Fn(u32) -> String) -> PathBuf {
    let mut rng = Rng::new(5);
    let mut text = String::from("x,noise,kind\n");
    for i in 0..240 {
        let class = i % 3;
        let x = class as f64 * 2.0 + rng.uniform(-0.5, 0.5);
        text += &format!("{x:.4},{:.4},{}\n", rng.uniform(-1.0, 1.0), label(class));
    }
    write(dir, name, &text)
}

#[test]
fn item2_regression_targets_train_standardised_and_report_in_their_units() {
    let dir = tmp_dir("tabular-regression");
    let data = price_csv(&dir);
    let out = dir.join("run");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let (stdout, _) = ok(&["train", "--data", d, "--loss", "mse", "--epochs", "20", "--out", o, "--json"]);
    let run = json(&stdout);
    let r2 = run["test_r2"].as_f64().unwrap();
    assert!(r2 > 0.95, "a linear target in the thousands is learnt: R² {r2} ({run})");
    let rmse = run["test_rmse"].as_f64().unwrap();
    assert!(rmse > 1.0 && rmse < 200.0, "RMSE is in the target's units (its std is ~500): {rmse}");
    assert!(run["test_mae"].as_f64().unwrap() <= rmse);

    let ckpt = out.join("checkpoint.safetensors");
    let c = Checkpoint::load(&ckpt).unwrap();
    let t = c.meta.target_normalizer.clone().expect("the target standardisation is stored");
    assert_eq!(t.kind, Normalization::Standardize);
    assert!((t.shift[0] - 5000.0).abs() < 100.0, "fitted mean {}", t.shift[0]);
    let last = c.meta.history.last().unwrap();
    assert!(last.val_regression.is_some(), "validation MAE/RMSE/R² every epoch");
    let log = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(log.starts_with("epoch,train_loss,val_loss,val_accuracy,val_mae,val_rmse,val_r2,"), "{log}");

    // eval scores the same weights on the same test rows; predict answers in prices.
    let eval = json(&ok(&["eval", "--checkpoint", ckpt.to_str().unwrap(), "--json"]).0);
    assert!((eval["test_r2"].as_f64().unwrap() - r2).abs() < 1e-9, "{eval}");
    let rows = write(&dir, "rows.csv", "a,b\n0,0\n1,0\n");
    let pred = ok(&["predict", "--checkpoint", ckpt.to_str().unwrap(), "--input", rows.to_str().unwrap()]).0;
    let values: Vec<f64> = pred.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert!((values[0] - 5000.0).abs() < 150.0 && (values[1] - 5800.0).abs() < 150.0, "{pred}");

    // Without the standardisation the same run barely leaves the origin (the old default).
    let raw = dir.join("raw");
    let args = ["--loss", "mse", "--epochs", "20", "--target-normalization", "none", "--json", "--out"];
    let (stdout, _) = ok(&[&["train", "--data", d], &args[..], &[raw.to_str().unwrap()]].concat());
    let raw_r2 = json(&stdout)["test_r2"].as_f64().unwrap();
    assert!(raw_r2 < r2 - 0.1, "standardising the target is what makes it train: {raw_r2} vs {r2}");
}

#[test]
fn item3_text_labels_map_in_sorted_order_and_come_back_as_written() {
    let dir = tmp_dir("tabular-text-labels");
    let names = ["virginica", "setosa", "versicolor"];
    let data = three_class_csv(&dir, "iris.csv", &|c| names[c as usize].to_string());
    let out = dir.join("run");
    let (stdout, stderr) =
        ok(&["train", "--data", data.to_str().unwrap(), "--epochs", "20", "--out", out.to_str().unwrap()]);
    assert!(stderr.contains("labels: setosa → 0, versicolor → 1, virginica → 2"), "the mapping is printed: {stderr}");
    assert!(stdout.contains("macro avg") && stdout.contains("virginica"), "{stdout}");
    let ckpt = out.join("checkpoint.safetensors");
    let c = Checkpoint::load(&ckpt).unwrap();
    assert_eq!(c.meta.label_names.as_deref().unwrap(), ["setosa", "versicolor", "virginica"]);
    let confusion = std::fs::read_to_string(out.join("confusion.csv")).unwrap();
    assert!(confusion.starts_with("true\\predicted,setosa,versicolor,virginica\n"), "{confusion}");
    let per_class = std::fs::read_to_string(out.join("per_class.csv")).unwrap();
    assert!(per_class.starts_with("class,precision,recall,f1,support\nsetosa,"), "{per_class}");
    assert!(per_class.lines().last().unwrap().starts_with("macro avg,"), "{per_class}");

    // The generator puts virginica near x = 0 and setosa near x = 2.
    let rows = write(&dir, "rows.csv", "x,noise\n0.1,0\n2.1,0\n");
    let pred = ok(&["predict", "--checkpoint", ckpt.to_str().unwrap(), "--input", rows.to_str().unwrap()]).0;
    let mut lines = pred.lines();
    assert_eq!(lines.next().unwrap(), "row,prediction,p_setosa,p_versicolor,p_virginica");
    assert!(
        lines.next().unwrap().starts_with("0,virginica,") && lines.next().unwrap().starts_with("1,setosa,"),
        "{pred}"
    );

    // eval maps the labels of the file through the checkpoint's names.
    let eval = json(&ok(&["eval", "--checkpoint", ckpt.to_str().unwrap(), "--json"]).0);
    let scores = eval["per_class"].as_array().unwrap();
    assert_eq!(scores[2]["class"], "virginica");
    let support: u64 = scores.iter().map(|s| s["support"].as_u64().unwrap()).sum();
    assert_eq!(support, eval["rows"].as_u64().unwrap());
    assert!(eval["macro_f1"].as_f64().unwrap() > 0.9, "{eval}");
}

#[test]
fn item3_labels_from_one_are_classes_and_other_gaps_are_named() {
    let dir = tmp_dir("tabular-int-labels");
    let uci = three_class_csv(&dir, "uci.csv", &|c| (c + 1).to_string());
    let out = dir.join("run");
    let (_, stderr) = ok(&["train", "--data", uci.to_str().unwrap(), "--epochs", "3", "--out", out.to_str().unwrap()]);
    assert!(stderr.contains("labels: 1 → 0, 2 → 1, 3 → 2"), "{stderr}");
    let c = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert_eq!(c.meta.classes, Some(3));
    assert_eq!(c.meta.label_names.as_deref().unwrap(), ["1", "2", "3"]);

    // 0, 1 and a stray 7: refused, naming the value and its line, with the way to map it.
    let gappy = three_class_csv(&dir, "gappy.csv", &|c| [0, 1, 7][c as usize].to_string());
    let (ok_, _, stderr) =
        downhill(&["train", "--data", gappy.to_str().unwrap(), "--out", dir.join("g").to_str().unwrap()]);
    assert!(!ok_ && stderr.contains("label 7") && stderr.contains("line 4"), "{stderr}");
    assert!(stderr.contains("--label-map sorted"), "{stderr}");
    assert!(!dir.join("g").exists(), "a refused run leaves no folder");
    let sorted = dir.join("sorted");
    let args = ["train", "--data", gappy.to_str().unwrap(), "--label-map", "sorted", "--epochs", "2"];
    let (_, stderr) = ok(&[&args[..], &["--out", sorted.to_str().unwrap()]].concat());
    assert!(stderr.contains("labels: 0 → 0, 1 → 1, 7 → 2"), "{stderr}");

    // Fractional labels under cross-entropy: a regression target, said so.
    let fractions = three_class_csv(&dir, "fractions.csv", &|c| format!("{}.5", c));
    let (ok_, _, stderr) =
        downhill(&["train", "--data", fractions.to_str().unwrap(), "--out", dir.join("f").to_str().unwrap()]);
    assert!(!ok_ && stderr.contains("0.5 is not a class label") && stderr.contains("--loss mse"), "{stderr}");
}

#[test]
fn item4_validation_is_scored_each_epoch_and_the_test_set_once() {
    let dir = tmp_dir("tabular-validation");
    let data = three_class_csv(&dir, "three.csv", &|c| c.to_string());
    let out = dir.join("run");
    let (stdout, stderr) =
        ok(&["train", "--data", data.to_str().unwrap(), "--epochs", "2", "--out", out.to_str().unwrap()]);
    // 240 rows: 48 test, then a tenth of the other 192 (19) held out for validation.
    assert!(stderr.contains("173 train / 19 validation / 48 test rows"), "{stderr}");
    let epochs: Vec<&str> = stderr.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 2, "{stderr}");
    assert!(
        epochs.iter().all(|l| l.contains("val loss") && l.contains("val accuracy") && !l.contains("test")),
        "{epochs:?}"
    );
    assert!(stdout.contains("test accuracy") && stdout.contains("macro-F1"), "the test set's one score: {stdout}");
    let log = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(!log.lines().next().unwrap().contains("test"), "no per-epoch test column: {log}");

    // Early stopping on the test set is what the split exists to avoid: refused, saying why.
    let args = ["train", "--data", data.to_str().unwrap(), "--patience", "2", "--early-stop-metric", "test_loss"];
    let (ok_, _, stderr) = downhill(&[&args[..], &["--out", dir.join("t").to_str().unwrap()]].concat());
    assert!(!ok_ && stderr.contains("test_loss") && stderr.contains("val_loss"), "{stderr}");
}

#[test]
fn settings_that_would_be_ignored_are_refused() {
    let dir = tmp_dir("tabular-ignored");
    let data = three_class_csv(&dir, "three.csv", &|c| c.to_string());
    let d = data.to_str().unwrap();
    let out = dir.join("never");
    let o = out.to_str().unwrap();
    let (ok_, _, stderr) = downhill(&["train", "--data", d, "--target-normalization", "standardize", "--out", o]);
    assert!(!ok_ && stderr.contains("target_normalization") && stderr.contains("cross_entropy"), "{stderr}");
    let (ok_, _, stderr) = downhill(&["train", "--data", d, "--loss", "mse", "--label-map", "sorted", "--out", o]);
    assert!(!ok_ && stderr.contains("label_map") && stderr.contains("mse"), "{stderr}");
    let (ok_, _, stderr) = downhill(&["train", "--data", d, "--label-map", "alphabetical", "--out", o]);
    assert!(!ok_ && stderr.contains("expected auto or sorted"), "{stderr}");
    assert!(!out.exists());
}
