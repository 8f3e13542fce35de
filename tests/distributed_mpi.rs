//! Data-parallel training over MPI (`mpirun -np 2 downhill train --distributed`, cargo feature
//! `mpi`), on this machine's ranks: 2 ranks × batch b reach the weights of 1 process × batch 2b
//! after 20 steps (CPU path and the GPU adapter); a 2-rank checkpoint resumes in one process; a
//! killed rank ends the job with a clear message from the launcher and the survivor; a hung
//! rank makes the others give up after --collective-timeout; ranks with different settings are
//! refused by every rank; more ranks than rows is refused.
//!
//! Needs `mpirun` (Open MPI); without it the tests say SKIPPED, unless DOWNHILL_REQUIRE_MPI=1
//! (CI), where they fail.
#![cfg(feature = "mpi")]

mod common;

use common::{digits_subset, max_param_difference, tmp_dir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// As tests/distributed.rs: 2 × b against 1 × 2b after 20 Adam steps.
const WEIGHT_TOLERANCE: f32 = 1e-6;

fn have_mpirun() -> bool {
    let found = Command::new("mpirun").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("DOWNHILL_REQUIRE_MPI").as_deref() == Ok("1") {
            panic!("DOWNHILL_REQUIRE_MPI=1 but mpirun was not found (apt-get install openmpi-bin libopenmpi-dev)");
        }
        eprintln!("SKIPPED (no mpirun); set DOWNHILL_REQUIRE_MPI=1 to make this a failure");
    }
    found
}

/// `mpirun` for this machine: as many ranks as asked whatever the cores, allowed as root (CI).
fn mpirun(ranks: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "-np", &ranks.to_string()]);
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    c
}

const BIN: &str = env!("CARGO_BIN_EXE_downhill");

/// The training flags of these tests: digits subset, small MLP, no dropout, constant Adam.
fn train_args(data: &Path, out: &Path, batch: usize, epochs: usize) -> Vec<String> {
    let args = ["train", "--hidden", "32", "--dropout", "0", "--schedule", "constant", "--quiet"];
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    for (flag, value) in [
        ("--data", data.display().to_string()),
        ("--out", out.display().to_string()),
        ("--batch-size", batch.to_string()),
        ("--epochs", epochs.to_string()),
    ] {
        v.push(flag.into());
        v.push(value);
    }
    v
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ckpt(dir: &Path) -> PathBuf {
    dir.join("checkpoint.safetensors")
}

/// Runs 2 ranks × 16 and 1 process × 32 on `device`; returns the largest weight difference.
fn two_ranks_against_one(name: &str, device: &str) -> f32 {
    let dir = tmp_dir(name);
    let data = digits_subset(&dir, 800);
    let one = Command::new(BIN).args(train_args(&data, &dir.join("one"), 32, 1)).args(["--device", device]).output();
    let one = one.unwrap();
    assert!(one.status.success(), "{}", text(&one));
    let mut two = mpirun(2);
    two.arg(BIN).args(train_args(&data, &dir.join("two"), 16, 1)).args(["--distributed", "--device", device]);
    let two = two.output().unwrap();
    assert!(two.status.success(), "{}", text(&two));
    let out = text(&two);
    assert_eq!(out.matches("done:").count(), 1, "only rank 0 prints the summary: {out}");
    let diff = max_param_difference(&ckpt(&dir.join("one")), &ckpt(&dir.join("two")));
    eprintln!("{name}: mpirun -np 2 × 16 vs 1 × 32 on {device} after 20 steps: max |Δw| = {diff:e}");
    assert!(diff <= WEIGHT_TOLERANCE, "weights differ by {diff}");
    diff
}

#[test]
fn two_mpi_ranks_equal_one_process_with_twice_the_batch() {
    if !have_mpirun() {
        return;
    }
    two_ranks_against_one("mpi-cpu", "cpu");
    // Bucketed (100-byte buckets, all-reduced while the backward pass runs): the same sums.
    let dir = std::env::temp_dir().join(format!("downhill-test-{}-mpi-cpu", std::process::id()));
    let data = dir.join("digits-800.csv");
    let mut c = mpirun(2);
    c.arg(BIN).args(train_args(&data, &dir.join("buckets"), 16, 1));
    let o = c.args(["--distributed", "--device", "cpu", "--bucket-mb", "0.0001"]).output().unwrap();
    assert!(o.status.success() && text(&o).contains("in 3 buckets during the backward pass"), "{}", text(&o));
    assert_eq!(max_param_difference(&ckpt(&dir.join("two")), &ckpt(&dir.join("buckets"))), 0.0);
}

#[test]
fn two_mpi_ranks_on_the_gpu_equal_one_with_twice_the_batch() {
    if !have_mpirun() || common::gpu().is_none() {
        return;
    }
    two_ranks_against_one("mpi-gpu", "gpu");
}

#[test]
fn a_two_rank_checkpoint_resumes_in_one_process() {
    if !have_mpirun() {
        return;
    }
    let dir = tmp_dir("mpi-resume");
    let data = digits_subset(&dir, 800);
    let ranks = |out: &str, epochs| {
        let mut o = mpirun(2);
        o.arg(BIN).args(train_args(&data, &dir.join(out), 16, epochs)).args(["--distributed", "--device", "cpu"]);
        let o = o.output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    };
    ranks("straight", 2);
    ranks("first", 1);
    let resume = ckpt(&dir.join("first"));
    let mut args = train_args(&data, &dir.join("resumed"), 32, 2);
    args.extend(["--resume".into(), resume.display().to_string(), "--device".into(), "cpu".into()]);
    let o = Command::new(BIN).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("resumed a 2-replica checkpoint on 1 replica"), "{}", text(&o));
    let diff = max_param_difference(&ckpt(&dir.join("straight")), &ckpt(&dir.join("resumed")));
    eprintln!("mpirun -np 2 for 2 epochs vs 1 epoch + resume in one process: max |Δw| = {diff:e}");
    assert!(diff <= WEIGHT_TOLERANCE, "weights differ by {diff}");
}

/// The pid of rank `rank` among `mpirun`'s children (their environment names their rank).
fn rank_pid(mpirun_pid: u32, rank: usize) -> Option<i32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1)).and_then(|p| p.parse().ok());
        if ppid != Some(mpirun_pid) {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let want = format!("OMPI_COMM_WORLD_RANK={rank}");
        if environ.split(|&b| b == 0).any(|kv| kv == want.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

/// Starts a long 2-rank run and waits until both ranks train (the first epoch's checkpoint).
fn start_long_run(dir: &Path, extra: &[&str]) -> (Child, i32) {
    let data = digits_subset(dir, 800);
    let out = dir.join("run");
    let mut cmd = mpirun(2);
    cmd.arg(BIN).args(train_args(&data, &out, 16, 100_000)).args(["--distributed", "--device", "cpu"]).args(extra);
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ckpt(&out).exists() {
        assert!(Instant::now() < deadline, "the run did not reach its first checkpoint");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = rank_pid(child.id(), 1).expect("rank 1 is a child of mpirun");
    (child, pid)
}

/// Waits for `child` at most `limit`; kills it and fails the test past that.
fn finish_within(mut child: Child, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "mpirun still running {limit:?} after the rank failed: {}",
                text(&child.wait_with_output().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

#[test]
fn a_killed_rank_ends_every_rank_with_a_message() {
    if !have_mpirun() {
        return;
    }
    let dir = tmp_dir("mpi-kill");
    let (child, pid) = start_long_run(&dir, &[]);
    // SAFETY: sending a signal to a process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let (out, took) = finish_within(child, Duration::from_secs(60));
    let all = text(&out);
    eprintln!("mpirun ended {took:?} after rank 1 was killed:\n{all}");
    assert!(!out.status.success());
    assert!(all.contains("rank 1") && all.contains("signal 9"), "the launcher names the dead rank: {all}");
    assert!(all.contains("MPI rank 0 of 2: terminated by the launcher"), "rank 0 says why it stops: {all}");
}

#[test]
fn a_hung_rank_makes_the_others_give_up_after_the_timeout() {
    if !have_mpirun() {
        return;
    }
    let dir = tmp_dir("mpi-hang");
    let (child, pid) = start_long_run(&dir, &["--collective-timeout", "10"]);
    // SAFETY: sending a signal to a process this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let (out, took) = finish_within(child, Duration::from_secs(60));
    // SAFETY: as above (the launcher may already have ended it).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let all = text(&out);
    eprintln!("mpirun ended {took:?} after rank 1 was stopped:\n{all}");
    assert!(!out.status.success());
    assert!(
        all.contains("MPI rank 0 of 2: the gradient all-reduce of step") && all.contains("waited 10 s"),
        "rank 0 names the collective that hung: {all}"
    );
}

#[test]
fn ranks_with_different_settings_are_refused_by_every_rank() {
    if !have_mpirun() {
        return;
    }
    let dir = tmp_dir("mpi-mismatch");
    let data = digits_subset(&dir, 800);
    let out = dir.join("run");
    let rank = |lr: &str| {
        let mut a = vec![BIN.to_string()];
        a.extend(train_args(&data, &out, 16, 1));
        a.extend(["--distributed", "--device", "cpu", "--lr", lr].map(String::from));
        a
    };
    // One job of two programs (MPMD): rank 0 with lr 0.001, rank 1 with 0.002.
    let mut cmd = mpirun(1);
    cmd.args(rank("0.001")).args([":", "-np", "1"]).args(rank("0.002"));
    let o = cmd.output().unwrap();
    let all = text(&o);
    assert!(!o.status.success());
    let refusal = "rank(s) [1] were given a different configuration or model than rank 0";
    assert_eq!(all.matches(refusal).count(), 2, "both ranks say so: {all}");
    assert!(!out.exists(), "nothing written: {all}");
}

#[test]
fn more_ranks_than_rows_is_refused() {
    if !have_mpirun() {
        return;
    }
    let dir = tmp_dir("mpi-rows");
    let data = digits_subset(&dir, 5); // 1 test row, 1 validation row, 3 training rows
    let mut o = mpirun(5);
    o.arg(BIN).args(train_args(&data, &dir.join("run"), 1, 1)).args(["--distributed", "--device", "cpu"]);
    let o = o.output().unwrap();
    let all = text(&o);
    assert!(!o.status.success());
    assert!(all.contains("5 replicas for 3 training rows"), "{all}");
}
