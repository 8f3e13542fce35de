//! Device buffers for tensors and labels, with size checks against the adapter's limits.
//! A buffer knows its id (the key of cached bind groups) and reports its drop so those
//! bind groups can be released.

use crate::error::{Error, Result};
use crate::tensor::numel;
use std::sync::{Arc, Mutex};

/// Ids of buffers dropped since the bind-group cache last looked.
pub(crate) type Graveyard = Arc<Mutex<Vec<u64>>>;

/// A storage buffer plus the id and drop notice the caches need.
#[derive(Debug)]
pub struct DeviceBuffer {
    pub(crate) id: u64,
    pub(crate) buffer: wgpu::Buffer,
    graveyard: Graveyard,
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        if let Ok(mut g) = self.graveyard.lock() {
            g.push(self.id);
        }
    }
}

/// What one binding of a dispatch sees: a byte range of a device buffer.
#[derive(Clone, Copy)]
pub(crate) struct Binding<'a> {
    pub(crate) buf: &'a DeviceBuffer,
    pub(crate) offset: u64,
    pub(crate) bytes: u64,
}

/// A tensor in device memory: a view of `shape` starting `offset` bytes into a storage buffer
/// that other views (the rest of a flat parameter buffer, say) may share.
#[derive(Clone, Debug)]
pub struct GpuTensor {
    pub(crate) buf: Arc<DeviceBuffer>,
    pub(crate) offset: u64,
    pub(crate) shape: Vec<usize>,
}

impl GpuTensor {
    /// The byte range this tensor occupies, for binding and copies.
    pub(crate) fn binding(&self) -> Binding<'_> {
        Binding { buf: &self.buf, offset: self.offset, bytes: (self.len() * 4) as u64 }
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        numel(&self.shape)
    }

    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Class labels (u32) in device memory.
#[derive(Debug)]
pub struct GpuU32Buffer {
    pub(crate) buf: DeviceBuffer,
    pub(crate) len: usize,
}

impl GpuU32Buffer {
    /// The labels' byte range, for binding.
    pub(crate) fn binding(&self) -> Binding<'_> {
        Binding { buf: &self.buf, offset: 0, bytes: (self.len * 4) as u64 }
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no label.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Creates a storage buffer for `bytes` bytes of data, refusing sizes over the binding limit
/// and reporting out-of-memory as an error instead of a panic.
pub(crate) fn create_storage(
    device: &wgpu::Device,
    limits: &wgpu::Limits,
    id: u64,
    graveyard: &Graveyard,
    shape: &[usize],
    bytes: u64,
) -> Result<DeviceBuffer> {
    let limit = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
    if bytes > limit {
        return Err(Error::TooLarge { shape: shape.to_vec(), bytes, limit });
    }
    let size = bytes.max(4);
    let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(Error::Gpu(format!("allocating {bytes} bytes for a tensor of shape {shape:?}: {e}")));
    }
    Ok(DeviceBuffer { id, buffer, graveyard: graveyard.clone() })
}

/// The first `bytes` of a MAP_READ `buffer`, once the device has finished what was submitted
/// before: maps it (`map_async`, answered on a futures-intrusive channel), waits for the
/// device, copies the bytes out and unmaps. Callers keep the buffer to themselves meanwhile.
pub(crate) fn map_read(device: &wgpu::Device, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
    map_read_with(device, buffer, bytes, <[u8]>::to_vec)
}

/// [`map_read`] that hands the mapped bytes to `use_bytes` instead of copying them into a new
/// vector (a read-back into a caller's buffer allocates nothing).
pub(crate) fn map_read_with<R>(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bytes: u64,
    use_bytes: impl FnOnce(&[u8]) -> R,
) -> Result<R> {
    let slice = buffer.slice(..bytes);
    let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = sender.send(r);
    });
    device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
    match pollster::block_on(receiver.receive()) {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(Error::Gpu(format!("mapping a read-back buffer: {e}"))),
        None => return Err(Error::Gpu("read-back mapping was dropped before it completed".into())),
    }
    let out = {
        let mapped = slice.get_mapped_range().map_err(|e| Error::Gpu(format!("reading a mapped buffer: {e}")))?;
        use_bytes(&mapped)
    };
    buffer.unmap();
    Ok(out)
}
