//! Differential checks of the readers against independent ones, on generated files:
//!
//! - CSV: `read_matrix` (delimiter and header detected, as a user gets them) against Python's
//!   `csv` module and `float()` told the truth (delimiter, header), on files with quoted fields,
//!   commas, semicolons and tabs, a UTF-8 byte-order mark, CRLF line ends, exponents and signs;
//! - IDX: `parse_idx` against NumPy's big-endian `frombuffer` on generated headers (u8 and f32,
//!   one to four dimensions, empty ones included), raw and gzipped;
//! - the model spec language: `parse(print(spec)) == spec` on generated specs.
//!
//! The Python side needs NumPy (`DOWNHILL_PYTHON`, else the venv `target/pyvenv` that `.ci/run`
//! makes, else `python3`); without it the two Python checks FAIL unless
//! `DOWNHILL_REQUIRE_PYTHON=0` skips them on purpose, as `tests/python_helper.rs` does.

mod common;
use common::python::python;
use common::{tmp_dir, Rng};
use downhill::data::csv::read_matrix;
use downhill::data::idx::{maybe_gunzip, parse_idx};
use downhill::nn::{Init, ModelSpec};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `cases` as `dir/manifest.json`, runs `script` with it as its argument and returns
/// the script's JSON answer.
fn run_python(py: &str, script: &str, dir: &Path, cases: &[Value]) -> Value {
    let manifest = dir.join("manifest.json");
    std::fs::write(&manifest, serde_json::to_string(cases).unwrap()).unwrap();
    let out = Command::new(py).args(["-c", script, manifest.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One generated CSV file and what it was made of.
struct CsvCase {
    path: PathBuf,
    delimiter: char,
    header: bool,
}

/// A number as people write them: sign, digits, maybe a fraction, maybe an exponent.
fn number(rng: &mut Rng) -> String {
    let mut s = String::new();
    match rng.below(4) {
        0 => s.push('-'),
        1 if rng.below(3) == 0 => s.push('+'),
        _ => {}
    }
    let int_digits = rng.below(4);
    for i in 0..int_digits.max(1) {
        s.push(char::from(b'0' + if i == 0 && int_digits > 1 { 1 + rng.below(9) } else { rng.below(10) } as u8));
    }
    if rng.below(2) == 0 {
        s.push('.');
        for _ in 0..1 + rng.below(7) {
            s.push(char::from(b'0' + rng.below(10) as u8));
        }
    }
    if rng.below(4) == 0 {
        s.push(if rng.below(2) == 0 { 'e' } else { 'E' });
        match rng.below(3) {
            0 => s.push('-'),
            1 => s.push('+'),
            _ => {}
        }
        s.push_str(&(rng.below(30)).to_string());
    }
    s
}

/// A header name: letters, sometimes with the other delimiters, spaces or quotes inside.
fn name(rng: &mut Rng, i: usize) -> String {
    let extras = [",", ";", "\t", " ", "\"", ""];
    let mut s = format!("col{i}");
    for _ in 0..rng.below(3) {
        s.push_str(extras[rng.below(extras.len() as u32) as usize]);
        s.push(char::from(b'a' + rng.below(26) as u8));
    }
    s
}

/// A field as written: quoted (quotes doubled) when it must be, and sometimes when not.
fn field(value: &str, delimiter: char, rng: &mut Rng) -> String {
    let must = value.contains(delimiter) || value.contains('"') || value.contains('\n') || value.contains('\r');
    if must || rng.below(5) == 0 {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

fn csv_case(rng: &mut Rng, dir: &Path, i: usize) -> CsvCase {
    let delimiter = [',', ';', '\t'][rng.below(3) as usize];
    let newline = if rng.below(2) == 0 { "\n" } else { "\r\n" };
    let (rows, cols) = (1 + rng.below(6) as usize, 1 + rng.below(5) as usize);
    let header = rng.below(2) == 0;
    let mut text = String::new();
    if rng.below(4) == 0 {
        text.push('\u{feff}');
    }
    let mut lines = Vec::new();
    if header {
        lines.push((0..cols).map(|c| field(&name(rng, c), delimiter, rng)).collect::<Vec<_>>());
    }
    for _ in 0..rows {
        lines.push((0..cols).map(|_| field(&number(rng), delimiter, rng)).collect());
    }
    let d = delimiter.to_string();
    text.push_str(&lines.iter().map(|l| l.join(&d)).collect::<Vec<_>>().join(newline));
    if rng.below(2) == 0 {
        text.push_str(newline);
    }
    let path = dir.join(format!("case{i}.csv"));
    std::fs::write(&path, text).unwrap();
    CsvCase { path, delimiter, header }
}

const CSV_READER: &str = r#"
import csv, json, struct, sys
cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    with open(c["path"], newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f, delimiter=c["delimiter"]))
    names = rows[0] if c["header"] else None
    body = rows[1:] if c["header"] else rows
    f32 = lambda s: struct.unpack("<I", struct.pack("<f", float(s)))[0]
    out.append({"names": names, "bits": [[f32(v) for v in r] for r in body]})
print(json.dumps(out))
"#;

#[test]
fn the_csv_reader_agrees_with_pythons_csv_module() {
    let Some(py) = python() else { return };
    let dir = tmp_dir("differential-csv");
    let mut rng = Rng::new(2024);
    let cases: Vec<CsvCase> = (0..300).map(|i| csv_case(&mut rng, &dir, i)).collect();
    let list: Vec<Value> = cases
        .iter()
        .map(|c| serde_json::json!({"path": c.path, "delimiter": c.delimiter.to_string(), "header": c.header}))
        .collect();
    let want = run_python(&py, CSV_READER, &dir, &list);
    for (c, want) in cases.iter().zip(want.as_array().unwrap()) {
        let text = std::fs::read_to_string(&c.path).unwrap();
        let got = read_matrix(&c.path, None).unwrap_or_else(|e| panic!("{}: {e}\n{text:?}", c.path.display()));
        let want_names: Option<Vec<String>> = serde_json::from_value(want["names"].clone()).unwrap();
        let got_names = got.names.clone();
        assert_eq!(
            got_names,
            want_names.map(|n| n.iter().map(|s| s.trim().to_string()).collect()),
            "header of {text:?}"
        );
        let want_bits: Vec<Vec<u32>> = serde_json::from_value(want["bits"].clone()).unwrap();
        let cols = want_bits[0].len();
        assert_eq!(got.values.shape(), &[want_bits.len(), cols], "shape of {text:?}");
        let got_bits: Vec<u32> = got.values.data().iter().map(|v| v.to_bits()).collect();
        assert_eq!(got_bits, want_bits.concat(), "values of {text:?}");
    }
}

const IDX_READER: &str = r#"
import gzip, json, sys
import numpy as np
cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    raw = open(c["path"], "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    kind, ndims = raw[2], raw[3]
    dims = [int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndims, offset=4)]
    dtype = {0x08: ">u1", 0x0D: ">f4"}[kind]
    values = np.frombuffer(raw, dtype=dtype, offset=4 + 4 * ndims).reshape(dims)
    bits = values.astype(np.float32).view(np.uint32).ravel().tolist()
    out.append({"dims": dims, "bits": bits})
print(json.dumps(out))
"#;

#[test]
fn the_idx_reader_agrees_with_numpy() {
    let Some(py) = python() else { return };
    let dir = tmp_dir("differential-idx");
    let mut rng = Rng::new(77);
    let mut paths = Vec::new();
    for i in 0..200 {
        let f32_kind = rng.below(2) == 0;
        let ndims = 1 + rng.below(4) as usize;
        let dims: Vec<u32> = (0..ndims).map(|_| rng.below(if ndims > 2 { 4 } else { 9 })).collect();
        let count: usize = dims.iter().map(|&d| d as usize).product();
        let mut bytes = vec![0, 0, if f32_kind { 0x0D } else { 0x08 }, ndims as u8];
        for d in &dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        for _ in 0..count {
            if f32_kind {
                let v = (rng.uniform(-1.0, 1.0) * 10f64.powi(rng.below(20) as i32 - 10)) as f32;
                bytes.extend_from_slice(&v.to_be_bytes());
            } else {
                bytes.push(rng.below(256) as u8);
            }
        }
        if rng.below(2) == 0 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&bytes).unwrap();
            bytes = gz.finish().unwrap();
        }
        let path = dir.join(format!("case{i}.idx"));
        std::fs::write(&path, &bytes).unwrap();
        paths.push(path);
    }
    let list: Vec<Value> = paths.iter().map(|p| serde_json::json!({"path": p})).collect();
    let want = run_python(&py, IDX_READER, &dir, &list);
    for (path, want) in paths.iter().zip(want.as_array().unwrap()) {
        let bytes = maybe_gunzip(path, std::fs::read(path).unwrap()).unwrap();
        let got = parse_idx(path, &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want_dims: Vec<usize> = serde_json::from_value(want["dims"].clone()).unwrap();
        assert_eq!(got.dims, want_dims, "{}", path.display());
        let want_bits: Vec<u32> = serde_json::from_value(want["bits"].clone()).unwrap();
        let got_bits: Vec<u32> = got.values.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got_bits, want_bits, "{}", path.display());
    }
}

/// A random layer for an image input (`image`) or a flat one, as spec text.
fn layer(rng: &mut Rng, image: bool) -> String {
    let act =
        ["relu", "gelu", "tanh", "sigmoid", "silu", "gelu_tanh", "leaky_relu(0.2)", "leaky_relu(negative_slope=0.01)"];
    let pick = |rng: &mut Rng, n: u32| 1 + rng.below(n);
    match (image, rng.below(7)) {
        (_, 0) => act[rng.below(act.len() as u32) as usize].to_string(),
        (_, 1) => format!("dropout({})", [0.0, 0.1, 0.25, 0.5][rng.below(4) as usize]),
        (true, 2) => format!(
            "conv2d({}, {}, stride={}, padding={}, dilation={}, bias={})",
            pick(rng, 8),
            pick(rng, 3),
            pick(rng, 2),
            rng.below(2),
            pick(rng, 2),
            ["true", "false"][rng.below(2) as usize]
        ),
        (true, 3) => ["batchnorm2d", "batchnorm2d(eps=0.001, momentum=0.2)"][rng.below(2) as usize].to_string(),
        (true, 4) => format!("maxpool2d({}, stride={}, padding={})", pick(rng, 2) + 1, pick(rng, 2), rng.below(2)),
        (true, 5) => {
            format!("avgpool2d({}, count_include_pad={})", pick(rng, 2), ["true", "false"][rng.below(2) as usize])
        }
        (true, _) => format!("residual(conv2d({}, 3, padding=1) relu)", 3),
        (false, 2 | 3) => format!("linear({}, bias={})", pick(rng, 32), ["true", "false"][rng.below(2) as usize]),
        (false, 4) => "batchnorm1d".to_string(),
        (false, 5) => "layernorm".to_string(),
        (false, _) => format!("residual(linear({}) relu)", 16),
    }
}

#[test]
fn printed_specs_parse_back_to_the_same_spec() {
    let mut rng = Rng::new(9);
    let (mut built, mut tried) = (0, 0);
    while built < 300 {
        tried += 1;
        assert!(tried < 20_000, "only {built} of {tried} generated specs built");
        let image = rng.below(2) == 0;
        let mut parts: Vec<String> = (0..1 + rng.below(5)).map(|_| layer(&mut rng, image)).collect();
        if image {
            parts.push("flatten".into());
        }
        for _ in 0..rng.below(3) {
            parts.push(layer(&mut rng, false));
        }
        parts.push("linear(10)".into());
        let text = parts.join(" ");
        let input: &[usize] = if image { &[3, 12, 12] } else { &[16] };
        let Ok(spec) = ModelSpec::parse(&text, input, 10, Init::TorchDefault) else { continue };
        built += 1;
        let printed = spec.text();
        let again = ModelSpec::parse(&printed, input, 10, Init::TorchDefault)
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not build: {e}"));
        assert_eq!(again, spec, "{text:?} printed as {printed:?}");
        assert_eq!(again.text(), printed, "printing is stable");
        assert_eq!(again.param_shapes(), spec.param_shapes(), "{text:?}");
    }
}
