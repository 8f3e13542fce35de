//! Several replicas in one process, one thread each (one per adapter), exchanging through host
//! memory. Every member deposits its buffer in its own slot, waits at a barrier, then reduces
//! the slots itself in rank order (so every member computes the same bits), and waits again
//! before a slot may be overwritten. A member that fails or times out wakes the others, which
//! fail with its message instead of waiting.

use super::{Collective, ReduceOp};
use crate::error::{Error, Result};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the members share.
struct Shared {
    size: usize,
    timeout: Duration,
    /// One slot of bytes per member.
    slots: Mutex<Vec<Vec<u8>>>,
    barrier: Mutex<BarrierState>,
    wake: Condvar,
}

#[derive(Default)]
struct BarrierState {
    arrived: usize,
    generation: u64,
    /// Set once a member failed: every wait from then on fails with it.
    failed: Option<String>,
}

/// One member of a thread group: a [`Collective`] for one replica's thread.
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
}

impl ThreadGroup {
    /// `size` members (hand one to each replica's thread); a collective waits at most
    /// `timeout` for the others.
    pub fn new(size: usize, timeout: Duration) -> Vec<ThreadGroup> {
        let shared = Arc::new(Shared {
            size,
            timeout,
            slots: Mutex::new(vec![Vec::new(); size]),
            barrier: Mutex::new(BarrierState::default()),
            wake: Condvar::new(),
        });
        (0..size).map(|rank| ThreadGroup { rank, shared: shared.clone() }).collect()
    }

    fn lock_barrier(&self) -> MutexGuard<'_, BarrierState> {
        self.shared.barrier.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_slots(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        self.shared.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until every member arrived, a member failed, or the timeout passed.
    fn barrier(&self, what: &str) -> Result<()> {
        let mut state = self.lock_barrier();
        if let Some(why) = &state.failed {
            return Err(self.failed(what, why));
        }
        let generation = state.generation;
        state.arrived += 1;
        if state.arrived == self.shared.size {
            state.arrived = 0;
            state.generation += 1;
            self.shared.wake.notify_all();
            return Ok(());
        }
        let deadline = Instant::now() + self.shared.timeout;
        while state.generation == generation && state.failed.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let why = format!(
                    "{} waited {:.0} s in {what} for the other replicas; one has hung",
                    self.describe(),
                    self.shared.timeout.as_secs_f64()
                );
                state.failed = Some(why.clone());
                self.shared.wake.notify_all();
                return Err(Error::Distributed(why));
            }
            state = self.shared.wake.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        match &state.failed {
            Some(why) if state.generation == generation => Err(self.failed(what, why)),
            _ => Ok(()),
        }
    }

    fn failed(&self, what: &str, why: &str) -> Error {
        Error::ReplicaStopped(format!("{} stopped in {what}: another replica failed: {why}", self.describe()))
    }

    /// Deposits `mine`, waits for every member, and hands every slot (in rank order) to `read`.
    fn exchange<R>(&self, what: &str, mine: &[u8], read: impl FnOnce(&[Vec<u8>]) -> R) -> Result<R> {
        self.deposit(mine);
        self.gather(what, read)
    }

    /// Copies `mine` into this member's slot (reusing its memory).
    fn deposit(&self, mine: &[u8]) {
        let mut slots = self.lock_slots();
        let slot = &mut slots[self.rank];
        slot.clear();
        slot.extend_from_slice(mine);
    }

    /// Waits for every member's deposit, hands every slot (in rank order) to `read`, and waits
    /// until every member has read before any slot may be overwritten.
    fn gather<R>(&self, what: &str, read: impl FnOnce(&[Vec<u8>]) -> R) -> Result<R> {
        self.barrier(what)?;
        let out = read(&self.lock_slots());
        self.barrier(what)?;
        Ok(out)
    }
}

/// The f32s in a slot's bytes (slots are plain bytes, not aligned for f32).
fn f32s(slot: &[u8]) -> impl Iterator<Item = f32> + '_ {
    slot.chunks_exact(4).map(|b| f32::from_ne_bytes(b.try_into().expect("4 bytes")))
}

/// The f64s in a slot's bytes.
fn f64s(slot: &[u8]) -> impl Iterator<Item = f64> + '_ {
    slot.chunks_exact(8).map(|b| f64::from_ne_bytes(b.try_into().expect("8 bytes")))
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn describe(&self) -> String {
        format!("replica {} of {} (threads)", self.rank, self.shared.size)
    }

    fn all_reduce_f32(&self, what: &str, buf: &mut [f32]) -> Result<()> {
        self.deposit(bytemuck::cast_slice(buf));
        self.gather(what, |slots| {
            for (b, v) in buf.iter_mut().zip(f32s(&slots[0])) {
                *b = v;
            }
            for slot in &slots[1..] {
                for (b, v) in buf.iter_mut().zip(f32s(slot)) {
                    *b += v;
                }
            }
        })
    }

    fn all_reduce_f64(&self, what: &str, buf: &mut [f64], op: ReduceOp) -> Result<()> {
        self.deposit(bytemuck::cast_slice(buf));
        self.gather(what, |slots| {
            for (b, v) in buf.iter_mut().zip(f64s(&slots[0])) {
                *b = v;
            }
            for slot in &slots[1..] {
                for (b, v) in buf.iter_mut().zip(f64s(slot)) {
                    *b = match op {
                        ReduceOp::Sum => *b + v,
                        ReduceOp::Max => b.max(v),
                    };
                }
            }
        })
    }

    fn broadcast_f32(&self, what: &str, buf: &mut [f32]) -> Result<()> {
        self.deposit(if self.rank == 0 { bytemuck::cast_slice(buf) } else { &[] });
        self.gather(what, |slots| {
            for (b, v) in buf.iter_mut().zip(f32s(&slots[0])) {
                *b = v;
            }
        })
    }

    fn all_gather_u64(&self, what: &str, value: u64) -> Result<Vec<u64>> {
        self.exchange(what, &value.to_le_bytes(), |slots| {
            slots.iter().map(|s| u64::from_le_bytes(s[..8].try_into().expect("8 bytes"))).collect()
        })
    }

    fn fail(&self, err: &Error) {
        let mut state = self.lock_barrier();
        if state.failed.is_none() {
            state.failed = Some(format!("{}: {err}", self.describe()));
        }
        self.shared.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_reduce_the_same_bits_and_a_failure_wakes_the_rest() {
        let group = ThreadGroup::new(3, Duration::from_secs(10));
        let sums: Vec<Vec<f32>> = std::thread::scope(|s| {
            let handles: Vec<_> = group
                .iter()
                .map(|m| {
                    s.spawn(move || {
                        let mut v = vec![m.rank() as f32 + 0.1, 1e8, -1e8];
                        m.all_reduce_f32("test", &mut v).unwrap();
                        let mut mx = [m.rank() as f64];
                        m.all_reduce_f64("test", &mut mx, ReduceOp::Max).unwrap();
                        assert_eq!(mx[0], 2.0);
                        let mut b = vec![m.rank() as f32; 2];
                        m.broadcast_f32("test", &mut b).unwrap();
                        assert_eq!(b, vec![0.0; 2]);
                        assert_eq!(m.all_gather_u64("test", 7 + m.rank() as u64).unwrap(), vec![7, 8, 9]);
                        v
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(sums[0], vec![0.1f32 + 1.1 + 2.1, 3e8, -3e8]);
        assert!(sums.iter().all(|s| s.iter().zip(&sums[0]).all(|(a, b)| a.to_bits() == b.to_bits())));

        let group = ThreadGroup::new(2, Duration::from_secs(30));
        let started = Instant::now();
        let err = std::thread::scope(|s| {
            let waiting = s.spawn(|| group[0].all_reduce_f32("the gradient all-reduce of step 3", &mut [1.0]));
            std::thread::sleep(Duration::from_millis(50));
            group[1].fail(&Error::Diverged("boom".into()));
            waiting.join().unwrap().unwrap_err().to_string()
        });
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.contains("step 3") && err.contains("replica 1 of 2") && err.contains("boom"), "{err}");

        let group = ThreadGroup::new(2, Duration::from_millis(200));
        let err = group[0].all_gather_u64("the start-up check", 1).unwrap_err().to_string();
        assert!(err.contains("waited") && err.contains("start-up check"), "{err}");
    }
}
