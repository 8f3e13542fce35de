//! Row softmax forward and backward. Kernel: `shaders/softmax.wgsl`.

pub mod cpu;
mod gpu;
