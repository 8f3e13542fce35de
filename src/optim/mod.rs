//! Optimizers with PyTorch's names, defaults and semantics, each a fused update over one flat
//! buffer (ONE dispatch on the GPU path), usable on their own on any set of tensors or inside
//! the trainer. Configs carry the defaults; `Optimizer` holds the state and the step count.

mod config;
mod hyper;
mod optimizer;

pub use config::{
    AdagradConfig, AdamConfig, AdamaxConfig, LionConfig, NadamConfig, OptimKind, OptimizerConfig, RadamConfig,
    RmspropConfig, SgdConfig,
};
pub use hyper::{GroupHyper, HYPER_LEN};
pub use optimizer::{Clip, Optimizer, OptimizerState, ParamGroup};
