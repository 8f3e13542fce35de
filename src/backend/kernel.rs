//! What one entry of the op table is (the table itself is `ops::registry`): a WGSL entry point,
//! the bindings it uses, and its CPU twin with one uniform signature. [`crate::Backend::launch`]
//! runs an entry on either path: the GPU records the entry point, the CPU calls the twin on
//! the tensors' host storage. Nothing here names a layer, an optimizer or an op family.

use crate::error::{Error, Result};

/// How an entry point sees one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `var<uniform>`.
    Uniform,
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// A WGSL file of kernels, with its preludes already prepended.
#[derive(Debug)]
pub struct Shader {
    /// The file's name under `shaders/`.
    pub name: &'static str,
    /// The full source compiled into the binary (preludes, then the file).
    pub source: &'static str,
    /// The prelude's `WG` override for this file's one-invocation-per-item kernels: Rust sets it
    /// at pipeline creation and sizes [`Grid::Items`] with it. Kernels with a fixed
    /// `@workgroup_size` (tiled matmul, tree reductions) ignore it.
    pub workgroup: u32,
}

/// One storage buffer as a CPU twin sees it, in the kernel's binding order (the uniform, which
/// the twin gets as bytes, left out).
#[derive(Debug)]
pub enum CpuBuf<'a> {
    /// A `read` f32 binding.
    Read(&'a [f32]),
    /// A `read_write` f32 binding.
    Write(&'a mut [f32]),
    /// A `read` u32 binding.
    ReadU32(&'a [u32]),
    /// A `read_write` u32 binding.
    WriteU32(&'a mut [u32]),
}

/// The one signature of every CPU twin: the uniform's bytes and the storage buffers in binding
/// order. A twin decodes its params with [`params`] and its buffers with a slice pattern.
pub type CpuTwin = fn(params: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()>;

/// One entry of the op table.
#[derive(Debug)]
pub struct Kernel {
    /// The file holding the entry point.
    pub shader: &'static Shader,
    /// The entry point, named like its CPU twin.
    pub entry: &'static str,
    /// `(binding, access)` pairs, the uniform first, in the order a launch passes buffers.
    pub bindings: &'static [(u32, Access)],
    /// The CPU twin: what [`crate::Backend::launch`] runs on the CPU path.
    pub cpu: CpuTwin,
}

/// Most storage bindings one kernel has (WebGPU's default `maxStorageBuffersPerShaderStage`).
pub const MAX_STORAGE: usize = 8;

/// One storage buffer of a launch, in binding order: a tensor or a u32 buffer, read or written.
/// A written tensor is passed by shared reference: both paths write through shared storage, and
/// the launch refuses an output that shares storage with another binding.
#[derive(Debug)]
pub enum Arg<'a, T, U> {
    /// A tensor the kernel reads.
    Read(&'a T),
    /// A tensor the kernel writes (it may read it too).
    Write(&'a T),
    /// A u32 buffer the kernel reads.
    ReadU32(&'a U),
    /// A u32 buffer the kernel writes.
    WriteU32(&'a mut U),
}

impl<T, U> Arg<'_, T, U> {
    /// True for the two written kinds.
    pub fn writes(&self) -> bool {
        matches!(self, Arg::Write(_) | Arg::WriteU32(_))
    }
}

/// How many workgroups a launch runs (the CPU path ignores it: a twin loops over its params).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// One invocation per item at the shader's `WG`, folded into 2-D past the adapter's limit
    /// (the shaders fold `num_workgroups.x` back in).
    Items(usize),
    /// `items` invocations at `per_group` per workgroup, folded as [`Grid::Items`].
    Blocks {
        /// Invocations needed.
        items: usize,
        /// Invocations per workgroup (the kernel's fixed `@workgroup_size`).
        per_group: u32,
    },
    /// Exactly these workgroup counts (x, y, z); each must be within the adapter's limit.
    Fixed(u32, u32, u32),
}

/// Checks a launch's buffers against the kernel's bindings: as many, and each written exactly
/// where the binding is `read_write`. A mismatch is a bug in the op, reported as an error.
pub fn check_args<T, U>(kernel: &Kernel, args: &[Arg<'_, T, U>]) -> Result<()> {
    let storage = &kernel.bindings[1..];
    if args.len() != storage.len() || args.len() > MAX_STORAGE {
        return Err(Error::InvalidArgument {
            what: kernel.entry.into(),
            detail: format!("launched with {} buffers; the kernel binds {}", args.len(), storage.len()),
        });
    }
    for (i, (arg, &(binding, access))) in args.iter().zip(storage).enumerate() {
        if arg.writes() != (access == Access::ReadWrite) {
            return Err(Error::InvalidArgument {
                what: kernel.entry.into(),
                detail: format!(
                    "buffer {i} (binding {binding}) is passed as {arg_kind} but bound {access:?}",
                    arg_kind = if arg.writes() { "written" } else { "read" }
                ),
            });
        }
    }
    Ok(())
}

/// A twin's params decoded from the uniform's bytes (which must be exactly one `P`).
pub fn params<P: bytemuck::Pod>(entry: &'static str, bytes: &[u8]) -> Result<P> {
    bytemuck::try_pod_read_unaligned(bytes).map_err(|e| Error::InvalidArgument {
        what: entry.into(),
        detail: format!("params of {} bytes do not decode: {e}", bytes.len()),
    })
}

/// The error of a twin handed buffers its slice pattern does not match (a bug in the op).
pub fn bad_buffers(entry: &'static str, bufs: &[CpuBuf<'_>]) -> Error {
    Error::InvalidArgument {
        what: entry.into(),
        detail: format!("unexpected buffers for the CPU twin: {} given", bufs.len()),
    }
}
