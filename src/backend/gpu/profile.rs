//! Per-kernel device time from timestamp queries (adapters with `TIMESTAMP_QUERY`), for
//! `downhill bench --profile`. While profiling, every dispatch gets its own compute pass whose
//! beginning and end write a timestamp; at each submit the timestamps are resolved, read back
//! (the submit waits for the device) and added to per-entry-point totals. Profiling changes how
//! a step is recorded (a pass per dispatch, a wait per submit), so it measures where the
//! device's time goes, not how fast the normal recording runs.

use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Timestamps per submit at most (two per dispatch); a fuller submit is split.
const MAX_QUERIES: u32 = 4096;

/// One entry point's share of the device time since profiling started.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// The WGSL entry point.
    pub entry: &'static str,
    /// Dispatches timed.
    pub dispatches: u64,
    /// Device nanoseconds between the beginnings and ends of their passes.
    pub ns: f64,
}

/// The query set, its resolve and read-back buffers, and what has been measured.
pub(crate) struct Profiler {
    pub(crate) query_set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// The entry point of each pair of queries written since the last submit.
    pending: Vec<&'static str>,
    totals: BTreeMap<&'static str, (u64, f64)>,
    /// Nanoseconds per timestamp tick.
    period_ns: f64,
    /// The first read-back failure, reported by [`Profiler::take`].
    failure: Option<String>,
}

impl Profiler {
    /// A profiler on `device` (which must have been opened with `TIMESTAMP_QUERY`).
    pub(crate) fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Self {
        let bytes = u64::from(MAX_QUERIES) * wgpu::QUERY_SIZE as u64;
        let buffer = |label, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        Self {
            query_set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("kernel timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: MAX_QUERIES,
            }),
            resolve: buffer("timestamps resolved", wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC),
            readback: buffer("timestamps read back", wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST),
            pending: Vec::new(),
            totals: BTreeMap::new(),
            period_ns: f64::from(queue.get_timestamp_period()),
            failure: None,
        }
    }

    /// True when no query pair is left for another dispatch before the next submit.
    pub(crate) fn full(&self) -> bool {
        (self.pending.len() as u32 + 1) * 2 > MAX_QUERIES
    }

    /// True when timestamps written since the last submit wait to be read.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Reserves the query pair of the next dispatch of `entry`: (beginning, end) indices.
    pub(crate) fn push(&mut self, entry: &'static str) -> (u32, u32) {
        let i = self.pending.len() as u32 * 2;
        self.pending.push(entry);
        (i, i + 1)
    }

    /// Records the resolve of this submit's timestamps and their copy to the read-back buffer.
    pub(crate) fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        let n = self.pending.len() as u32 * 2;
        encoder.resolve_query_set(&self.query_set, 0..n, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, u64::from(n) * wgpu::QUERY_SIZE as u64);
    }

    /// After the submit that carried [`Profiler::resolve`]: waits for the device, reads the
    /// timestamps and adds each dispatch's duration to its entry point's total.
    pub(crate) fn collect(&mut self, device: &wgpu::Device) {
        if let Err(e) = self.read(device) {
            self.failure.get_or_insert(e.to_string());
        }
        self.pending.clear();
    }

    fn read(&mut self, device: &wgpu::Device) -> Result<()> {
        let bytes = self.pending.len() as u64 * 2 * wgpu::QUERY_SIZE as u64;
        let data = super::buffers::map_read(device, &self.readback, bytes)?;
        let ticks: Vec<u64> =
            data.chunks_exact(8).map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes"))).collect();
        for (entry, pair) in self.pending.iter().zip(ticks.chunks_exact(2)) {
            let ns = pair[1].saturating_sub(pair[0]) as f64 * self.period_ns;
            let t = self.totals.entry(entry).or_insert((0, 0.0));
            t.0 += 1;
            t.1 += ns;
        }
        Ok(())
    }

    /// The totals so far, longest first, and a fresh start.
    pub(crate) fn take(&mut self) -> Result<Vec<KernelTime>> {
        if let Some(why) = self.failure.take() {
            self.totals.clear();
            return Err(Error::Gpu(why));
        }
        let mut out: Vec<KernelTime> = std::mem::take(&mut self.totals)
            .into_iter()
            .map(|(entry, (dispatches, ns))| KernelTime { entry, dispatches, ns })
            .collect();
        out.sort_by(|a, b| b.ns.total_cmp(&a.ns));
        Ok(out)
    }
}
