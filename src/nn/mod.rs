//! Layers and models: a stack described by [`ModelSpec`], run by [`Model`] on any backend with
//! its parameters and gradients each in one flat buffer.

mod init;
mod model;
mod spec;

pub use init::Init;
pub use model::Model;
pub use spec::{Layer, ModelSpec};
