//! CPU tensors: views (offset + shape) into shared host storage, so a model's parameters can
//! live in ONE flat buffer on this path too, exactly as on the GPU path.

use crate::error::{Error, Result};
use crate::tensor::numel;
use parking_lot::{RwLock, RwLockReadGuard};
use std::ops::Range;
use std::sync::Arc;

/// A tensor on the CPU path: a view of `shape` starting `offset` elements into shared storage.
/// Cloning a view (or calling `Backend::view`) shares the storage; `upload` and `zeros` make new.
#[derive(Clone, Debug)]
pub struct CpuTensor {
    pub(crate) storage: Arc<RwLock<Vec<f32>>>,
    pub(crate) offset: usize,
    pub(crate) shape: Vec<usize>,
}

impl CpuTensor {
    /// New storage holding `data`, viewed whole as `shape`.
    pub(crate) fn new(shape: &[usize], data: Vec<f32>) -> Self {
        Self { storage: Arc::new(RwLock::new(data)), offset: 0, shape: shape.to_vec() }
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The element range this view covers in its storage.
    pub(crate) fn range(&self) -> Range<usize> {
        self.offset..self.offset + numel(&self.shape)
    }

    /// True when both views share storage.
    pub(crate) fn same_storage(&self, other: &CpuTensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// A copy of this view's elements.
    pub(crate) fn to_vec(&self) -> Vec<f32> {
        self.storage.read_recursive()[self.range()].to_vec()
    }
}

/// Fails when `out` shares storage with any input: an op may not read what it writes.
pub(crate) fn check_no_alias(op: &'static str, out: &CpuTensor, inputs: &[&CpuTensor]) -> Result<()> {
    if let Some(i) = inputs.iter().position(|t| t.same_storage(out)) {
        return Err(Error::InvalidArgument {
            what: op.into(),
            detail: format!("the output shares its buffer with input {i}; an op cannot read the buffer it writes"),
        });
    }
    Ok(())
}

/// Runs `f` on the output's elements (mutable) and the inputs' elements, after checking that no
/// input shares the output's storage.
pub(crate) fn access<const N: usize, R>(
    op: &'static str,
    out: &CpuTensor,
    inputs: [&CpuTensor; N],
    f: impl FnOnce(&mut [f32], [&[f32]; N]) -> R,
) -> Result<R> {
    check_no_alias(op, out, &inputs)?;
    let guards: [RwLockReadGuard<'_, Vec<f32>>; N] = std::array::from_fn(|i| inputs[i].storage.read_recursive());
    let slices: [&[f32]; N] = std::array::from_fn(|i| &guards[i][inputs[i].range()]);
    let mut out_guard = out.storage.write();
    let range = out.range();
    Ok(f(&mut out_guard[range], slices))
}

/// [`access`] for ops with two outputs (dropout's result and mask, the optimizer's parameters
/// and state): neither output may share storage with the other or with an input.
pub(crate) fn access2<const N: usize, R>(
    op: &'static str,
    out_a: &CpuTensor,
    out_b: &CpuTensor,
    inputs: [&CpuTensor; N],
    f: impl FnOnce(&mut [f32], &mut [f32], [&[f32]; N]) -> R,
) -> Result<R> {
    check_no_alias(op, out_a, &inputs)?;
    check_no_alias(op, out_b, &inputs)?;
    check_no_alias(op, out_a, &[out_b])?;
    let guards: [RwLockReadGuard<'_, Vec<f32>>; N] = std::array::from_fn(|i| inputs[i].storage.read_recursive());
    let slices: [&[f32]; N] = std::array::from_fn(|i| &guards[i][inputs[i].range()]);
    let (mut a, mut b) = (out_a.storage.write(), out_b.storage.write());
    let (ra, rb) = (out_a.range(), out_b.range());
    Ok(f(&mut a[ra], &mut b[rb], slices))
}

/// Runs `f` on the inputs' elements only (reductions that return a value).
pub(crate) fn read_all<const N: usize, R>(inputs: [&CpuTensor; N], f: impl FnOnce([&[f32]; N]) -> R) -> R {
    let guards: [RwLockReadGuard<'_, Vec<f32>>; N] = std::array::from_fn(|i| inputs[i].storage.read_recursive());
    let slices: [&[f32]; N] = std::array::from_fn(|i| &guards[i][inputs[i].range()]);
    f(slices)
}

/// [`access`] for ops with `M` outputs: no output may share storage with another or with an input.
pub(crate) fn access_many<const M: usize, const N: usize, R>(
    op: &'static str,
    outs: [&CpuTensor; M],
    inputs: [&CpuTensor; N],
    f: impl FnOnce([&mut [f32]; M], [&[f32]; N]) -> R,
) -> Result<R> {
    for (i, o) in outs.iter().enumerate() {
        check_no_alias(op, o, &inputs)?;
        check_no_alias(op, o, &outs[i + 1..])?;
    }
    let guards: [RwLockReadGuard<'_, Vec<f32>>; N] = std::array::from_fn(|i| inputs[i].storage.read_recursive());
    let slices: [&[f32]; N] = std::array::from_fn(|i| &guards[i][inputs[i].range()]);
    let mut out_guards = outs.map(|o| o.storage.write());
    let mut k = 0;
    let out_slices = out_guards.each_mut().map(|g| {
        let r = outs[k].range();
        k += 1;
        &mut g[r]
    });
    Ok(f(out_slices, slices))
}
