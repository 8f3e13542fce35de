//! Data-parallel training: several replicas of one run, each on its own device and its own
//! shard of every epoch, that average their gradients once per step and so take the same
//! optimizer step. The replicas talk through a [`Collective`]:
//!
//! - [`Solo`]: one replica, every collective a no-op (a plain run).
//! - [`threads::ThreadGroup`]: several adapters in one process, one thread each, exchanging
//!   through host memory (`downhill train --device gpu,cpu`).
//! - `mpi::MpiWorld` (cargo feature `mpi`): one process per rank over MPI (`mpirun -np N
//!   downhill train --distributed`).
//!
//! Every collective is blocking and in place, is called by every replica at the same point of
//! the run, and fails with [`Error::Distributed`] rather than waiting forever when another
//! replica has died or hung (the timeout).

pub mod buckets;
pub mod launch;
#[cfg(feature = "mpi")]
pub mod mpi;
mod shard;
pub mod threads;

pub use launch::{launcher_ranks, LaunchCheck};
pub use shard::{eval_rows, shard_order, ShardPlan};

use crate::error::{Error, Result};
use std::time::Duration;

/// How values from every replica combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    /// The sum (in rank order where the collective controls the order).
    Sum,
    /// The largest.
    Max,
}

/// The default wait of one collective before it gives up on the other replicas (PyTorch's
/// NCCL watchdog waits 10 minutes; a step of downhill takes far less).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The operations replicas of one run perform together. Every replica calls the same
/// operations in the same order; `what` names the operation in a timeout's message ("the
/// gradient all-reduce of step 12").
pub trait Collective: Send + Sync {
    /// This replica's index, 0-based; replica 0 writes the checkpoints and prints.
    fn rank(&self) -> usize;
    /// Replicas in the run.
    fn size(&self) -> usize;
    /// Says what the group is, e.g. "MPI rank 1 of 2".
    fn describe(&self) -> String;
    /// Replaces `buf` on every replica by the element-wise sum of every replica's `buf`.
    fn all_reduce_f32(&self, what: &str, buf: &mut [f32]) -> Result<()>;
    /// Replaces `buf` on every replica by the element-wise `op` of every replica's `buf`.
    fn all_reduce_f64(&self, what: &str, buf: &mut [f64], op: ReduceOp) -> Result<()>;
    /// Replaces `buf` on every replica by replica 0's.
    fn broadcast_f32(&self, what: &str, buf: &mut [f32]) -> Result<()>;
    /// Every replica's `value`, in rank order.
    fn all_gather_u64(&self, what: &str, value: u64) -> Result<Vec<u64>>;
    /// Tells the other replicas that this one failed with `err`, so they stop instead of
    /// waiting for it (MPI aborts the job; a thread group wakes its waiting members).
    fn fail(&self, err: &Error);
}

/// One replica alone: what a run without data parallelism uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn describe(&self) -> String {
        "one replica".into()
    }
    fn all_reduce_f32(&self, _: &str, _: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn all_reduce_f64(&self, _: &str, _: &mut [f64], _: ReduceOp) -> Result<()> {
        Ok(())
    }
    fn broadcast_f32(&self, _: &str, _: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn all_gather_u64(&self, _: &str, value: u64) -> Result<Vec<u64>> {
        Ok(vec![value])
    }
    fn fail(&self, _: &Error) {}
}

/// Checks that every replica runs the same binary with the same run: each contributes a hash
/// of its executable and a hash of `run` (the configuration and model spec, as text); a
/// replica that differs from replica 0 is named, on every replica.
pub fn check_same_run(comm: &dyn Collective, run: &str) -> Result<()> {
    let binary = executable_hash();
    let config = fnv1a(run.as_bytes());
    let binaries = comm.all_gather_u64("the start-up check of the binaries", binary)?;
    let configs = comm.all_gather_u64("the start-up check of the configurations", config)?;
    let differ = |hashes: &[u64]| -> Vec<usize> { (1..hashes.len()).filter(|&r| hashes[r] != hashes[0]).collect() };
    let (bad_bin, bad_cfg) = (differ(&binaries), differ(&configs));
    if bad_bin.is_empty() && bad_cfg.is_empty() {
        return Ok(());
    }
    let mut parts = Vec::new();
    if !bad_bin.is_empty() {
        parts.push(format!(
            "rank(s) {bad_bin:?} run a different downhill binary than rank 0 (executable hash {:016x} vs {:016x}): \
             install the same build on every machine",
            binaries[bad_bin[0]], binaries[0]
        ));
    }
    if !bad_cfg.is_empty() {
        parts.push(format!(
            "rank(s) {bad_cfg:?} were given a different configuration or model than rank 0 (hash {:016x} vs \
             {:016x}): pass the same flags, config file and data to every rank",
            configs[bad_cfg[0]], configs[0]
        ));
    }
    Err(Error::Distributed(format!("{}: {}", comm.describe(), parts.join("; "))))
}

/// FNV-1a over 8-byte little-endian words (the tail zero-padded), 64 bits: a stable hash of
/// bytes, the same on every machine and build, and fast enough for an executable.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let words = bytes.chunks(8).map(|c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(w)
    });
    words.fold(0xcbf2_9ce4_8422_2325u64 ^ bytes.len() as u64, |h, w| (h ^ w).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A hash of the running executable's bytes (of the crate version when it cannot be read),
/// computed once per process.
fn executable_hash() -> u64 {
    static HASH: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *HASH.get_or_init(|| {
        std::env::current_exe()
            .and_then(std::fs::read)
            .map(|bytes| fnv1a(&bytes))
            .unwrap_or_else(|_| fnv1a(env!("CARGO_PKG_VERSION").as_bytes()))
    })
}
