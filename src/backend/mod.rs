//! The op list every path implements, with identical names: `cpu` (the reference)
//! and `gpu` (wgpu + WGSL). Layers, losses and training are written once against [`Backend`].

pub(crate) mod checks;
pub mod cpu;
pub mod gpu;
pub mod kernel;

use crate::error::Result;
use crate::tensor::Tensor;
use kernel::{Arg, Grid, Kernel};

/// Something with one value per path, from which each backend picks its own
/// ([`Backend::pick`]): how code written against trait objects (a model's `dyn Layer`s) reaches
/// code generic over the backend without naming the concrete paths above this module.
pub trait PerPath {
    /// What the value is on path `B`.
    type On<B: Backend>: ?Sized;
    /// The CPU path's value.
    fn on_cpu(&self) -> &Self::On<cpu::CpuBackend>;
    /// The GPU path's value.
    fn on_gpu(&self) -> &Self::On<gpu::GpuBackend>;
}

/// Counters of a recording path (see [`Backend::recording_stats`]); differences between two
/// reads give the cost of what ran in between.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordingStats {
    /// Kernel dispatches recorded.
    pub dispatches: u64,
    /// `queue.submit` calls.
    pub submits: u64,
    /// Host nanoseconds spent recording dispatches (pipelines, bind groups, the pass) and in
    /// `queue.submit`: the per-op CPU overhead, not the device's time.
    pub host_ns: u64,
}

/// Where an op runs, with everything a caller needs to move data in and out.
///
/// Conventions (as llm.c): outputs first, then inputs; matrices are row-major `[rows, cols]`;
/// a vector `[n]` is a single row. Ops on the GPU path are *recorded* and run at the next
/// [`Backend::sync`] or read-back; ops on the CPU path run at once. Every op checks shapes
/// and returns [`crate::Error::Shape`] naming the op and the shapes it was given. An op's output
/// may not share storage with its inputs (views of one flat buffer included): that is an error
/// on both paths.
pub trait Backend: 'static {
    /// A tensor living on this path (host memory or a device buffer).
    type Tensor;
    /// A buffer of u32 on this path: class labels, a permutation of rows, an optimizer's
    /// tensor table.
    type U32Buffer;

    /// This path's value of `x` (for a `dyn Layer`: its passes on this path, the bridge from a
    /// trait object to its generic code).
    fn pick<X: PerPath + ?Sized>(x: &X) -> &X::On<Self>
    where
        Self: Sized;

    /// A one-line description of where ops run, e.g. `cpu (gemm, 2 threads)` or `gpu: NVIDIA H100 (Vulkan)`.
    fn describe(&self) -> String;

    /// Copies a host tensor onto this path.
    fn upload(&self, host: &Tensor) -> Result<Self::Tensor>;
    /// A zero-filled tensor of `shape` on this path.
    fn zeros(&self, shape: &[usize]) -> Result<Self::Tensor>;
    /// Copies u32 data onto this path.
    fn upload_u32(&self, data: &[u32]) -> Result<Self::U32Buffer>;
    /// Overwrites an existing u32 buffer with as many new values.
    fn write_u32(&self, dst: &mut Self::U32Buffer, data: &[u32]) -> Result<()>;
    /// Copies class `labels` onto this path after checking each is below `classes`.
    fn upload_labels(&self, labels: &[u32], classes: usize) -> Result<Self::U32Buffer> {
        checks::labels(labels, classes)?;
        self.upload_u32(labels)
    }
    /// Overwrites existing labels with as many new ones, each below `classes`.
    fn write_labels(&self, dst: &mut Self::U32Buffer, labels: &[u32], classes: usize) -> Result<()> {
        checks::labels(labels, classes)?;
        self.write_u32(dst, labels)
    }
    /// Overwrites an existing tensor with host data of the same shape.
    fn write(&self, dst: &mut Self::Tensor, host: &Tensor) -> Result<()>;
    /// Runs everything recorded so far and copies `t` back to the host.
    fn read(&self, t: &Self::Tensor) -> Result<Tensor>;
    /// [`Backend::read`] into `out` (as long as `t`), for read-backs that recur every step.
    fn read_into(&self, t: &Self::Tensor, out: &mut [f32]) -> Result<()> {
        let host = self.read(t)?;
        checks::same_len("read_into", out.len(), host.data().len())?;
        out.copy_from_slice(host.data());
        Ok(())
    }
    /// How many u32s a u32 buffer holds.
    fn u32_len(&self, data: &Self::U32Buffer) -> usize;
    /// A u32 buffer back to the host (labels a kernel wrote, such as sampled ones).
    fn read_u32(&self, data: &Self::U32Buffer) -> Result<Vec<u32>>;
    /// Runs everything recorded so far and waits for it.
    fn sync(&self) -> Result<()>;
    /// What recording work has cost the host so far, on paths that record (the GPU); `None`
    /// on the CPU path, whose ops run at once.
    fn recording_stats(&self) -> Option<RecordingStats> {
        None
    }
    /// The shape of a tensor on this path.
    fn shape<'a>(&self, t: &'a Self::Tensor) -> &'a [usize];

    /// The largest tensor one op can take, in bytes (the GPU's storage binding limit).
    fn max_binding_bytes(&self) -> u64;
    /// True when tensors live in host memory (the CPU path), where a resident copy of a data
    /// set would only duplicate the host's: `--feed auto` streams there.
    fn host_memory(&self) -> bool {
        false
    }
    /// Elements a view's offset must be a multiple of (1 on the CPU path; on the GPU path the
    /// device's `min_storage_buffer_offset_alignment` in f32s, 64 at most).
    fn view_alignment(&self) -> usize;
    /// A tensor of `shape` sharing `t`'s storage from element `offset` of `t` on: how a model's
    /// parameters, gradients and optimizer states each live in one flat buffer.
    fn view(&self, t: &Self::Tensor, offset: usize, shape: &[usize]) -> Result<Self::Tensor>;

    /// A scratch tensor of `len` elements, created once per length and reused (a two-pass
    /// reduction's partials). Ops recorded in order may share it: each sees the previous one's
    /// writes.
    fn scratch(&self, len: usize) -> Result<Self::Tensor>;

    /// Runs one entry of the op table (`ops::registry`) with the uniform `params` and the storage
    /// buffers `args` in the kernel's binding order: recorded on the GPU path (over `grid`), run
    /// at once by the kernel's CPU twin on the CPU path. Refuses buffers that do not match the
    /// kernel's bindings and an output sharing storage with another buffer.
    fn launch(
        &self,
        kernel: &'static Kernel,
        params: &[u8],
        args: &mut [Arg<'_, Self::Tensor, Self::U32Buffer>],
        grid: Grid,
    ) -> Result<()>;

    // ---- matmul ----

    // ---- bias ----

    // ---- activations ----

    // ---- dropout ----

    // ---- losses (mean reduction, forward and backward fused) ----

    // ---- reductions (to a one-element `out`) ----

    // ---- batches from a resident data set ----

    // ---- divergence guard ----

    // ---- optimizer ----

    // ---- elementwise utilities ----
    // ---- convolution (src/ops/conv; the matmuls are batched over groups) ----

    // ---- pooling (src/ops/pool) ----

    // ---- normalisation (src/ops/norm) ----

    // ---- embedding (src/ops/embedding) ----

    // ---- explorer surfaces ----

    // ---- per-tensor norms ----

    // ---- sampling ----

    // ---- per-tensor optimizers ----
}
