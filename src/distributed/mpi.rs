//! The MPI world (cargo feature `mpi`): one process per rank, started by `mpirun` (or any
//! launcher), collectives through the `mpi` crate over the system's MPI (Open MPI).
//!
//! MPI calls block without a time limit, so a watchdog thread watches each collective: one
//! that waits longer than the timeout (a rank hung, or its machine is unreachable) ends this
//! rank with a message naming the collective, and the launcher then ends the others. A rank
//! that the launcher terminates (because another one died) says so on stderr before it exits.

use super::{Collective, ReduceOp};
use crate::error::{Error, Result};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// This process's rank in the MPI world.
pub struct MpiWorld {
    /// Finalises MPI when dropped.
    _universe: Universe,
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// Serialises MPI calls (MPI is initialised with `MPI_THREAD_SERIALIZED`: any thread, one
    /// at a time) and holds the receive buffer of the f32 all-reduce (reused every step).
    calls: Mutex<Vec<f32>>,
    /// The collective in flight and when it began, for the watchdog.
    in_flight: Arc<Mutex<Option<(Instant, String)>>>,
}

// SAFETY: MPI is initialised with MPI_THREAD_SERIALIZED, which allows MPI calls from any thread
// as long as no two run at once; every call below holds the `calls` mutex.
unsafe impl Send for MpiWorld {}
// SAFETY: as above.
unsafe impl Sync for MpiWorld {}

/// The message a rank prints when the launcher terminates it (set once at initialisation).
static TERMINATED: OnceLock<String> = OnceLock::new();

extern "C" fn on_sigterm(_: libc::c_int) {
    if let Some(msg) = TERMINATED.get() {
        // SAFETY: write(2) and _exit are async-signal-safe; the message is never mutated.
        unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    }
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(143) };
}

impl MpiWorld {
    /// Initialises MPI and joins the world; collectives wait at most `timeout`.
    pub fn init(timeout: Duration) -> Result<Self> {
        let (universe, threading) = mpi::initialize_with_threading(Threading::Serialized).ok_or_else(|| {
            Error::Distributed("MPI could not be initialised (it was initialised before in this process)".into())
        })?;
        if threading < Threading::Serialized {
            return Err(Error::Distributed(format!(
                "this MPI library offers thread level {threading:?}; downhill needs at least Serialized"
            )));
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        let _ = TERMINATED.set(format!(
            "downhill: MPI rank {rank} of {size}: terminated by the launcher (SIGTERM): another rank failed or the job \
             was cancelled\n"
        ));
        // SAFETY: the handler only calls async-signal-safe functions.
        unsafe { libc::signal(libc::SIGTERM, on_sigterm as extern "C" fn(libc::c_int) as libc::sighandler_t) };
        let in_flight = Arc::new(Mutex::new(None::<(Instant, String)>));
        start_watchdog(in_flight.clone(), timeout, format!("MPI rank {rank} of {size}"));
        Ok(Self { _universe: universe, world, rank, size, calls: Mutex::new(Vec::new()), in_flight })
    }

    /// Runs one MPI call under the watchdog.
    fn watched<R>(&self, what: &str, call: impl FnOnce(&SimpleCommunicator, &mut Vec<f32>) -> R) -> R {
        let mut scratch = self.lock_calls();
        *self.in_flight.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), what.to_string()));
        let out = call(&self.world, &mut scratch);
        *self.in_flight.lock().unwrap_or_else(|p| p.into_inner()) = None;
        out
    }

    fn lock_calls(&self) -> MutexGuard<'_, Vec<f32>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every 100 ms, checks the collective in flight; past `timeout` it prints what hung and ends
/// the process (an MPI call cannot be interrupted; the launcher then stops the other ranks).
fn start_watchdog(in_flight: Arc<Mutex<Option<(Instant, String)>>>, timeout: Duration, me: String) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(100));
        let late = in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(since, _)| since.elapsed() > timeout)
            .map(|(_, what)| what.clone());
        if let Some(what) = late {
            eprintln!(
                "downhill: {me}: {what} waited {:.0} s for the other ranks: one of them died, hung or cannot be \
                 reached; ending this rank (--collective-timeout sets the wait)",
                timeout.as_secs_f64()
            );
            // SAFETY: ends the process without unwinding past the blocked MPI call.
            unsafe { libc::_exit(3) };
        }
    });
}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn describe(&self) -> String {
        format!("MPI rank {} of {}", self.rank, self.size)
    }

    fn all_reduce_f32(&self, what: &str, buf: &mut [f32]) -> Result<()> {
        self.watched(what, |world, recv| {
            recv.resize(buf.len(), 0.0);
            world.all_reduce_into(&buf[..], &mut recv[..], SystemOperation::sum());
            buf.copy_from_slice(recv);
        });
        Ok(())
    }

    fn all_reduce_f64(&self, what: &str, buf: &mut [f64], op: ReduceOp) -> Result<()> {
        let send = buf.to_vec();
        self.watched(what, |world, _| match op {
            ReduceOp::Sum => world.all_reduce_into(&send[..], buf, SystemOperation::sum()),
            ReduceOp::Max => world.all_reduce_into(&send[..], buf, SystemOperation::max()),
        });
        Ok(())
    }

    fn broadcast_f32(&self, what: &str, buf: &mut [f32]) -> Result<()> {
        self.watched(what, |world, _| world.process_at_rank(0).broadcast_into(buf));
        Ok(())
    }

    fn all_gather_u64(&self, what: &str, value: u64) -> Result<Vec<u64>> {
        let mut all = vec![0u64; self.size];
        self.watched(what, |world, _| world.all_gather_into(&value, &mut all[..]));
        Ok(all)
    }

    fn fail(&self, err: &Error) {
        if self.size > 1 {
            eprintln!("downhill: {}: {err}; ending every rank", self.describe());
            let _guard = self.lock_calls();
            self.world.abort(1);
        }
    }
}
