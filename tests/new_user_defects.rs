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
