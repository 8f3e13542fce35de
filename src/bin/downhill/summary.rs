//! What `train` and `eval` print about a model's test-set figures: the confusion matrix and
//! per-class scores (classes named by their original labels), regression metrics, and the
//! label mapping at the start of a run.

use downhill::metrics::{ClassScore, RegressionMetrics};
use std::path::Path;

/// The most classes whose confusion matrix and per-class table are printed; larger ones are
/// only written to files.
pub const MAX_PRINTED_CLASSES: usize = 20;

/// A class name cut to 10 characters for a printed table.
fn shorten(name: &str) -> String {
    if name.chars().count() > 10 {
        format!("{}…", name.chars().take(9).collect::<String>())
    } else {
        name.to_string()
    }
}

/// Class `c`'s name for a printed table: its original label or its index.
fn class_name(names: Option<&[String]>, c: usize) -> String {
    shorten(&names.and_then(|n| n.get(c).cloned()).unwrap_or_else(|| c.to_string()))
}

/// Prints a confusion matrix (rows: true class, columns: predicted) when it is small enough
/// to read, else where its file is.
pub fn print_confusion(confusion: &Option<Vec<Vec<u64>>>, names: Option<&[String]>, file: Option<&Path>) {
    let Some(m) = confusion else { return };
    if m.len() > MAX_PRINTED_CLASSES {
        let at = file.map_or(String::new(), |f| format!(": see {}", f.display()));
        println!("confusion matrix: {} classes, too many to print{at}", m.len());
        return;
    }
    let width = (0..m.len()).map(|c| class_name(names, c).chars().count() + 1).max().unwrap_or(0).max(6);
    println!("confusion matrix on the test set (rows: true class, columns: predicted):");
    print!("{:>width$} ", "");
    for c in 0..m.len() {
        print!("{:>width$}", class_name(names, c));
    }
    println!();
    for (t, row) in m.iter().enumerate() {
        print!("{:>width$} ", class_name(names, t));
        for v in row {
            print!("{v:>width$}");
        }
        println!();
    }
}

/// Prints precision, recall, F1 and support per class, then the macro average, when there are
/// few enough classes to read (else where `per_class.csv` is).
pub fn print_class_scores(scores: &Option<Vec<ClassScore>>, file: Option<&Path>) {
    let Some(scores) = scores else { return };
    if scores.len() > MAX_PRINTED_CLASSES {
        let at = file.map_or(String::new(), |f| format!(": see {}", f.display()));
        println!("per-class precision, recall and F1: {} classes, too many to print{at}", scores.len());
        return;
    }
    let width = scores.iter().map(|s| s.class.chars().count().min(10)).max().unwrap_or(0).max(9);
    println!("{:>width$}  precision  recall      f1  support", "class");
    for s in scores {
        let name = shorten(&s.class);
        println!("{name:>width$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}", s.precision, s.recall, s.f1, s.support);
    }
    let n = scores.len().max(1) as f64;
    let mean = |pick: fn(&ClassScore) -> f64| scores.iter().map(pick).sum::<f64>() / n;
    let rows: u64 = scores.iter().map(|s| s.support).sum();
    println!(
        "{:>width$}  {:>9.4}  {:>6.4}  {:>6.4}  {rows:>7}",
        "macro avg",
        mean(|s| s.precision),
        mean(|s| s.recall),
        mean(|s| s.f1)
    );
}

/// A figure in the data's units, to four significant digits (targets may be in the thousands
/// or the thousandths).
pub fn figure(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

/// ", MAE … RMSE … R² …" for a summary line.
pub fn regression_line(m: &Option<RegressionMetrics>) -> String {
    m.map_or(String::new(), |m| format!(", MAE {} RMSE {} R² {:.4}", figure(m.mae), figure(m.rmse), m.r2))
}

/// The label mapping, as the start of a run prints it: `setosa → 0, versicolor → 1, …`.
pub fn label_mapping(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(12).enumerate().map(|(c, n)| format!("{n} → {c}")).collect();
    let more = if names.len() > 12 { format!(", … ({} classes)", names.len()) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}
