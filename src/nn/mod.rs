//! Layers and models. A model is a tree ([`Node`]: Sequential, Residual, leaf layers) described
//! by [`ModelSpec`] (built from the spec language or a preset), run by [`Model`] on any backend
//! with its parameters and gradients each in one flat buffer and its activations in step plans
//! traced once per input shape. Every leaf implements the one [`Layer`] trait, in its own file
//! under `layers/`.

pub mod args;
pub mod decode;
pub mod gpt;
mod init;
pub mod layer;
pub mod layers;
mod model;
pub mod padding;
pub mod parse;
mod plan;
mod spec;

pub use init::Init;
pub use layer::{Layer, OnBackends, RunOn};
pub use model::Model;
pub use padding::Padding;
pub use spec::{preset, Leaf, ModelSpec, Node, PRESETS};
