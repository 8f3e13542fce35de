//! Gradient buckets, as PyTorch's DDP: the parameter tensors, last layer first, grouped into
//! buckets of about `cap` bytes; each bucket is all-reduced on a communication thread as soon
//! as the backward pass has finished its tensors, while the backward pass goes on with the
//! earlier layers. A bucket is a contiguous range of the flat gradient buffer, so it is read
//! back with one copy and all-reduced with one collective.

use super::Collective;
use crate::error::{Error, Result};
use crate::params::ParamLayout;
use std::ops::Range;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

/// One bucket: parameter tensors (indices in layout order) and the flat range they span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// The tensors, in layout order.
    pub tensors: Range<usize>,
    /// Elements of the flat buffer from the first tensor's start to the last one's end.
    pub flat: Range<usize>,
}

/// The buckets of a layout for a cap of `cap_bytes`: tensors taken from the last, a bucket
/// closed once it holds at least `cap_bytes` (so a tensor larger than the cap is a bucket of
/// its own), in the order the backward pass finishes them.
pub fn plan(layout: &ParamLayout, cap_bytes: usize) -> Vec<Bucket> {
    let views = layout.views();
    let mut buckets = Vec::new();
    let mut end = views.len();
    let mut bytes = 0;
    for i in (0..views.len()).rev() {
        bytes += 4 * views[i].len();
        if bytes >= cap_bytes || i == 0 {
            let last = &views[end - 1];
            buckets.push(Bucket { tensors: i..end, flat: views[i].offset..last.offset + last.len() });
            end = i;
            bytes = 0;
        }
    }
    buckets
}

/// All-reduces buckets on a thread of its own, in the order they are launched (the same on
/// every replica, since every replica runs the same backward pass).
pub struct BucketReducer {
    buckets: Vec<Bucket>,
    /// One host buffer per bucket, shared with the communication thread.
    host: Arc<Vec<Mutex<Vec<f32>>>>,
    /// Tensors of each bucket the backward pass has not finished in this step.
    remaining: Vec<usize>,
    launched: usize,
    /// Jobs for the communication thread (None once dropping: that ends the thread).
    to_worker: Option<Sender<(usize, String)>>,
    from_worker: Receiver<Result<()>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl BucketReducer {
    /// Buckets `buckets`, reduced over `comm` by a thread started here (it ends when the
    /// reducer is dropped).
    pub fn new(comm: Arc<dyn Collective>, buckets: Vec<Bucket>) -> Self {
        let host: Arc<Vec<Mutex<Vec<f32>>>> =
            Arc::new(buckets.iter().map(|b| Mutex::new(vec![0.0; b.flat.len()])).collect());
        let (to_worker, jobs) = channel::<(usize, String)>();
        let (results, from_worker) = channel();
        let shared = host.clone();
        let worker = std::thread::spawn(move || {
            for (k, what) in jobs {
                let mut buf = lock(&shared[k]);
                if results.send(comm.all_reduce_f32(&what, &mut buf)).is_err() {
                    return;
                }
            }
        });
        let remaining = buckets.iter().map(|b| b.tensors.len()).collect();
        Self { buckets, host, remaining, launched: 0, to_worker: Some(to_worker), from_worker, worker: Some(worker) }
    }

    /// The buckets.
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// Starts a step: every bucket waits for all its tensors again.
    pub fn start_step(&mut self) {
        for (r, b) in self.remaining.iter_mut().zip(&self.buckets) {
            *r = b.tensors.len();
        }
        self.launched = 0;
    }

    /// Marks `tensors` finished and puts the buckets that are now complete into `complete`
    /// (cleared first; reused by the caller, so nothing is allocated per step): each is to be
    /// read into [`BucketReducer::host`] and then [`BucketReducer::launch`]ed.
    pub fn finished(&mut self, tensors: Range<usize>, complete: &mut Vec<usize>) {
        complete.clear();
        for (k, b) in self.buckets.iter().enumerate() {
            let overlap = tensors.start.max(b.tensors.start)..tensors.end.min(b.tensors.end);
            if !overlap.is_empty() {
                self.remaining[k] -= overlap.len();
                if self.remaining[k] == 0 {
                    complete.push(k);
                }
            }
        }
    }

    /// Bucket `k`'s host buffer, to read its gradients into before launching it.
    pub fn host(&self, k: usize) -> MutexGuard<'_, Vec<f32>> {
        lock(&self.host[k])
    }

    /// Hands bucket `k` to the communication thread; `what` names it in a timeout.
    pub fn launch(&mut self, k: usize, what: String) -> Result<()> {
        self.launched += 1;
        let stopped = || Error::Distributed("the bucket all-reduce thread stopped".into());
        self.to_worker.as_ref().ok_or_else(stopped)?.send((k, what)).map_err(|_| stopped())
    }

    /// Waits for every launched bucket and copies the reduced sums into `flat` (the whole flat
    /// gradient on the host). Fails if a bucket was never launched (a tensor the backward pass
    /// did not report) or a collective failed.
    pub fn finish(&mut self, flat: &mut [f32]) -> Result<()> {
        if self.launched != self.buckets.len() {
            return Err(Error::Distributed(format!(
                "{} of {} gradient buckets were ready at the end of the backward pass",
                self.launched,
                self.buckets.len()
            )));
        }
        for _ in 0..self.launched {
            self.from_worker
                .recv()
                .map_err(|_| Error::Distributed("the bucket all-reduce thread stopped".into()))??;
        }
        self.launched = 0;
        for (b, host) in self.buckets.iter().zip(self.host.iter()) {
            flat[b.flat.clone()].copy_from_slice(&lock(host));
        }
        Ok(())
    }
}

impl Drop for BucketReducer {
    /// Ends the communication thread after the buckets in flight (it holds a handle on the
    /// group, whose last handle finalises MPI).
    fn drop(&mut self) {
        self.to_worker = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn lock(m: &Mutex<Vec<f32>>) -> MutexGuard<'_, Vec<f32>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ALIGN;

    #[test]
    fn buckets_cover_every_tensor_last_first() {
        let layout = ParamLayout::new(&[("a", vec![300]), ("b", vec![10]), ("c", vec![500]), ("d", vec![5])]).unwrap();
        let buckets = plan(&layout, 2000); // 500 floats
        let tensors: Vec<_> = buckets.iter().map(|b| b.tensors.clone()).collect();
        assert_eq!(tensors, vec![2..4, 0..2]);
        let v = layout.views();
        assert_eq!(buckets[0].flat, v[2].offset..v[3].offset + 5);
        assert_eq!(buckets[1].flat, 0..v[1].offset + 10);
        assert_eq!(plan(&layout, usize::MAX).len(), 1);
        assert_eq!(plan(&layout, 1).len(), 4);
        assert!(v[1].offset.is_multiple_of(ALIGN));
    }
}
