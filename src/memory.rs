//! Memory a model needs, estimated before anything is allocated, against what the machine has:
//! a huge layer size or a tampered checkpoint gets an error saying how much was asked and how
//! much there is, never an allocation failure that aborts the process.

use crate::error::{Error, Result};

/// Bytes the machine can still give this process: `MemAvailable`, lowered by a cgroup limit
/// when one is set. None where that cannot be read (non-Linux).
pub fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib =
        meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    let mut bytes = kib * 1024;
    let read = |p: &str| std::fs::read_to_string(p).ok().and_then(|t| t.trim().parse::<u64>().ok());
    if let (Some(max), Some(current)) = (read("/sys/fs/cgroup/memory.max"), read("/sys/fs/cgroup/memory.current")) {
        bytes = bytes.min(max.saturating_sub(current));
    }
    Some(bytes)
}

/// Parameters of an MLP with these layer sizes (inputs, hidden…, outputs), in f64 so no size
/// overflows.
pub fn mlp_parameters(sizes: &[usize]) -> f64 {
    sizes.windows(2).map(|w| w[0] as f64 * w[1] as f64 + w[1] as f64).sum()
}

/// Bytes a model of `sizes` needs: `copies` f32 copies of its parameters (weights, gradients,
/// optimizer state, host copies for initialisation and checkpoints) and four activation-sized
/// buffers per layer for `batch_rows` rows.
pub fn mlp_bytes(sizes: &[usize], batch_rows: usize, copies: f64) -> f64 {
    let widths: f64 = sizes.iter().map(|&s| s as f64).sum();
    4.0 * (copies * mlp_parameters(sizes) + 4.0 * batch_rows as f64 * widths)
}

/// Fails when `bytes` plus `data_bytes` (a further copy of the data: the resident feed's)
/// exceed the memory available; `what` names the model in the error. Where the available
/// memory cannot be read, only what no address space holds is refused.
pub fn check_fits(what: &str, bytes: f64, data_bytes: f64) -> Result<()> {
    const MIB: f64 = 1024.0 * 1024.0;
    const GIB: f64 = 1024.0 * MIB;
    let show = |b: f64| if b >= GIB { format!("{:.1} GiB", b / GIB) } else { format!("{:.0} MiB", b / MIB) };
    let need = bytes + data_bytes;
    let limit = available_bytes().map_or(isize::MAX as f64, |a| a as f64);
    if need > limit {
        return Err(Error::InvalidArgument {
            what: "memory".into(),
            detail: format!(
                "{what} needs about {} ({} for the model, {} for the data) but this machine has {} available; \
                 use smaller layers or batches",
                show(need),
                show(bytes),
                show(data_bytes),
                show(limit)
            ),
        });
    }
    Ok(())
}
