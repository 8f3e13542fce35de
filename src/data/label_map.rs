//! Labels as users have them in a CSV column: integers from 0 (taken as they are), integers
//! from 1 (UCI's 1..K) and text (`"setosa"`), both mapped to classes in sorted order, or any
//! label set under `label_map = "sorted"`. The mapping is the class names a checkpoint keeps,
//! so new rows map the same way. Anything that looks like a mistake (a gap in integer labels,
//! a number among names, a fractional label) is an error naming the value and its line.

use super::labels::{class_count, LabelSource, StatedClasses};
use crate::error::{Error, Result};
use std::collections::BTreeSet;

/// How a label column's values become classes 0..K-1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelMapMode {
    /// Integers 0..K-1 as they are; integers 1..K and text in sorted order; any other label
    /// set is refused.
    #[default]
    Auto,
    /// Every distinct label is a class, in sorted order (numbers by value, before text).
    Sorted,
}

impl std::str::FromStr for LabelMapMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "sorted" => Ok(Self::Sorted),
            other => Err(Error::InvalidArgument {
                what: "label_map".into(),
                detail: format!("unknown {other:?}; expected auto or sorted"),
            }),
        }
    }
}

/// Class labels read from a column: the class of each row, the class count, and each class's
/// original label when they were mapped (None when the labels were 0..K-1 already).
#[derive(Clone, Debug, PartialEq)]
pub struct MappedLabels {
    /// Class of each row.
    pub labels: Vec<u32>,
    /// Number of classes.
    pub classes: usize,
    /// `names[c]`: the label class c stands for.
    pub names: Option<Vec<String>>,
}

/// A label cell: a number when it reads as one.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum Cell {
    Number(f64),
    Text(String),
}

impl Cell {
    fn read(cell: &str) -> Cell {
        let t = cell.trim();
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Cell::Number(v),
            _ => Cell::Text(t.to_string()),
        }
    }

    /// The name the class of this label is stored under: integers without a fraction
    /// ("1.0" and "1" are one class), other numbers and text as written.
    fn name(&self) -> String {
        match self {
            Cell::Number(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", *v as i64),
            Cell::Number(v) => format!("{v}"),
            Cell::Text(t) => t.clone(),
        }
    }
}

/// The sort order of classes under a mapping: numbers by value, then text.
fn sort_key(c: &Cell) -> (u8, f64, String) {
    match c {
        Cell::Number(v) => (0, *v, String::new()),
        Cell::Text(t) => (1, 0.0, t.clone()),
    }
}

/// Maps `cells` (a label column, row by row) to classes. `locate(i)` names row i for errors
/// ("data.csv: line 12, label column 5"). With `stated` classes that carry names (a trained
/// model's), every label must be one of them; with a stated count alone the labels are taken
/// as 0..N-1 integers, as before mappings existed.
pub fn map_labels(
    cells: &[String],
    mode: LabelMapMode,
    stated: Option<&StatedClasses>,
    locate: &dyn Fn(usize) -> String,
) -> Result<MappedLabels> {
    let bad = |detail: String| Err(Error::InvalidArgument { what: "class labels".into(), detail });
    let read: Vec<Cell> = cells.iter().map(|c| Cell::read(c)).collect();
    if let Some(names) = stated.and_then(|s| s.names.as_ref()) {
        return by_names(&read, names, stated.map_or("", |s| s.source.as_str()), locate);
    }
    let first_text = read.iter().position(|c| matches!(c, Cell::Text(_)));
    let first_number = read.iter().position(|c| matches!(c, Cell::Number(_)));
    if mode == LabelMapMode::Sorted || first_number.is_none() {
        let m = sorted(&read);
        if let Some(s) = stated.filter(|s| m.classes > s.count) {
            return bad(format!(
                "{} distinct labels, but the classes {} are {}: {}",
                m.classes,
                s.source,
                s.count,
                m.names.as_deref().unwrap_or_default().join(", ")
            ));
        }
        // A stated count may exceed the labels present (classes this file does not hold).
        return Ok(MappedLabels { classes: stated.map_or(m.classes, |s| s.count), ..m });
    }
    if let (Some(t), Some(n)) = (first_text, first_number) {
        return bad(format!(
            "{}: label {:?} is text, but {} has the number {}; a label column is either class names or integers \
             (label_map = \"sorted\" takes every distinct value as a class)",
            locate(t),
            cells[t].trim(),
            locate(n),
            cells[n].trim()
        ));
    }
    if let Some(t) = first_text {
        return bad(format!(
            "{}: label {:?} is not an integer class below the stated count",
            locate(t),
            cells[t].trim()
        ));
    }
    let values: Vec<f64> = read.iter().map(|c| if let Cell::Number(v) = c { *v } else { 0.0 }).collect();
    if let Some(i) = values.iter().position(|v| v.fract() != 0.0) {
        return bad(format!(
            "{}: {} is not a class label (an integer); for numeric targets train a regression with --loss mse \
             (loss = \"mse\")",
            locate(i),
            cells[i].trim()
        ));
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let distinct: BTreeSet<i64> = values.iter().map(|&v| v as i64).collect();
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo == 1.0 && stated.is_none() && distinct.len() as f64 == hi {
        // UCI's 1..K, every class present: class c is label c + 1.
        let labels = values.iter().map(|&v| v as u32 - 1).collect();
        let names = distinct.iter().map(|v| v.to_string()).collect();
        return Ok(MappedLabels { labels, classes: distinct.len(), names: Some(names) });
    }
    if lo < 0.0 || hi > u32::MAX as f64 {
        let i = values.iter().position(|&v| v < 0.0 || v > u32::MAX as f64).unwrap_or(0);
        return bad(format!(
            "{}: label {} is not a class: labels are 0..K-1 (or 1..K); label_map = \"sorted\" takes every distinct \
             value as a class, in order",
            locate(i),
            cells[i].trim()
        ));
    }
    let labels: Vec<u32> = values.iter().map(|&v| v as u32).collect();
    let classes = class_count(&[LabelSource { labels: &labels, locate }], stated)
        .map_err(|e| with_sorted_hint(e, stated.is_none()))?;
    Ok(MappedLabels { labels, classes, names: None })
}

/// Every distinct label a class, in sorted order.
fn sorted(read: &[Cell]) -> MappedLabels {
    let by_key = |a: &(u8, f64, String), b: &(u8, f64, String)| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
    let mut keys: Vec<(u8, f64, String)> = read.iter().map(sort_key).collect();
    keys.sort_by(by_key);
    keys.dedup();
    let names = keys.iter().map(|(kind, v, t)| if *kind == 0 { Cell::Number(*v).name() } else { t.clone() }).collect();
    let labels = read.iter().map(|c| keys.binary_search_by(|k| by_key(k, &sort_key(c))).unwrap_or(0) as u32).collect();
    MappedLabels { labels, classes: keys.len(), names: Some(names) }
}

/// Labels looked up among a trained model's class names.
fn by_names(read: &[Cell], names: &[String], source: &str, locate: &dyn Fn(usize) -> String) -> Result<MappedLabels> {
    let mut labels = Vec::with_capacity(read.len());
    for (i, c) in read.iter().enumerate() {
        let name = c.name();
        match names.iter().position(|n| *n == name) {
            Some(k) => labels.push(k as u32),
            None => {
                let shown: Vec<&str> = names.iter().take(10).map(String::as_str).collect();
                let more = if names.len() > 10 { ", …" } else { "" };
                return Err(Error::InvalidArgument {
                    what: "class labels".into(),
                    detail: format!(
                        "{}: label {name:?} is not one of the {} classes {source} ({}{more})",
                        locate(i),
                        names.len(),
                        shown.join(", ")
                    ),
                });
            }
        }
    }
    Ok(MappedLabels { labels, classes: names.len(), names: Some(names.to_vec()) })
}

/// A gap in integer labels, with the way to ask for a mapping.
fn with_sorted_hint(e: Error, hint: bool) -> Error {
    match e {
        Error::InvalidArgument { what, detail } if hint => Error::InvalidArgument {
            what,
            detail: format!(
                "{detail}; or, if these labels are names rather than class numbers, label_map = \"sorted\" \
                 (--label-map sorted) maps them to classes in sorted order"
            ),
        },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(i: usize) -> String {
        format!("line {}", i + 2)
    }

    fn cells(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn zero_based_integers_are_kept() {
        let m = map_labels(&cells(&["0", "2", "1"]), LabelMapMode::Auto, None, &at).unwrap();
        assert_eq!((m.labels, m.classes, m.names), (vec![0, 2, 1], 3, None));
    }

    #[test]
    fn one_based_integers_and_text_map_in_sorted_order() {
        let m = map_labels(&cells(&["3", "1", "2.0", "1"]), LabelMapMode::Auto, None, &at).unwrap();
        assert_eq!((m.labels, m.classes), (vec![2, 0, 1, 0], 3));
        assert_eq!(m.names.unwrap(), ["1", "2", "3"]);
        let m = map_labels(&cells(&["virginica", " setosa", "versicolor"]), LabelMapMode::Auto, None, &at).unwrap();
        assert_eq!(m.labels, [2, 0, 1]);
        assert_eq!(m.names.unwrap(), ["setosa", "versicolor", "virginica"]);
    }

    #[test]
    fn gaps_are_errors_unless_sorted_is_asked_for() {
        let e = map_labels(&cells(&["0", "1", "7", "1"]), LabelMapMode::Auto, None, &at).unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("label 7") && e.contains("--label-map sorted"), "{e}");
        let e = map_labels(&cells(&["-1", "1", "1"]), LabelMapMode::Auto, None, &at).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("label -1"), "{e}");
        let m = map_labels(&cells(&["-1", "1", "7"]), LabelMapMode::Sorted, None, &at).unwrap();
        assert_eq!((m.labels, m.names.unwrap()), (vec![0, 1, 2], cells(&["-1", "1", "7"])));
    }

    #[test]
    fn fractions_and_mixtures_are_refused_with_a_hint() {
        let e = map_labels(&cells(&["0", "1.5"]), LabelMapMode::Auto, None, &at).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("1.5") && e.contains("--loss mse"), "{e}");
        let e = map_labels(&cells(&["1", "2", "n/a"]), LabelMapMode::Auto, None, &at).unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("\"n/a\""), "{e}");
    }

    #[test]
    fn text_labels_under_a_stated_count_must_fit_it() {
        let stated = StatedClasses { count: 2, source: "set by `classes`".into(), names: None };
        let m = map_labels(&cells(&["b", "a"]), LabelMapMode::Auto, Some(&stated), &at).unwrap();
        assert_eq!((m.labels, m.classes), (vec![1, 0], 2));
        let three = StatedClasses { count: 3, ..stated.clone() };
        assert_eq!(map_labels(&cells(&["b", "a"]), LabelMapMode::Auto, Some(&three), &at).unwrap().classes, 3);
        let e = map_labels(&cells(&["b", "a", "c"]), LabelMapMode::Auto, Some(&stated), &at).unwrap_err().to_string();
        assert!(e.contains("3 distinct labels, but the classes set by `classes` are 2: a, b, c"), "{e}");
    }

    #[test]
    fn a_trained_models_names_map_new_rows() {
        let stated = StatedClasses { count: 2, source: "of the checkpoint".into(), names: Some(cells(&["no", "yes"])) };
        let m = map_labels(&cells(&["yes", "no"]), LabelMapMode::Auto, Some(&stated), &at).unwrap();
        assert_eq!((m.labels, m.classes), (vec![1, 0], 2));
        let e = map_labels(&cells(&["maybe"]), LabelMapMode::Auto, Some(&stated), &at).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("\"maybe\" is not one of the 2 classes of the checkpoint"), "{e}");
    }
}
