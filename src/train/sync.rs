//! The trainer as one replica of a data-parallel run: the flat gradient averaged over the
//! replicas once per step, whole after the backward pass or in buckets during it.

use super::Trainer;
use crate::backend::Backend;
use crate::distributed::buckets::{self, BucketReducer};
use crate::distributed::Collective;
use crate::error::Result;
use crate::tensor::Tensor;
use std::sync::Arc;

/// A replica's part in data-parallel training: its group and the host buffer the flat
/// gradient is read into, all-reduced in, and written back from (reused every step).
pub(super) struct GradSync<B: Backend> {
    pub(super) comm: Arc<dyn Collective>,
    host: Tensor,
    stats: AllReduceStats,
    /// With `bucket_bytes`: the buckets, their views of the flat gradient, and the list of
    /// buckets a layer completed (reused).
    pub(super) buckets: Option<(BucketReducer, Vec<B::Tensor>, Vec<usize>)>,
}

/// What the per-step gradient all-reduces of a data-parallel run cost this replica.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AllReduceStats {
    /// All-reduces of the flat gradient (one per step, plus Sophia-G's Hessian estimates).
    pub calls: u64,
    /// Bytes of one step's all-reduce (the flat gradient, float32).
    pub bytes: u64,
    /// Buckets each step's all-reduce is split into, during the backward pass (0: the whole
    /// buffer after it).
    pub buckets: usize,
    /// Seconds in the read-back of the gradient (on a GPU this also waits for the step's
    /// forward and backward to finish).
    pub read_s: f64,
    /// Seconds inside the collective itself: the exchange, and the wait for the slowest replica
    /// (with buckets: the wait after the backward pass for those still in flight, the part
    /// the overlap did not hide).
    pub collective_s: f64,
    /// Seconds writing the averaged gradient back.
    pub write_s: f64,
}

impl<B: Backend> Trainer<B> {
    /// Makes this trainer one replica of `comm`'s data-parallel group (nothing changes for a
    /// group of one): every step all-reduces the flat gradient (averaged over the replicas)
    /// before the penalties, clipping and update; the loss read-backs and [`Trainer::evaluate`]
    /// sum over the replicas; dropout and Sophia-G's label sampling draw a stream per replica.
    pub fn set_collective(&mut self, be: &B, comm: Arc<dyn Collective>) -> Result<()> {
        if comm.size() <= 1 {
            self.sync = None;
            return Ok(());
        }
        self.model.set_dropout_stream(comm.rank() as u64);
        let shape = be.shape(self.model.grads.flat()).to_vec();
        let stats = AllReduceStats { bytes: 4 * shape.iter().product::<usize>() as u64, ..Default::default() };
        let buckets = match self.config.bucket_bytes {
            0 => None,
            cap => {
                let plan = buckets::plan(&self.model.spec().layout()?, cap);
                let flat = self.model.grads.flat();
                let views = plan.iter().map(|b| be.view(flat, b.flat.start, &[b.flat.len()])).collect::<Result<_>>()?;
                Some((BucketReducer::new(comm.clone(), plan), views, Vec::new()))
            }
        };
        let stats = AllReduceStats { buckets: buckets.as_ref().map_or(0, |b| b.0.buckets().len()), ..stats };
        self.sync = Some(GradSync { comm, host: Tensor::zeros(&shape), stats, buckets });
        Ok(())
    }

    /// The backward pass of a step's last micro-batch with bucketing: each bucket is read back
    /// and handed to the communication thread as soon as its layers are done.
    pub(super) fn backward_bucketed(&mut self, be: &B, bi: usize, accumulate: bool) -> Result<()> {
        let step = self.steps + 1;
        let sync = self.sync.as_mut().expect("bucketing needs a group");
        let (reducer, views, complete) = sync.buckets.as_mut().expect("called with buckets");
        reducer.start_step();
        let mut read_s = 0.0;
        let x = self.feed.batch(bi)?.0;
        self.model.backward_with(be, x, accumulate, &mut |tensors| {
            reducer.finished(tensors, complete);
            for &k in complete.iter() {
                let started = std::time::Instant::now();
                be.read_into(&views[k], &mut reducer.host(k))?;
                read_s += started.elapsed().as_secs_f64();
                reducer.launch(k, format!("the all-reduce of gradient bucket {k} of step {step}"))?;
            }
            Ok(())
        })?;
        sync.stats.read_s += read_s;
        Ok(())
    }

    /// Waits for the buckets of this step and writes their mean over the replicas back.
    pub(super) fn finish_buckets(&mut self, be: &B) -> Result<()> {
        let sync = self.sync.as_mut().expect("bucketing needs a group");
        let (reducer, _, _) = sync.buckets.as_mut().expect("called with buckets");
        let started = std::time::Instant::now();
        reducer.finish(sync.host.data_mut())?;
        let reduced = std::time::Instant::now();
        let inv = 1.0 / sync.comm.size() as f32;
        sync.host.data_mut().iter_mut().for_each(|g| *g *= inv);
        be.write(self.model.grads.flat_mut(), &sync.host)?;
        let s = &mut sync.stats;
        s.calls += 1;
        s.collective_s += (reduced - started).as_secs_f64();
        s.write_s += reduced.elapsed().as_secs_f64();
        Ok(())
    }

    /// True when this step's gradient goes through buckets.
    pub(super) fn bucketed(&self) -> bool {
        self.sync.as_ref().is_some_and(|s| s.buckets.is_some())
    }

    /// What the gradient all-reduces have cost so far (None without a group).
    pub fn all_reduce_stats(&self) -> Option<AllReduceStats> {
        self.sync.as_ref().map(|s| s.stats)
    }

    /// The data-parallel group, when there is one.
    pub fn collective(&self) -> Option<&Arc<dyn Collective>> {
        self.sync.as_ref().map(|s| &s.comm)
    }

    /// Replaces the flat gradient by its mean over the replicas: one read-back, one
    /// all-reduce, one upload. A no-op without a group.
    pub(super) fn all_reduce_grads(&mut self, be: &B, what: &str) -> Result<()> {
        let Some(sync) = self.sync.as_mut() else { return Ok(()) };
        let grads = self.model.grads.flat_mut();
        let started = std::time::Instant::now();
        be.read_into(grads, sync.host.data_mut())?;
        let read = std::time::Instant::now();
        sync.comm.all_reduce_f32(what, sync.host.data_mut())?;
        let reduced = std::time::Instant::now();
        let inv = 1.0 / sync.comm.size() as f32;
        sync.host.data_mut().iter_mut().for_each(|g| *g *= inv);
        be.write(grads, &sync.host)?;
        let s = &mut sync.stats;
        s.calls += 1;
        s.read_s += (read - started).as_secs_f64();
        s.collective_s += (reduced - read).as_secs_f64();
        s.write_s += reduced.elapsed().as_secs_f64();
        Ok(())
    }
}
