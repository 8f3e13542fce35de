//! Faults during a run: the disk fills while a checkpoint is written, the output folder turns
//! read-only mid-run, a language model's token file is cut short mid-run. Each run must end
//! with a clear error naming the cause, the previous checkpoint intact and loadable, and the
//! command that resumes from it (which then works). An output folder removed mid-run is made
//! again and the run finishes with nothing lost.
//!
//! The full and read-only disks are a small tmpfs mounted for the test, which needs root.
//! Where mounting is refused those tests say SKIPPED, unless `DOWNHILL_REQUIRE_FAULTS=1` (as
//! `.ci/run` sets) makes that a failure.

use downhill::checkpoint::Checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A tmpfs mounted at a fresh folder, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(name: &str, kib: u64) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("downhill-faults-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(Self(dir));
        }
        if std::env::var("DOWNHILL_REQUIRE_FAULTS").as_deref() == Ok("1") {
            panic!("cannot mount a tmpfs at {} (needs root); DOWNHILL_REQUIRE_FAULTS=1", dir.display());
        }
        eprintln!("SKIPPED: cannot mount a tmpfs (needs root); DOWNHILL_REQUIRE_FAULTS=1 makes this a failure");
        None
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn train(args: &[&str], out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_downhill"));
    cmd.arg("train").args(args).args(["--quiet", "--out"]).arg(out).env("DOWNHILL_DEVICE", "cpu");
    cmd
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The run failed with `cause`, printed the resume command for its checkpoint, and that
/// checkpoint loads, at epoch `epoch` or later; no temporary file is left beside it.
fn assert_recoverable(o: &Output, out: &Path, cause: &str) -> Checkpoint {
    let all = text(o);
    assert!(!o.status.success(), "the run should fail: {all}");
    assert!(!all.contains("panicked"), "{all}");
    assert!(all.contains(cause), "the error should say {cause:?}: {all}");
    let ckpt = out.join("checkpoint.safetensors");
    assert!(all.contains(&format!("continue with: downhill train --resume {}", ckpt.display())), "{all}");
    Checkpoint::load(&ckpt).unwrap_or_else(|e| panic!("the previous checkpoint should load: {e}"))
}

#[test]
fn a_full_disk_while_a_checkpoint_is_written_keeps_the_previous_one() {
    // The size of one epoch's output folder, measured on the ordinary disk.
    let reference = std::env::temp_dir().join(format!("downhill-faults-{}-reference", std::process::id()));
    let _ = std::fs::remove_dir_all(&reference);
    let args = ["--hidden", "512,512", "--epochs", "1"];
    let first = train(&args, &reference).output().unwrap();
    assert!(first.status.success(), "{}", text(&first));
    let files: Vec<(String, u64)> = std::fs::read_dir(&reference)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().to_string(), e.metadata().unwrap().len()))
        .collect();
    let ckpt_size = files.iter().find(|(n, _)| n == "checkpoint.safetensors").unwrap().1;
    let used: u64 = files.iter().map(|(_, s)| s.div_ceil(4096) * 4096).sum();
    let _ = std::fs::remove_dir_all(&reference);
    // Room for one epoch's files and half a checkpoint more: the second epoch's checkpoint,
    // written beside the first before it replaces it, cannot fit.
    let Some(disk) = Tmpfs::mount("full", (used + ckpt_size / 2).div_ceil(1024)) else { return };
    let out = disk.0.join("run");
    let two = ["--hidden", "512,512", "--epochs", "2"];
    let o = train(&two, &out).output().unwrap();
    let ckpt = assert_recoverable(&o, &out, "No space left on device");
    assert_eq!(ckpt.meta.epoch, 1, "the checkpoint is the first epoch's");
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
}

#[test]
fn an_output_folder_turned_read_only_mid_run_keeps_the_last_checkpoint() {
    let Some(disk) = Tmpfs::mount("readonly", 64 * 1024) else { return };
    let out = disk.0.join("run");
    let child = train(&["--hidden", "32", "--epochs", "500"], &out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the first epoch's checkpoint is there, the file system becomes read-only.
    let ckpt = out.join("checkpoint.safetensors");
    let clock = Instant::now();
    while Checkpoint::load(&ckpt).is_err() {
        assert!(clock.elapsed() < Duration::from_secs(120), "no checkpoint after 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The kernel refuses the remount ("mount point is busy") while the run has a file open for
    // writing, e.g. mid-way through a checkpoint or a metrics row: try again until it takes.
    let clock = Instant::now();
    loop {
        let remount =
            Command::new("mount").args(["-o", "remount,ro"]).arg(&disk.0).stderr(Stdio::piped()).output().unwrap();
        if remount.status.success() {
            break;
        }
        let why = String::from_utf8_lossy(&remount.stderr).into_owned();
        assert!(why.contains("busy") && clock.elapsed() < Duration::from_secs(60), "remount read-only: {why}");
        std::thread::sleep(Duration::from_millis(2));
    }
    let o = child.wait_with_output().unwrap();
    let ckpt = assert_recoverable(&o, &out, "Read-only file system");
    assert!(ckpt.meta.epoch >= 1);
}

/// Waits (up to 120 s) until `path` holds a loadable checkpoint.
fn wait_for_checkpoint(path: &Path) {
    let clock = Instant::now();
    while Checkpoint::load(path).is_err() {
        assert!(clock.elapsed() < Duration::from_secs(120), "no checkpoint at {} after 120 s", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_output_folder_removed_mid_run_is_made_again_and_the_run_loses_nothing() {
    let out = std::env::temp_dir().join(format!("downhill-faults-{}-removed", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let epochs = 10;
    let child = train(&["--hidden", "64", "--epochs", &epochs.to_string()], &out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_checkpoint(&out.join("checkpoint.safetensors"));
    // Files may appear while it is being removed: try until it is gone once.
    while out.exists() && std::fs::remove_dir_all(&out).is_err() {}
    let o = child.wait_with_output().unwrap();
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    assert!(all.contains("was removed during the run; made it again"), "{all}");
    let ckpt = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ckpt.meta.epoch, epochs);
    assert_eq!(ckpt.meta.history.len(), epochs, "every epoch is in the checkpoint's history");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), epochs + 1, "a header and every epoch's row: {csv}");
    assert!(out.join("config.toml").exists() && out.join("curves.png").exists());
    assert!(!out.join(".downhill.lock").exists(), "the lock is released at the end");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_token_file_cut_short_mid_run_ends_with_the_checkpoint_intact_and_resume_works() {
    let dir = std::env::temp_dir().join(format!("downhill-faults-{}-tokens", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = dir.join("corpus.txt");
    let line = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n";
    std::fs::write(&corpus, line.repeat(400)).unwrap();
    let out = dir.join("run");
    let gpt = [
        "--data",
        corpus.to_str().unwrap(),
        "--model",
        "gpt(n_layer=1, n_head=2, n_embd=16, block_size=16)",
        "--max-iters",
        "100000",
        "--eval-interval",
        "20",
        "--eval-iters",
        "2",
        "--batch-size",
        "4",
    ];
    let child = train(&gpt, &out).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let ckpt = out.join("checkpoint.safetensors");
    wait_for_checkpoint(&ckpt);
    // The token file every batch is read from loses all but its first 64 bytes.
    std::fs::OpenOptions::new().write(true).open(out.join("tokens.bin")).unwrap().set_len(64).unwrap();
    let o = child.wait_with_output().unwrap();
    let saved = assert_recoverable(&o, &out, "cannot read tokens at byte");
    assert!(text(&o).contains("tokens.bin"), "the error names the file: {}", text(&o));

    // The printed command continues the run: the token file is made again from the text.
    let resumed = Command::new(env!("CARGO_BIN_EXE_downhill"))
        .args(["train", "--resume"])
        .arg(&ckpt)
        .args(["--max-iters", &(saved.meta.steps + 20).to_string(), "--quiet"])
        .env("DOWNHILL_DEVICE", "cpu")
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert_eq!(Checkpoint::load(&ckpt).unwrap().meta.steps, saved.meta.steps + 20);

    // A text that changed since (cut short too) is refused, naming both lengths.
    std::fs::write(&corpus, line.repeat(300)).unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_downhill"))
        .args(["train", "--resume"])
        .arg(&ckpt)
        .args(["--max-iters", &(saved.meta.steps + 40).to_string(), "--quiet"])
        .env("DOWNHILL_DEVICE", "cpu")
        .output()
        .unwrap();
    let all = text(&refused);
    assert!(!refused.status.success(), "{all}");
    let (before, now) = (line.chars().count() * 400, line.chars().count() * 300);
    assert!(all.contains(&format!("a text of {before} tokens")) && all.contains(&format!("now has {now}")), "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}
