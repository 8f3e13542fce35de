//! The explorer's connections: hyper's HTTP/1.1 on tokio, bounded. At most
//! [`ServerLimits::max_connections`] at once (one more gets a 503 and is closed); headers and
//! then the body each have [`ServerLimits::request_timeout`] to arrive (a client trickling
//! bytes is cut off: 408 for a slow body, a closed connection for slow headers; an idle
//! keep-alive connection closes the same way); bodies are at most [`ServerLimits::max_body`]
//! (413). Ctrl-C or SIGTERM stops accepting, lets the answers in flight finish for up to
//! [`SHUTDOWN_GRACE`], and returns.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// How long answers in flight may take to finish once a stop is asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The bounds on the explorer's clients and work.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Basin maps admitted at once: one computing, the rest waiting in order.
    pub heavy_queue: usize,
    /// Time the headers have to arrive, and then the body.
    pub request_timeout: Duration,
    /// Largest request body, in bytes.
    pub max_body: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 64,
            heavy_queue: 4,
            request_timeout: Duration::from_secs(10),
            max_body: 64 * 1024,
        }
    }
}

/// Why the server stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Ctrl-C (SIGINT).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

/// Serves `app` on `listener` under `limits` until Ctrl-C or SIGTERM.
pub async fn serve_until_signal(listener: TcpListener, app: Router, limits: &ServerLimits) -> Stopped {
    let app = app.layer(axum::middleware::from_fn_with_state(limits.clone(), read_body));
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let signal = stop_signal();
    tokio::pin!(signal);
    let why = loop {
        tokio::select! {
            why = &mut signal => break why,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of file descriptors and the like: let the OS catch its breath.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                match connections.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let (app, limits, stop) = (app.clone(), limits.clone(), stop_rx.clone());
                        tokio::spawn(async move {
                            serve_connection(stream, app, &limits, stop).await;
                            drop(permit);
                        });
                    }
                    Err(_) => refuse(stream),
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    // Every connection task holds a permit until it ends: all permits back means all done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connections.acquire_many(all)).await;
    why
}

/// One connection: HTTP/1.1 with keep-alive, the header timeout, and a graceful close when
/// the server stops.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    limits: &ServerLimits,
    mut stop: watch::Receiver<bool>,
) {
    let service = TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.request_timeout).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|stopping| *stopping) => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

/// The answer to a connection beyond the limit, written without waiting (a client that does
/// not read it loses it), then the connection is closed.
fn refuse(stream: tokio::net::TcpStream) {
    let body = r#"{"error": "too many connections to the explorer; try again shortly"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// Reads the whole body within the time and size limits before any handler sees it.
async fn read_body(
    axum::extract::State(limits): axum::extract::State<ServerLimits>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts.headers.get("content-length").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body as u64) {
        return closing(error(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over {} bytes", limits.max_body)));
    }
    let bytes = match tokio::time::timeout(limits.request_timeout, collect(body, limits.max_body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(BodyError::TooLarge)) => {
            return closing(error(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over {} bytes", limits.max_body)))
        }
        Ok(Err(BodyError::Broken(e))) => {
            return error(StatusCode::BAD_REQUEST, format!("the body could not be read: {e}"))
        }
        Err(_) => {
            let secs = limits.request_timeout.as_secs_f64();
            return closing(error(StatusCode::REQUEST_TIMEOUT, format!("the body did not arrive within {secs} s")));
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

enum BodyError {
    TooLarge,
    Broken(axum::Error),
}

/// The body's bytes, refused as soon as they pass `max` (whatever Content-Length said).
async fn collect(mut body: Body, max: usize) -> Result<axum::body::Bytes, BodyError> {
    use http_body_util::BodyExt;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(BodyError::Broken)?.into_data() {
            if bytes.len() + data.len() > max {
                return Err(BodyError::TooLarge);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes.into())
}

/// `answer` with `connection: close`: the rest of the request is not read.
fn closing(mut answer: Response) -> Response {
    answer.headers_mut().insert("connection", axum::http::HeaderValue::from_static("close"));
    answer
}

fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() -> Stopped {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => Stopped::Interrupt,
                _ = term.recv() => Stopped::Terminate,
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    Stopped::Interrupt
}
