//! The default normalisation follows the data: each CSV column is standardised on its own
//! (a table's columns have their own units), images (IDX, or CSV rows given a C,H,W input
//! shape) share one mean and std. The table test fails under the old default (one mean and std
//! over all columns), which flattens a small-valued column that decides the class.

mod common;

use common::{tmp_dir, Rng};
use downhill::checkpoint::Checkpoint;
use downhill::data::normalize::Normalization;
use downhill::data::InputSchema;
use std::process::Command;

/// (success, stdout, stderr) of the CLI on the CPU.
fn downhill(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_downhill")).env("DOWNHILL_DEVICE", "cpu").args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// 400 rows: `weight` in the thousands says nothing, `dose` in hundredths decides the class
/// (as wine's proline next to its hue).
fn mixed_units_csv(dir: &std::path::Path) -> std::path::PathBuf {
    let mut rng = Rng::new(7);
    let mut text = String::from("weight,dose,label\n");
    for _ in 0..400 {
        let weight = rng.uniform(500.0, 1500.0);
        let dose = rng.uniform(0.0, 0.02);
        text += &format!("{weight:.3},{dose:.6},{}\n", (dose > 0.01) as u32);
    }
    let path = dir.join("mixed_units.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_table_is_standardised_per_column_by_default() {
    let dir = tmp_dir("normalization-table");
    let data = mixed_units_csv(&dir);
    let out = dir.join("run");
    let args = ["train", "--data", data.to_str().unwrap(), "--epochs", "10", "--out", out.to_str().unwrap(), "--json"];
    let (ok, stdout, stderr) = downhill(&args);
    assert!(ok, "{stderr}");
    let c = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert_eq!(c.meta.normalizer.kind, Normalization::Standardize, "the fitted kind is stored, not `auto`");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let acc = json["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.95, "the dose column decides the class: test accuracy {acc}");
}

#[test]
fn auto_resolves_by_what_the_rows_are() {
    let csv = InputSchema::Csv { columns: 3, label_index: 2, header: None };
    let idx = InputSchema::Idx { pixels: 784 };
    assert_eq!(Normalization::Auto.resolve(&csv, false), Normalization::Standardize);
    assert_eq!(Normalization::Auto.resolve(&csv, true), Normalization::Scalar, "CSV rows that are images");
    assert_eq!(Normalization::Auto.resolve(&idx, false), Normalization::Scalar);
    for kind in [Normalization::None, Normalization::Standardize, Normalization::Scalar, Normalization::MinMax] {
        assert_eq!(kind.resolve(&csv, false), kind, "a stated kind is kept");
    }
    assert_eq!("auto".parse::<Normalization>().unwrap(), Normalization::Auto);
    let err = "bogus".parse::<Normalization>().unwrap_err().to_string();
    assert!(err.contains("auto") && err.contains("standardize"), "{err}");
}
