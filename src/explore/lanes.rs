//! The explorer's two computing lanes. A basin map can take the machine for tens of seconds;
//! a heat map or a race takes milliseconds. Heavy requests go through a bounded queue (one
//! computes, the rest wait in order; one more is refused with 503 and `Retry-After`) on their
//! own rayon pool, whose threads run at a lower OS priority; light requests never wait behind
//! them: they compute at once on rayon's global pool, a few at a time.

use crate::error::Result;
use axum::http::StatusCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Seconds a refused heavy request is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 5;

/// Why a lane gave no answer.
#[derive(Debug)]
pub enum LaneError {
    /// The heavy queue is full: answer 503 with `Retry-After`.
    Busy {
        /// Heavy requests admitted (computing and waiting).
        admitted: usize,
    },
    /// The computation itself failed (its error), or its thread panicked.
    Failed(StatusCode, String),
}

/// Where requests compute: see the module documentation.
pub struct Lanes {
    /// Light requests computing at once (more wait, without a limit on waiting: each is short).
    light: Arc<Semaphore>,
    /// Heavy requests admitted: computing plus waiting.
    heavy_admitted: Arc<Semaphore>,
    heavy_capacity: usize,
    /// The one heavy request computing.
    heavy_turn: Arc<Semaphore>,
    /// The heavy requests' threads (lower priority than the light ones').
    heavy_pool: Arc<rayon::ThreadPool>,
}

impl Lanes {
    /// Lanes admitting `heavy_queue` heavy requests (≥ 1: one computing, the rest waiting),
    /// with as many heavy threads as rayon's global pool has.
    pub fn new(heavy_queue: usize) -> std::result::Result<Self, String> {
        let threads = rayon::current_num_threads();
        let heavy_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("explore-heavy-{i}"))
            .start_handler(|_| lower_this_threads_priority())
            .build()
            .map_err(|e| format!("cannot start the heavy requests' threads: {e}"))?;
        let heavy_queue = heavy_queue.max(1);
        Ok(Lanes {
            light: Arc::new(Semaphore::new(threads.max(2))),
            heavy_admitted: Arc::new(Semaphore::new(heavy_queue)),
            heavy_capacity: heavy_queue,
            heavy_turn: Arc::new(Semaphore::new(1)),
            heavy_pool: Arc::new(heavy_pool),
        })
    }

    /// Runs a light `work` on a blocking thread (rayon's global pool inside) once one of the
    /// light slots is free.
    pub async fn light<T, F>(&self, work: F) -> std::result::Result<T, LaneError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let _slot = self.light.clone().acquire_owned().await.map_err(closed)?;
        joined(tokio::task::spawn_blocking(work).await)
    }

    /// Runs a heavy `work` in its turn on the heavy pool, or refuses at once when the queue
    /// is full. `work` is given a flag that is set when the request is dropped (its client
    /// went away, waiting or computing): it should stop at its next check, since nobody reads
    /// its answer. Its queue slot and its turn are free from that moment.
    pub async fn heavy<T, F>(&self, work: F) -> std::result::Result<T, LaneError>
    where
        T: Send + 'static,
        F: FnOnce(&AtomicBool) -> Result<T> + Send + 'static,
    {
        let Ok(_admitted) = self.heavy_admitted.clone().try_acquire_owned() else {
            return Err(LaneError::Busy { admitted: self.heavy_capacity });
        };
        let _turn = self.heavy_turn.clone().acquire_owned().await.map_err(closed)?;
        let pool = self.heavy_pool.clone();
        let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
        let flag = cancel.0.clone();
        joined(tokio::task::spawn_blocking(move || pool.install(|| work(&flag))).await)
    }
}

/// Sets its flag when dropped: with the request's future, when the server drops a request
/// whose connection has closed.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn closed(_: tokio::sync::AcquireError) -> LaneError {
    LaneError::Failed(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping".into())
}

fn joined<T>(joined: std::result::Result<Result<T>, tokio::task::JoinError>) -> std::result::Result<T, LaneError> {
    match joined {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(LaneError::Failed(super::server::status_of(&e), e.to_string())),
        Err(e) => Err(LaneError::Failed(StatusCode::INTERNAL_SERVER_ERROR, format!("the computation failed: {e}"))),
    }
}

/// Nice 10 for the calling thread (Linux keeps a nice value per thread), so the OS runs a
/// light request's threads first when both lanes want the cores. Elsewhere: nothing.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; gettid names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}
