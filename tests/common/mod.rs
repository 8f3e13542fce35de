//! Helpers shared by the integration tests: the GPU under test, seeded random data, and
//! tensor comparisons that report the worst element.
#![allow(dead_code, reason = "each test binary uses its own subset")]

pub mod gradcheck;
pub mod http;
pub mod oracle;
pub mod python;

use downhill::device::open_gpu_from_env;
use downhill::GpuBackend;
use std::sync::OnceLock;

/// The GPU backend for this test binary, opened once: `DOWNHILL_DEVICE` when set, otherwise the
/// best adapter of any kind (lavapipe in CI). Returns None (and says so) when there is none,
/// unless `DOWNHILL_REQUIRE_GPU=1`, in which case the test fails.
pub fn gpu() -> Option<&'static GpuBackend> {
    static GPU: OnceLock<Result<GpuBackend, String>> = OnceLock::new();
    let opened = GPU.get_or_init(|| open_gpu_from_env().map_err(|e| e.to_string()));
    match opened {
        Ok(b) => Some(b),
        Err(e) => {
            if std::env::var("DOWNHILL_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("DOWNHILL_REQUIRE_GPU=1 but no GPU could be opened: {e}");
            }
            eprintln!("SKIPPED (no GPU adapter: {e}); set DOWNHILL_REQUIRE_GPU=1 to make this a failure");
            None
        }
    }
}

/// A GPU backend of the test's own (same choice as [`gpu`]), for tests that count submits or
/// cache entries and must not see other tests' work on the shared one.
pub fn own_gpu() -> Option<GpuBackend> {
    gpu()?;
    Some(open_gpu_from_env().expect("the shared GPU opened, so a second one must too"))
}

/// A small seeded generator (SplitMix64), so tests need no extra crate and repeat exactly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }

    pub fn vec_f32(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi) as f32).collect()
    }

    pub fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % n as u64) as u32
    }
}

/// Largest relative error `|got − want| / max(|want|, floor)` and where it happened.
pub fn worst_relative(got: &[f32], want: &[f64], floor: f64) -> (f64, usize) {
    let mut worst = (0.0f64, 0usize);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let e = if g.is_nan() { f64::INFINITY } else { (g as f64 - w).abs() / w.abs().max(floor) };
        if e > worst.0 {
            worst = (e, i);
        }
    }
    worst
}

/// Fails unless every `|got − want| ≤ atol + rtol·|want|`, naming the worst element.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length {} vs {}", got.len(), want.len());
    let mut worst: Option<(usize, f32)> = None;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let excess = (g - w).abs() - (atol + rtol * w.abs());
        if excess > 0.0 || g.is_nan() != w.is_nan() {
            let score = if excess.is_nan() { f32::INFINITY } else { excess };
            if worst.is_none_or(|(_, s)| score > s) {
                worst = Some((i, score));
            }
        }
    }
    if let Some((i, _)) = worst {
        panic!(
            "{what}: worst element {i}: got {} want {} (|diff| {:e} > atol {atol:e} + rtol {rtol:e}·|want|)",
            got[i],
            want[i],
            (got[i] - want[i]).abs()
        );
    }
}

/// A fresh, empty folder under the system temp dir, unique to this test process and `name`.
pub fn tmp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// scikit-learn's digits as a CSV (64 pixel columns, label last; tests/fixtures).
pub fn digits_csv() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digits.csv.gz")
}

/// An observer that answers `then` from step `at` on: `Control::Stop` stops as a crash would,
/// `Control::Checkpoint` as Ctrl-C does.
pub struct ControlAt {
    pub at: u64,
    pub then: downhill::run::Control,
}

impl downhill::run::Observer for ControlAt {
    fn on_step(&mut self, _epoch: usize, info: &downhill::train::StepInfo) -> downhill::run::Control {
        if info.step >= self.at {
            self.then
        } else {
            downhill::run::Control::Continue
        }
    }
}

/// Every parameter of a checkpoint file, by model name.
pub fn checkpoint_params(path: &std::path::Path) -> Vec<(String, Vec<f32>)> {
    downhill::checkpoint::Checkpoint::load(path).unwrap().params.into_iter().map(|(n, t)| (n, t.into_vec())).collect()
}

/// The first `rows` rows of scikit-learn's digits as a plain CSV in `dir` (a run splits off 20 %
/// as its test set): 800 rows give 640 training rows, 20 steps of 32.
pub fn digits_subset(dir: &std::path::Path, rows: usize) -> std::path::PathBuf {
    use std::io::Read;
    let mut text = String::new();
    let file = std::fs::File::open(digits_csv()).unwrap();
    flate2::read::GzDecoder::new(file).read_to_string(&mut text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines[0].split(',').next().is_some_and(|c| c.parse::<f64>().is_err());
    let take = rows + usize::from(header);
    let path = dir.join(format!("digits-{rows}.csv"));
    std::fs::write(&path, lines[..take].join("\n") + "\n").unwrap();
    path
}

/// The largest |a − b| over two checkpoints' parameters (same names and shapes).
pub fn max_param_difference(a: &std::path::Path, b: &std::path::Path) -> f32 {
    let (a, b) = (checkpoint_params(a), checkpoint_params(b));
    assert_eq!(a.len(), b.len());
    let mut worst = 0f32;
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!((na, ta.len()), (nb, tb.len()));
        worst = ta.iter().zip(tb).fold(worst, |m, (x, y)| m.max((x - y).abs()));
    }
    worst
}
