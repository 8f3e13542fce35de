//! Data readers: the built-in MNIST subset, IDX folders (gzipped and raw), CSV files, the
//! normalisations and splits, and every malformed input named in the issue: each gets an error
//! naming the file and what is wrong, never a panic.

use downhill::data::csv::{read_csv, CsvOptions, LabelColumn, Task};
use downhill::data::mnist::{builtin, load_dir};
use downhill::data::normalize::{Normalization, Normalizer};
use downhill::data::{Dataset, Targets};
use std::io::Write;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, 3];
    for d in [n, rows, cols] {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend((0..n * rows * cols).map(|i| (i % 256) as u8));
    b
}

fn idx_labels(n: u32) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, 1];
    b.extend_from_slice(&n.to_be_bytes());
    b.extend((0..n).map(|i| (i % 10) as u8));
    b
}

/// Writes a complete MNIST-format folder with `n` train and `m` test images.
fn mnist_dir(name: &str, n: u32, m: u32, gzipped: bool) -> PathBuf {
    let dir = tmp(name);
    let files = [
        ("train-images-idx3-ubyte", idx_images(n, 4, 4)),
        ("train-labels-idx1-ubyte", idx_labels(n)),
        ("t10k-images-idx3-ubyte", idx_images(m, 4, 4)),
        ("t10k-labels-idx1-ubyte", idx_labels(m)),
    ];
    for (f, bytes) in files {
        if gzipped {
            std::fs::write(dir.join(format!("{f}.gz")), gz(&bytes)).unwrap();
        } else {
            std::fs::write(dir.join(f), bytes).unwrap();
        }
    }
    dir
}

fn err(r: downhill::Result<impl std::fmt::Debug>) -> String {
    r.expect_err("bad input must be refused").to_string()
}

#[test]
fn builtin_subset_is_real_mnist() {
    let d = builtin(None).unwrap();
    assert_eq!((d.train.len(), d.test.len(), d.train.features()), (5000, 1000, 784));
    let Targets::Labels { labels, classes } = &d.train.targets else { panic!("labels") };
    assert_eq!(*classes, 10);
    let mut counts = [0usize; 10];
    labels.iter().for_each(|&l| counts[l as usize] += 1);
    assert_eq!(counts, [479, 563, 488, 493, 535, 434, 501, 550, 462, 495], "SOURCES.md class counts");
    assert!(d.train.x.data().iter().all(|&v| (0.0..=1.0).contains(&v)));
}

#[test]
fn idx_folders_read_gzipped_and_raw() {
    for gzipped in [true, false] {
        let d = load_dir(&mnist_dir(&format!("ok-{gzipped}"), 12, 5, gzipped), None).unwrap();
        assert_eq!((d.train.len(), d.test.len(), d.train.features()), (12, 5, 16));
        assert_eq!(d.train.x.data()[17], 17.0 / 255.0);
    }
}

#[test]
fn bad_idx_input_is_refused_with_the_file_named() {
    assert!(err(load_dir(Path::new("/no/such/folder"), None)).contains("no such folder"));

    let d = mnist_dir("missing", 4, 2, true);
    std::fs::remove_file(d.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    assert!(err(load_dir(&d, None)).contains("t10k-labels-idx1-ubyte"));

    let d = mnist_dir("truncated-gz", 4, 2, true);
    let f = d.join("train-images-idx3-ubyte.gz");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    let e = err(load_dir(&d, None));
    assert!(e.contains("train-images-idx3-ubyte.gz") && e.contains("gzip"), "{e}");

    let d = mnist_dir("magic", 4, 2, false);
    let f = d.join("train-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[0] = 0x12;
    std::fs::write(&f, bytes).unwrap();
    assert!(err(load_dir(&d, None)).contains("wrong IDX magic"));

    let d = mnist_dir("dims", 4, 2, false);
    let f = d.join("train-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[3] = 9;
    std::fs::write(&f, bytes).unwrap();
    assert!(err(load_dir(&d, None)).contains("dimension count 9"));

    let d = mnist_dir("short-body", 4, 2, false);
    let f = d.join("t10k-images-idx3-ubyte");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 3]).unwrap();
    assert!(err(load_dir(&d, None)).contains("truncated"));

    let d = mnist_dir("counts", 4, 2, false);
    std::fs::write(d.join("train-labels-idx1-ubyte"), idx_labels(3)).unwrap();
    let e = err(load_dir(&d, None));
    assert!(e.contains("3 labels") && e.contains("4 images"), "{e}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn csv_reads_headers_label_columns_and_both_tasks() {
    let dir = tmp("csv");
    let p = write(&dir, "h.csv", "a,b,label\n1,2,0\n3,4,2\n5,6,1\n");
    let d = read_csv(&p, &CsvOptions::default()).unwrap();
    assert_eq!(d.x.data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(d.targets, Targets::Labels { labels: vec![0, 2, 1], classes: 3 });
    let by_name = CsvOptions { label: LabelColumn::Name("a".into()), task: Task::Regression, ..Default::default() };
    let d = read_csv(&p, &by_name).unwrap();
    assert_eq!(d.x.data(), &[2.0, 0.0, 4.0, 2.0, 6.0, 1.0]);
    let p = write(&dir, "n.csv", "0.5,1\n1.5,0\n");
    let opts = CsvOptions { label: LabelColumn::Index(0), task: Task::Regression, ..Default::default() };
    let d = read_csv(&p, &opts).unwrap();
    assert_eq!(d.targets, Targets::Values(downhill::Tensor::from_vec(&[2, 1], vec![0.5, 1.5]).unwrap()));
    // The sklearn digits file: no header, 64 pixels then the label, gzipped.
    let digits = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digits.csv.gz");
    let d = read_csv(&digits, &CsvOptions::default()).unwrap();
    assert_eq!((d.len(), d.features(), d.classes()), (1797, 64, Some(10)));
}

#[test]
fn bad_csv_input_is_refused_with_line_and_field() {
    let dir = tmp("badcsv");
    let p = write(&dir, "nan.csv", "a,b,label\n1,2,0\n3,x,1\n");
    let e = err(read_csv(&p, &CsvOptions::default()));
    assert!(e.contains("nan.csv") && e.contains("line 3") && e.contains("\"b\"") && e.contains("\"x\""), "{e}");
    let p = write(&dir, "ragged.csv", "1,2,0\n3,4\n");
    let e = err(read_csv(&p, &CsvOptions::default()));
    assert!(e.contains("line 2") && e.contains("ragged"), "{e}");
    let p = write(&dir, "label.csv", "1,2,0.5\n");
    assert!(err(read_csv(&p, &CsvOptions::default())).contains("not a class label"));
    let no_col = CsvOptions { label: LabelColumn::Name("y".into()), ..Default::default() };
    assert!(err(read_csv(&write(&dir, "h.csv", "a,b\n1,2\n"), &no_col)).contains("no label column named \"y\""));
    assert!(err(read_csv(&dir.join("absent.csv"), &CsvOptions::default())).contains("absent.csv"));
}

#[test]
fn normalisations_fit_on_train_and_apply_to_test() {
    let x = downhill::Tensor::from_vec(&[4, 2], vec![0.0, 10.0, 2.0, 10.0, 4.0, 10.0, 6.0, 10.0]).unwrap();
    let d = Dataset::new(x, Targets::Labels { labels: vec![0, 1, 0, 1], classes: 2 }).unwrap();
    let mut s = d.clone();
    Normalizer::fit(Normalization::Standardize, &d).apply(&mut s).unwrap();
    let col0: Vec<f32> = s.x.data().iter().step_by(2).copied().collect();
    let mean = col0.iter().sum::<f32>() / 4.0;
    assert!(mean.abs() < 1e-6 && s.x.data()[1] == 0.0, "constant column stays finite: {:?}", s.x.data());
    let mut m = d.clone();
    Normalizer::fit(Normalization::MinMax, &d).apply(&mut m).unwrap();
    assert_eq!(m.x.data()[6], 1.0);
    let (train, val) = d.split(0.25, 1).unwrap();
    assert_eq!((train.len(), val.len()), (3, 1));
    assert_eq!(d.split(0.25, 1).unwrap(), (train, val), "splits are seeded");
}
