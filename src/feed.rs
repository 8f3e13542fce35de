//! Feeding: where a training step's batch comes from, and the reused device buffers it lands
//! in. `Trainer` asks `Feed::load` for a batch and gets the index of the filled buffers.
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
use crate::data::{gather_rows, Dataset, Targets};
use crate::error::{Error, Result};
use crate::loss::Target;
use crate::ops::gather;
use crate::tensor::Tensor;
use std::str::FromStr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Where batches come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedMode {
    /// Streaming on the CPU path (no second copy of the data in host memory); on a GPU,
    /// resident when the data fits the device's limits (see [`choose_mode`]).
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
    pub(crate) labels: Option<B::U32Buffer>,
    pub(crate) values: Option<B::Tensor>,
    pub(crate) perm: B::U32Buffer,
}

impl<B: Backend> ResidentSet<B> {
    /// Uploads every row of `data` once.
    pub(crate) fn upload(be: &B, data: &Dataset) -> Result<Self> {
        let n = data.len();
        let (labels, values) = match &data.targets {
            Targets::Labels { labels, classes } => (Some(be.upload_labels(labels, *classes)?), None),
            Targets::Values(t) => (None, Some(be.upload(t)?)),
        };
        Ok(Self { key: Self::key_of(data), x: be.upload(&data.x)?, labels, values, perm: be.upload_u32(&vec![0; n])? })
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

/// Where one micro-batch comes from.
pub(crate) enum Load<'a> {
    /// Rows of the host data set, gathered and uploaded now.
    Rows(&'a [usize]),
    /// Rows `offset..offset + rows` of the uploaded permutation of the resident set.
    Resident {
        /// First row of the permutation.
        offset: usize,
        /// Rows in the batch.
        rows: usize,
    },
    /// A batch the streaming producer prepared.
    Staged(HostBatch),
}

/// Device buffers for one batch size, reused every step.
struct BatchBuffers<B: Backend> {
    rows: usize,
    x: B::Tensor,
    values: Option<B::Tensor>,
    labels: Option<B::U32Buffer>,
}

/// The feeding side of a trainer: the resident set (when uploaded) and one set of input
/// buffers per batch size, created on first use and reused.
pub(crate) struct Feed<B: Backend> {
    buffers: Vec<BatchBuffers<B>>,
    resident: Option<ResidentSet<B>>,
    /// The mode the last span of steps used.
    pub(crate) last_mode: Option<FeedMode>,
}

fn no_buffer(what: &str) -> Error {
    Error::InvalidArgument { what: "feed".into(), detail: format!("the batch has no {what} buffer") }
}

impl<B: Backend> Feed<B> {
    /// An empty feed.
    pub(crate) fn new() -> Self {
        Self { buffers: Vec::new(), resident: None, last_mode: None }
    }

    fn buffers_for(&mut self, be: &B, data: &Dataset, rows: usize) -> Result<usize> {
        if let Some(i) = self.buffers.iter().position(|b| b.rows == rows) {
            return Ok(i);
        }
        let (values, labels) = match &data.targets {
            Targets::Labels { classes, .. } => (None, Some(be.upload_labels(&vec![0; rows], *classes)?)),
            Targets::Values(t) => (Some(be.zeros(&[rows, t.shape()[1]])?), None),
        };
        self.buffers.push(BatchBuffers { rows, x: be.zeros(&[rows, data.features()])?, values, labels });
        Ok(self.buffers.len() - 1)
    }

    /// Uploads `data` once (a later call with the same data keeps it) and this epoch's row
    /// `order`, for [`Load::Resident`] batches.
    pub(crate) fn prepare_resident(&mut self, be: &B, data: &Dataset, order: &[usize]) -> Result<()> {
        if !self.resident.as_ref().is_some_and(|r| r.holds(data)) {
            self.resident = Some(ResidentSet::upload(be, data)?);
        }
        let perm: Vec<u32> = order.iter().map(|&i| i as u32).collect();
        let res = self.resident.as_mut().ok_or_else(|| no_buffer("resident"))?;
        // Row indices, checked here: the device gathers without checking.
        crate::backend::checks::indices("epoch order", &perm, data.len())?;
        if perm.len() == data.len() {
            be.write_u32(&mut res.perm, &perm)
        } else {
            be.upload_u32(&perm).map(|p| res.perm = p)
        }
    }

    /// Fills the reused input buffers of the batch's size; returns their index and, for a staged
    /// batch, the staging buffer to hand back to the producer.
    pub(crate) fn load(&mut self, be: &B, data: &Dataset, load: Load<'_>) -> Result<(usize, Option<HostBatch>)> {
        match load {
            Load::Rows(idx) => {
                let bi = self.buffers_for(be, data, idx.len())?;
                let buf = &mut self.buffers[bi];
                be.write(&mut buf.x, &gather_rows(&data.x, idx)?)?;
                match &data.targets {
                    Targets::Labels { labels, classes } => {
                        let batch: Vec<u32> = idx.iter().map(|&i| labels[i]).collect();
                        be.write_labels(buf.labels.as_mut().ok_or_else(|| no_buffer("label"))?, &batch, *classes)?;
                    }
                    Targets::Values(t) => {
                        be.write(buf.values.as_mut().ok_or_else(|| no_buffer("value"))?, &gather_rows(t, idx)?)?
                    }
                }
                Ok((bi, None))
            }
            Load::Resident { offset, rows } => {
                let bi = self.buffers_for(be, data, rows)?;
                let res = self.resident.as_ref().ok_or_else(|| no_buffer("resident"))?;
                let buf = &mut self.buffers[bi];
                gather::gather_rows(be, &mut buf.x, &res.x, &res.perm, offset)?;
                match (&res.labels, &res.values, buf.labels.as_mut(), buf.values.as_mut()) {
                    (Some(l), _, Some(out), _) => gather::gather_labels(be, out, l, &res.perm, offset)?,
                    (None, Some(v), _, Some(out)) => gather::gather_rows(be, out, v, &res.perm, offset)?,
                    _ => return Err(no_buffer("target")),
                }
                Ok((bi, None))
            }
            Load::Staged(b) => {
                let bi = self.buffers_for(be, data, b.rows)?;
                let buf = &mut self.buffers[bi];
                let x = Tensor::from_vec(&[b.rows, data.features()], b.x)?;
                be.write(&mut buf.x, &x)?;
                let x = x.into_vec();
                let (labels, values) = match &data.targets {
                    Targets::Labels { classes, .. } => {
                        be.write_labels(buf.labels.as_mut().ok_or_else(|| no_buffer("label"))?, &b.labels, *classes)?;
                        (b.labels, b.values)
                    }
                    Targets::Values(_) => {
                        let v = Tensor::from_vec(&[b.rows, data.target_width()], b.values)?;
                        be.write(buf.values.as_mut().ok_or_else(|| no_buffer("value"))?, &v)?;
                        (b.labels, v.into_vec())
                    }
                };
                Ok((bi, Some(HostBatch { rows: b.rows, x, labels, values })))
            }
        }
    }

    /// The input buffer of batch `bi`, to transform in place (augmentation).
    pub(crate) fn input_mut(&mut self, bi: usize) -> Result<&mut B::Tensor> {
        self.buffers.get_mut(bi).map(|b| &mut b.x).ok_or_else(|| no_buffer("input"))
    }

    /// The inputs and targets of loaded buffers `bi`.
    pub(crate) fn batch(&self, bi: usize) -> Result<(&B::Tensor, Target<'_, B>)> {
        let buf = &self.buffers[bi];
        let target = match (&buf.labels, &buf.values) {
            (Some(l), _) => Target::Labels(l),
            (None, Some(v)) => Target::Values(v),
            _ => return Err(no_buffer("target")),
        };
        Ok((&buf.x, target))
    }
}
