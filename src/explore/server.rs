//! The explorer's local web server (axum on tokio): the page at `/`, the JSON API under
//! `/api/`. Computing runs on a blocking thread, one request at a time on the device; a bad
//! request gets a 4xx with `{"error": "..."}` naming what is wrong, and the server goes on.

use super::{api, page};
use crate::backend::Backend;
use crate::error::{Error, Result};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the handlers share: the backend and a lock that runs one computation at a time (so a
/// basin map's throughput is its own).
struct Shared<B> {
    be: B,
    lock: parking_lot::Mutex<()>,
}

/// An error answer: a status and a message, sent as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match e {
            Error::InvalidArgument { .. } | Error::Shape { .. } | Error::TooLarge { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

/// The request body, or a 4xx saying why it is not valid JSON of the right shape (400 for
/// syntax, 415 for a missing JSON content type, 422 for a wrong or unknown field).
fn body<T>(payload: std::result::Result<Json<T>, JsonRejection>) -> std::result::Result<T, ApiError> {
    payload.map(|Json(t)| t).map_err(|rejection| ApiError(rejection.status(), rejection.body_text()))
}

/// Runs `work` on a blocking thread under the computing lock and answers with its JSON.
async fn compute<B, T, F>(shared: Arc<Shared<B>>, work: F) -> std::result::Result<Json<T>, ApiError>
where
    B: Backend + Send + Sync + 'static,
    T: Serialize + Send + 'static,
    F: FnOnce(&B) -> Result<T> + Send + 'static,
{
    let joined = tokio::task::spawn_blocking(move || {
        let _one_at_a_time = shared.lock.lock();
        work(&shared.be)
    })
    .await;
    match joined {
        Ok(answer) => Ok(Json(answer?)),
        Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("the computation failed: {e}"))),
    }
}

async fn race<B: Backend + Send + Sync + 'static>(
    State(s): State<Arc<Shared<B>>>,
    payload: std::result::Result<Json<api::RaceRequest>, JsonRejection>,
) -> std::result::Result<Json<api::RaceAnswer>, ApiError> {
    let r = body(payload)?;
    compute(s, move |be| api::race(be, &r)).await
}

async fn basin<B: Backend + Send + Sync + 'static>(
    State(s): State<Arc<Shared<B>>>,
    payload: std::result::Result<Json<api::BasinRequest>, JsonRejection>,
) -> std::result::Result<Json<api::BasinAnswer>, ApiError> {
    let r = body(payload)?;
    compute(s, move |be| api::basin(be, &r)).await
}

async fn surface<B: Backend + Send + Sync + 'static>(
    State(s): State<Arc<Shared<B>>>,
    payload: std::result::Result<Json<api::SurfaceGridRequest>, JsonRejection>,
) -> std::result::Result<Json<api::SurfaceGridAnswer>, ApiError> {
    let r = body(payload)?;
    compute(s, move |be| api::surface_values(be, &r)).await
}

async fn info<B: Backend + Send + Sync + 'static>(State(s): State<Arc<Shared<B>>>) -> Json<api::Info> {
    Json(api::info(s.be.describe()))
}

async fn not_found() -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        "no such page; the explorer serves / and GET /api/info, POST /api/surface, /api/race, /api/basin".into(),
    )
}

/// The routes, over `be`.
fn router<B: Backend + Send + Sync + 'static>(be: B) -> Router {
    let shared = Arc::new(Shared { be, lock: parking_lot::Mutex::new(()) });
    Router::new()
        .route("/", get(|| async { Html(page::live()) }))
        .route("/api/info", get(info::<B>))
        .route("/api/surface", post(surface::<B>))
        .route("/api/race", post(race::<B>))
        .route("/api/basin", post(basin::<B>))
        .fallback(not_found)
        .with_state(shared)
}

/// Serves the explorer on 127.0.0.1:`port` (0 picks a free port) computing on `be`, calls
/// `ready` with the address once it listens, and returns when the process gets Ctrl-C.
pub fn serve<B: Backend + Send + Sync + 'static>(be: B, port: u16, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| {
        Error::InvalidArgument { what: "explore".into(), detail: format!("cannot start the server: {e}") }
    })?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            Error::InvalidArgument { what: "--port".into(), detail: format!("cannot listen on 127.0.0.1:{port}: {e}") }
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::InvalidArgument { what: "--port".into(), detail: format!("no local address: {e}") })?;
        ready(addr);
        axum::serve(listener, router(be))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| Error::InvalidArgument { what: "explore".into(), detail: format!("the server stopped: {e}") })
    })
}
