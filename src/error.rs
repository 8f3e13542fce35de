//! One error type for everything a caller of downhill can get wrong, or a device can refuse.

use std::fmt;

/// Every failure the library reports. Messages name the op or file, what was expected and what was found.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two tensors given to one op do not fit together.
    #[error("{op}: shape mismatch: {detail}")]
    Shape {
        /// The op that was called, e.g. `matmul_nt`.
        op: &'static str,
        /// What was expected and what was found, with every shape involved.
        detail: String,
    },
    /// A value outside its allowed range (a class label, a size, a hyperparameter).
    #[error("{what}: {detail}")]
    InvalidArgument {
        /// The argument or op concerned.
        what: String,
        /// What was expected and what was found.
        detail: String,
    },
    /// A tensor larger than the adapter can bind in one storage binding.
    #[error(
        "tensor of {bytes} bytes ({shape:?}) exceeds the adapter's max storage binding size of {limit} bytes; \
         use smaller batches or the CPU path"
    )]
    TooLarge {
        /// Shape of the tensor that was refused.
        shape: Vec<usize>,
        /// Its size in bytes.
        bytes: u64,
        /// The adapter's `max_storage_buffer_binding_size`.
        limit: u64,
    },
    /// No GPU adapter could be found or used.
    #[error("no usable GPU: {0}")]
    NoGpu(String),
    /// The GPU reported an error (validation, out of memory, device lost).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// A data, checkpoint or config file is missing, unreadable or malformed.
    #[error("{path}: {detail}")]
    File {
        /// The file (or folder) concerned.
        path: String,
        /// What is wrong: the record or field, what was expected and what was found.
        detail: String,
    },
    /// Training stopped because the loss or the gradients stopped being finite.
    #[error("{0}")]
    Diverged(String),
    /// Replicas of a data-parallel run could not work together: a collective timed out or
    /// another replica failed, the replicas run different binaries or settings, or the launch
    /// needs a feature this build lacks.
    #[error("{0}")]
    Distributed(String),
    /// This replica stopped because another replica of its data-parallel run failed; the
    /// message carries that replica's error (the cause to report).
    #[error("{0}")]
    ReplicaStopped(String),
    /// A caller's callback asked the run to stop.
    #[error("stopped by the caller at step {0}")]
    Interrupted(u64),
    /// A caller's callback asked the run to stop after checkpointing (as Ctrl-C does); the run
    /// continues from `checkpoint` with `resume`.
    #[error("stopped at step {step}; checkpoint written to {}", checkpoint.display())]
    Paused {
        /// Optimizer steps done.
        step: u64,
        /// The checkpoint of that position.
        checkpoint: std::path::PathBuf,
    },
}

/// Builds an [`Error::File`] for `path`.
pub(crate) fn file_error(path: impl AsRef<std::path::Path>, detail: impl Into<String>) -> Error {
    Error::File { path: path.as_ref().display().to_string(), detail: detail.into() }
}

/// Shorthand used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Formats a shape as `[a, b]` for error messages.
pub(crate) struct ShapeDisplay<'a>(pub &'a [usize]);

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Builds an [`Error::Shape`] for `op` with a formatted detail.
pub(crate) fn shape_error(op: &'static str, detail: impl Into<String>) -> Error {
    Error::Shape { op, detail: detail.into() }
}
