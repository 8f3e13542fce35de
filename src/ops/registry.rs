//! The op table: every WGSL file (compiled in with `include_str!`, preludes prepended) and every
//! kernel: its entry point, the bindings it uses (from which explicit bind group layouts are
//! built) and its CPU twin. An op (a free function in `ops/<family>/mod.rs`) checks shapes,
//! fills its params and launches entries of this table through [`crate::Backend::launch`].
//! naga validation, the GPU-vs-CPU coverage test and the binding check iterate it, so a new
//! kernel is tested the day its line is added here.

use super::*;
use crate::backend::kernel::{Access, Kernel, Shader};

/// A shader file: `shaders/prelude.wgsl` (the `WG` override, `flat_index`, tree reductions,
/// windows), then the listed preludes, then the file.
macro_rules! shader {
    ($name:ident, $file:literal, $wg:expr $(, $pre:literal)*) => {
        #[doc = concat!("`shaders/", $file, "`.")]
        pub const $name: Shader = Shader {
            name: $file,
            source: concat!(
                include_str!("../../shaders/prelude.wgsl"),
                $(include_str!(concat!("../../shaders/", $pre)),)*
                include_str!(concat!("../../shaders/", $file))
            ),
            workgroup: $wg,
        };
    };
}
pub(crate) use shader;

/// One line per shader file: `NAME: "file" WG [preludes];`. Generates the consts and
/// [`ALL_SHADERS`].
macro_rules! shaders {
    ($($name:ident: $file:literal $wg:literal [$($pre:literal),*];)*) => {
        $(shader!($name, $file, $wg $(, $pre)*);)*
        /// Every shader file, for validation.
        pub const ALL_SHADERS: &[&Shader] = &[$(&$name),*];
    };
}

shaders! {
    MATMUL_WGSL: "matmul.wgsl" 256 ["activation.wgsl"];
    ELEMENTWISE_WGSL: "elementwise.wgsl" 256 ["activation.wgsl"];
    SOFTMAX_WGSL: "softmax.wgsl" 64 [];
    LOSS_WGSL: "loss.wgsl" 256 [];
    REDUCE_WGSL: "reduce.wgsl" 64 [];
    DROPOUT_WGSL: "dropout.wgsl" 256 [];
    GATHER_WGSL: "gather.wgsl" 256 [];
    CONV_WGSL: "conv.wgsl" 256 [];
    POOL_WGSL: "pool.wgsl" 256 [];
    NORM_WGSL: "norm.wgsl" 256 ["activation.wgsl"];
    EMBEDDING_WGSL: "embedding.wgsl" 256 [];
    ATTENTION_WGSL: "attention.wgsl" 256 [];
    SURFACE_WGSL: "surface.wgsl" 256 [];
    SEGMENT_NORM_WGSL: "segment_norm.wgsl" 256 [];
    SAMPLE_WGSL: "sample.wgsl" 256 [];
    FLASH_ATTENTION_WGSL: "flash_attention.wgsl" 64 [];
    AUGMENT_WGSL: "augment.wgsl" 256 [];
}

use Access::{Read as R, ReadWrite as W, Uniform as U};

/// The bindings of a fused optimizer update (`optim::fused`): params, grads, state, table,
/// chunk groups, norm.
pub const OPTIM_BINDINGS: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, W), (4, R), (5, R), (6, R)];

const OUT_IN: &[(u32, Access)] = &[(0, U), (1, W), (2, R)];
const OUT_IN_IN: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, R)];
const OUT_IN_IN_IN: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, R), (4, R)];
const OUT_IN_IN_IN_OUT: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, R), (4, R), (5, W)];
const INPLACE: &[(u32, Access)] = &[(0, U), (1, W)];
const LOSS_TARGET: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (3, R), (4, R)];
const DROPOUT_FWD: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, R), (4, W)];
const GATHER_LABELS_BINDINGS: &[(u32, Access)] = &[(0, U), (3, R), (4, W), (5, R)];
const LOSS_LABELS: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (3, R), (5, R)];
const POOL_MAX_FWD: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (4, W)];
const BN_FWD: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (3, W), (4, W), (5, R), (6, R), (7, R)];
const BN_FWD_ACT: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (3, W), (4, W), (5, R), (6, R), (7, R), (10, W)];
const BN_BWD: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (5, R), (6, R), (8, R), (9, R)];
const LN_FWD: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (5, R), (6, R), (7, R)];
const LN_BWD: &[(u32, Access)] = &[(0, U), (1, W), (5, R), (6, R), (8, R), (9, R)];
const SURFACE_BINDINGS: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, W), (4, W)];
const LN_PARAM_GRAD: &[(u32, Access)] = &[(0, U), (2, W), (5, R), (8, R), (9, R)];
const FLASH_FWD: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (3, R), (4, R), (12, R), (13, R)];
const FLASH_DQ: &[(u32, Access)] = &[(0, U), (2, W), (3, R), (4, R), (5, R), (6, R), (8, W), (12, R), (13, R)];
const FLASH_DKV: &[(u32, Access)] = &[(0, U), (3, R), (4, R), (6, R), (7, R), (11, W), (12, R), (13, R)];

/// One line per kernel: `NAME: SHADER "entry" BINDINGS => cpu twin;`. Generates the consts and
/// [`ALL_KERNELS`].
macro_rules! kernels {
    ($($name:ident: $shader:ident $entry:literal $bindings:ident => $twin:path;)*) => {
        $(
            #[doc = concat!("`", $entry, "` in the file it belongs to.")]
            pub const $name: Kernel =
                Kernel { shader: &$shader, entry: $entry, bindings: $bindings, cpu: $twin };
        )*
        /// Every kernel, for tests that check each entry point exists with the bindings listed here.
        pub const ALL_KERNELS: &[&Kernel] = &[$(&$name),*];
    };
}

kernels! {
    MATMUL_NT: MATMUL_WGSL "matmul_nt" OUT_IN_IN => matmul::cpu::table::matmul_nt;
    MATMUL_NT_BIAS: MATMUL_WGSL "matmul_nt_bias" OUT_IN_IN_IN => matmul::cpu::table::matmul_nt_bias;
    MATMUL_NT_BIAS_ACT: MATMUL_WGSL "matmul_nt_bias_act" OUT_IN_IN_IN_OUT => matmul::cpu::table::matmul_nt_bias_act;
    MATMUL_NT_CONV: MATMUL_WGSL "matmul_nt_conv" OUT_IN_IN_IN => conv::cpu::table::matmul_nt_conv;
    MATMUL_NN: MATMUL_WGSL "matmul_nn" OUT_IN_IN => matmul::cpu::table::matmul_nn;
    MATMUL_TN: MATMUL_WGSL "matmul_tn" OUT_IN_IN => matmul::cpu::table::matmul_tn;
    ACTIVATION_FORWARD: ELEMENTWISE_WGSL "activation_forward" OUT_IN => elementwise::cpu::table::activation_forward;
    ACTIVATION_BACKWARD: ELEMENTWISE_WGSL "activation_backward" OUT_IN_IN => elementwise::cpu::table::activation_backward;
    BIAS_ADD: ELEMENTWISE_WGSL "bias_add" OUT_IN => elementwise::cpu::table::bias_add;
    SCALE: ELEMENTWISE_WGSL "scale" INPLACE => elementwise::cpu::table::scale;
    AXPY: ELEMENTWISE_WGSL "axpy" OUT_IN => elementwise::cpu::table::axpy;
    ADD_SIGN: ELEMENTWISE_WGSL "add_sign" OUT_IN => elementwise::cpu::table::add_sign;
    FILL: ELEMENTWISE_WGSL "fill" INPLACE => elementwise::cpu::table::fill;
    COPY: ELEMENTWISE_WGSL "copy" OUT_IN => elementwise::cpu::table::copy;
    COPY_RANGE: ELEMENTWISE_WGSL "copy_range" OUT_IN => elementwise::cpu::table::copy_range;
    DIV_BY_NORM: ELEMENTWISE_WGSL "div_by_norm" OUT_IN_IN => elementwise::cpu::table::div_by_norm;
    SOFTMAX_FORWARD: SOFTMAX_WGSL "softmax_forward" OUT_IN => softmax::cpu::table::softmax_forward;
    SOFTMAX_BACKWARD: SOFTMAX_WGSL "softmax_backward" OUT_IN_IN => softmax::cpu::table::softmax_backward;
    MSE_LOSS: LOSS_WGSL "mse_loss" LOSS_TARGET => loss::cpu::table::mse_loss;
    CROSS_ENTROPY_LOSS: LOSS_WGSL "cross_entropy_loss" LOSS_LABELS => loss::cpu::table::cross_entropy_loss;
    BCE_WITH_LOGITS_LOSS: LOSS_WGSL "bce_with_logits_loss" LOSS_TARGET => loss::cpu::table::bce_with_logits_loss;
    COLUMN_SUM: REDUCE_WGSL "column_sum" OUT_IN => reduce::cpu::table::column_sum;
    SUM: REDUCE_WGSL "sum" OUT_IN => reduce::cpu::table::sum;
    REDUCE_PARTIAL: REDUCE_WGSL "reduce_partial" OUT_IN => reduce::cpu::table::reduce_partial;
    SUM_SQUARES: REDUCE_WGSL "sum_squares" OUT_IN => reduce::cpu::table::sum_squares;
    SUM_ABS: REDUCE_WGSL "sum_abs" OUT_IN => reduce::cpu::table::sum_abs;
    MAX_ABS: REDUCE_WGSL "max_abs" OUT_IN => reduce::cpu::table::max_abs;
    DROPOUT_FORWARD: DROPOUT_WGSL "dropout_forward" DROPOUT_FWD => dropout::cpu::table::dropout_forward;
    DROPOUT_BACKWARD: DROPOUT_WGSL "dropout_backward" OUT_IN_IN => dropout::cpu::table::dropout_backward;
    AUGMENT: AUGMENT_WGSL "augment" OUT_IN_IN => augment::cpu::table::augment;
    GATHER_ROWS: GATHER_WGSL "gather_rows" OUT_IN_IN => gather::cpu::table::gather_rows;
    GATHER_LABELS: GATHER_WGSL "gather_labels" GATHER_LABELS_BINDINGS => gather::cpu::table::gather_labels;
    FIRST_NONFINITE: REDUCE_WGSL "first_nonfinite" OUT_IN_IN => reduce::cpu::table::first_nonfinite;
    IM2COL: CONV_WGSL "im2col" OUT_IN => conv::cpu::table::im2col;
    COL2IM: CONV_WGSL "col2im" OUT_IN => conv::cpu::table::col2im;
    CONV_GRAD_OUTPUT: CONV_WGSL "conv_grad_output" OUT_IN => conv::cpu::table::conv_grad_output;
    CHANNEL_SUM: CONV_WGSL "channel_sum" OUT_IN => conv::cpu::table::channel_sum;
    CONV2D_FORWARD: CONV_WGSL "conv2d_forward" OUT_IN_IN_IN => conv::direct::table::conv2d_forward;
    CONV2D_GRAD_INPUT: CONV_WGSL "conv2d_grad_input" OUT_IN_IN => conv::direct::table::conv2d_grad_input;
    CONV2D_GRAD_WEIGHT: CONV_WGSL "conv2d_grad_weight" OUT_IN_IN => conv::direct::table::conv2d_grad_weight;
    MAX_POOL_FORWARD: POOL_WGSL "max_pool_forward" POOL_MAX_FWD => pool::cpu::table::max_pool_forward;
    MAX_POOL_BACKWARD: POOL_WGSL "max_pool_backward" OUT_IN_IN => pool::cpu::table::max_pool_backward;
    AVG_POOL_FORWARD: POOL_WGSL "avg_pool_forward" OUT_IN => pool::cpu::table::avg_pool_forward;
    AVG_POOL_BACKWARD: POOL_WGSL "avg_pool_backward" OUT_IN => pool::cpu::table::avg_pool_backward;
    BATCH_NORM_FORWARD: NORM_WGSL "batch_norm_forward" BN_FWD => norm::cpu::table::batch_norm_forward;
    BATCH_NORM_FORWARD_ACT: NORM_WGSL "batch_norm_forward_act" BN_FWD_ACT => norm::cpu::table::batch_norm_forward_act;
    BATCH_NORM_BACKWARD: NORM_WGSL "batch_norm_backward" BN_BWD => norm::cpu::table::batch_norm_backward;
    LAYER_NORM_FORWARD: NORM_WGSL "layer_norm_forward" LN_FWD => norm::cpu::table::layer_norm_forward;
    LAYER_NORM_BACKWARD: NORM_WGSL "layer_norm_backward" LN_BWD => norm::cpu::table::layer_norm_backward;
    LAYER_NORM_PARAM_GRAD: NORM_WGSL "layer_norm_param_grad" LN_PARAM_GRAD => norm::cpu::table::layer_norm_param_grad;
    EMBEDDING_FORWARD: EMBEDDING_WGSL "embedding_forward" OUT_IN_IN => embedding::cpu::table::embedding_forward;
    EMBEDDING_BACKWARD: EMBEDDING_WGSL "embedding_backward" OUT_IN_IN => embedding::cpu::table::embedding_backward;
    CAUSAL_MASK: ATTENTION_WGSL "causal_mask" INPLACE => attention::cpu::table::causal_mask;
    SURFACE: SURFACE_WGSL "surface" SURFACE_BINDINGS => surface::cpu::table::surface;
    TRUST_RATIO: SEGMENT_NORM_WGSL "trust_ratio" OUT_IN_IN_IN => segment_norm::cpu::table::trust_ratio;
    SAMPLE_LABELS: SAMPLE_WGSL "sample_labels" OUT_IN => sample::cpu::table::sample_labels;
    FLASH_ATTENTION_FORWARD: FLASH_ATTENTION_WGSL "flash_attention_forward" FLASH_FWD => attention::cpu::table::flash_attention_forward;
    FLASH_ATTENTION_BACKWARD_DQ: FLASH_ATTENTION_WGSL "flash_attention_backward_dq" FLASH_DQ => attention::cpu::table::flash_attention_backward_dq;
    FLASH_ATTENTION_BACKWARD_DKV: FLASH_ATTENTION_WGSL "flash_attention_backward_dkv" FLASH_DKV => attention::cpu::table::flash_attention_backward_dkv;
}
