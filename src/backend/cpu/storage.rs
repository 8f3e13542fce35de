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

/// A copy of `data` for a tensor's storage: [`zeroed`] then filled when it is large (so its
/// pages are advised before the copy touches them), a plain copy otherwise (no zeroing pass).
pub(crate) fn copied(data: &[f32]) -> Vec<f32> {
    if data.len() < HUGE_PAGES_FROM {
        return data.to_vec();
    }
    let mut v = zeroed(data.len());
    v.copy_from_slice(data);
    v
}

/// Buffers at least this long (4 MiB of f32) are offered transparent huge pages.
const HUGE_PAGES_FROM: usize = 1 << 20;

/// `len` zeros for a tensor's storage. A large buffer is zeroed by the kernel (calloc maps
/// fresh pages) and, before any page is touched, advised `MADV_HUGEPAGE`: where transparent
/// huge pages are in `madvise` mode (Debian's default) its first write then maps 2 MiB pages,
/// 512× fewer page faults and TLB entries for a streaming kernel such as the optimizer step.
pub(crate) fn zeroed(len: usize) -> Vec<f32> {
    let v = vec![0.0f32; len];
    #[cfg(target_os = "linux")]
    if len >= HUGE_PAGES_FROM {
        const PAGE: usize = 4096;
        let start = (v.as_ptr() as usize).next_multiple_of(PAGE);
        let end = (v.as_ptr() as usize + len * 4) & !(PAGE - 1);
        if end > start {
            // SAFETY: the range lies inside v's allocation, page-aligned; the advice changes
            // how the kernel backs the pages, never their contents. A refusal is harmless.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn zeroed_buffers_are_zeros_of_their_length_with_or_without_huge_page_advice() {
        for len in [0, 1, 4095, super::HUGE_PAGES_FROM - 1, super::HUGE_PAGES_FROM + 3] {
            let v = super::zeroed(len);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 0.0));
        }
    }
}
