//! The host-side batch scheduler: where a training epoch's batches come from.
//!
//! - **Resident**: the data set is uploaded once; each epoch uploads only its permutation, and
//!   every batch is gathered on the device by index (`gather_rows` / `gather_labels`).
//! - **Streaming**: a producer thread gathers upcoming batches on the host into a bounded ring
//!   of reusable staging buffers while the device computes; the consumer uploads each into the
//!   step's input buffers and hands the staging buffer back. A full ring blocks the producer
//!   (back-pressure); buffers are recycled, so steps allocate nothing.
//!
//! Both modes see the same batches in the same order for the same permutation.

use crate::backend::Backend;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use std::str::FromStr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Where batches come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedMode {
    /// Pick from the data size and the device's limits (see [`choose_mode`]).
    Auto,
    /// Upload once, gather batches on the device.
    Resident,
    /// Producer thread + staging ring, one upload per batch.
    Streaming,
}

impl FromStr for FeedMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(FeedMode::Auto),
            "resident" => Ok(FeedMode::Resident),
            "streaming" => Ok(FeedMode::Streaming),
            other => Err(Error::InvalidArgument {
                what: "feed".into(),
                detail: format!("unknown mode {other:?}; expected auto, resident or streaming"),
            }),
        }
    }
}

/// Default device-memory budget for a resident data set (wgpu does not report memory sizes).
pub const RESIDENT_BUDGET_BYTES: u64 = 1 << 30;

/// Resident when features and targets fit in one storage binding and under `budget` bytes;
/// streaming otherwise. `binding_limit` is the device's max storage binding size.
pub fn choose_mode(data: &Dataset, binding_limit: u64, budget: u64) -> FeedMode {
    let x = (data.x.len() * 4) as u64;
    let t = (data.len() * data.target_width().max(1) * 4) as u64;
    if x <= binding_limit && t <= binding_limit && x + t <= budget {
        FeedMode::Resident
    } else {
        FeedMode::Streaming
    }
}

/// A data set on the device plus the epoch's permutation.
pub(crate) struct ResidentSet<B: Backend> {
    /// Identity of the host data this copies (address, rows, features).
    key: (usize, usize, usize),
    pub(crate) x: B::Tensor,
    pub(crate) labels: Option<B::Labels>,
    pub(crate) values: Option<B::Tensor>,
    pub(crate) perm: B::Labels,
}

impl<B: Backend> ResidentSet<B> {
    /// Uploads every row of `data` once.
    pub(crate) fn upload(be: &B, data: &Dataset) -> Result<Self> {
        let n = data.len();
        let (labels, values) = match &data.targets {
            Targets::Labels { labels, classes } => (Some(be.upload_labels(labels, *classes)?), None),
            Targets::Values(t) => (None, Some(be.upload(t)?)),
        };
        Ok(Self {
            key: Self::key_of(data),
            x: be.upload(&data.x)?,
            labels,
            values,
            perm: be.upload_labels(&vec![0; n], n.max(1))?,
        })
    }

    fn key_of(data: &Dataset) -> (usize, usize, usize) {
        (data.x.data().as_ptr() as usize, data.len(), data.features())
    }

    /// True when this copy was uploaded from `data` (the same host buffer).
    pub(crate) fn holds(&self, data: &Dataset) -> bool {
        self.key == Self::key_of(data)
    }
}

/// One batch prepared on the host by the producer thread.
pub(crate) struct HostBatch {
    pub(crate) rows: usize,
    pub(crate) x: Vec<f32>,
    pub(crate) labels: Vec<u32>,
    pub(crate) values: Vec<f32>,
}

/// Staging buffers in flight between the producer and the consumer.
pub const RING_DEPTH: usize = 3;

/// The consumer's side of a streaming epoch.
pub(crate) struct Stream {
    pub(crate) full: Receiver<HostBatch>,
    pub(crate) free: SyncSender<HostBatch>,
}

/// Starts the producer for `batches` (row index lists) on `scope`; returns the consumer side.
pub(crate) fn start_stream<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    data: &'scope Dataset,
    batches: Vec<&'scope [usize]>,
) -> Stream {
    let (full_tx, full_rx) = sync_channel::<HostBatch>(RING_DEPTH);
    let (free_tx, free_rx) = sync_channel::<HostBatch>(RING_DEPTH);
    let max_rows = batches.iter().map(|b| b.len()).max().unwrap_or(0);
    let (f, w) = (data.features(), data.target_width());
    for _ in 0..RING_DEPTH {
        let ring = HostBatch {
            rows: 0,
            x: Vec::with_capacity(max_rows * f),
            labels: Vec::with_capacity(max_rows),
            values: Vec::with_capacity(max_rows * w),
        };
        free_tx.send(ring).expect("the ring has room for its own buffers");
    }
    scope.spawn(move || {
        for idx in batches {
            // Blocks while every staging buffer is in flight: back-pressure.
            let Ok(mut b) = free_rx.recv() else { return };
            b.rows = idx.len();
            b.x.clear();
            b.labels.clear();
            b.values.clear();
            let x = data.x.data();
            for &i in idx {
                b.x.extend_from_slice(&x[i * f..(i + 1) * f]);
            }
            match &data.targets {
                Targets::Labels { labels, .. } => b.labels.extend(idx.iter().map(|&i| labels[i])),
                Targets::Values(t) => {
                    for &i in idx {
                        b.values.extend_from_slice(&t.data()[i * w..(i + 1) * w]);
                    }
                }
            }
            if full_tx.send(b).is_err() {
                return; // the consumer stopped (an error); nothing more to do
            }
        }
    });
    Stream { full: full_rx, free: free_tx }
}
