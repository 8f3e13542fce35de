//! The explorer page in a real headless browser (Debian's chromium, driven through
//! chromedriver's WebDriver API from this test): load the page, click the surface to place the
//! start, pick a speed, press play, wait for the run to finish, take a screenshot and check it:
//! the surface is drawn (many colours) and the trajectory's ball sits on the minimum the engine
//! says it reaches. Without chromium and chromedriver the test says SKIPPED, unless
//! `DOWNHILL_REQUIRE_BROWSER=1` (CI), where it fails.

mod common;

use common::http::{decode_base64, get, post, request, Explorer};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One browser at a time: two chromiums on two cores slow each other past the timeouts.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The SGD preset's colour (src/explore/presets.rs).
const SGD_RGB: [u8; 3] = [0xff, 0x1f, 0x1f];

struct Driver {
    child: Child,
    addr: String,
    session: String,
    _profile: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Driver {
    fn start() -> Option<Self> {
        let have = |p: &str| std::path::Path::new(p).exists();
        if !have("/usr/bin/chromium") || !have("/usr/bin/chromedriver") {
            if std::env::var("DOWNHILL_REQUIRE_BROWSER").as_deref() == Ok("1") {
                panic!("DOWNHILL_REQUIRE_BROWSER=1 but /usr/bin/chromium or /usr/bin/chromedriver is missing");
            }
            eprintln!("SKIPPED (no chromium + chromedriver; apt-get install chromium chromium-driver)");
            return None;
        }
        let (child, addr, port) =
            (0..5).find_map(|_| Self::spawn_chromedriver()).expect("chromedriver did not start on any of 5 free ports");
        let profile = std::env::temp_dir().join(format!("downhill-chromium-{}-{port}", std::process::id()));
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
            "--force-device-scale-factor=1",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let mut driver = Driver { child, addr, session: String::new(), _profile: TempDir(profile) };
        let answer = driver.call("POST", "/session", Some(caps));
        driver.session = answer["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}")).to_string();
        Some(driver)
    }

    /// Starts chromedriver on a port that was free a moment ago and waits until it reports
    /// ready; None when it exited (another process took the port) or never became ready.
    fn spawn_chromedriver() -> Option<(Child, String, u16)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return None;
            }
            if std::net::TcpStream::connect(&addr).is_ok() {
                let status = request(&addr, "GET", "/status", None, None);
                if status.status == 200 && status.json()["value"]["ready"] == true {
                    return Some((child, addr, port));
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let r = request(&self.addr, method, path, body.as_deref(), Some("application/json"));
        let v = r.json();
        assert!(r.status == 200, "WebDriver {method} {path}: {} {v}", r.status);
        v["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn script(&self, script: &str) -> Value {
        self.session_call("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    fn element(&self, css: &str) -> String {
        let v = self.session_call("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        v[ELEMENT].as_str().unwrap().to_string()
    }

    /// Polls `script` until it returns `want` (or fails after `secs`).
    fn wait_for(&self, script: &str, want: &dyn Fn(&Value) -> bool, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.script(script);
            if want(&v) {
                return v;
            }
            let error = self.script("return document.getElementById('error').textContent");
            assert!(Instant::now() < deadline, "timed out waiting on {script:?}: last {v}; page error {error}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = request(&self.addr, "DELETE", &format!("/session/{}", self.session), None, None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A decoded RGB(A) screenshot.
struct Shot {
    width: usize,
    height: usize,
    channels: usize,
    pixels: Vec<u8>,
}

impl Shot {
    fn decode(png_bytes: &[u8]) -> Self {
        let decoder = png::Decoder::new(png_bytes);
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let channels = info.color_type.samples();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        Shot { width: info.width as usize, height: info.height as usize, channels, pixels }
    }

    fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * self.channels;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}

#[test]
fn the_page_plays_a_clicked_start_down_to_the_minimum() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let server = Explorer::start("cpu");
    let steps = 400;
    driver.session_call(
        "POST",
        "/url",
        Some(json!({"url": format!("http://{}/?surface=himmelblau&racers=sgd&steps={steps}", server.addr)})),
    );
    driver.wait_for("return document.body.dataset.playback", &|v| v == "ready", 60);
    let first_start = driver.script("return document.body.dataset.start");

    // Click the surface at (x, y) = (−1, −1): the canvas maps the region [−5, 5]² onto itself.
    let plot = driver.element("#plot");
    let rect = driver.session_call("GET", &format!("/element/{plot}/rect"), None);
    let (left, top, width, height) = ["x", "y", "width", "height"].map(|k| rect[k].as_f64().unwrap()).into();
    let to_px = |x: f64, y: f64| (left + (x + 5.0) / 10.0 * width, top + (5.0 - y) / 10.0 * height);
    let (cx, cy) = to_px(-1.0, -1.0);
    let pointer = json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
        // WebDriver offsets are from the element's centre.
        {"type": "pointerMove", "duration": 0, "origin": {ELEMENT: plot}, "x": (cx - left - width / 2.0).round() as i64, "y": (cy - top - height / 2.0).round() as i64},
        {"type": "pointerDown", "button": 0},
        {"type": "pointerUp", "button": 0}
    ]}]});
    driver.session_call("POST", "/actions", Some(pointer));
    let start = driver.wait_for("return document.body.dataset.start", &|v| *v != first_start, 30);
    let start: Vec<f64> = start.as_str().unwrap().split(',').map(|s| s.parse().unwrap()).collect();
    assert!((start[0] + 1.0).abs() < 0.05 && (start[1] + 1.0).abs() < 0.05, "the click placed the start at {start:?}");
    driver.wait_for("return document.body.dataset.playback", &|v| v == "ready", 30);

    // Where the engine says SGD ends from that start.
    let race = post(
        &server.addr,
        "/api/race",
        &json!({"surface": {"name": "himmelblau"}, "start": [start[0], start[1]], "steps": steps,
                "runs": [{"label": "sgd", "optimizer": {"name": "sgd", "lr": 0.01}}]})
        .to_string(),
    )
    .json();
    let end = race["runs"][0]["points"].as_array().unwrap().last().unwrap().clone();
    let end = [end[0].as_f64().unwrap(), end[1].as_f64().unwrap()];
    let info = get(&server.addr, "/api/info").json();
    let himmelblau = info["surfaces"].as_array().unwrap().iter().find(|s| s["name"] == "himmelblau").unwrap();
    let minimum = himmelblau["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| [m["at"][0].as_f64().unwrap(), m["at"][1].as_f64().unwrap()])
        .find(|m| (m[0] - end[0]).hypot(m[1] - end[1]) < 1e-3)
        .unwrap_or_else(|| panic!("SGD from {start:?} ends at {end:?}, at no known minimum"));

    let fast = driver.element("#speed option[value='25']");
    driver.session_call("POST", &format!("/element/{fast}/click"), Some(json!({})));
    let play = driver.element("#play");
    driver.session_call("POST", &format!("/element/{play}/click"), Some(json!({})));
    driver.wait_for("return document.body.dataset.playback", &|v| v == "done", 60);
    let iteration = driver.script("return document.getElementById('iteration').textContent");
    assert_eq!(iteration, format!("iteration {steps} of {steps}"));

    let shot = Shot::decode(&decode_base64(driver.session_call("GET", "/screenshot", None).as_str().unwrap()));
    if let Ok(dir) = std::env::var("DOWNHILL_SCREENSHOT_DIR") {
        let _ = std::fs::write(
            std::path::Path::new(&dir).join("explore-test.png"),
            decode_base64(driver.session_call("GET", "/screenshot", None).as_str().unwrap()),
        );
    }
    assert!(shot.width as f64 >= left + width && shot.height as f64 >= top + height, "the plot is in the screenshot");

    // The surface is drawn: a 24×24 sample of the plot holds many colours, none of them blank.
    let mut colours = std::collections::HashSet::new();
    for i in 0..24 {
        for j in 0..24 {
            let x = (left + (i as f64 + 0.5) / 24.0 * width) as usize;
            let y = (top + (j as f64 + 0.5) / 24.0 * height) as usize;
            colours.insert(shot.rgb(x, y));
        }
    }
    assert!(colours.len() > 100, "the heat map shows {} colours in 576 samples", colours.len());
    assert!(!colours.contains(&[255, 255, 255]) || colours.len() > 300, "the plot is not blank");

    // The trajectory ends on the minimum: SGD's ball (7 px radius) covers the minimum's pixel.
    let (mx, my) = to_px(minimum[0], minimum[1]);
    let near_sgd = |c: [u8; 3]| c.iter().zip(SGD_RGB).all(|(&a, b)| (a as i32 - b as i32).abs() <= 40);
    let mut hits = 0;
    for dy in -6i64..=6 {
        for dx in -6i64..=6 {
            if near_sgd(shot.rgb((mx as i64 + dx) as usize, (my as i64 + dy) as usize)) {
                hits += 1;
            }
        }
    }
    assert!(hits >= 25, "only {hits} SGD-coloured pixels around the minimum {minimum:?} at ({mx:.0}, {my:.0})");
    // And not at a minimum it did not reach.
    let far = himmelblau["markers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["at"][0].as_f64().unwrap() > 0.0 && minimum[0] < 0.0
                || m["at"][0].as_f64().unwrap() < 0.0 && minimum[0] > 0.0
        })
        .unwrap();
    let (fx, fy) = to_px(far["at"][0].as_f64().unwrap(), far["at"][1].as_f64().unwrap());
    assert!(!near_sgd(shot.rgb(fx as usize, fy as usize)), "no ball at the other minima");
}

#[test]
fn an_exported_page_plays_without_a_server_and_its_slider_picks_precomputed_rates() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(driver) = Driver::start() else { return };
    let dir = common::tmp_dir("export-page");
    let page = dir.join("page.html");
    let out = Command::new(env!("CARGO_BIN_EXE_downhill"))
        .args([
            "explore",
            "--device",
            "cpu",
            "--surface",
            "two-basin",
            "--steps",
            "200",
            "--optimizers",
            "sgd,momentum",
        ])
        .arg("--export")
        .arg(&page)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    driver.session_call("POST", "/url", Some(json!({"url": format!("file://{}", page.display())})));
    driver.wait_for("return document.body.dataset.playback", &|v| v == "ready", 60);
    let device = driver.script("return document.getElementById('device').textContent");
    assert!(device.as_str().unwrap().contains("precomputed at 17 learning rates"), "{device}");
    // Its start is fixed: the page must not invite a click that does nothing.
    let hint = driver.script("return document.getElementById('hover').textContent");
    assert!(!hint.as_str().unwrap().contains("click"), "{hint}");
    // On a 1280×900 screen the controls sit beside the plot with Play in view (they once
    // wrapped below 900 px of plot, leaving 40 % of the page blank).
    driver.session_call("POST", "/window/rect", Some(json!({"width": 1280, "height": 900})));
    let layout = driver.script(
        "const r = (id) => document.getElementById(id).getBoundingClientRect();
         return [r('play').bottom, innerHeight, r('controls').left, r('stage').right];",
    );
    let [play_bottom, height, controls_left, stage_right] = [0, 1, 2, 3].map(|i| layout[i].as_f64().unwrap());
    assert!(controls_left >= stage_right, "the controls are beside the stage: {layout}");
    assert!(play_bottom <= height, "Play is above the fold: {layout}");
    // The rate slider moves over the grid: index 12 is 10^(−4 + 12/4) = 0.1.
    assert_eq!(driver.script("return document.getElementById('lr-sgd').max"), "16");
    let computed = driver.script("return document.body.dataset.computed");
    driver.script("const s = document.getElementById('lr-sgd'); s.value = 12; s.dispatchEvent(new Event('input'));");
    driver.wait_for("return document.querySelector('#lr-sgd + .lr').textContent", &|v| v == "0.10", 10);
    // The page recomputes after a short pause in slider moves; play after it has.
    driver.wait_for("return document.body.dataset.computed", &|v| *v != computed, 10);
    let fast = driver.element("#speed option[value='25']");
    driver.session_call("POST", &format!("/element/{fast}/click"), Some(json!({})));
    let play = driver.element("#play");
    driver.session_call("POST", &format!("/element/{play}/click"), Some(json!({})));
    driver.wait_for("return document.body.dataset.playback", &|v| v == "done", 60);
    // SGD at 0.1 from (1.7, 1.5) settles in the local basin on the right: the table says where.
    let position = driver.script("return document.querySelector('#racers tbody tr td:nth-child(6)').textContent");
    assert!(position.as_str().unwrap().starts_with("(0.9601,"), "SGD at lr 0.1 ends at {position}");
    // The loss plot's last iteration label ends inside its canvas (it was clipped).
    let tick = driver.script("const c = document.getElementById('lossplot'); return [+c.dataset.lastTickRight, c.width / (window.devicePixelRatio || 1)];");
    assert!(tick[0].as_f64().unwrap() <= tick[1].as_f64().unwrap(), "the last x tick ends at {tick}");
    let shot = Shot::decode(&decode_base64(driver.session_call("GET", "/screenshot", None).as_str().unwrap()));
    let mut colours = std::collections::HashSet::new();
    for y in (100..600).step_by(20) {
        for x in (50..600).step_by(20) {
            colours.insert(shot.rgb(x, y));
        }
    }
    assert!(colours.len() > 100, "the exported heat map is drawn ({} colours)", colours.len());
}
