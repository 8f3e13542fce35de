//! The update rules' kernels: each optimizer's WGSL file (after `shaders/optim/prologue.wgsl`)
//! and its entry of the op table, whose CPU twin is the shared fused driver
//! (`optim::fused`) over the rule's per-element `update` in `optim/<name>.rs`. One line per rule.

use super::{adagrad, adam, adamax, fused, lamb, lion, muon, nadam, radam, rmsprop, schedule_free, sgd, sophia};
use crate::backend::kernel::{Access, Kernel, Shader};
use crate::ops::registry::{shader, OPTIM_BINDINGS};

/// One line per fused update rule: `NAME: SHADER "file" "entry" => update;`. Generates the
/// shader, the kernel (twin: the fused driver over `update`) and [`KERNELS`] / [`SHADERS`].
macro_rules! rules {
    ($($name:ident: $shader:ident $file:literal $entry:literal => $update:path;)*) => {
        $(
            shader!($shader, $file, 256, "optim/prologue.wgsl");
            #[doc = concat!("`", $entry, "`.")]
            pub const $name: Kernel = Kernel {
                shader: &$shader,
                entry: $entry,
                bindings: OPTIM_BINDINGS,
                cpu: |bytes, bufs| fused::fused_twin($entry, bytes, bufs, $update),
            };
        )*
        /// Every update rule's kernel (with the ops' table, what the coverage and binding tests
        /// iterate).
        pub const KERNELS: &[&Kernel] = &[$(&$name,)* &ADAFACTOR_STEP];
        /// Every optimizer shader file.
        pub const SHADERS: &[&Shader] = &[$(&$shader,)* &ADAFACTOR_WGSL];
    };
}

rules! {
    SGD_STEP: SGD_WGSL "optim/sgd.wgsl" "sgd_step" => sgd::update;
    ADAGRAD_STEP: ADAGRAD_WGSL "optim/adagrad.wgsl" "adagrad_step" => adagrad::update;
    RMSPROP_STEP: RMSPROP_WGSL "optim/rmsprop.wgsl" "rmsprop_step" => rmsprop::update;
    ADAM_STEP: ADAM_WGSL "optim/adam.wgsl" "adam_step" => adam::AdamUpdate;
    ADAMAX_STEP: ADAMAX_WGSL "optim/adamax.wgsl" "adamax_step" => adamax::update;
    NADAM_STEP: NADAM_WGSL "optim/nadam.wgsl" "nadam_step" => nadam::update;
    RADAM_STEP: RADAM_WGSL "optim/radam.wgsl" "radam_step" => radam::update;
    LION_STEP: LION_WGSL "optim/lion.wgsl" "lion_step" => lion::update;
    SOPHIA_STEP: SOPHIA_WGSL "optim/sophia.wgsl" "sophia_step" => sophia::update;
    SCHEDULE_FREE_STEP: SCHEDULE_FREE_WGSL "optim/schedule_free.wgsl" "schedule_free_step" => schedule_free::update;
    LAMB_STEP: LAMB_WGSL "optim/lamb.wgsl" "lamb_step" => lamb::update;
    MUON_STEP: MUON_WGSL "optim/muon.wgsl" "muon_step" => muon::update;
}

shader!(ADAFACTOR_WGSL, "optim/adafactor.wgsl", 256, "optim/prologue.wgsl");

use Access::{Read as R, ReadWrite as W, Uniform as U};

/// `adafactor_step`: one workgroup per tensor, its own tensor table at binding 7.
pub const ADAFACTOR_STEP: Kernel = Kernel {
    shader: &ADAFACTOR_WGSL,
    entry: "adafactor_step",
    bindings: &[(0, U), (1, W), (2, R), (3, W), (4, R), (6, R), (7, R)],
    cpu: fused::adafactor_twin,
};
