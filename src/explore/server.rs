//! The explorer's local web server (axum on tokio): the page at `/`, the JSON API under
//! `/api/`. Heat maps and races compute in the light lane, basin maps in the bounded heavy
//! lane ([`super::lanes`]); connections, timeouts and signals are [`super::listen`]'s. A bad
//! request gets a 4xx with `{"error": "..."}` naming what is wrong, and the server goes on.

use super::lanes::{LaneError, Lanes, RETRY_AFTER_SECS};
use super::listen::{self, ServerLimits, Stopped};
use super::{api, page};
use crate::backend::Backend;
use crate::error::{Error, Result};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What the handlers share: the backend and the lanes that schedule computing on it.
struct Shared<B> {
    be: B,
    lanes: Lanes,
}

/// An error answer: a status and a message, sent as `{"error": message}` (and `Retry-After`
/// when it says when to come back).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut answer = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if let Some(secs) = self.retry_after {
            answer.headers_mut().insert("retry-after", secs.into());
        }
        answer
    }
}

/// The status an engine error is answered with: 422 for what the request got wrong, 500 for
/// the rest.
pub(crate) fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::InvalidArgument { .. } | Error::Shape { .. } | Error::TooLarge { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<LaneError> for ApiError {
    fn from(e: LaneError) -> Self {
        match e {
            LaneError::Busy { admitted } => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: format!(
                    "the explorer is busy: {admitted} basin maps are computing or waiting, the most it takes; \
                     try again in {RETRY_AFTER_SECS} s"
                ),
                retry_after: Some(RETRY_AFTER_SECS),
            },
            LaneError::Failed(status, message) => ApiError { status, message, retry_after: None },
        }
    }
}

/// The request body, or a 4xx saying why it is not valid JSON of the right shape (400 for
/// syntax, 415 for a missing JSON content type, 422 for a wrong or unknown field).
fn body<T>(payload: std::result::Result<Json<T>, JsonRejection>) -> std::result::Result<T, ApiError> {
    payload.map(|Json(t)| t).map_err(|rejection| ApiError {
        status: rejection.status(),
        message: rejection.body_text(),
        retry_after: None,
    })
}

async fn race<B: Backend + Send + Sync + 'static>(
    State(s): State<Arc<Shared<B>>>,
    payload: std::result::Result<Json<api::RaceRequest>, JsonRejection>,
) -> std::result::Result<Json<api::RaceAnswer>, ApiError> {
    let r = body(payload)?;
    let shared = s.clone();
    Ok(Json(s.lanes.light(move || api::race(&shared.be, &r)).await?))
}

async fn basin<B: Backend + Send + Sync + 'static>(
    State(s): State<Arc<Shared<B>>>,
    payload: std::result::Result<Json<api::BasinRequest>, JsonRejection>,
) -> std::result::Result<Json<api::BasinAnswer>, ApiError> {
    let r = body(payload)?;
    let shared = s.clone();
    let work = move |cancel: &AtomicBool| {
        let answer = api::basin(&shared.be, &r, cancel);
        if let Err(Error::Interrupted(step)) = &answer {
            println!("a basin map stopped at step {step} of {}: its client went away", r.steps);
        }
        answer
    };
    Ok(Json(s.lanes.heavy(work).await?))
}

async fn surface<B: Backend + Send + Sync + 'static>(
    State(s): State<Arc<Shared<B>>>,
    payload: std::result::Result<Json<api::SurfaceGridRequest>, JsonRejection>,
) -> std::result::Result<Json<api::SurfaceGridAnswer>, ApiError> {
    let r = body(payload)?;
    let shared = s.clone();
    Ok(Json(s.lanes.light(move || api::surface_values(&shared.be, &r)).await?))
}

async fn info<B: Backend + Send + Sync + 'static>(State(s): State<Arc<Shared<B>>>) -> Json<api::Info> {
    Json(api::info(s.be.describe()))
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: "no such page; the explorer serves / and GET /api/info, POST /api/surface, /api/race, /api/basin"
            .into(),
        retry_after: None,
    }
}

/// The routes, over `be` computing in `lanes`.
fn router<B: Backend + Send + Sync + 'static>(be: B, lanes: Lanes) -> Router {
    let shared = Arc::new(Shared { be, lanes });
    Router::new()
        .route("/", get(|| async { Html(page::live()) }))
        .route("/api/info", get(info::<B>))
        .route("/api/surface", post(surface::<B>))
        .route("/api/race", post(race::<B>))
        .route("/api/basin", post(basin::<B>))
        .fallback(not_found)
        .with_state(shared)
}

/// Serves the explorer on 127.0.0.1:`port` (0 picks a free port) computing on `be` within
/// `limits`, calls `ready` with the address once it listens, and returns which signal
/// stopped it (Ctrl-C or SIGTERM), after the answers in flight are sent.
pub fn serve<B: Backend + Send + Sync + 'static>(
    be: B,
    port: u16,
    limits: &ServerLimits,
    ready: impl FnOnce(SocketAddr),
) -> Result<Stopped> {
    let failed = |detail: String| Error::InvalidArgument { what: "explore".into(), detail };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the server: {e}")))?;
    let lanes = Lanes::new(limits.heavy_queue).map_err(failed)?;
    let stopped = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            Error::InvalidArgument { what: "--port".into(), detail: format!("cannot listen on 127.0.0.1:{port}: {e}") }
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::InvalidArgument { what: "--port".into(), detail: format!("no local address: {e}") })?;
        ready(addr);
        Ok::<_, Error>(listen::serve_until_signal(listener, router(be, lanes), limits).await)
    })?;
    // A basin map still computing is abandoned: its answer has no one left to go to.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(stopped)
}
