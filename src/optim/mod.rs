//! Optimizers with PyTorch's names, defaults and semantics, each a fused update over one flat
//! buffer (ONE dispatch on the GPU path), usable on their own on any set of tensors or inside
//! the trainer. One file per optimizer holds its config (PyTorch's defaults), its typed block
//! terms, the step scalars it computes and its CPU twin; its kernel is `shaders/optim/<name>.wgsl`.
//! `registry` maps names to configs; `Optimizer` holds the state and the step count.

pub mod adafactor;
mod adagrad;
mod adam;
mod adamax;
mod config;
pub mod fused;
mod hyper;
pub mod kernels;
mod lamb;
mod lion;
mod muon;
mod nadam;
pub(crate) mod optimizer;
mod radam;
pub mod registry;
mod rmsprop;
pub mod rule;
mod schedule_free;
mod sgd;
mod sophia;

pub use adafactor::{AdafactorConfig, AdafactorTerms};
pub use adagrad::{AdagradConfig, AdagradTerms};
pub use adam::{AdamConfig, AdamTerms};
pub use adamax::{AdamaxConfig, AdamaxTerms};
pub use config::{OptimKind, OptimizerConfig};
pub use hyper::{ClipBlock, GroupHyper, Head, StepScalars, HYPER_LEN, TERMS_LEN};
pub use lamb::{LambConfig, LambTerms};
pub use lion::{LionConfig, LionTerms};
pub use muon::{AdjustLr, MuonConfig, MuonTerms};
pub use nadam::{NadamConfig, NadamTerms};
pub use optimizer::{Clip, Optimizer, OptimizerState, ParamGroup};
pub use radam::{RadamConfig, RadamTerms};
pub use registry::{OptimizerEntry, Settings, OPTIMIZERS};
pub use rmsprop::{RmspropConfig, RmspropTerms};
pub use schedule_free::{ScheduleFreeConfig, ScheduleFreeGroup, ScheduleFreeTerms};
pub use sgd::{SgdConfig, SgdTerms};
pub use sophia::{SophiaConfig, SophiaTerms};
