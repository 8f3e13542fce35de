//! `downhill explore`'s HTTP API, from Rust over a real socket: the info, heat map, race and
//! basin-map answers (the race's numbers equal the library's trajectories), every kind of bad
//! request answered with a 4xx and a JSON message naming the problem while the server keeps
//! serving, and the same race computed by the GPU server.

mod common;

use common::http::{decode_base64, get, post, request, Explorer};
use downhill::explore::run::{trajectories, RunSpec};
use downhill::explore::Surface;
use downhill::optim::{registry, Settings};
use downhill::schedule::Schedule;
use downhill::CpuBackend;
use serde_json::{json, Value};

fn race_body() -> Value {
    json!({
        "surface": {"name": "himmelblau"},
        "start": [0.5, -0.5],
        "steps": 50,
        "runs": [
            {"label": "sgd", "optimizer": {"name": "sgd", "lr": 0.01}},
            {"label": "adam", "optimizer": {"name": "adam", "lr": 0.05, "beta1": 0.8}},
            {"label": "nesterov", "optimizer": {"name": "sgd", "lr": 0.005, "momentum": 0.9, "nesterov": true}}
        ]
    })
}

#[test]
fn the_api_answers_info_surfaces_races_and_basin_maps() {
    let server = Explorer::start("cpu");
    let info = get(&server.addr, "/api/info").json();
    assert_eq!(info["surfaces"].as_array().unwrap().len(), 9);
    let presets: Vec<&str> = info["presets"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    for key in ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "lion"] {
        assert!(presets.contains(&key), "{key} is offered");
    }
    assert_eq!(info["optimizers"].as_array().unwrap().len(), downhill::optim::OPTIMIZERS.len());

    let page = get(&server.addr, "/");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.body.contains("downhill explore") && page.body.contains("window.EXPLORE_DATA = null;"));
    assert!(!page.body.contains("/*EXPLORE_JS*/"), "the script is inlined");

    let grid =
        post(&server.addr, "/api/surface", r#"{"surface": {"name": "bowl", "condition": 100}, "resolution": 32}"#);
    assert_eq!(grid.status, 200, "{}", grid.body);
    let grid = grid.json();
    assert_eq!(decode_base64(grid["values"].as_str().unwrap()).len(), 32 * 32 * 4);
    assert!(grid["min"].as_f64().unwrap() >= 0.0 && grid["max"].as_f64().unwrap() > 1.0);

    // The race answer is the library's trajectory, number for number.
    let race = post(&server.addr, "/api/race", &race_body().to_string());
    assert_eq!(race.status, 200, "{}", race.body);
    let race = race.json();
    let runs = race["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let settings = Settings { lr: Some(0.05), beta1: Some(0.8), ..Default::default() };
    let spec = RunSpec {
        surface: Surface::new("himmelblau", None, None).unwrap(),
        optimizer: registry::build("adam", &settings).unwrap(),
        schedule: Schedule::Constant,
        steps: 50,
    };
    let want = &trajectories(&CpuBackend::new(), &spec, &[[0.5, -0.5]], &[0.05]).unwrap()[0];
    let got = &runs[1];
    assert_eq!(got["label"], "adam");
    assert_eq!(got["points"].as_array().unwrap().len(), 51);
    for (t, p) in want.points.iter().enumerate() {
        let g = &got["points"][t];
        assert_eq!([g[0].as_f64().unwrap() as f32, g[1].as_f64().unwrap() as f32], *p, "step {t}");
        assert_eq!(got["losses"][t].as_f64().unwrap() as f32, want.losses[t]);
    }
    assert!(got["diverged_at"].is_null());

    let basin = post(
        &server.addr,
        "/api/basin",
        r#"{"surface": {"name": "two-basin"}, "optimizer": {"name": "sgd", "lr": 0.05}, "grid": 20, "steps": 200,
            "schedule": {"kind": "cosine"}}"#,
    );
    assert_eq!(basin.status, 200, "{}", basin.body);
    let basin = basin.json();
    let classes = decode_base64(basin["classes"].as_str().unwrap());
    assert_eq!(classes.len(), 400);
    assert_eq!(decode_base64(basin["final_loss"].as_str().unwrap()).len(), 1600);
    let counts: Vec<u64> = basin["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
    assert_eq!(counts.iter().sum::<u64>(), 400);
    assert!(counts[0] > 150 && counts[1] > 150, "both basins are reached: {counts:?}");
    assert!(basin["throughput"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_requests_get_a_4xx_that_names_the_problem_and_the_server_goes_on() {
    let server = Explorer::start("cpu");
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut body = race_body();
        edit(&mut body);
        body.to_string()
    };
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/api/race", with(&|b| b["surface"]["name"] = json!("nope")), 422, "unknown \"nope\""),
        ("/api/race", with(&|b| b["runs"][0]["optimizer"]["name"] = json!("adamz")), 422, "unknown \"adamz\""),
        ("/api/race", with(&|b| b["runs"][0]["optimizer"]["lr"] = json!(0.0)), 422, "lr"),
        ("/api/race", with(&|b| b["runs"][0]["optimizer"]["lr"] = json!(-0.1)), 422, "> 0"),
        ("/api/race", with(&|b| b["runs"][0]["optimizer"]["momentum"] = json!(0.9)), 200, ""),
        ("/api/race", with(&|b| b["runs"][1]["optimizer"]["momentum"] = json!(0.9)), 422, "does not apply to adam"),
        ("/api/race", with(&|b| b["start"] = json!([1e30, 0.0])), 422, "start 0"),
        ("/api/race", race_body().to_string().replace("[0.5,-0.5]", "[NaN,0.5]"), 400, ""),
        ("/api/race", race_body().to_string().replace("[0.5,-0.5]", "[1e999,0.5]"), 400, ""),
        ("/api/race", with(&|b| b["steps"] = json!(0)), 422, "steps 0"),
        ("/api/race", with(&|b| b["steps"] = json!(1_000_000)), 422, "steps 1000000"),
        ("/api/race", with(&|b| b["schedule"] = json!({"kind": "warmup", "warmup_steps": 500})), 422, "warmup_steps"),
        ("/api/race", with(&|b| b["extra"] = json!(1)), 422, "unknown field `extra`"),
        ("/api/race", "{\"surface\": ".into(), 400, ""),
        ("/api/race", with(&|b| b["surface"]["condition"] = json!(5.0)), 422, "takes no condition"),
        (
            "/api/surface",
            r#"{"surface": {"name": "bowl", "condition": 0.5}, "resolution": 8}"#.into(),
            422,
            "condition number 0.5",
        ),
        ("/api/surface", r#"{"surface": {"name": "bowl"}, "resolution": 5000}"#.into(), 422, "resolution 5000"),
        (
            "/api/basin",
            r#"{"surface": {"name": "bowl"}, "optimizer": {"name": "sgd", "lr": 0.1}, "grid": 2048, "steps": 10}"#
                .into(),
            422,
            "grid 2048",
        ),
        (
            "/api/basin",
            r#"{"surface": {"name": "bowl"}, "optimizer": {"name": "sgd", "lr": 0.1}, "grid": 1024, "steps": 5000}"#
                .into(),
            422,
            "beyond the limit",
        ),
    ];
    for (path, body, status, message) in cases {
        let r = post(&server.addr, path, &body);
        assert_eq!(r.status, status, "{path} {body}: {}", r.body);
        if status != 200 {
            let error = r.json()["error"]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: no error field in {}", r.body))
                .to_string();
            assert!(error.contains(message), "{path} {body}: expected {message:?} in {error:?}");
        }
        assert_eq!(get(&server.addr, "/api/info").status, 200, "still serving after {body}");
    }
    let no_type = request(&server.addr, "POST", "/api/race", Some(&race_body().to_string()), None);
    assert_eq!(no_type.status, 415, "{}", no_type.body);
    let missing = get(&server.addr, "/api/nothing");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].as_str().unwrap().contains("/api/race"));
    assert_eq!(get(&server.addr, "/api/race").status, 405);
}

#[test]
fn the_gpu_server_computes_the_same_race() {
    if common::gpu().is_none() {
        return;
    }
    let cpu = Explorer::start("cpu");
    let gpu = Explorer::start("gpu");
    let info = get(&gpu.addr, "/api/info").json();
    assert!(!info["device"].as_str().unwrap().starts_with("cpu"), "the GPU server computes on {}", info["device"]);
    let body = race_body().to_string();
    let (want, got) = (post(&cpu.addr, "/api/race", &body).json(), post(&gpu.addr, "/api/race", &body).json());
    for (w, g) in want["runs"].as_array().unwrap().iter().zip(got["runs"].as_array().unwrap()) {
        let (wp, gp) = (w["points"].as_array().unwrap(), g["points"].as_array().unwrap());
        assert_eq!(wp.len(), gp.len());
        for (a, b) in wp.iter().zip(gp) {
            for k in 0..2 {
                let (a, b) = (a[k].as_f64().unwrap(), b[k].as_f64().unwrap());
                assert!((a - b).abs() <= 1e-3 + 1e-3 * a.abs(), "{}: cpu {a} gpu {b}", w["label"]);
            }
        }
    }
}
