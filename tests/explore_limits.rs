//! `downhill explore` bounded: a full basin-map queue answers 503 with `Retry-After` while
//! heat maps and races are still answered; slow headers, slow bodies and oversized bodies are
//! cut off; connections beyond the limit are refused with 503; SIGTERM stops the server with
//! exit code 0, even while a basin map computes. (The timings under load are a benchmark,
//! `benches/explore_load.rs`, not a test.)

mod common;

use common::http::{get, post, Explorer};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The largest basin map the API takes (1024² starts × 1907 steps ≤ 2·10⁹ updates): minutes
/// on a debug build, so it is still computing whenever the tests below look.
const MAXIMAL_BASIN: &str = r#"{"surface": {"name": "two-basin"}, "optimizer": {"name": "sgd", "lr": 0.01},
    "grid": 1024, "steps": 1907}"#;

/// A basin map answered at once.
const SMALL_BASIN: &str =
    r#"{"surface": {"name": "bowl"}, "optimizer": {"name": "sgd", "lr": 0.1}, "grid": 4, "steps": 10}"#;

/// On a server with `--heavy-queue 1`: the maximal map sent and computing, and a small map's
/// 503. The queue is full once the server has read the maximal map; until then a small map
/// may still be admitted (and is answered at once). On a loaded machine the server may even
/// read a small map first and refuse the maximal one: then it is sent again.
fn fill_the_queue_of_one(server: &Explorer) -> (TcpStream, common::http::Response) {
    let mut computing = send_without_waiting(&server.addr, "/api/basin", MAXIMAL_BASIN);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "no basin map was refused within 120 s with a queue of one");
        if answered(&mut computing) {
            computing = send_without_waiting(&server.addr, "/api/basin", MAXIMAL_BASIN);
        }
        let answer = post(&server.addr, "/api/basin", SMALL_BASIN);
        if answer.status == 503 {
            return (computing, answer);
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `body` to `path` on a fresh connection and returns the connection without reading
/// the answer (the request stays in flight as long as the stream lives).
fn send_without_waiting(addr: &str, path: &str, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    stream
}

/// Everything the server sends until it closes the connection (or `limit` passes: then the
/// test fails, naming what arrived).
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> String {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => {}
        // A reset after the answer is a close too.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => {
            panic!("the server kept the connection open past {limit:?} ({e}); got {:?}", String::from_utf8_lossy(&got))
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn a_full_basin_queue_answers_503_with_retry_after_while_light_requests_are_answered() {
    let server = Explorer::start_with("cpu", &["--heavy-queue", "1"]);
    let (mut computing, refused) = fill_the_queue_of_one(&server);
    assert_eq!(refused.header("retry-after"), Some("5"), "{:?}", refused.headers);
    let message = refused.json()["error"].as_str().unwrap().to_string();
    assert!(message.contains("busy") && message.contains("try again in 5 s"), "{message}");

    // The light lane does not wait for the heavy one.
    let grid = post(&server.addr, "/api/surface", r#"{"surface": {"name": "rosenbrock"}, "resolution": 64}"#);
    assert_eq!(grid.status, 200, "{}", grid.body);
    let race = post(
        &server.addr,
        "/api/race",
        r#"{"surface": {"name": "bowl"}, "start": [1, 1], "steps": 100,
            "runs": [{"label": "sgd", "optimizer": {"name": "sgd", "lr": 0.1}}]}"#,
    );
    assert_eq!(race.status, 200, "{}", race.body);
    assert_eq!(get(&server.addr, "/api/info").status, 200);
    // …and all that while the maximal map is still computing: its answer has not come.
    assert!(!answered(&mut computing), "the maximal basin map answered before the light requests were checked");
}

#[test]
fn a_basin_map_whose_client_went_away_stops_and_frees_its_slot() {
    let mut server = Explorer::start_with("cpu", &["--heavy-queue", "1"]);
    // The maximal map computing (minutes on a debug build): a small one is refused.
    let (computing, _) = fill_the_queue_of_one(&server);
    // Its client goes away: the map stops at its next step (the server says so) and the slot
    // comes back long before the map could have finished.
    drop(computing);
    let said = wait_for_line(&mut server, "its client went away", Duration::from_secs(60));
    assert!(said.contains("a basin map stopped at step") && said.contains("of 1907"), "{said}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = post(&server.addr, "/api/basin", SMALL_BASIN);
        if answer.status == 200 {
            break;
        }
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert!(Instant::now() < deadline, "the abandoned basin map still held the queue after 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The server's output up to the first line that contains `text` (the test fails if none
/// comes within `limit`).
fn wait_for_line(server: &mut Explorer, text: &str, limit: Duration) -> String {
    use std::io::BufRead;
    use std::os::fd::AsRawFd;
    let fd = server.stdout.get_ref().as_raw_fd();
    // SAFETY: fcntl on the pipe this test owns; only its flags change.
    unsafe { libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK) };
    let deadline = Instant::now() + limit;
    let mut seen = String::new();
    loop {
        match server.stdout.read_line(&mut seen) {
            Ok(0) => panic!("the server closed its output before saying {text:?}: {seen}"),
            Ok(_) if seen.contains(text) => return seen,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the server did not say {text:?} within {limit:?}: {seen}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("reading the server's output: {e}"),
        }
    }
}

/// Whether the server has sent anything (an answer, or a close) on `stream`, without waiting.
fn answered(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let waiting = matches!(stream.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).unwrap();
    !waiting
}

#[test]
fn slow_headers_slow_bodies_and_oversized_bodies_are_cut_off() {
    let server = Explorer::start_with("cpu", &["--request-timeout", "1"]);
    let limit = Duration::from_secs(30);

    // Headers that never end: the connection is closed.
    let mut slow_head = TcpStream::connect(&server.addr).unwrap();
    slow_head.write_all(b"POST /api/race HTTP/1.1\r\nHost: x\r\n").unwrap();
    let got = read_until_closed(&mut slow_head, limit);
    assert!(!got.starts_with("HTTP/1.1 200"), "{got}");

    // A body trickling in (a byte every 300 ms of 200 promised): 408, then closed.
    let mut slow_body = TcpStream::connect(&server.addr).unwrap();
    slow_body
        .write_all(
            b"POST /api/race HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{",
        )
        .unwrap();
    let writer = {
        let mut w = slow_body.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(300));
                if w.write_all(b" ").is_err() {
                    return;
                }
            }
        })
    };
    let got = read_until_closed(&mut slow_body, limit);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("did not arrive within 1 s"), "{got}");
    writer.join().unwrap();

    // A declared body over the limit: 413 before a byte of it is read.
    let mut big = TcpStream::connect(&server.addr).unwrap();
    big.write_all(
        b"POST /api/race HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n",
    )
    .unwrap();
    let got = read_until_closed(&mut big, limit);
    assert!(got.starts_with("HTTP/1.1 413") && got.contains("over 65536 bytes"), "{got}");

    // A chunked body without a length, past the limit: 413 as soon as it passes.
    let mut chunked = TcpStream::connect(&server.addr).unwrap();
    chunked
        .write_all(b"POST /api/race HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
    for _ in 0..5 {
        if chunked.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    let got = read_until_closed(&mut chunked, limit);
    assert!(got.starts_with("HTTP/1.1 413"), "{got}");

    // An idle keep-alive connection is closed too, after its answer.
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    idle.write_all(b"GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let got = read_until_closed(&mut idle, limit);
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");

    // And the server goes on.
    assert_eq!(get(&server.addr, "/api/info").status, 200);
}

#[test]
fn connections_beyond_the_limit_are_refused_with_503() {
    let server = Explorer::start_with("cpu", &["--max-connections", "3", "--request-timeout", "60"]);
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&server.addr).unwrap()).collect();
    // The server may not have accepted the held three yet when the fourth arrives: try until refused.
    let deadline = Instant::now() + Duration::from_secs(30);
    let refused = loop {
        let mut extra = TcpStream::connect(&server.addr).unwrap();
        let got = read_until_closed(&mut extra, Duration::from_secs(30));
        if got.starts_with("HTTP/1.1 503") {
            break got;
        }
        assert!(Instant::now() < deadline, "the fourth connection was never refused; last answer {got:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1") && refused.contains("too many connections"),
        "{refused}"
    );
    drop(held);
    // Their slots come back once the server sees them closed.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut again = TcpStream::connect(&server.addr).unwrap();
        // Refused connections are closed under the write: only the answer read counts.
        let _ = again.write_all(b"GET /api/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let got = read_until_closed(&mut again, Duration::from_secs(30));
        if got.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no connection was served after the held ones closed: {got:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_stops_the_server_with_exit_code_0_even_while_a_basin_map_computes() {
    let mut server = Explorer::start("cpu");
    assert_eq!(get(&server.addr, "/api/info").status, 200);
    let _computing = send_without_waiting(&server.addr, "/api/basin", MAXIMAL_BASIN);
    std::thread::sleep(Duration::from_millis(500));
    let killed = std::process::Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server was still running 60 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    server.stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("downhill explore: stopped (SIGTERM)"), "{rest:?}");
    assert!(TcpStream::connect(&server.addr).is_err(), "nothing listens any more");
}
