//! Every kernel and shader file of the crate: the ops' table (`ops::registry`) and the update
//! rules' (`optim::kernels`). naga validation, the binding check and the GPU-vs-CPU coverage
//! test iterate these, so a kernel is tested the day its line is added to either table.

use crate::backend::kernel::{Kernel, Shader};

/// Every kernel.
pub fn all_kernels() -> impl Iterator<Item = &'static Kernel> {
    crate::ops::registry::ALL_KERNELS.iter().chain(crate::optim::kernels::KERNELS).copied()
}

/// Every shader file.
pub fn all_shaders() -> impl Iterator<Item = &'static Shader> {
    crate::ops::registry::ALL_SHADERS.iter().chain(crate::optim::kernels::SHADERS).copied()
}
