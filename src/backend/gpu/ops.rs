//! The op list on the GPU path: each op checks shapes (shared with the CPU path in
//! `backend/checks.rs`), then records its kernel through a launcher.

use super::{GpuBackend, GpuTensor, GpuU32Buffer};
use crate::backend::{checks, Backend};
use crate::error::Result;
use crate::tensor::{same_shape, Tensor};
use std::sync::Arc;

impl Backend for GpuBackend {
    type Tensor = GpuTensor;
    type U32Buffer = GpuU32Buffer;

    fn pick<X: crate::backend::PerPath + ?Sized>(x: &X) -> &X::On<Self> {
        x.on_gpu()
    }

    fn describe(&self) -> String {
        let r = &self.ctx.report;
        format!("gpu: {} ({}, {})", r.name, r.backend, r.device_type)
    }

    fn upload(&self, host: &Tensor) -> Result<GpuTensor> {
        let buf = self.upload_bytes(host.shape(), bytemuck::cast_slice(host.data()))?;
        Ok(GpuTensor { buf: Arc::new(buf), offset: 0, shape: host.shape().to_vec() })
    }

    fn zeros(&self, shape: &[usize]) -> Result<GpuTensor> {
        // New wgpu buffers are zero-initialised.
        let bytes = (crate::tensor::numel(shape) * 4) as u64;
        Ok(GpuTensor { buf: Arc::new(self.storage(shape, bytes)?), offset: 0, shape: shape.to_vec() })
    }

    fn upload_u32(&self, data: &[u32]) -> Result<GpuU32Buffer> {
        let buf = self.upload_bytes(&[data.len()], bytemuck::cast_slice(data))?;
        Ok(GpuU32Buffer { buf, len: data.len() })
    }

    fn write_u32(&self, dst: &mut GpuU32Buffer, data: &[u32]) -> Result<()> {
        checks::same_len("write_u32", dst.len, data.len())?;
        self.write_bytes(&dst.buf, 0, bytemuck::cast_slice(data))
    }

    fn write(&self, dst: &mut GpuTensor, host: &Tensor) -> Result<()> {
        same_shape("write", "destination", &dst.shape, "source", host.shape())?;
        self.write_bytes(&dst.buf, dst.offset, bytemuck::cast_slice(host.data()))
    }

    fn u32_len(&self, labels: &GpuU32Buffer) -> usize {
        labels.len
    }

    fn read_u32(&self, labels: &GpuU32Buffer) -> Result<Vec<u32>> {
        Ok(bytemuck::pod_collect_to_vec(&self.read_bytes(labels.binding())?))
    }

    fn read(&self, t: &GpuTensor) -> Result<Tensor> {
        let bytes = self.read_bytes(t.binding())?;
        Tensor::from_vec(&t.shape, bytemuck::pod_collect_to_vec(&bytes))
    }

    fn read_into(&self, t: &GpuTensor, out: &mut [f32]) -> Result<()> {
        checks::same_len("read_into", out.len(), crate::tensor::numel(&t.shape))?;
        self.read_bytes_with(t.binding(), |bytes| {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_ne_bytes(b.try_into().expect("4 bytes"));
            }
        })
    }

    fn recording_stats(&self) -> Option<crate::backend::RecordingStats> {
        Some(self.recording())
    }

    fn sync(&self) -> Result<()> {
        {
            let mut state = self.lock()?;
            self.submit(&mut state, None);
        }
        self.wait()
    }

    fn shape<'a>(&self, t: &'a GpuTensor) -> &'a [usize] {
        &t.shape
    }

    fn max_binding_bytes(&self) -> u64 {
        self.ctx.limits.max_storage_buffer_binding_size.min(self.ctx.limits.max_buffer_size)
    }

    fn view_alignment(&self) -> usize {
        (self.ctx.limits.min_storage_buffer_offset_alignment as usize / 4).max(1)
    }

    fn view(&self, t: &GpuTensor, offset: usize, shape: &[usize]) -> Result<GpuTensor> {
        // The parent's own offset is aligned, so aligning the relative offset suffices.
        checks::view(&t.shape, offset, shape, self.view_alignment())?;
        Ok(GpuTensor { buf: t.buf.clone(), offset: t.offset + (offset * 4) as u64, shape: shape.to_vec() })
    }

    fn scratch(&self, len: usize) -> Result<GpuTensor> {
        GpuBackend::scratch(self, len)
    }

    fn launch(
        &self,
        kernel: &'static crate::backend::kernel::Kernel,
        params: &[u8],
        args: &mut [crate::backend::kernel::Arg<'_, GpuTensor, GpuU32Buffer>],
        grid: crate::backend::kernel::Grid,
    ) -> Result<()> {
        self.launch_kernel(kernel, params, args, grid)
    }
}
