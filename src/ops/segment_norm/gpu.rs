//! Launcher for `shaders/segment_norm.wgsl`.

use crate::backend::gpu::{GpuBackend, GpuLabels, GpuTensor};
use crate::error::Result;
use crate::ops::registry as kernels;

/// Mirrors `Params` in segment_norm.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    segments: u32,
    b_offset: u32,
    pad: [u32; 2],
}

impl GpuBackend {
    pub(crate) fn launch_trust_ratio(
        &self,
        out: &mut GpuTensor,
        a: &GpuTensor,
        b: &GpuTensor,
        b_offset: usize,
        segments: &GpuLabels,
        count: usize,
    ) -> Result<()> {
        let p = Params { segments: count as u32, b_offset: b_offset as u32, pad: [0; 2] };
        let storage = [out.binding(), a.binding(), b.binding(), segments.binding()];
        self.dispatch(&kernels::TRUST_RATIO, bytemuck::bytes_of(&p), &storage, (count as u32, 1, 1))
    }
}
