//! The CPU path: Rust twins of every WGSL kernel (the `gemm` crate for the products, rayon for the loops). It is the numerical reference and the
//! fallback when no GPU exists. Ops run at once; `sync` has nothing to wait for.

pub mod float;
pub mod lanes;
mod launch;
mod storage;

pub use storage::CpuTensor;

use super::{checks, Backend};
use crate::error::Result;
use crate::tensor::{numel, same_shape, Tensor};

/// Runs every op on the host with the twins in this module.
#[derive(Clone, Debug, Default)]
pub struct CpuBackend;

impl CpuBackend {
    /// The CPU path. It needs no setup.
    pub fn new() -> Self {
        CpuBackend
    }
}

impl Backend for CpuBackend {
    type Tensor = CpuTensor;
    type U32Buffer = Vec<u32>;

    fn pick<X: super::PerPath + ?Sized>(x: &X) -> &X::On<Self> {
        x.on_cpu()
    }

    fn describe(&self) -> String {
        format!("cpu (gemm, {} threads)", rayon::current_num_threads())
    }

    fn upload(&self, host: &Tensor) -> Result<CpuTensor> {
        Ok(CpuTensor::new(host.shape(), storage::copied(host.data())))
    }

    fn zeros(&self, shape: &[usize]) -> Result<CpuTensor> {
        Ok(CpuTensor::new(shape, storage::zeroed(numel(shape))))
    }

    fn upload_u32(&self, data: &[u32]) -> Result<Vec<u32>> {
        Ok(data.to_vec())
    }

    fn write_u32(&self, dst: &mut Vec<u32>, data: &[u32]) -> Result<()> {
        checks::same_len("write_u32", dst.len(), data.len())?;
        dst.copy_from_slice(data);
        Ok(())
    }

    fn write(&self, dst: &mut CpuTensor, host: &Tensor) -> Result<()> {
        same_shape("write", "destination", &dst.shape, "source", host.shape())?;
        let range = dst.range();
        dst.storage.write()[range].copy_from_slice(host.data());
        Ok(())
    }

    fn u32_len(&self, labels: &Vec<u32>) -> usize {
        labels.len()
    }

    fn read_u32(&self, labels: &Vec<u32>) -> Result<Vec<u32>> {
        Ok(labels.clone())
    }

    fn read(&self, t: &CpuTensor) -> Result<Tensor> {
        Tensor::from_vec(&t.shape, t.to_vec())
    }

    fn read_into(&self, t: &CpuTensor, out: &mut [f32]) -> Result<()> {
        checks::same_len("read_into", out.len(), t.range().len())?;
        out.copy_from_slice(&t.storage.read_recursive()[t.range()]);
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn shape<'a>(&self, t: &'a CpuTensor) -> &'a [usize] {
        &t.shape
    }

    fn view_alignment(&self) -> usize {
        1
    }

    fn max_binding_bytes(&self) -> u64 {
        u64::MAX
    }

    fn host_memory(&self) -> bool {
        true
    }

    fn view(&self, t: &CpuTensor, offset: usize, shape: &[usize]) -> Result<CpuTensor> {
        checks::view(&t.shape, offset, shape, 1)?;
        Ok(CpuTensor { storage: t.storage.clone(), offset: t.offset + offset, shape: shape.to_vec() })
    }

    fn scratch(&self, len: usize) -> Result<CpuTensor> {
        // The CPU path reduces in one pass and never asks; a fresh tensor is still correct.
        self.zeros(&[len])
    }

    fn launch(
        &self,
        kernel: &'static crate::backend::kernel::Kernel,
        params: &[u8],
        args: &mut [crate::backend::kernel::Arg<'_, CpuTensor, Vec<u32>>],
        _grid: crate::backend::kernel::Grid,
    ) -> Result<()> {
        launch::launch(kernel, params, args)
    }
}
