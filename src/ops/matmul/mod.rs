//! The three products of a Linear layer (`matmul_nt` X·Wᵀ, `matmul_nn` dY·W, `matmul_tn` dYᵀ·X),
//! batched over a leading dimension for convolution groups; the shape check is `MatmulForm::dims`
//! (src/tensor.rs). `matmul_bias` is the Linear forward with the bias added in the product's
//! epilogue. Kernel: `shaders/matmul.wgsl` (64×64 register-tiled).

pub mod cpu;
pub mod transpose;

use crate::backend::kernel::{Arg, Grid, Kernel};
use crate::backend::Backend;
use crate::error::Result;
use crate::ops::elementwise::Activation;
use crate::ops::registry;
use crate::tensor::MatmulForm;

/// Mirrors `Params` in matmul.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatmulParams {
    /// Rows of the product.
    pub m: u32,
    /// Columns of the product.
    pub n: u32,
    /// The summed dimension.
    pub k: u32,
    /// 1: add the product to `out`; 0: replace it.
    pub accumulate: u32,
    /// Element stride between the batch entries of out.
    pub stride_out: u32,
    /// Element stride between the batch entries of a.
    pub stride_a: u32,
    /// Element stride between the batch entries of b.
    pub stride_b: u32,
    /// `matmul_nt_bias_act`: the activation's shader kind.
    pub act_kind: u32,
    /// `matmul_nt_bias_act`: the activation's parameter.
    pub act_param: f32,
    /// `matmul_nt_conv` (`ops::conv::conv_gemm_forward`): the output plane OH·OW, the output
    /// channels O, and 1 when a bias is added; zeros for the other kernels.
    pub conv: [u32; 3],
}

/// Output tile of one workgroup (TILE_M = TILE_N in the shader).
const TILE: usize = 64;

/// One of the three products of a Linear layer, chosen by `form` (see [`MatmulForm`]); with
/// `accumulate` the product is added to `out` (gradient accumulation).
pub fn matmul<B: Backend>(
    be: &B,
    form: MatmulForm,
    out: &mut B::Tensor,
    a: &B::Tensor,
    b: &B::Tensor,
    accumulate: bool,
) -> Result<()> {
    let dims = form.dims(be.shape(out), be.shape(a), be.shape(b))?;
    let kernel = match form {
        MatmulForm::Nt => &registry::MATMUL_NT,
        MatmulForm::Nn => &registry::MATMUL_NN,
        MatmulForm::Tn => &registry::MATMUL_TN,
    };
    tiled(be, kernel, dims, accumulate, None, [0; 3], &mut [Arg::Write(out), Arg::Read(a), Arg::Read(b)])
}

/// The Linear forward in one op: `out = a·bᵀ + bias`, bias (N) added to every row. out is
/// (M,N), a (M,K), b (N,K). The GPU adds the bias in the product's epilogue (one pass over out
/// instead of two); the CPU twin runs the product, then the bias add.
pub fn matmul_bias<B: Backend>(
    be: &B,
    out: &mut B::Tensor,
    a: &B::Tensor,
    b: &B::Tensor,
    bias: &B::Tensor,
) -> Result<()> {
    let (m, n, k) = bias_dims(be.shape(out), be.shape(a), be.shape(b), be.shape(bias))?;
    let args = &mut [Arg::Write(out), Arg::Read(a), Arg::Read(b), Arg::Read(bias)];
    tiled(be, &registry::MATMUL_NT_BIAS, (1, m, n, k), false, None, [0; 3], args)
}

/// A Linear layer and the activation after it in one op: `out = a·bᵀ + bias` (kept: the
/// activation's backward reads it) and `act_out = act(out)`. Shapes as [`matmul_bias`];
/// act_out is shaped as out. The GPU computes both in the product's epilogue; the CPU twin runs
/// the three steps in turn (the same values).
pub fn matmul_bias_act<B: Backend>(
    be: &B,
    out: &mut B::Tensor,
    act_out: &mut B::Tensor,
    a: &B::Tensor,
    b: &B::Tensor,
    bias: &B::Tensor,
    act: Activation,
) -> Result<()> {
    let shapes = (be.shape(out), be.shape(act_out), be.shape(a), be.shape(b), be.shape(bias));
    let (m, n, k) = bias_act_dims(shapes.0, shapes.1, shapes.2, shapes.3, shapes.4)?;
    let args = &mut [Arg::Write(out), Arg::Read(a), Arg::Read(b), Arg::Read(bias), Arg::Write(act_out)];
    tiled(be, &registry::MATMUL_NT_BIAS_ACT, (1, m, n, k), false, Some(act), [0; 3], args)
}

/// One launch of a tiled product kernel over (batch, m, n, k): a workgroup per 64×64 output
/// tile, z over the batch; `conv` is [`MatmulParams::conv`].
pub(crate) fn tiled<B: Backend>(
    be: &B,
    kernel: &'static Kernel,
    (batch, m, n, k): (usize, usize, usize, usize),
    accumulate: bool,
    act: Option<Activation>,
    conv: [u32; 3],
    args: &mut [Arg<'_, B::Tensor, B::U32Buffer>],
) -> Result<()> {
    let p = MatmulParams {
        m: m as u32,
        n: n as u32,
        k: k as u32,
        accumulate: accumulate as u32,
        stride_out: (m * n) as u32,
        stride_a: (m * k) as u32,
        stride_b: (n * k) as u32,
        act_kind: act.map_or(0, |a| a.shader_kind()),
        act_param: act.map_or(0.0, |a| a.parameter()),
        conv,
    };
    let grid = Grid::Fixed(n.div_ceil(TILE).max(1) as u32, m.div_ceil(TILE).max(1) as u32, batch as u32);
    be.launch(kernel, bytemuck::bytes_of(&p), args, grid)
}

/// The checks of `matmul_bias`: the `Nt` product's (no batch of products), then a bias of N
/// elements. Returns (m, n, k).
pub(crate) fn bias_dims(out: &[usize], a: &[usize], b: &[usize], bias: &[usize]) -> Result<(usize, usize, usize)> {
    let (batch, m, n, k) = MatmulForm::Nt.dims(out, a, b)?;
    if batch != 1 || out.len() != 2 {
        return Err(crate::error::shape_error("matmul_bias", format!("out {out:?} must be a matrix (M, N)")));
    }
    crate::ops::elementwise::bias_dims(out, bias)?;
    Ok((m, n, k))
}

/// The checks of `matmul_bias_act`: those of `matmul_bias`, and `act_out` shaped as `out`.
pub(crate) fn bias_act_dims(
    out: &[usize],
    act_out: &[usize],
    a: &[usize],
    b: &[usize],
    bias: &[usize],
) -> Result<(usize, usize, usize)> {
    if act_out != out {
        return Err(crate::error::shape_error(
            "matmul_bias_act",
            format!("act_out {act_out:?} must be shaped as out {out:?}"),
        ));
    }
    bias_dims(out, a, b, bias)
}
