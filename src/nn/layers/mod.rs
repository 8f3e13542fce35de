//! The leaf layers, one file each (`pool.rs` holds what the three poolings share), and the
//! registry that maps spec names to their builders. Adding a layer: its file, its ops, one line in [`REGISTRY`].

pub mod activation;
pub mod adaptive_avgpool2d;
pub mod avgpool2d;
pub mod batchnorm;
pub mod causal_self_attention;
pub mod conv2d;
pub mod dropout;
pub mod embedding;
pub mod flatten;
pub mod layernorm;
pub mod linear;
pub mod maxpool2d;
mod pool;
pub mod pool_tokens;
pub mod position_embedding;
pub mod self_attention;
pub mod type_embedding;

use super::args::Bound;
use super::layer::Layer;
use crate::error::Result;
use crate::ops::elementwise::Activation;

/// Builds a layer from its bound arguments and its input shape (batch first).
pub type Builder = fn(Bound, &[usize]) -> Result<Box<dyn Layer>>;

/// One spec name: the layer's argument names (PyTorch's order, inferred sizes left out) and builder.
pub struct LayerKind {
    /// The name in the spec language.
    pub name: &'static str,
    /// Argument names in positional order.
    pub args: &'static [&'static str],
    /// The builder.
    pub build: Builder,
}

macro_rules! act {
    ($a:expr) => {
        |args, input| activation::build_fixed($a)(args, input)
    };
}

/// Every layer the spec language knows.
pub const REGISTRY: &[LayerKind] = &[
    LayerKind { name: "linear", args: linear::ARGS, build: linear::build },
    LayerKind { name: "conv2d", args: conv2d::ARGS, build: conv2d::build },
    LayerKind { name: "maxpool2d", args: maxpool2d::ARGS, build: maxpool2d::build },
    LayerKind { name: "avgpool2d", args: avgpool2d::ARGS, build: avgpool2d::build },
    LayerKind { name: "adaptiveavgpool2d", args: adaptive_avgpool2d::ARGS, build: adaptive_avgpool2d::build },
    LayerKind { name: "batchnorm2d", args: batchnorm::ARGS, build: batchnorm::build_2d },
    LayerKind { name: "batchnorm1d", args: batchnorm::ARGS, build: batchnorm::build_1d },
    LayerKind { name: "layernorm", args: layernorm::ARGS, build: layernorm::build },
    LayerKind { name: "flatten", args: flatten::ARGS, build: flatten::build },
    LayerKind { name: "embedding", args: embedding::ARGS, build: embedding::build },
    LayerKind { name: "position_embedding", args: position_embedding::ARGS, build: position_embedding::build },
    LayerKind { name: "causal_self_attention", args: causal_self_attention::ARGS, build: causal_self_attention::build },
    LayerKind { name: "self_attention", args: self_attention::ARGS, build: self_attention::build },
    LayerKind { name: "type_embedding", args: type_embedding::ARGS, build: type_embedding::build },
    LayerKind { name: "pool_tokens", args: pool_tokens::ARGS, build: pool_tokens::build },
    LayerKind { name: "dropout", args: dropout::ARGS, build: dropout::build },
    LayerKind { name: "relu", args: &[], build: act!(Activation::Relu) },
    LayerKind { name: "leaky_relu", args: activation::LEAKY_ARGS, build: activation::build_leaky },
    LayerKind { name: "sigmoid", args: &[], build: act!(Activation::Sigmoid) },
    LayerKind { name: "tanh", args: &[], build: act!(Activation::Tanh) },
    LayerKind { name: "gelu", args: &[], build: act!(Activation::GeluErf) },
    LayerKind { name: "gelu_tanh", args: &[], build: act!(Activation::GeluTanh) },
    LayerKind { name: "silu", args: &[], build: act!(Activation::Silu) },
];
