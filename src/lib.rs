//! downhill: train neural networks by gradient descent on any GPU wgpu reaches, with a
//! CPU path that gives the same numbers and serves as the reference and the fallback.
//!
//! The op list is [`Backend`]; [`CpuBackend`] and [`GpuBackend`] implement it with the same
//! names as the WGSL entry points in `shaders/`. [`device::open`] picks where to run.

pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod distributed;
pub mod error;
pub mod explore;
pub mod feed;
pub mod generate;
pub mod hf;
pub mod infer;
pub mod kernels;
pub mod loss;
pub mod memory;
pub mod metrics;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod params;
pub mod report;
pub mod rng;
pub mod run;
pub mod schedule;

pub mod summary;
pub mod tensor;
pub mod tensorboard;
pub mod train;

pub use backend::cpu::{CpuBackend, CpuTensor};
pub use backend::gpu::{GpuBackend, GpuTensor, GpuU32Buffer};
pub use backend::Backend;
pub use device::{Device, DeviceRequest, Selection};
pub use error::{Error, Result};
pub use ops::elementwise::Activation;
pub use tensor::{MatmulForm, Tensor};
