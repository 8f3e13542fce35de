//! A CSV of texts and labels for sequence classification: the named columns, every text
//! non-empty, labels either class names (sorted into ids) or dense ids 0..K−1.

use crate::error::{file_error, Result};
use std::path::Path;

/// Texts with their class ids.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledTexts {
    /// The texts.
    pub texts: Vec<String>,
    /// Each text's class id.
    pub labels: Vec<u32>,
}

/// A CSV's two columns as read: (texts, raw labels).
pub fn read_columns(path: &Path, text_column: &str, label_column: &str) -> Result<(Vec<String>, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| file_error(path, format!("cannot read as CSV: {e}")))?;
    let headers = reader.headers().map_err(|e| file_error(path, format!("cannot read the header row: {e}")))?.clone();
    let column = |name: &str, flag: &str| {
        headers.iter().position(|h| h.trim() == name).ok_or_else(|| {
            let have: Vec<&str> = headers.iter().collect();
            file_error(path, format!("has no column {name:?} ({flag}); its columns are {have:?}"))
        })
    };
    let (ti, li) = (column(text_column, "--text-column")?, column(label_column, "--label-column")?);
    let (mut texts, mut labels) = (Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| file_error(path, format!("line {line}: {e}")))?;
        let text = record.get(ti).unwrap_or("");
        if text.trim().is_empty() {
            return Err(file_error(path, format!("line {line}: the text ({text_column:?}) is empty")));
        }
        let label = record.get(li).unwrap_or("").trim();
        if label.is_empty() {
            return Err(file_error(path, format!("line {line}: the label ({label_column:?}) is empty")));
        }
        texts.push(text.to_string());
        labels.push(label.to_string());
    }
    if texts.is_empty() {
        return Err(file_error(path, "has a header but no rows"));
    }
    Ok((texts, labels))
}

/// The class names of the training labels: when every label is a whole number, they must be
/// the dense ids 0..K−1 (names "0".."K−1"); otherwise the sorted distinct names.
pub fn class_names(path: &Path, raw: &[String]) -> Result<Vec<String>> {
    let mut distinct: Vec<&str> = raw.iter().map(String::as_str).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let ids: Option<Vec<u64>> = distinct.iter().map(|s| s.parse::<u64>().ok()).collect();
    if let Some(mut ids) = ids {
        ids.sort_unstable();
        let k = ids.len() as u64;
        if let Some(missing) = (0..k).find(|i| ids.binary_search(i).is_err()) {
            return Err(file_error(
                path,
                format!(
                    "the labels are numbers but not the dense ids 0..{}: {missing} is missing (the largest is {}); \
                     renumber them or use class names",
                    k - 1,
                    ids.last().copied().unwrap_or(0)
                ),
            ));
        }
        return Ok((0..k).map(|i| i.to_string()).collect());
    }
    if distinct.len() < 2 {
        return Err(file_error(
            path,
            format!("every row has the label {:?}: classification needs two classes", distinct[0]),
        ));
    }
    Ok(distinct.into_iter().map(String::from).collect())
}

/// Reads `path` with the training set's class `names` (None: this is the training set, its
/// names are made here). Returns the texts, ids and names.
pub fn read_labelled(
    path: &Path,
    text_column: &str,
    label_column: &str,
    names: Option<&[String]>,
) -> Result<(LabelledTexts, Vec<String>)> {
    let (texts, raw) = read_columns(path, text_column, label_column)?;
    let names = match names {
        Some(n) => n.to_vec(),
        None => class_names(path, &raw)?,
    };
    let labels = raw
        .iter()
        .enumerate()
        .map(|(i, l)| {
            names.iter().position(|n| n == l).map(|k| k as u32).ok_or_else(|| {
                file_error(path, format!("line {}: label {l:?} is not one of the training set's {names:?}", i + 2))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((LabelledTexts { texts, labels }, names))
}
