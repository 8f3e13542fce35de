//! A minimal HTTP/1.1 client over std (requests with `Connection: close`), and the explorer
//! server started as a child process, for the tests that talk to `downhill explore`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};

/// A response: status code, headers (lowercased names), body text.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The body parsed as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Sends one request to `addr` ("127.0.0.1:port"); `content_type` None sends the body without one.
pub fn request(addr: &str, method: &str, path: &str, body: Option<&str>, content_type: Option<&str>) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let body = body.unwrap_or("");
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    // Read the head, then the body by its length (some servers keep the connection open).
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let got = stream.read(&mut buf).unwrap();
        assert!(got > 0, "connection closed before the response head: {:?}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..got]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let length = headers.iter().find(|(k, _)| k == "content-length").map(|(_, v)| v.parse::<usize>().unwrap());
    match length {
        Some(n) => {
            while body.len() < n {
                let got = stream.read(&mut buf).unwrap();
                assert!(got > 0, "connection closed after {} of {n} body bytes", body.len());
                body.extend_from_slice(&buf[..got]);
            }
        }
        None => {
            stream.read_to_end(&mut body).unwrap();
        }
    }
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Response { status, headers, body: String::from_utf8_lossy(&body).to_string() }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + size]);
        b = &b[line_end + 4 + size..];
    }
}

/// POSTs JSON.
pub fn post(addr: &str, path: &str, body: &str) -> Response {
    request(addr, "POST", path, Some(body), Some("application/json"))
}

/// GETs a path.
pub fn get(addr: &str, path: &str) -> Response {
    request(addr, "GET", path, None, None)
}

/// `downhill explore --port 0` as a child process, killed when dropped.
pub struct Explorer {
    pub child: Child,
    /// "127.0.0.1:port".
    pub addr: String,
    /// The rest of its standard output, kept open so that it can still print.
    pub stdout: BufReader<ChildStdout>,
}

impl Explorer {
    /// Starts the server computing on `device` and waits for the URL line it prints.
    pub fn start(device: &str) -> Self {
        Self::start_with(device, &[])
    }

    /// The same, with more `downhill explore` flags.
    pub fn start_with(device: &str, flags: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_downhill"))
            .args(["explore", "--port", "0", "--device", device])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start downhill explore");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url =
            line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("no URL in {line:?}"));
        let addr = url.trim_start_matches("http://").trim_end_matches('/').to_string();
        Self { child, addr, stdout }
    }
}

impl Drop for Explorer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes standard base64 (the API's binary arrays, WebDriver's screenshots).
pub fn decode_base64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let v = chunk.iter().enumerate().fold(0u32, |acc, (i, &c)| acc | (value(c) as u32) << (18 - 6 * i));
        out.extend_from_slice(&v.to_be_bytes()[1..chunk.len()]);
    }
    out
}
