//! CSV files (optionally gzipped; comma, semicolon or tab separated, detected from the first
//! line): numeric features plus one label column, chosen by name or index; classification
//! (integer or text labels, mapped to classes as `label_map` decides) or regression.

use super::idx::maybe_gunzip;
use super::label_map::{map_labels, LabelMapMode};
use super::labels::StatedClasses;
use super::{Dataset, InputSchema, Targets};
use crate::error::{file_error, Result};
use crate::tensor::Tensor;
use std::path::Path;

/// Which column holds the label or target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// The last column (the default).
    Last,
    /// The column at this 0-based index.
    Index(usize),
    /// The column with this header name.
    Name(String),
}

/// What the label column means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Non-negative integer class labels.
    Classification,
    /// Numeric targets (one column).
    Regression,
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first line is a header; None detects it (a non-numeric first line is one).
    pub header: Option<bool>,
    /// The label column.
    pub label: LabelColumn,
    /// Classification or regression.
    pub task: Task,
    /// A class count stated outside the data (else the label set's own, which must be dense).
    pub classes: Option<StatedClasses>,
    /// How class labels become classes (see `label_map`).
    pub label_map: LabelMapMode,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            header: None,
            label: LabelColumn::Last,
            task: Task::Classification,
            classes: None,
            label_map: LabelMapMode::Auto,
        }
    }
}

/// True for a path downhill reads as CSV: `.csv` or `.csv.gz`, in any letter case.
pub fn is_csv_path(path: &Path) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    name.ends_with(".csv") || name.ends_with(".csv.gz")
}

/// The field separator of a CSV file: of comma, semicolon and tab, the one that splits the
/// first lines (up to 50, quoted fields respected) into the same number of fields on every
/// line, the most fields winning (Python's `csv.Sniffer` reasons the same way). When none
/// does, the first line decides as before (tab or semicolon when it has them, and at least as
/// many as commas, else comma), unless that delimiter appears in no later line: then the file
/// is one column whose header name holds it. A header such as `col0;col1<TAB>t` over rows
/// `2.93;3` is only decidable from the rows (found by `tests/differential.rs`).
fn detect_delimiter(bytes: &[u8]) -> u8 {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let lines: Vec<&[u8]> = bytes
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .take(50)
        .collect();
    let fields = |line: &[u8], d: u8| {
        let mut quoted = false;
        1 + line
            .iter()
            .filter(|&&b| {
                if b == b'"' {
                    quoted = !quoted;
                }
                b == d && !quoted
            })
            .count()
    };
    let consistent = |d: u8| {
        let first = lines.first().map_or(1, |l| fields(l, d));
        lines.iter().all(|l| fields(l, d) == first).then_some(first)
    };
    // The most fields (more than one) among the consistent delimiters; on a tie the earlier
    // of comma, semicolon, tab.
    let mut best: Option<(usize, u8)> = None;
    for d in [b',', b';', b'\t'] {
        if let Some(n) = consistent(d).filter(|&n| n > 1) {
            if best.is_none_or(|(m, _)| n > m) {
                best = Some((n, d));
            }
        }
    }
    if let Some((_, d)) = best {
        return d;
    }
    let first = lines.first().copied().unwrap_or(&[]);
    let count = |c: u8| first.iter().filter(|&&b| b == c).count();
    let (tabs, semis, commas) = (count(b'\t'), count(b';'), count(b','));
    let by_first_line = if tabs > 0 && tabs >= semis && tabs >= commas {
        b'\t'
    } else if semis > 0 && semis >= commas {
        b';'
    } else {
        b','
    };
    // That delimiter only in the header, never in a row after it: one column whose name
    // holds it (`col0,e` over `544`); a delimiter found nowhere reads it whole. A delimiter
    // in the rows with uneven counts stays, so the ragged row is reported.
    let only_in_header = lines.len() > 1 && lines[1..].iter().all(|l| fields(l, by_first_line) == 1);
    if only_in_header {
        if let Some(d) = [b',', b';', b'\t'].into_iter().find(|&d| consistent(d) == Some(1)) {
            return d;
        }
    }
    by_first_line
}

/// UTF-8's byte-order mark, which some spreadsheet programs write before the first cell.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// How a delimiter is named in errors.
fn delimiter_name(d: u8) -> &'static str {
    match d {
        b'\t' => "tab",
        b';' => "semicolon",
        _ => "comma",
    }
}

/// The numbers of a CSV file: every column of every data row, with the header's names.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvMatrix {
    /// Header names, when the file has a header line.
    pub names: Option<Vec<String>>,
    /// (rows, columns), every cell parsed.
    pub values: Tensor,
    /// The file line of the first data row (1-based).
    pub first_line: usize,
}

/// Reads every cell of `path` (optionally gzipped) as a number. `header`: whether the first
/// line is a header; None detects it (a non-numeric first line is one). Errors name the line
/// and column of the bad cell, or the ragged row.
pub fn read_matrix(path: &Path, header: Option<bool>) -> Result<CsvMatrix> {
    read_table(path, header, None).map(|(m, _)| m)
}

/// The cells of a CSV file, its delimiter and whether its first line is a header.
struct Records {
    rows: Vec<csv::StringRecord>,
    delimiter: u8,
}

fn read_records(path: &Path) -> Result<Records> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, format!("cannot read: {e}")))?;
    let mut bytes = maybe_gunzip(path, bytes)?;
    if bytes.starts_with(BOM) {
        // Without this the first cell read `\u{feff}1.5`: not a number, so a file without a
        // header lost its first row to header detection (found by tests/differential.rs).
        bytes.drain(..BOM.len());
    }
    let delimiter = detect_delimiter(&bytes);
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(false).delimiter(delimiter).from_reader(&bytes[..]);
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| match e.kind() {
            csv::ErrorKind::UnequalLengths { expected_len, len, pos } => file_error(
                path,
                format!(
                    "line {}: ragged row with {len} fields, expected {expected_len} like the first line",
                    pos.as_ref().map_or(i as u64 + 1, |p| p.line())
                ),
            ),
            _ => file_error(path, format!("line {}: {e}", i + 1)),
        })?;
        rows.push(rec);
    }
    if rows.is_empty() {
        return Err(file_error(path, "no rows"));
    }
    Ok(Records { rows, delimiter })
}

/// Which column `label` names in a file with `cols` columns and these header names.
fn label_index(path: &Path, label: &LabelColumn, names: Option<&Vec<String>>, cols: usize) -> Result<usize> {
    match label {
        LabelColumn::Last => Ok(cols - 1),
        LabelColumn::Index(i) if *i < cols => Ok(*i),
        LabelColumn::Index(i) => {
            Err(file_error(path, format!("label column index {i} is out of range: rows have {cols} columns")))
        }
        LabelColumn::Name(n) => match names.and_then(|h| h.iter().position(|c| c == n)) {
            Some(i) => Ok(i),
            None => {
                let have = names.map_or("no header line".to_string(), |h| format!("columns {h:?}"));
                Err(file_error(path, format!("no label column named {n:?} ({have})")))
            }
        },
    }
}

/// The label column's cells as text, and its index.
type TextColumn = (usize, Vec<String>);

/// Reads a CSV file as numbers, except the column `text` names (a label column, which may
/// hold class names): its cells come back as text, and 0 stands in for them in the matrix.
/// Without `header`, the first line is a header when a cell of it other than the text
/// column's is not a number (so `5.1,3.5,setosa` is data, `length,width,species` a header).
fn read_table(
    path: &Path,
    header: Option<bool>,
    text: Option<&LabelColumn>,
) -> Result<(CsvMatrix, Option<TextColumn>)> {
    let Records { rows: records, delimiter } = read_records(path)?;
    let cols = records[0].len();
    let numeric = |c: &str| c.trim().parse::<f64>().is_ok();
    let header = header.unwrap_or_else(|| {
        let skip = match text {
            Some(LabelColumn::Name(_)) => return true,
            Some(l) => label_index(path, l, None, cols).ok(),
            None => None,
        };
        let cells: Vec<&str> = records[0].iter().collect();
        let others_numeric = cells.iter().enumerate().filter(|(i, _)| Some(*i) != skip).all(|(_, c)| numeric(c));
        !others_numeric || (cols == 1 && !numeric(cells[0]))
    });
    let names: Option<Vec<String>> = header.then(|| records[0].iter().map(|c| c.trim().to_string()).collect());
    let text_index = text.map(|l| label_index(path, l, names.as_ref(), cols)).transpose()?;
    let body = if header { &records[1..] } else { &records[..] };
    let first_line = if header { 2 } else { 1 };
    let mut values = Vec::with_capacity(body.len() * cols);
    let mut text_cells = Vec::with_capacity(if text_index.is_some() { body.len() } else { 0 });
    for (r, rec) in body.iter().enumerate() {
        for (c, cell) in rec.iter().enumerate() {
            if Some(c) == text_index {
                text_cells.push(cell.to_string());
                values.push(0.0);
                continue;
            }
            let col =
                || names.as_ref().map_or(format!("column {}", c + 1), |h| format!("column {} ({:?})", c + 1, h[c]));
            let v: f64 = cell.trim().parse().map_err(|_| {
                let decimal_comma = if delimiter != b',' && cell.contains(',') {
                    " (decimal commas are not read: use a point)"
                } else {
                    ""
                };
                file_error(
                    path,
                    format!(
                        "line {}, {}: {cell:?} is not a number{decimal_comma} (fields separated by {})",
                        first_line + r,
                        col(),
                        delimiter_name(delimiter)
                    ),
                )
            })?;
            if !v.is_finite() {
                return Err(file_error(path, format!("line {}, {}: {cell:?} is not finite", first_line + r, col())));
            }
            if v.abs() > f32::MAX as f64 {
                return Err(file_error(
                    path,
                    format!(
                        "line {}, {}: {cell:?} overflows 32-bit floats (largest magnitude {:e})",
                        first_line + r,
                        col(),
                        f32::MAX
                    ),
                ));
            }
            values.push(v as f32);
        }
    }
    let matrix = CsvMatrix { names, values: Tensor::from_vec(&[body.len(), cols], values)?, first_line };
    Ok((matrix, text_index.map(|i| (i, text_cells))))
}

/// Reads features and labels from `path`. Errors name the line and column of the bad cell.
pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<Dataset> {
    read_csv_with_schema(path, opts).map(|(d, _, _)| d)
}

/// [`read_csv`], also saying how the file was laid out (the column count, the label column,
/// the header) so new rows can be read the same way, and each class's original label when the
/// labels were mapped (see `label_map`).
pub fn read_csv_with_schema(path: &Path, opts: &CsvOptions) -> Result<(Dataset, InputSchema, Option<Vec<String>>)> {
    let classify = opts.task == Task::Classification;
    let (CsvMatrix { names, values, first_line }, text) =
        read_table(path, opts.header, classify.then_some(&opts.label))?;
    let (rows, cols) = (values.shape()[0], values.shape()[1]);
    let label = match &text {
        Some((i, _)) => *i,
        None => label_index(path, &opts.label, names.as_ref(), cols)?,
    };
    if cols < 2 {
        return Err(file_error(path, format!("rows need at least one feature and a label, found {cols} column(s)")));
    }
    let mut x = Vec::with_capacity(rows * (cols - 1));
    let mut y = Vec::with_capacity(rows);
    for row in values.data().chunks(cols) {
        x.extend(row.iter().enumerate().filter(|&(c, _)| c != label).map(|(_, &v)| v));
        y.push(row[label]);
    }
    let features = Tensor::from_vec(&[rows, cols - 1], x)?;
    let (targets, label_names) = match text {
        None => (Targets::Values(Tensor::from_vec(&[rows, 1], y)?), None),
        Some((_, cells)) => {
            let locate = |i: usize| format!("{}: line {}, label column {}", path.display(), first_line + i, label + 1);
            let m = map_labels(&cells, opts.label_map, opts.classes.as_ref(), &locate)?;
            (Targets::Labels { labels: m.labels, classes: m.classes }, m.names)
        }
    };
    let schema = InputSchema::Csv { columns: cols, label_index: label, header: names };
    Ok((Dataset::new(features, targets)?, schema, label_names))
}
