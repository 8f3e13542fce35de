//! The kernel registry: every WGSL file (loaded with `include_str!`) and every entry point with
//! the bindings it uses, from which explicit bind group layouts are built.

/// A shader file under `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShaderFile {
    /// `shaders/matmul.wgsl`.
    Matmul,
    /// `shaders/elementwise.wgsl`.
    Elementwise,
    /// `shaders/softmax.wgsl`.
    Softmax,
    /// `shaders/loss.wgsl`.
    Loss,
    /// `shaders/reduce.wgsl`.
    Reduce,
    /// `shaders/dropout.wgsl`.
    Dropout,
    /// `shaders/optim/sgd.wgsl` (after `optim/prologue.wgsl`).
    OptimSgd,
    /// `shaders/optim/adagrad.wgsl` (after `optim/prologue.wgsl`).
    OptimAdagrad,
    /// `shaders/optim/rmsprop.wgsl` (after `optim/prologue.wgsl`).
    OptimRmsprop,
    /// `shaders/optim/adam.wgsl` (after `optim/prologue.wgsl`).
    OptimAdam,
    /// `shaders/optim/adamax.wgsl` (after `optim/prologue.wgsl`).
    OptimAdamax,
    /// `shaders/optim/nadam.wgsl` (after `optim/prologue.wgsl`).
    OptimNadam,
    /// `shaders/optim/radam.wgsl` (after `optim/prologue.wgsl`).
    OptimRadam,
    /// `shaders/optim/lion.wgsl` (after `optim/prologue.wgsl`).
    OptimLion,
    /// `shaders/optim/sophia.wgsl` (after `optim/prologue.wgsl`).
    OptimSophia,
    /// `shaders/optim/schedule_free.wgsl` (after `optim/prologue.wgsl`).
    OptimScheduleFree,
    /// `shaders/optim/lamb.wgsl` (after `optim/prologue.wgsl`).
    OptimLamb,
    /// `shaders/optim/adafactor.wgsl` (after `optim/prologue.wgsl`).
    OptimAdafactor,
    /// `shaders/optim/muon.wgsl` (after `optim/prologue.wgsl`).
    OptimMuon,
    /// `shaders/gather.wgsl`.
    Gather,
    /// `shaders/conv.wgsl` (see `src/ops/conv`).
    Conv,
    /// `shaders/pool.wgsl` (see `src/ops/pool`).
    Pool,
    /// `shaders/norm.wgsl` (see `src/ops/norm`).
    Norm,
    /// `shaders/embedding.wgsl` (see `src/ops/embedding`).
    Embedding,
    /// `shaders/attention.wgsl` (see `src/ops/attention`).
    Attention,
    /// `shaders/surface.wgsl` (see `src/ops/surface`).
    Surface,
    /// `shaders/segment_norm.wgsl` (see `src/ops/segment_norm`).
    SegmentNorm,
    /// `shaders/sample.wgsl` (see `src/ops/sample`).
    Sample,
}

impl ShaderFile {
    /// Every shader file, for validation.
    pub const ALL: [ShaderFile; 28] = [
        ShaderFile::Matmul,
        ShaderFile::Elementwise,
        ShaderFile::Softmax,
        ShaderFile::Loss,
        ShaderFile::Reduce,
        ShaderFile::Dropout,
        ShaderFile::OptimSgd,
        ShaderFile::OptimAdagrad,
        ShaderFile::OptimRmsprop,
        ShaderFile::OptimAdam,
        ShaderFile::OptimAdamax,
        ShaderFile::OptimNadam,
        ShaderFile::OptimRadam,
        ShaderFile::OptimLion,
        ShaderFile::OptimSophia,
        ShaderFile::OptimScheduleFree,
        ShaderFile::OptimLamb,
        ShaderFile::OptimAdafactor,
        ShaderFile::OptimMuon,
        ShaderFile::Gather,
        ShaderFile::Conv,
        ShaderFile::Pool,
        ShaderFile::Norm,
        ShaderFile::Embedding,
        ShaderFile::Attention,
        ShaderFile::Surface,
        ShaderFile::SegmentNorm,
        ShaderFile::Sample,
    ];

    /// The file's name under `shaders/`.
    pub fn file_name(self) -> &'static str {
        match self {
            ShaderFile::Matmul => "matmul.wgsl",
            ShaderFile::Elementwise => "elementwise.wgsl",
            ShaderFile::Softmax => "softmax.wgsl",
            ShaderFile::Loss => "loss.wgsl",
            ShaderFile::Reduce => "reduce.wgsl",
            ShaderFile::Dropout => "dropout.wgsl",
            ShaderFile::OptimSgd => "optim/sgd.wgsl",
            ShaderFile::OptimAdagrad => "optim/adagrad.wgsl",
            ShaderFile::OptimRmsprop => "optim/rmsprop.wgsl",
            ShaderFile::OptimAdam => "optim/adam.wgsl",
            ShaderFile::OptimAdamax => "optim/adamax.wgsl",
            ShaderFile::OptimNadam => "optim/nadam.wgsl",
            ShaderFile::OptimRadam => "optim/radam.wgsl",
            ShaderFile::OptimLion => "optim/lion.wgsl",
            ShaderFile::OptimSophia => "optim/sophia.wgsl",
            ShaderFile::OptimScheduleFree => "optim/schedule_free.wgsl",
            ShaderFile::OptimLamb => "optim/lamb.wgsl",
            ShaderFile::OptimAdafactor => "optim/adafactor.wgsl",
            ShaderFile::OptimMuon => "optim/muon.wgsl",
            ShaderFile::Gather => "gather.wgsl",
            ShaderFile::Conv => "conv.wgsl",
            ShaderFile::Pool => "pool.wgsl",
            ShaderFile::Norm => "norm.wgsl",
            ShaderFile::Embedding => "embedding.wgsl",
            ShaderFile::Attention => "attention.wgsl",
            ShaderFile::Surface => "surface.wgsl",
            ShaderFile::SegmentNorm => "segment_norm.wgsl",
            ShaderFile::Sample => "sample.wgsl",
        }
    }

    /// The WGSL source compiled into the binary: `shaders/prelude.wgsl`, for optimizers
    /// `shaders/optim/prologue.wgsl`, for matmul and elementwise `shaders/activation.wgsl`,
    /// then the file.
    pub fn source(self) -> &'static str {
        macro_rules! with_optim_prologue {
            ($file:literal) => {
                concat!(
                    include_str!("../../../shaders/prelude.wgsl"),
                    include_str!("../../../shaders/optim/prologue.wgsl"),
                    include_str!(concat!("../../../shaders/", $file))
                )
            };
        }
        macro_rules! with_prelude {
            ($file:literal) => {
                concat!(
                    include_str!("../../../shaders/prelude.wgsl"),
                    include_str!(concat!("../../../shaders/", $file))
                )
            };
        }
        macro_rules! with_activations {
            ($file:literal) => {
                concat!(
                    include_str!("../../../shaders/prelude.wgsl"),
                    include_str!("../../../shaders/activation.wgsl"),
                    include_str!(concat!("../../../shaders/", $file))
                )
            };
        }
        match self {
            ShaderFile::Matmul => with_activations!("matmul.wgsl"),
            ShaderFile::Elementwise => with_activations!("elementwise.wgsl"),
            ShaderFile::Softmax => with_prelude!("softmax.wgsl"),
            ShaderFile::Loss => with_prelude!("loss.wgsl"),
            ShaderFile::Reduce => with_prelude!("reduce.wgsl"),
            ShaderFile::Dropout => with_prelude!("dropout.wgsl"),
            ShaderFile::OptimSgd => with_optim_prologue!("optim/sgd.wgsl"),
            ShaderFile::OptimAdagrad => with_optim_prologue!("optim/adagrad.wgsl"),
            ShaderFile::OptimRmsprop => with_optim_prologue!("optim/rmsprop.wgsl"),
            ShaderFile::OptimAdam => with_optim_prologue!("optim/adam.wgsl"),
            ShaderFile::OptimAdamax => with_optim_prologue!("optim/adamax.wgsl"),
            ShaderFile::OptimNadam => with_optim_prologue!("optim/nadam.wgsl"),
            ShaderFile::OptimRadam => with_optim_prologue!("optim/radam.wgsl"),
            ShaderFile::OptimLion => with_optim_prologue!("optim/lion.wgsl"),
            ShaderFile::OptimSophia => with_optim_prologue!("optim/sophia.wgsl"),
            ShaderFile::OptimScheduleFree => with_optim_prologue!("optim/schedule_free.wgsl"),
            ShaderFile::OptimLamb => with_optim_prologue!("optim/lamb.wgsl"),
            ShaderFile::OptimAdafactor => with_optim_prologue!("optim/adafactor.wgsl"),
            ShaderFile::OptimMuon => with_optim_prologue!("optim/muon.wgsl"),
            ShaderFile::Gather => with_prelude!("gather.wgsl"),
            ShaderFile::Conv => with_prelude!("conv.wgsl"),
            ShaderFile::Pool => with_prelude!("pool.wgsl"),
            ShaderFile::Norm => with_prelude!("norm.wgsl"),
            ShaderFile::Embedding => with_prelude!("embedding.wgsl"),
            ShaderFile::Attention => with_prelude!("attention.wgsl"),
            ShaderFile::Surface => with_prelude!("surface.wgsl"),
            ShaderFile::SegmentNorm => with_prelude!("segment_norm.wgsl"),
            ShaderFile::Sample => with_prelude!("sample.wgsl"),
        }
    }

    /// The prelude's `WG` override for this file's one-invocation-per-item kernels: the one
    /// place the number lives. Rust sets it at pipeline creation and sizes grids with it.
    /// Kernels with a fixed `@workgroup_size` (tiled matmul, tree reductions) ignore it.
    pub fn workgroup(self) -> u32 {
        match self {
            ShaderFile::Reduce | ShaderFile::Softmax => 64,
            _ => 256,
        }
    }
}

/// How an entry point sees one binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `var<uniform>`.
    Uniform,
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// One entry point and the bindings of group 0 it uses, in the order the launcher passes buffers
/// (the uniform first).
#[derive(Debug)]
pub struct Kernel {
    /// The file holding it.
    pub file: ShaderFile,
    /// The entry point, named like its CPU twin.
    pub entry: &'static str,
    /// `(binding, access)` pairs.
    pub bindings: &'static [(u32, Access)],
}

use Access::{Read as R, ReadWrite as W, Uniform as U};

const OUT_IN: &[(u32, Access)] = &[(0, U), (1, W), (2, R)];
const OUT_IN_IN: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, R)];
const OUT_IN_IN_IN: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, R), (4, R)];
const OUT_IN_IN_IN_OUT: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, R), (4, R), (5, W)];
const INPLACE: &[(u32, Access)] = &[(0, U), (1, W)];
const LOSS_TARGET: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (3, R), (4, R)];
const DROPOUT_FWD: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, R), (4, W)];
const OPTIM: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, W), (4, R), (5, R), (6, R)];
const GATHER_LABELS_BINDINGS: &[(u32, Access)] = &[(0, U), (3, R), (4, W), (5, R)];
const LOSS_LABELS: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (3, R), (5, R)];

const POOL_MAX_FWD: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (4, W)];
const BN_FWD: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (3, W), (4, W), (5, R), (6, R), (7, R)];
const BN_BWD: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (5, R), (6, R), (8, R), (9, R)];
const LN_FWD: &[(u32, Access)] = &[(0, U), (1, W), (2, W), (5, R), (6, R), (7, R)];
const LN_BWD: &[(u32, Access)] = &[(0, U), (1, W), (5, R), (6, R), (8, R), (9, R)];
const ADAFACTOR_BINDINGS: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, W), (4, R), (6, R), (7, R)];
const SURFACE_BINDINGS: &[(u32, Access)] = &[(0, U), (1, W), (2, R), (3, W), (4, W)];
const LN_PARAM_GRAD: &[(u32, Access)] = &[(0, U), (2, W), (5, R), (8, R), (9, R)];

macro_rules! kernel {
    ($name:ident, $file:ident, $entry:literal, $bindings:expr) => {
        #[doc = concat!("`", $entry, "` in the file it belongs to.")]
        pub const $name: Kernel = Kernel { file: ShaderFile::$file, entry: $entry, bindings: $bindings };
    };
}

kernel!(MATMUL_NT, Matmul, "matmul_nt", OUT_IN_IN);
kernel!(MATMUL_NT_BIAS, Matmul, "matmul_nt_bias", OUT_IN_IN_IN);
kernel!(MATMUL_NT_BIAS_ACT, Matmul, "matmul_nt_bias_act", OUT_IN_IN_IN_OUT);
kernel!(MATMUL_NN, Matmul, "matmul_nn", OUT_IN_IN);
kernel!(MATMUL_TN, Matmul, "matmul_tn", OUT_IN_IN);
kernel!(ACTIVATION_FORWARD, Elementwise, "activation_forward", OUT_IN);
kernel!(ACTIVATION_BACKWARD, Elementwise, "activation_backward", OUT_IN_IN);
kernel!(BIAS_ADD, Elementwise, "bias_add", OUT_IN);
kernel!(SCALE, Elementwise, "scale", INPLACE);
kernel!(AXPY, Elementwise, "axpy", OUT_IN);
kernel!(ADD_SIGN, Elementwise, "add_sign", OUT_IN);
kernel!(FILL, Elementwise, "fill", INPLACE);
kernel!(COPY, Elementwise, "copy", OUT_IN);
kernel!(DIV_BY_NORM, Elementwise, "div_by_norm", OUT_IN_IN);
kernel!(SOFTMAX_FORWARD, Softmax, "softmax_forward", OUT_IN);
kernel!(SOFTMAX_BACKWARD, Softmax, "softmax_backward", OUT_IN_IN);
kernel!(MSE_LOSS, Loss, "mse_loss", LOSS_TARGET);
kernel!(CROSS_ENTROPY_LOSS, Loss, "cross_entropy_loss", LOSS_LABELS);
kernel!(BCE_WITH_LOGITS_LOSS, Loss, "bce_with_logits_loss", LOSS_TARGET);
kernel!(DROPOUT_FORWARD, Dropout, "dropout_forward", DROPOUT_FWD);
kernel!(DROPOUT_BACKWARD, Dropout, "dropout_backward", OUT_IN_IN);
kernel!(SGD_STEP, OptimSgd, "sgd_step", OPTIM);
kernel!(ADAGRAD_STEP, OptimAdagrad, "adagrad_step", OPTIM);
kernel!(RMSPROP_STEP, OptimRmsprop, "rmsprop_step", OPTIM);
kernel!(ADAM_STEP, OptimAdam, "adam_step", OPTIM);
kernel!(ADAMAX_STEP, OptimAdamax, "adamax_step", OPTIM);
kernel!(NADAM_STEP, OptimNadam, "nadam_step", OPTIM);
kernel!(RADAM_STEP, OptimRadam, "radam_step", OPTIM);
kernel!(LION_STEP, OptimLion, "lion_step", OPTIM);
kernel!(SOPHIA_STEP, OptimSophia, "sophia_step", OPTIM);
kernel!(SCHEDULE_FREE_STEP, OptimScheduleFree, "schedule_free_step", OPTIM);
kernel!(LAMB_STEP, OptimLamb, "lamb_step", OPTIM);
kernel!(ADAFACTOR_STEP, OptimAdafactor, "adafactor_step", ADAFACTOR_BINDINGS);
kernel!(MUON_STEP, OptimMuon, "muon_step", OPTIM);
kernel!(GATHER_ROWS, Gather, "gather_rows", OUT_IN_IN);
kernel!(GATHER_LABELS, Gather, "gather_labels", GATHER_LABELS_BINDINGS);
kernel!(FIRST_NONFINITE, Reduce, "first_nonfinite", OUT_IN_IN);
kernel!(COLUMN_SUM, Reduce, "column_sum", OUT_IN);
kernel!(SUM, Reduce, "sum", OUT_IN);
kernel!(REDUCE_PARTIAL, Reduce, "reduce_partial", OUT_IN);
kernel!(SUM_SQUARES, Reduce, "sum_squares", OUT_IN);
kernel!(SUM_ABS, Reduce, "sum_abs", OUT_IN);
kernel!(MAX_ABS, Reduce, "max_abs", OUT_IN);
kernel!(IM2COL, Conv, "im2col", OUT_IN);
kernel!(COL2IM, Conv, "col2im", OUT_IN);
kernel!(CONV_OUTPUT, Conv, "conv_output", OUT_IN_IN);
kernel!(CONV_GRAD_OUTPUT, Conv, "conv_grad_output", OUT_IN);
kernel!(CHANNEL_SUM, Conv, "channel_sum", OUT_IN);
kernel!(MAX_POOL_FORWARD, Pool, "max_pool_forward", POOL_MAX_FWD);
kernel!(MAX_POOL_BACKWARD, Pool, "max_pool_backward", OUT_IN_IN);
kernel!(AVG_POOL_FORWARD, Pool, "avg_pool_forward", OUT_IN);
kernel!(AVG_POOL_BACKWARD, Pool, "avg_pool_backward", OUT_IN);
kernel!(BATCH_NORM_FORWARD, Norm, "batch_norm_forward", BN_FWD);
kernel!(BATCH_NORM_BACKWARD, Norm, "batch_norm_backward", BN_BWD);
kernel!(LAYER_NORM_FORWARD, Norm, "layer_norm_forward", LN_FWD);
kernel!(LAYER_NORM_BACKWARD, Norm, "layer_norm_backward", LN_BWD);
kernel!(LAYER_NORM_PARAM_GRAD, Norm, "layer_norm_param_grad", LN_PARAM_GRAD);
kernel!(EMBEDDING_FORWARD, Embedding, "embedding_forward", OUT_IN_IN);
kernel!(EMBEDDING_BACKWARD, Embedding, "embedding_backward", OUT_IN_IN);
kernel!(CAUSAL_MASK, Attention, "causal_mask", INPLACE);
kernel!(SURFACE, Surface, "surface", SURFACE_BINDINGS);
kernel!(TRUST_RATIO, SegmentNorm, "trust_ratio", OUT_IN_IN_IN);
kernel!(SAMPLE_LABELS, Sample, "sample_labels", OUT_IN);

/// Every kernel, for tests that check each entry point exists with the bindings listed here.
pub const ALL_KERNELS: &[&Kernel] = &[
    &MATMUL_NT,
    &MATMUL_NT_BIAS,
    &MATMUL_NT_BIAS_ACT,
    &MATMUL_NN,
    &MATMUL_TN,
    &ACTIVATION_FORWARD,
    &ACTIVATION_BACKWARD,
    &BIAS_ADD,
    &SCALE,
    &AXPY,
    &ADD_SIGN,
    &FILL,
    &COPY,
    &DIV_BY_NORM,
    &SOFTMAX_FORWARD,
    &SOFTMAX_BACKWARD,
    &MSE_LOSS,
    &CROSS_ENTROPY_LOSS,
    &BCE_WITH_LOGITS_LOSS,
    &COLUMN_SUM,
    &SUM,
    &REDUCE_PARTIAL,
    &SUM_SQUARES,
    &SUM_ABS,
    &MAX_ABS,
    &DROPOUT_FORWARD,
    &DROPOUT_BACKWARD,
    &SGD_STEP,
    &ADAGRAD_STEP,
    &RMSPROP_STEP,
    &ADAM_STEP,
    &ADAMAX_STEP,
    &NADAM_STEP,
    &RADAM_STEP,
    &LION_STEP,
    &SOPHIA_STEP,
    &SCHEDULE_FREE_STEP,
    &LAMB_STEP,
    &ADAFACTOR_STEP,
    &MUON_STEP,
    &GATHER_ROWS,
    &GATHER_LABELS,
    &FIRST_NONFINITE,
    &IM2COL,
    &COL2IM,
    &CONV_OUTPUT,
    &CONV_GRAD_OUTPUT,
    &CHANNEL_SUM,
    &MAX_POOL_FORWARD,
    &MAX_POOL_BACKWARD,
    &AVG_POOL_FORWARD,
    &AVG_POOL_BACKWARD,
    &BATCH_NORM_FORWARD,
    &BATCH_NORM_BACKWARD,
    &LAYER_NORM_FORWARD,
    &LAYER_NORM_BACKWARD,
    &LAYER_NORM_PARAM_GRAD,
    &EMBEDDING_FORWARD,
    &EMBEDDING_BACKWARD,
    &CAUSAL_MASK,
    &SURFACE,
    &TRUST_RATIO,
    &SAMPLE_LABELS,
];
