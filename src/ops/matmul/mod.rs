//! The three products of a Linear layer (`matmul_nt` X·Wᵀ, `matmul_nn` dY·W, `matmul_tn` dYᵀ·X),
//! batched over a leading dimension for convolution groups; the shape check is `MatmulForm::dims`
//! (src/tensor.rs). Kernel: `shaders/matmul.wgsl` (64×64 register-tiled).

pub mod cpu;
mod gpu;
