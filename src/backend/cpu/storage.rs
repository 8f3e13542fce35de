//! CPU tensors: views (offset + shape) into shared host storage, so a model's parameters can
//! live in ONE flat buffer on this path too, exactly as on the GPU path.

use crate::tensor::numel;
use parking_lot::RwLock;
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
