//! `downhill explore` without a server: `--export` writes one self-contained page (no
//! placeholders, no external URL, the data embedded), `--png` a still; bad flags fail with a
//! message naming the problem and leave no file behind.

mod common;

use common::tmp_dir;
use std::process::Command;

fn downhill(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_downhill")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn export_writes_one_self_contained_page_with_the_runs_embedded() {
    let dir = tmp_dir("explore-export");
    let page = dir.join("rosen.html");
    let (ok, stdout, stderr) = downhill(&[
        "explore",
        "--device",
        "cpu",
        "--surface",
        "rosenbrock",
        "--start",
        "-1.5,2",
        "--steps",
        "120",
        "--optimizers",
        "adam,lion",
        "--export",
        page.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("rosen.html"));
    let html = std::fs::read_to_string(&page).unwrap();
    for placeholder in ["/*EXPLORE_CSS*/", "/*EXPLORE_JS*/", "/*EXPLORE_DATA*/"] {
        assert!(!html.contains(placeholder), "{placeholder} was filled");
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "nothing is fetched from elsewhere");
    let start = html.find("window.EXPLORE_DATA = ").unwrap() + "window.EXPLORE_DATA = ".len();
    let end = start + html[start..].find(";</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap();
    assert_eq!(data["surface"]["name"], "rosenbrock");
    assert_eq!(data["start"], serde_json::json!([-1.5, 2.0]));
    let lrs = data["lrs"].as_array().unwrap();
    assert_eq!(lrs.len(), 17);
    let runs = data["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        let trajectories = run["trajectories"].as_array().unwrap();
        assert_eq!(trajectories.len(), 17, "one trajectory per precomputed rate");
        let first = &trajectories[0];
        assert_eq!(first["points"].as_array().unwrap().len(), 121);
        assert_eq!(first["points"][0], serde_json::json!([-1.5, 2.0]));
    }
    assert!(std::fs::read_dir(&dir).unwrap().count() == 1, "no temporary file is left");
}

#[test]
fn png_writes_a_still_of_the_race() {
    let dir = tmp_dir("explore-png");
    let path = dir.join("still.png");
    let (ok, _, stderr) = downhill(&[
        "explore",
        "--device",
        "cpu",
        "--surface",
        "camel",
        "--steps",
        "100",
        "--png",
        path.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    let bytes = std::fs::read(&path).unwrap();
    let mut reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (860, 700));
    let colours: std::collections::HashSet<&[u8]> = pixels.chunks(3).collect();
    assert!(colours.len() > 200, "a heat map and trajectories, not a blank image ({} colours)", colours.len());
}

#[test]
fn bad_explore_flags_fail_clearly_and_write_nothing() {
    let dir = tmp_dir("explore-bad");
    let out = dir.join("x.html");
    let out = out.to_str().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["--surface", "nope"], &["unknown \"nope\"", "rosenbrock"]),
        (&["--start", "1,nan"], &["--start", "two finite numbers"]),
        (&["--start", "1"], &["--start"]),
        (&["--start", "1e30,0"], &["start 0", "region widths"]),
        (&["--optimizers", "sgd,adamz"], &["unknown \"adamz\"", "momentum"]),
        (&["--steps", "0"], &["--steps", "0 must be in"]),
    ];
    for (flags, needles) in cases {
        let mut args = vec!["explore", "--device", "cpu", "--export", out];
        args.extend_from_slice(flags);
        let (ok, stdout, stderr) = downhill(&args);
        assert!(!ok, "{flags:?} must fail; stdout {stdout}");
        assert!(!stderr.contains("panicked"), "{flags:?} panicked: {stderr}");
        for n in *needles {
            assert!(stderr.contains(n), "{flags:?}: {stderr:?} should mention {n:?}");
        }
        assert!(std::fs::read_dir(&dir).unwrap().count() == 0, "{flags:?} left a file");
    }
    let (ok, _, stderr) =
        downhill(&["explore", "--device", "cpu", "--export", dir.join("missing/x.html").to_str().unwrap()]);
    assert!(!ok && stderr.contains("missing/x.html"), "{stderr}");
    // The server's limits are checked before it listens.
    for (flag, value, needle) in [
        ("--heavy-queue", "0", "at least 1"),
        ("--max-connections", "0", "at least 1"),
        ("--request-timeout", "0", "between 0.001 and 3600"),
        ("--request-timeout", "nan", "between 0.001 and 3600"),
    ] {
        let (ok, stdout, stderr) = downhill(&["explore", "--device", "cpu", "--port", "0", flag, value]);
        assert!(!ok && !stdout.contains("http://"), "{flag} {value} must fail before listening: {stdout}");
        assert!(stderr.contains(flag) && stderr.contains(needle), "{flag} {value}: {stderr}");
    }
    // A port that is taken is named.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (ok, _, stderr) = downhill(&["explore", "--device", "cpu", "--port", &port]);
    assert!(!ok && stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}
