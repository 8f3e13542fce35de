//! `Backend::launch` on the CPU path: lock each buffer's host storage (read or write, as the
//! kernel binds it), hand the twin the slices in binding order, run it at once. The guards and
//! slices live in fixed arrays: a launch allocates nothing.

use super::CpuTensor;
use crate::backend::kernel::{check_args, Arg, CpuBuf, Kernel, MAX_STORAGE};
use crate::error::{Error, Result};
use parking_lot::{RwLockReadGuard, RwLockWriteGuard};

/// The lock a launch holds on one tensor's storage.
enum Guard<'a> {
    /// A u32 buffer (borrowed directly, no lock).
    None,
    /// A tensor the kernel reads.
    Read(RwLockReadGuard<'a, Vec<f32>>),
    /// A tensor the kernel writes.
    Write(RwLockWriteGuard<'a, Vec<f32>>),
}

/// Runs `kernel`'s CPU twin on `args`.
pub(crate) fn launch(kernel: &'static Kernel, params: &[u8], args: &mut [Arg<'_, CpuTensor, Vec<u32>>]) -> Result<()> {
    let twin = kernel.cpu;
    check_args(kernel, args)?;
    check_no_alias(kernel.entry, args)?;
    // Read locks first, then write locks: outputs never share storage with anything (checked
    // above), and reads of one storage by several views take the recursive read lock.
    let mut guards: [Guard<'_>; MAX_STORAGE] = std::array::from_fn(|_| Guard::None);
    for (guard, arg) in guards.iter_mut().zip(args.iter()) {
        if let Arg::Read(t) = arg {
            *guard = Guard::Read(t.storage.read_recursive());
        }
    }
    for (guard, arg) in guards.iter_mut().zip(args.iter()) {
        if let Arg::Write(t) = arg {
            *guard = Guard::Write(t.storage.write());
        }
    }
    let n = args.len();
    let mut bufs: [CpuBuf<'_>; MAX_STORAGE] = std::array::from_fn(|_| CpuBuf::Read(&[]));
    for ((buf, guard), arg) in bufs.iter_mut().zip(guards.iter_mut()).zip(args.iter_mut()) {
        *buf = match (guard, arg) {
            (Guard::Read(g), Arg::Read(t)) => CpuBuf::Read(&g[t.range()]),
            (Guard::Write(g), Arg::Write(t)) => CpuBuf::Write(&mut g[t.range()]),
            (_, Arg::ReadU32(u)) => CpuBuf::ReadU32(u),
            (_, Arg::WriteU32(u)) => CpuBuf::WriteU32(u),
            _ => unreachable!("each tensor's guard was taken above by its kind"),
        };
    }
    twin(params, &mut bufs[..n])
}

/// Fails when a written tensor shares storage with any other tensor of the launch.
fn check_no_alias(entry: &'static str, args: &[Arg<'_, CpuTensor, Vec<u32>>]) -> Result<()> {
    fn tensor<'a>(a: &'a Arg<'_, CpuTensor, Vec<u32>>) -> Option<&'a CpuTensor> {
        match a {
            Arg::Read(t) | Arg::Write(t) => Some(t),
            _ => None,
        }
    }
    for (i, out) in args.iter().enumerate() {
        let Arg::Write(out) = out else { continue };
        if let Some(j) =
            args.iter().enumerate().position(|(j, a)| j != i && tensor(a).is_some_and(|t| t.same_storage(out)))
        {
            return Err(Error::InvalidArgument {
                what: entry.into(),
                detail: format!("output {i} shares its buffer with buffer {j}; an op cannot read the buffer it writes"),
            });
        }
    }
    Ok(())
}
