//! Data parallelism with several replicas in one process (`--device cpu,cpu`, `gpu,gpu`): two
//! replicas with batch b reach the weights one replica reaches with batch 2b (20 steps, up to
//! float32 rounding); a 2-replica checkpoint resumes on one replica; the same seed repeats bit
//! for bit; early stopping restores the best weights on every replica; a replica that fails
//! stops the others with its own error; more replicas than rows is refused. The MPI twin of these tests is tests/distributed_mpi.rs.

mod common;

use common::{digits_subset, max_param_difference, tmp_dir};
use downhill::config::RunConfig;
use downhill::run::{train_on_devices, Quiet, RunOptions, RunSummary};
use downhill::DeviceRequest;
use std::path::Path;
use std::time::{Duration, Instant};

/// The tolerance on weights between 2 replicas × batch b and 1 replica × batch 2b after 20
/// Adam steps: the two sum the same gradient in a different order (two means of 16 averaged
/// vs one mean of 32), a difference of float32 rounding that Adam's normalised step carries
/// into the weights. Measured: 1.5e-8 (CPU, lavapipe, mixed), 3e-8 after a resume.
const WEIGHT_TOLERANCE: f32 = 1e-6;

/// Digits subset, an MLP without dropout (masks differ per replica), constant Adam, `epochs`
/// epochs of 640 rows in steps of `batch` rows per replica.
fn config(data: &Path, batch: usize, epochs: usize) -> RunConfig {
    RunConfig {
        data: Some(data.to_path_buf()),
        hidden: vec![32],
        dropout: 0.0,
        schedule: "constant".into(),
        batch_size: batch,
        epochs,
        ..Default::default()
    }
}

fn devices(list: &str) -> Vec<DeviceRequest> {
    list.split(',').map(|d| d.parse().unwrap()).collect()
}

fn run(cfg: &RunConfig, list: &str, out: &Path, resume: Option<&Path>) -> downhill::Result<RunSummary> {
    let opts = RunOptions { resume: resume.map(Path::to_path_buf), ..Default::default() };
    train_on_devices(cfg, &devices(list), out, &opts, &mut Quiet, Duration::from_secs(60))
}

fn ckpt(dir: &Path) -> std::path::PathBuf {
    dir.join("checkpoint.safetensors")
}

/// 2 × b against 1 × 2b on `device`; returns the largest weight difference.
fn two_replicas_against_one(name: &str, one: &str, two: &str) -> f32 {
    let dir = tmp_dir(name);
    let data = digits_subset(&dir, 800);
    let single = run(&config(&data, 32, 1), one, &dir.join("one"), None).unwrap();
    let pair = run(&config(&data, 16, 1), two, &dir.join("two"), None).unwrap();
    assert_eq!(single.history.len(), 1);
    let diff = max_param_difference(&ckpt(&dir.join("one")), &ckpt(&dir.join("two")));
    eprintln!("{name}: 2 x 16 ({two}) vs 1 x 32 ({one}) after 20 steps: max |Δw| = {diff:e}");
    assert!(diff <= WEIGHT_TOLERANCE, "{name}: weights differ by {diff}");
    assert!((single.test_loss - pair.test_loss).abs() < 1e-4, "{} vs {}", single.test_loss, pair.test_loss);
    assert_eq!(single.test_accuracy, pair.test_accuracy);
    diff
}

#[test]
fn two_cpu_replicas_equal_one_with_twice_the_batch() {
    two_replicas_against_one("dp-cpu", "cpu", "cpu,cpu");
}

#[test]
fn two_gpu_replicas_equal_one_with_twice_the_batch() {
    if common::gpu().is_none() {
        return;
    }
    two_replicas_against_one("dp-gpu", "gpu", "gpu,gpu");
    // Buckets on the GPU path: each is read back mid-backward from a view of the flat gradient.
    let dir = std::env::temp_dir().join(format!("downhill-test-{}-dp-gpu", std::process::id()));
    let cfg = RunConfig { bucket_mb: 0.0001, ..config(&dir.join("digits-800.csv"), 16, 1) };
    let split = run(&cfg, "gpu,gpu", &dir.join("buckets"), None).unwrap();
    assert_eq!(split.all_reduce.unwrap().buckets, 3);
    assert_eq!(max_param_difference(&ckpt(&dir.join("two")), &ckpt(&dir.join("buckets"))), 0.0);
    // Replicas on different devices: the CPU path and the adapter round differently, and the
    // epoch-end broadcast puts replica 0's weights on both.
    two_replicas_against_one("dp-mixed", "cpu", "cpu,gpu");
}

#[test]
fn a_two_replica_checkpoint_resumes_on_one_replica() {
    let dir = tmp_dir("dp-resume");
    let data = digits_subset(&dir, 800);
    run(&config(&data, 16, 2), "cpu,cpu", &dir.join("straight"), None).unwrap();
    run(&config(&data, 16, 1), "cpu,cpu", &dir.join("first"), None).unwrap();
    let first = ckpt(&dir.join("first"));
    assert_eq!(downhill::checkpoint::Checkpoint::load(&first).unwrap().meta.replicas, 2);
    // Epoch 2 on one replica with the same 32 rows per step.
    run(&config(&data, 32, 2), "cpu", &dir.join("resumed"), Some(&first)).unwrap();
    let diff = max_param_difference(&ckpt(&dir.join("straight")), &ckpt(&dir.join("resumed")));
    eprintln!("2 replicas for 2 epochs vs 1 epoch + resume on 1: max |Δw| = {diff:e}");
    assert!(diff <= WEIGHT_TOLERANCE, "weights differ by {diff}");
    // On as many replicas as before, the resumed run is the straight one, bit for bit.
    run(&config(&data, 16, 2), "cpu,cpu", &dir.join("again"), Some(&first)).unwrap();
    assert_eq!(max_param_difference(&ckpt(&dir.join("straight")), &ckpt(&dir.join("again"))), 0.0);
}

#[test]
fn a_mid_epoch_checkpoint_resumes_only_at_a_whole_step() {
    let dir = tmp_dir("dp-mid-epoch");
    let data = digits_subset(&dir, 800);
    let mut cfg = config(&data, 16, 1);
    cfg.checkpoint_every = 5; // saved after step 15 of 20: 480 rows into the epoch
    let opts = RunOptions::default();
    let mut stop = common::ControlAt { at: 17, then: downhill::run::Control::Stop };
    let err = train_on_devices(&cfg, &devices("cpu,cpu"), &dir.join("a"), &opts, &mut stop, Duration::from_secs(60));
    assert!(matches!(err, Err(downhill::Error::Interrupted(_))), "{err:?}");
    let saved = ckpt(&dir.join("a"));
    assert_eq!(downhill::checkpoint::Checkpoint::load(&saved).unwrap().meta.epoch_step, 15);
    // 480 rows are 10 steps of 48 rows but no whole number of 100-row steps.
    let err = run(&config(&data, 100, 1), "cpu", &dir.join("b"), Some(&saved)).unwrap_err().to_string();
    assert!(err.contains("row 480") && err.contains("100 rows a step"), "{err}");
    run(&config(&data, 48, 1), "cpu", &dir.join("c"), Some(&saved)).unwrap();
}

#[test]
fn the_same_seed_repeats_bit_for_bit_with_replicas() {
    let dir = tmp_dir("dp-repeat");
    let data = digits_subset(&dir, 800);
    let mut cfg = config(&data, 16, 1);
    cfg.dropout = 0.2; // each replica draws its own masks, the same ones every time
    run(&cfg, "cpu,cpu", &dir.join("a"), None).unwrap();
    run(&cfg, "cpu,cpu", &dir.join("b"), None).unwrap();
    assert_eq!(max_param_difference(&ckpt(&dir.join("a")), &ckpt(&dir.join("b"))), 0.0);
}

#[test]
fn a_failing_replica_stops_the_others_with_its_own_error() {
    let dir = tmp_dir("dp-fail");
    let data = digits_subset(&dir, 800);
    let started = Instant::now();
    let err = run(&config(&data, 16, 1), "cpu,no-such-adapter", &dir.join("a"), None).unwrap_err().to_string();
    assert!(err.contains("no-such-adapter"), "the missing adapter is named: {err}");
    assert!(started.elapsed() < Duration::from_secs(30), "no replica waited for the timeout");
    assert!(!dir.join("a").exists(), "nothing written");
}

#[test]
fn more_replicas_than_rows_is_refused() {
    let dir = tmp_dir("dp-rows");
    let data = digits_subset(&dir, 5); // 1 test row, 1 validation row, 3 training rows
    let err = run(&config(&data, 1, 1), "cpu,cpu,cpu,cpu,cpu", &dir.join("a"), None).unwrap_err().to_string();
    assert!(err.contains("5 replicas for 3 training rows"), "{err}");
    assert!(!dir.join("a").exists(), "nothing written");
}

#[test]
fn early_stopping_restores_the_best_weights_on_every_replica() {
    let dir = tmp_dir("dp-early");
    let data = digits_subset(&dir, 800);
    let cfg = RunConfig {
        validation: 0.2,
        patience: Some(1),
        lr: Some(0.05), // too high: the validation loss climbs after the first epochs
        ..config(&data, 16, 8)
    };
    let pair = run(&cfg, "cpu,cpu", &dir.join("two"), None).unwrap();
    let best = pair.best.expect("early stopping reports its best epoch");
    assert!(pair.stopped_early && best.restored, "{best:?}, stopped early: {}", pair.stopped_early);
    // The final test figures are the restored weights' own, as one process evaluates them.
    let alone = downhill::infer::evaluate_checkpoint(&best.checkpoint, None, &DeviceRequest::Cpu).unwrap();
    assert!((alone.evaluation.loss - pair.test_loss).abs() < 1e-6, "{} vs {}", alone.evaluation.loss, pair.test_loss);
    assert_eq!(alone.evaluation.accuracy, pair.test_accuracy);
}

#[test]
fn bucketed_all_reduce_gives_the_same_weights_as_one_all_reduce() {
    let dir = tmp_dir("dp-buckets");
    let data = digits_subset(&dir, 800);
    let whole = config(&data, 16, 1);
    // 100-byte buckets: the 64-32-10 MLP's four tensors fall into three buckets, all-reduced while
    // the backward pass goes on; two micro-batches per step exercise the accumulation path.
    let bucketed = RunConfig { bucket_mb: 0.0001, ..whole.clone() };
    let layout =
        downhill::nn::ModelSpec::mlp(&[64, 32, 10], downhill::Activation::Relu, 0.0, downhill::nn::Init::TorchDefault)
            .unwrap()
            .layout()
            .unwrap();
    assert_eq!(downhill::distributed::buckets::plan(&layout, 100).len(), 3);
    for (accumulation, name) in [(1, "a"), (2, "b")] {
        let (w, b) = (RunConfig { accumulation, ..whole.clone() }, RunConfig { accumulation, ..bucketed.clone() });
        let one = run(&w, "cpu,cpu", &dir.join(format!("{name}-whole")), None).unwrap();
        let split = run(&b, "cpu,cpu", &dir.join(format!("{name}-buckets")), None).unwrap();
        assert_eq!((one.all_reduce.unwrap().buckets, split.all_reduce.unwrap().buckets), (0, 3));
        let diff = max_param_difference(
            &ckpt(&dir.join(format!("{name}-whole"))),
            &ckpt(&dir.join(format!("{name}-buckets"))),
        );
        assert_eq!(diff, 0.0, "accumulation {accumulation}: the same sums, element by element");
    }
}

#[test]
fn the_newer_optimizers_take_the_same_step_on_every_replica() {
    let dir = tmp_dir("dp-optimizers");
    let data = digits_subset(&dir, 800);
    // Tensor-wide statistics (LAMB's trust ratios, Adafactor's factored moments, Muon's
    // Newton–Schulz, schedule-free AdamW's averaging and its eval-mode switch at evaluation)
    // all see the averaged gradient: 2 × 16 follows 1 × 32.
    for optimizer in ["lamb", "adafactor", "muon", "adamw-schedule-free"] {
        let cfg = |batch| RunConfig { optimizer: optimizer.into(), lr: Some(0.01), ..config(&data, batch, 1) };
        run(&cfg(32), "cpu", &dir.join(format!("{optimizer}-one")), None).unwrap();
        run(&cfg(16), "cpu,cpu", &dir.join(format!("{optimizer}-two")), None).unwrap();
        let one = ckpt(&dir.join(format!("{optimizer}-one")));
        let diff = max_param_difference(&one, &ckpt(&dir.join(format!("{optimizer}-two"))));
        eprintln!("{optimizer}: 2 x 16 vs 1 x 32 after 20 steps: max |Δw| = {diff:e}");
        assert!(diff <= WEIGHT_TOLERANCE, "{optimizer}: weights differ by {diff}");
    }
    // Sophia-G samples labels per replica (its own stream each), so it is not 1 × 32; it
    // trains, and repeats bit for bit.
    let cfg =
        RunConfig { optimizer: "sophia".into(), lr: Some(0.01), hessian_interval: Some(5), ..config(&data, 16, 1) };
    let a = run(&cfg, "cpu,cpu", &dir.join("sophia-a"), None).unwrap();
    run(&cfg, "cpu,cpu", &dir.join("sophia-b"), None).unwrap();
    assert!(a.test_accuracy.unwrap() > 0.5, "{:?}", a.test_accuracy);
    assert_eq!(max_param_difference(&ckpt(&dir.join("sophia-a")), &ckpt(&dir.join("sophia-b"))), 0.0);
}

#[test]
fn data_parallel_flags_that_cannot_work_are_refused() {
    let dir = tmp_dir("dp-flags");
    let data = digits_subset(&dir, 800);
    let out = dir.join("run");
    let cases: [(&[&str], &str); 4] = [
        (&["--collective-timeout", "0"], "--collective-timeout: 0 is not a number of seconds above 0"),
        // A build without the `mpi` feature refuses --distributed itself, naming the feature.
        (
            &["--distributed", "--device", "cpu,cpu"],
            if cfg!(feature = "mpi") {
                "under MPI each rank trains on one device"
            } else {
                "--distributed needs the `mpi` cargo feature"
            },
        ),
        (&["--device", "cpu,,cpu"], "device: empty"),
        (&["--bucket-mb=-1"], "bucket_mb"),
    ];
    for (flags, want) in cases {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_downhill"))
            .args(["train", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .args(flags)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(want), "{flags:?}: {err}");
        assert!(!out.exists(), "{flags:?}: nothing written");
    }
}

#[test]
fn device_all_is_one_replica_per_hardware_gpu() {
    let adapters = downhill::backend::gpu::list_adapters();
    let hardware = |r: &downhill::backend::gpu::AdapterReport| !r.is_software && r.device_type != "Other";
    match downhill::device::replica_devices("all") {
        Ok(devices) => {
            let mut names = Vec::new();
            for d in devices {
                let DeviceRequest::Index(i) = d else { panic!("{d:?} is not an adapter index") };
                let r = adapters.iter().find(|r| r.index == i).expect("an adapter of the list");
                assert!(hardware(r), "{} is a software adapter", r.name);
                assert!(!names.contains(&r.name), "{} twice", r.name);
                names.push(r.name.clone());
            }
            assert_eq!(
                names.len(),
                adapters
                    .iter()
                    .filter(|r| hardware(r))
                    .map(|r| &r.name)
                    .collect::<std::collections::HashSet<_>>()
                    .len()
            );
        }
        Err(e) => {
            assert!(!adapters.iter().any(hardware), "hardware adapters exist but `all` failed: {e}");
            assert!(e.to_string().contains("one replica per hardware GPU and none was found"), "{e}");
        }
    }
    assert_eq!(downhill::device::replica_devices("cpu,gpu").unwrap(), vec![DeviceRequest::Cpu, DeviceRequest::Gpu]);
}
