//! Issue 7 through the `downhill` binary, where a user meets each defect: bad labels, bad
//! settings, huge sizes, zero rows, predict's input schema, output folders, resume, closed
//! pipes, driver noise. Each test names the issue item it keeps fixed.

mod common;

use common::{digits_csv, tmp_dir};
use downhill::checkpoint::Checkpoint;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn tmp(name: &str) -> PathBuf {
    tmp_dir(&format!("cli-{name}"))
}

fn digits() -> PathBuf {
    digits_csv()
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_downhill"));
    c.env("DOWNHILL_DEVICE", "cpu");
    c
}

/// Runs the binary: (success, stdout, stderr).
fn downhill(args: &[&str]) -> (bool, String, String) {
    let out = bin().args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Runs and expects success.
fn ok(args: &[&str]) -> String {
    let (ok, stdout, stderr) = downhill(args);
    assert!(ok, "{args:?} failed: {stderr}");
    stdout
}

/// Runs and expects a clean failure whose message has every needle.
fn fails(args: &[&str], needles: &[&str]) -> String {
    let (ok, stdout, stderr) = downhill(args);
    assert!(!ok, "{args:?} must fail; stdout: {stdout}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: {stderr:?} should mention {n:?}");
    }
    stderr
}

/// A CSV of `rows` rows: 4 features and a label `label(row)` last.
fn csv(path: &Path, rows: usize, label: impl Fn(usize) -> String) {
    let mut s = String::new();
    for r in 0..rows {
        let f = |k: usize| ((r * 7 + k * 3) % 11) as f32 / 10.0;
        s.push_str(&format!("{},{},{},{},{}\n", f(0), f(1), f(2), f(3), label(r)));
    }
    std::fs::write(path, s).unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An MNIST-format folder with `train`/`test` images whose labels are `label(i)`.
fn idx_folder(dir: &Path, train: u32, test: u32, label: impl Fn(u32) -> u8) {
    let img = |n: u32| {
        let mut b = vec![0u8, 0, 8, 3];
        for d in [n, 4, 4] {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend((0..n * 16).map(|i| (i * 37 % 256) as u8));
        b
    };
    let lab = |n: u32| {
        let mut b = vec![0u8, 0, 8, 1];
        b.extend_from_slice(&n.to_be_bytes());
        b.extend((0..n).map(&label));
        b
    };
    std::fs::write(dir.join("train-images-idx3-ubyte"), img(train)).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), lab(train)).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), img(test)).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), lab(test)).unwrap();
}

#[test]
fn item1_one_bad_label_is_an_error_not_a_model_size() {
    let dir = tmp("labels");
    let out = dir.join("out");
    for bad in ["1000000", "20000"] {
        let f = dir.join(format!("bad{bad}.csv"));
        csv(&f, 200, |r| if r == 57 { bad.to_string() } else { (r % 10).to_string() });
        fails(&["train", "--data", s(&f), "--out", s(&out)], &["line 58", &format!("label {bad}")]);
    }
    let idx = dir.join("idx");
    std::fs::create_dir_all(&idx).unwrap();
    idx_folder(&idx, 40, 10, |i| if i == 13 { 200 } else { (i % 10) as u8 });
    fails(&["train", "--data", s(&idx), "--out", s(&out)], &["train-labels-idx1-ubyte: item 13", "label 200"]);
    assert!(!out.join("checkpoint.safetensors").exists());

    // A stated class count: labels must fit it, and the model has exactly that many outputs.
    let fine = dir.join("fine.csv");
    csv(&fine, 200, |r| (r % 10).to_string());
    fails(&["train", "--data", s(&fine), "--classes", "8", "--out", s(&out)], &["label 8", "8 classes"]);
    let json = ok(&["train", "--data", s(&fine), "--classes", "12", "--epochs", "1", "--json", "--out", s(&out)]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["confusion"].as_array().unwrap().len(), 12, "{v}");

    // Many classes: the matrix goes to a file, the terminal gets one line.
    let wide = dir.join("wide.csv");
    csv(&wide, 300, |r| (r % 30).to_string());
    let wide_out = dir.join("wide-out");
    let stdout = ok(&["train", "--data", s(&wide), "--epochs", "1", "--out", s(&wide_out)]);
    assert!(stdout.contains("30 classes, too many to print"), "{stdout}");
    assert!(stdout.lines().count() < 10, "{stdout}");
    let file = std::fs::read_to_string(wide_out.join("confusion.csv")).unwrap();
    assert_eq!(file.lines().count(), 31, "a header and a row per class");
}

#[test]
fn item2_predict_reads_rows_as_the_model_was_trained() {
    let dir = tmp("schema");
    // The label first, named; a header line.
    let mut text = String::from("label,a,b,c\n");
    for r in 0..150 {
        let c = r % 3;
        text.push_str(&format!("{c},{},{},{}\n", c as f32 + (r % 5) as f32 * 0.1, (r % 7) as f32, 1.0 - c as f32));
    }
    let data = dir.join("labelfirst.csv");
    std::fs::write(&data, &text).unwrap();
    let out = dir.join("out");
    ok(&["train", "--data", s(&data), "--label", "label", "--epochs", "2", "--quiet", "--out", s(&out)]);
    let ckpt = out.join("checkpoint.safetensors");
    let with_label = ok(&["predict", "--checkpoint", s(&ckpt), "--input", s(&data)]);
    // The same rows without their label column give the same predictions.
    let features: String =
        text.lines().map(|l| l.split_once(',').unwrap().1.to_string() + "\n").collect::<Vec<_>>().concat();
    let bare = dir.join("features.csv");
    std::fs::write(&bare, features).unwrap();
    let without = ok(&["predict", "--checkpoint", s(&ckpt), "--input", s(&bare)]);
    assert_eq!(with_label, without, "the label column is dropped wherever training had it");
    // Another layout is refused.
    let wrong = dir.join("wrong.csv");
    std::fs::write(&wrong, "a,b\n1,2\n").unwrap();
    fails(&["predict", "--checkpoint", s(&ckpt), "--input", s(&wrong)], &["2 columns", "\"label\""]);
    let renamed = dir.join("renamed.csv");
    std::fs::write(&renamed, text.replacen("label,a,b,c", "label,x,y,z", 1)).unwrap();
    fails(&["predict", "--checkpoint", s(&ckpt), "--input", s(&renamed)], &["does not match"]);
}

#[test]
fn item3_zero_training_rows_are_refused() {
    let dir = tmp("zero");
    let idx = dir.join("idx");
    std::fs::create_dir_all(&idx).unwrap();
    idx_folder(&idx, 0, 10, |i| (i % 2) as u8);
    let out = dir.join("out");
    fails(&["train", "--data", s(&idx), "--classes", "2", "--out", s(&out)], &["no rows"]);
    fails(&["train", "--data", s(&digits()), "--validation", "0.9999", "--out", s(&out)], &["leaves none to train on"]);
    assert!(!out.join("checkpoint.safetensors").exists(), "no untrained checkpoint");
}

#[test]
fn item5_nonsense_settings_name_the_setting_the_value_and_the_range() {
    let out = tmp("settings");
    let d = digits();
    let cases: &[(&[&str], &str)] = &[
        (&["--schedule", "step", "--gamma=-1"], "gamma"),
        (&["--clip-norm=-1"], "clip_norm"),
        (&["--clip-norm", "0"], "clip_norm"),
        (&["--clip-value", "0"], "clip_value"),
        (&["--schedule", "step", "--step-size", "0"], "step_size"),
        (&["--dropout=-0.5"], "dropout"),
        (&["--dropout", "NaN"], "dropout"),
        (&["--l1=-1"], "l1"),
        (&["--optimizer", "sgd", "--momentum=-1"], "momentum"),
        (&["--eps", "0"], "eps"),
        (&["--lr", "0"], "lr"),
        (&["--beta2", "1"], "beta2"),
        (&["--optimizer", "adam", "--momentum", "0.9"], "does not apply to adam"),
        (&["--beta1=-0.1"], "beta1"),
        (&["--classes", "1"], "classes"),
        (&["--epochs", "3", "--schedule", "warmup-cosine", "--warmup-epochs", "4"], "warmup_epochs"),
    ];
    for (flags, setting) in cases {
        let mut args = vec!["train", "--data", s(&d), "--out", s(&out)];
        args.extend_from_slice(flags);
        let e = fails(&args, &[setting]);
        assert!(e.contains("out of range") || e.contains("does not apply"), "{e}");
    }
    // Settings that contradict each other or the task.
    let conflicts: &[(&[&str], &[&str])] = &[
        (&["--clip-norm", "1", "--clip-value", "1"], &["clip_norm, clip_value", "give one of them"]),
        (&["--optimizer", "sgd", "--nesterov"], &["nesterov", "needs momentum > 0"]),
        (&["--loss", "mse", "--classes", "10"], &["classes", "not to loss mse"]),
    ];
    for (flags, needles) in conflicts {
        let mut args = vec!["train", "--data", s(&d), "--out", s(&out)];
        args.extend_from_slice(flags);
        fails(&args, needles);
    }
    assert!(!out.join("checkpoint.safetensors").exists());
}

#[test]
fn item6_huge_sizes_are_refused_before_allocating() {
    let dir = tmp("huge");
    let out = dir.join("out");
    let e = fails(&["train", "--hidden", "100000000", "--out", s(&out)], &["memory", "available"]);
    assert!(e.contains("GiB"), "{e}");
    // A checkpoint whose metadata claims a huge layer: eval, predict and resume refuse it.
    ok(&["train", "--data", s(&digits()), "--hidden", "8", "--epochs", "1", "--quiet", "--out", s(&out)]);
    let mut c = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    c.meta.config.hidden = vec![100_000_000_000];
    let forged = dir.join("forged.safetensors");
    c.save(&forged).unwrap();
    fails(&["eval", "--checkpoint", s(&forged)], &["memory"]);
    let rows = dir.join("rows.csv");
    std::fs::write(&rows, format!("{}0\n", "1,".repeat(64))).unwrap();
    fails(&["predict", "--checkpoint", s(&forged), "--input", s(&rows)], &["memory"]);
    fails(&["train", "--resume", s(&forged), "--epochs", "2", "--out", s(&dir.join("r"))], &["memory"]);
}

#[test]
fn item7_a_closed_stdout_ends_quietly() {
    let dir = tmp("pipe");
    let out = dir.join("out");
    ok(&["train", "--epochs", "1", "--hidden", "16", "--quiet", "--out", s(&out)]);
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-mini/t10k-images-idx3-ubyte.gz");
    for _ in 0..3 {
        let mut child = bin()
            .args(["predict", "--checkpoint", s(&out.join("checkpoint.safetensors")), "--input", s(&images)])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(first.starts_with("row,prediction"));
        // stdout is closed here, as `| head -1` does.
        let done = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert!(
                done.status.success() || done.status.signal() == Some(libc::SIGPIPE),
                "exit 0 or SIGPIPE (141), got {:?}",
                done.status
            );
        }
    }
}

#[test]
fn item8_the_real_cause_of_divergence_is_named() {
    let dir = tmp("cause");
    // A CSV cell beyond f32 is refused where it is.
    let big = dir.join("big.csv");
    std::fs::write(&big, "1,2,0\n3,1e40,1\n").unwrap();
    fails(&["train", "--data", s(&big), "--out", s(&dir.join("o1"))], &["line 2, column 2", "overflows"]);
    // Huge (finite) inputs without normalisation: blamed, not the learning rate.
    let huge = dir.join("huge.csv");
    csv(&huge, 100, |r| (r % 2).to_string());
    let text = std::fs::read_to_string(&huge).unwrap().replace("0.1,", "1e30,");
    std::fs::write(&huge, text).unwrap();
    fails(
        &["train", "--data", s(&huge), "--normalization", "none", "--out", s(&dir.join("o2"))],
        &["diverged", "input features reach"],
    );
    // A checkpoint holding NaN: no resume, no predictions.
    let out = dir.join("o3");
    ok(&["train", "--data", s(&digits()), "--hidden", "8", "--epochs", "1", "--quiet", "--out", s(&out)]);
    let mut c = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    let mut w = c.params[0].1.clone().into_vec();
    w[5] = f32::NAN;
    c.params[0].1 = downhill::Tensor::from_vec(c.params[0].1.shape(), w).unwrap();
    let nan = dir.join("nan.safetensors");
    c.save(&nan).unwrap();
    fails(&["train", "--resume", s(&nan), "--epochs", "3", "--out", s(&dir.join("o4"))], &["NaN", "0.weight"]);
    let rows = dir.join("rows.csv");
    std::fs::write(&rows, format!("{}0\n", "1,".repeat(64))).unwrap();
    let (ok_, stdout, _) = downhill(&["predict", "--checkpoint", s(&nan), "--input", s(&rows)]);
    assert!(!ok_ && !stdout.contains("NaN"), "predict on a NaN checkpoint must fail: {stdout}");
}

#[test]
fn item9_and_11_resume_says_what_it_does() {
    let dir = tmp("resume");
    let a = dir.join("a");
    ok(&["train", "--data", s(&digits()), "--hidden", "8", "--epochs", "1", "--quiet", "--out", s(&a)]);
    let ckpt = a.join("checkpoint.safetensors");
    fails(&["train", "--resume", s(&ckpt), "--out", s(&dir.join("x"))], &["already finished", "--epochs"]);
    // Into a new folder: every printed path exists, the rate is real.
    let b = dir.join("b");
    let json = ok(&["train", "--resume", s(&ckpt), "--epochs", "2", "--json", "--out", s(&b)]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    for key in ["checkpoint", "plot", "metrics"] {
        assert!(Path::new(v[key].as_str().unwrap()).is_file(), "{key}: {v}");
    }
    assert!(v["samples_per_s"].as_f64().unwrap() > 0.0, "{v}");
    // Another optimizer: refused, or reset when asked.
    fails(
        &["train", "--resume", s(&ckpt), "--epochs", "2", "--optimizer", "sgd", "--out", s(&dir.join("c"))],
        &["adam", "--reset-optimizer"],
    );
    let (ok_, _, stderr) = downhill(&[
        "train",
        "--resume",
        s(&ckpt),
        "--epochs",
        "2",
        "--optimizer",
        "lion",
        "--reset-optimizer",
        "--out",
        s(&dir.join("d")),
    ]);
    assert!(ok_ && stderr.contains("optimizer state reset"), "{stderr}");
}

#[test]
fn item10_output_folders_are_held_and_never_silently_replaced() {
    let dir = tmp("folders");
    let out = dir.join("out");
    let data = digits();
    let base = ["train", "--data", s(&data), "--hidden", "8", "--epochs", "1", "--quiet"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(["--out", s(&out)].iter()).chain(extra).map(|a| a.to_string()).collect()
    };
    let run = |extra: &[&str]| downhill(&with(extra).iter().map(String::as_str).collect::<Vec<_>>());
    // A live run's lock (this test process is alive) refuses a second run.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(".downhill.lock"), format!("{}\n", std::process::id())).unwrap();
    let (ok_, _, stderr) = run(&[]);
    assert!(!ok_ && stderr.contains("another downhill run"), "{stderr}");
    // A dead writer's lock and temporary file are cleaned up.
    std::fs::write(out.join(".downhill.lock"), "999999999\n").unwrap();
    std::fs::write(out.join(".checkpoint.safetensors.tmp-999999999"), "half").unwrap();
    let (ok_, _, stderr) = run(&[]);
    assert!(ok_, "{stderr}");
    assert!(!out.join(".checkpoint.safetensors.tmp-999999999").exists(), "leftover removed");
    assert!(!out.join(".downhill.lock").exists(), "lock released");
    for f in ["config.toml", "curves.png", "metrics.csv", "checkpoint.safetensors"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // An existing run is refused without --overwrite.
    let before = std::fs::read(out.join("checkpoint.safetensors")).unwrap();
    let (ok_, _, stderr) = run(&["--seed", "5"]);
    assert!(!ok_ && stderr.contains("already holds a run") && stderr.contains("--overwrite"), "{stderr}");
    assert_eq!(std::fs::read(out.join("checkpoint.safetensors")).unwrap(), before);
    let (ok_, _, stderr) = run(&["--seed", "5", "--overwrite"]);
    assert!(ok_, "{stderr}");
    assert_ne!(std::fs::read(out.join("checkpoint.safetensors")).unwrap(), before);

    // predict --output never replaces a checkpoint or a file it did not write.
    let ckpt = out.join("checkpoint.safetensors");
    let rows = dir.join("rows.csv");
    std::fs::write(&rows, format!("{}0\n", "1,".repeat(64))).unwrap();
    let mine = dir.join("notes.txt");
    std::fs::write(&mine, "keep me").unwrap();
    for target in [&ckpt, &mine] {
        fails(&["predict", "--checkpoint", s(&ckpt), "--input", s(&rows), "--output", s(target)], &["--overwrite"]);
    }
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "keep me");
    let preds = dir.join("preds.csv");
    ok(&["predict", "--checkpoint", s(&ckpt), "--input", s(&rows), "--output", s(&preds)]);
    ok(&["predict", "--checkpoint", s(&ckpt), "--input", s(&rows), "--output", s(&preds)]);
    ok(&["predict", "--checkpoint", s(&ckpt), "--input", s(&rows), "--output", s(&mine), "--overwrite"]);
}

#[cfg(unix)]
#[test]
fn item10_ctrl_c_checkpoints_and_prints_the_resume_command() {
    let out = tmp("sigint");
    let mut child = bin()
        .args(["train", "--epochs", "200", "--hidden", "64", "--out", s(&out)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until training has started (the first epoch line), then press Ctrl-C.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("epoch") {
        line.clear();
    }
    // SAFETY: sending SIGINT to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("continue with: downhill train --resume"), "{rest}");
    let meta = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap().meta;
    assert!(meta.steps > 0 && meta.epoch < 200, "a mid-run checkpoint: epoch {} step {}", meta.epoch, meta.steps);
    assert!(out.join("config.toml").is_file() && out.join("curves.png").is_file());
}

#[test]
fn item12_defaults_and_conveniences_users_expect() {
    let dir = tmp("defaults");
    // --quiet hides progress, not the summary.
    let stdout = ok(&["train", "--data", s(&digits()), "--epochs", "1", "--quiet", "--out", s(&dir.join("q"))]);
    assert!(stdout.contains("done:") && stdout.contains("checkpoint:"), "{stdout}");
    // Aliases get their key suggested.
    let cfg = dir.join("run.toml");
    for (alias, key) in [
        ("learning_rate = 0.1", "lr"),
        ("lr_schedule = \"cosine\"", "schedule"),
        ("weight-decay = 0.1", "weight_decay"),
    ] {
        std::fs::write(&cfg, format!("{alias}\n")).unwrap();
        fails(&["train", "--config", s(&cfg), "--out", s(&dir.join("a"))], &[&format!("did you mean `{key}`")]);
    }
    // --label with IDX data is an error.
    fails(&["train", "--label", "3", "--out", s(&dir.join("l"))], &["CSV files only"]);
    // Upper-case extension, semicolons and tabs are read.
    let text = String::from_utf8(
        std::process::Command::new("zcat").arg(digits()).output().map(|o| o.stdout).unwrap_or_default(),
    )
    .unwrap();
    let rows: String = text.lines().take(400).map(|l| format!("{l}\n")).collect();
    for (name, sep) in [("UPPER.CSV", ","), ("semi.csv", ";"), ("tabs.csv", "\t")] {
        let f = dir.join(name);
        std::fs::write(&f, rows.replace(',', sep)).unwrap();
        let stdout = ok(&[
            "train",
            "--data",
            s(&f),
            "--epochs",
            "1",
            "--quiet",
            "--out",
            s(&dir.join(name).with_extension("run")),
        ]);
        assert!(stdout.contains("test accuracy"), "{name}: {stdout}");
    }
}

#[test]
fn item13_a_regression_plot_has_no_accuracy_panel() {
    let dir = tmp("plots");
    let reg = dir.join("reg.csv");
    csv(&reg, 120, |r| format!("{}", r as f32 * 0.01));
    let out = dir.join("out");
    ok(&["train", "--data", s(&reg), "--loss", "mse", "--epochs", "1", "--quiet", "--out", s(&out)]);
    let png = std::fs::read(out.join("curves.png")).unwrap();
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 600, "one panel (loss) for regression");
    let cls = dir.join("cls");
    ok(&["train", "--data", s(&digits()), "--epochs", "1", "--quiet", "--out", s(&cls)]);
    let png = std::fs::read(cls.join("curves.png")).unwrap();
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1200, "loss and accuracy");
}

#[test]
fn item14_no_driver_noise_about_xdg_runtime_dir() {
    let out = bin().arg("devices").env_remove("XDG_RUNTIME_DIR").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
    // The check means something only where a Mesa driver was loaded: CI requires one.
    if std::env::var("DOWNHILL_REQUIRE_GPU").as_deref() == Ok("1") {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("Mesa"), "a Mesa adapter was enumerated: {stdout}");
    } else {
        eprintln!("note: without DOWNHILL_REQUIRE_GPU=1 this test may not have loaded a Mesa driver");
    }
}

#[test]
fn item16_eval_works_from_another_folder() {
    let dir = tmp("relative");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::copy(digits(), work.join("digits.csv.gz")).unwrap();
    let run = |cwd: &Path, args: &[&str]| {
        let o = bin().args(args).current_dir(cwd).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (ok_, _, e) = run(&work, &["train", "--data", "digits.csv.gz", "--epochs", "1", "--quiet", "--out", "out"]);
    assert!(ok_, "{e}");
    let ckpt = work.join("out/checkpoint.safetensors");
    let (ok_, stdout, e) = run(&dir, &["eval", "--checkpoint", s(&ckpt)]);
    assert!(ok_ && stdout.contains("accuracy"), "{e}");
    std::fs::rename(work.join("digits.csv.gz"), work.join("moved.csv.gz")).unwrap();
    let (ok_, _, e) = run(&dir, &["eval", "--checkpoint", s(&ckpt)]);
    assert!(!ok_ && e.contains(s(&work.canonicalize().unwrap().join("digits.csv.gz"))) && e.contains("--data"), "{e}");
}
