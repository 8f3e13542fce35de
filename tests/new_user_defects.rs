//! Defects a new user hit (issue 20), each pinned by a test that failed before its fix.

use std::process::Command;

fn downhill(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_downhill")).env("DOWNHILL_DEVICE", "cpu").args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn optimizer_names_take_any_case_and_a_typo_gets_a_did_you_mean() {
    use downhill::optim::registry::find;
    assert_eq!(find("Adam").unwrap().name, "adam");
    assert_eq!(find("ADAMW").unwrap().name, "adamw");
    let err = find("adamm").err().unwrap().to_string();
    assert!(err.contains("did you mean adam?"), "{err}");
    let err = find("xyzzy-optimizer").err().unwrap().to_string();
    assert!(!err.contains("did you mean") && err.contains("expected one of"), "{err}");
    // Through the CLI: refused before anything is written, with the hint.
    let dir = std::env::temp_dir().join(format!("downhill-test-{}-adamm", std::process::id()));
    let (ok, _, stderr) = downhill(&["train", "--optimizer", "adamm", "--out", dir.to_str().unwrap()]);
    assert!(!ok && stderr.contains("did you mean adam?"), "{stderr}");
    assert!(!dir.exists(), "a refused run leaves no folder");
}

#[test]
fn train_help_does_not_say_it_trains_only_an_mlp() {
    let (ok, stdout, _) = downhill(&["--help"]);
    assert!(ok);
    let line = stdout.lines().find(|l| l.trim_start().starts_with("train")).unwrap_or_default();
    assert!(!line.contains("Train an MLP"), "{line}");
    assert!(line.contains("Train a model"), "{line}");
}

#[test]
fn negative_option_values_reach_the_check_that_names_the_setting() {
    let dir = std::env::temp_dir().join(format!("downhill-test-{}-negative", std::process::id()));
    let out = dir.to_str().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["train", "--lr", "-1", "--out", out], &["lr", "-1 is out of range"]),
        (&["train", "--schedule", "step", "--gamma", "-1", "--out", out], &["gamma", "-1 is out of range"]),
        (&["train", "--patience", "-1", "--out", out], &["--patience", "-1 is not a whole number"]),
        (&["train", "--checkpoint-every", "-1", "--out", out], &["--checkpoint-every", "-1 is not a whole number"]),
        (&["bench", "--seconds", "-1"], &["--seconds", "-1 is out of range"]),
    ];
    for (args, needles) in cases {
        let (ok, _, stderr) = downhill(args);
        assert!(!ok, "{args:?} must fail");
        assert!(!stderr.contains("unexpected argument"), "{args:?}: {stderr}");
        for n in *needles {
            assert!(stderr.contains(n), "{args:?}: {stderr:?} should mention {n:?}");
        }
        assert!(!dir.exists(), "{args:?} left {out}");
    }
}

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("downhill-test-{}-{name}", std::process::id()))
}

#[test]
fn a_batch_larger_than_the_data_is_sized_as_the_data() {
    // 10 million rows a batch: the epoch is one batch of the training rows; the memory check
    // once sized it by the batch and refused it as 100.9 GiB.
    let out = tmp("huge-batch");
    let (ok, stdout, stderr) =
        downhill(&["train", "--batch-size", "10000000", "--epochs", "1", "--out", out.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("test accuracy"), "{stdout}");
    // The data line gives the row counts once (it said "(5,000 train / 1,000 test) — 5000 train …").
    let data = stderr.lines().find(|l| l.starts_with("data:")).unwrap_or_default();
    assert_eq!(data.matches("train").count(), 1, "{data}");
    assert!(data.contains("4500 train / 500 validation / 1000 test rows"), "{data}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn layer_sizes_that_are_not_whole_numbers_or_too_large_say_so() {
    use downhill::nn::{Init, ModelSpec};
    let parse = |spec: &str| ModelSpec::parse(spec, &[4], 2, Init::TorchDefault).err().unwrap().to_string();
    let e = parse("linear(1e3) relu linear(2)");
    assert!(e.contains("out_features=1000.0 is not a whole number (write 1000)"), "{e}");
    let e = parse("linear(18446744073709551616) relu linear(2)");
    assert!(e.contains("is too large (max 9223372036854775807)"), "{e}");
    let e = parse("linear(2.5) relu linear(2)");
    assert!(e.contains("out_features=2.5 is not a whole number") && !e.contains("write"), "{e}");
}

#[test]
fn a_spec_nested_thousands_deep_is_an_error_not_a_stack_overflow() {
    let spec = format!("{}linear(2){}", "sequential(".repeat(3000), ")".repeat(3000));
    let out = tmp("deep-spec");
    let (ok, _, stderr) = downhill(&["train", "--model", &spec, "--epochs", "1", "--out", out.to_str().unwrap()]);
    assert!(!ok && stderr.contains("nests more than 64 levels deep"), "{}", &stderr[..stderr.len().min(400)]);
    assert!(!out.exists(), "no folder (and no stale lock) is left");
    let tuple = format!("conv2d(4, {}3{})", "(".repeat(3000), ")".repeat(3000));
    let (ok, _, stderr) = downhill(&["train", "--model", &tuple, "--out", out.to_str().unwrap()]);
    assert!(!ok && stderr.contains("nests more than 64 levels deep"), "{}", &stderr[..stderr.len().min(400)]);
}

#[test]
fn compare_optimizers_on_bad_data_leaves_no_empty_folder() {
    let dir = tmp("compare-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("bad.csv");
    std::fs::write(&data, "a,label\n1,0\nx,1\n").unwrap();
    let out = dir.join("cmp");
    let args = ["compare-optimizers", "--data", data.to_str().unwrap(), "--optimizers", "sgd", "--epochs", "1"];
    let (ok, _, stderr) = downhill(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert!(!ok && stderr.contains("\"x\" is not a number"), "{stderr}");
    assert!(!out.exists(), "the refused comparison left {}", out.display());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_device_in_the_environment_is_named_as_such() {
    // `devices` opens the device the environment asks for straight away.
    let out = Command::new(env!("CARGO_BIN_EXE_downhill"))
        .env("DOWNHILL_DEVICE", "bogus-adapter")
        .arg("devices")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("DOWNHILL_DEVICE=bogus-adapter"), "{stderr}");
}

#[test]
fn test_processes_get_a_runtime_dir_so_mesa_stays_quiet() {
    // .cargo/config.toml's [env]: without it every adapter opened in a test printed Mesa's
    // "XDG_RUNTIME_DIR is invalid or not set" (86 lines in one run of the test command).
    assert!(std::env::var_os("XDG_RUNTIME_DIR").is_some());
}

#[test]
fn comparison_plots_label_a_narrow_log_axis_and_draw_no_line_in_white() {
    use downhill::report::{log_ticks, SERIES_COLOURS};
    // Losses between 0.4 and 0.9 once got the labels 1.0 and 2.0 only, both out of range.
    let ticks = log_ticks(0.4, 0.9);
    assert!(ticks.len() >= 4 && ticks.iter().all(|t| (0.4..=0.9).contains(t)), "{ticks:?}");
    assert!(ticks.contains(&0.5), "{ticks:?}");
    let wide = log_ticks(1e-3, 10.0);
    assert!(wide.len() >= 4 && wide.len() <= 12, "{wide:?}");
    // Relative luminance below 0.7: every line reads on the white background (Palette99 gave
    // the 14th optimizer, Muon, a near-white); and no two alike.
    let luminance = |[r, g, b]: [u8; 3]| (0.2126 * r as f64 + 0.7152 * g as f64 + 0.0722 * b as f64) / 255.0;
    for (i, c) in SERIES_COLOURS.iter().enumerate() {
        assert!(luminance(*c) < 0.7, "colour {i} {c:?} is too light");
        assert!(!SERIES_COLOURS[..i].contains(c), "colour {i} repeats");
    }
    assert!(SERIES_COLOURS.len() >= downhill::optim::OPTIMIZERS.len(), "one colour per optimizer");
    // The explorer's racers: bright enough for the dark heat map, none white (Nesterov was
    // #ffffff, invisible on the still's white legend).
    for p in downhill::explore::presets::presets() {
        let v = u32::from_str_radix(p.colour.trim_start_matches('#'), 16).unwrap();
        let rgb = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        assert!(luminance(rgb) < 0.9, "{} is drawn in {} (too light on white)", p.label, p.colour);
    }
}

#[test]
fn the_software_adapter_note_is_one_short_line_said_after_the_settings_are_good() {
    // Where `auto` finds only software adapters (this machine, CI) it says so once, briefly:
    // each adapter once, not once per backend (it was a 200-character line).
    let selection = downhill::device::open(&downhill::DeviceRequest::Auto).unwrap();
    if let Some(why) = &selection.fallback_reason {
        assert!(why.len() <= 120, "{} characters: {why}", why.len());
        assert!(!why.contains("(Vulkan)") && !why.contains("(Gl)"), "{why}");
    }
    // `explore --png` with a bad surface says what is wrong, not first which device it chose.
    let png = std::env::temp_dir().join(format!("downhill-test-{}-never.png", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_downhill"))
        .env_remove("DOWNHILL_DEVICE")
        .args(["explore", "--surface", "no-such-surface", "--png", png.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("no-such-surface"), "{stderr}");
    assert!(!stderr.contains("software"), "the device note came before the error: {stderr}");
}
