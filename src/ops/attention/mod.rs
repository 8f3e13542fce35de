//! Scaled dot-product attention, as `torch.nn.functional.scaled_dot_product_attention` with
//! `attn_mask=None`, `dropout_p=0` and the default scale s = 1/√E, under PyTorch's MATH kernel:
//! Q and K are each scaled by √s (rounded to f32), then
//!
//! ```text
//! forward   S = (Q√s)(K√s)ᵀ   [B·H, L, S]  (batched matmul_nt); causal: S[i, j] = −∞ for j > i
//!           P = softmax_rows(S);  out = P·V  (batched matmul_nn)
//! backward  dV = Pᵀ·dO;  dP = dO·Vᵀ;  dS = P ⊙ (dP − rowsum(dP ⊙ P))  (softmax_backward)
//!           dQ = √s·dS·(K√s);  dK = √s·dSᵀ·(Q√s)
//! ```
//!
//! Everything but the causal mask is the batched matmul and the row softmax; the mask is this
//! form's one kernel. Inputs are [B, H, L, E] (query), [B, H, S, E] (key), [B, H, S, Ev] (value).
//! This materialised form is the functional op (any value width, PyTorch's exact rounding);
//! the layers run the fused form in [`flash`], which never stores the scores.

pub mod cpu;
pub mod flash;

use crate::backend::kernel::{Arg, Grid};
use crate::backend::Backend;
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::ops::elementwise;
use crate::ops::matmul;
use crate::ops::registry;
use crate::ops::softmax;
use crate::tensor::MatmulForm;

/// Mirrors `MaskParams` in attention.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MaskParams {
    /// Elements of the scores, M·L·S.
    pub n: u32,
    /// Query positions L.
    pub l: u32,
    /// Key positions S.
    pub s: u32,
    /// Padding to 16 bytes.
    pub pad0: u32,
}

/// `scores[m, i, j] = −∞` for `j > i` in scores `[M, L, S]`: the causal mask.
pub fn causal_mask<B: Backend>(be: &B, scores: &mut B::Tensor) -> Result<()> {
    let (m, l, s) = check_scores(be.shape(scores))?;
    let p = MaskParams { n: (m * l * s) as u32, l: l as u32, s: s as u32, pad0: 0 };
    be.launch(&registry::CAUSAL_MASK, bytemuck::bytes_of(&p), &mut [Arg::Write(scores)], Grid::Items(m * l * s))
}

/// Checks attention scores `[M, L, S]`; returns (M, L, S).
pub fn check_scores(scores: &[usize]) -> Result<(usize, usize, usize)> {
    match *scores {
        [m, l, s] => Ok((m, l, s)),
        _ => Err(shape_error("causal_mask", format!("scores must be [M, L, S], got {}", ShapeDisplay(scores)))),
    }
}

/// The dimensions of one attention call: M = B·H matrices, L queries, S keys, E and Ev widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionDims {
    /// Batch × heads.
    pub m: usize,
    /// Query positions.
    pub l: usize,
    /// Key positions.
    pub s: usize,
    /// Query/key width.
    pub e: usize,
    /// Value width.
    pub ev: usize,
}

impl AttentionDims {
    /// The dimensions of query [B, H, L, E], key [B, H, S, E], value [B, H, S, Ev].
    pub fn new(q: &[usize], k: &[usize], v: &[usize]) -> Result<Self> {
        let bad = || {
            shape_error(
                "scaled_dot_product_attention",
                format!(
                    "expects query [B, H, L, E], key [B, H, S, E], value [B, H, S, Ev]; got {}, {}, {}",
                    ShapeDisplay(q),
                    ShapeDisplay(k),
                    ShapeDisplay(v)
                ),
            )
        };
        let ([b, h, l, e], [kb, kh, s, ke], [vb, vh, vs, ev]) = (q, k, v) else { return Err(bad()) };
        if (b, h, e) != (kb, kh, ke) || (b, h, s) != (vb, vh, vs) {
            return Err(bad());
        }
        Ok(Self { m: b * h, l: *l, s: *s, e: *e, ev: *ev })
    }

    /// √s with s = 1/√E, rounded to f32 as PyTorch's MATH kernel does.
    pub fn sqrt_scale(&self) -> f32 {
        ((1.0 / (self.e as f64).sqrt()).sqrt()) as f32
    }
}

impl AttentionDims {
    /// The shapes of the scratch one call keeps from forward to backward (the scaled Q and K,
    /// the probabilities P, the backward's dP and dS): what a layer declares in
    /// `Layer::scratch`, so the step plan allocates them once like every other layer's.
    pub fn scratch_shapes(&self) -> Vec<Vec<usize>> {
        vec![
            vec![self.m, self.l, self.e],
            vec![self.m, self.s, self.e],
            vec![self.m, self.l, self.s],
            vec![self.m * self.l, self.s],
            vec![self.m * self.l, self.s],
        ]
    }
}

/// The scratch tensors of one attention call (allocated by the plan from
/// [`AttentionDims::scratch_shapes`]), borrowed for a forward and its backward.
pub struct AttentionScratch<'a, B: Backend> {
    qs: &'a mut B::Tensor,
    ks: &'a mut B::Tensor,
    probs: &'a mut B::Tensor,
    dp: &'a mut B::Tensor,
    ds: &'a mut B::Tensor,
}

impl<'a, B: Backend> AttentionScratch<'a, B> {
    /// The five scratch tensors in [`AttentionDims::scratch_shapes`]' order (a layer's plan
    /// scratch); the ops check their shapes when they run.
    pub fn new(scratch: &'a mut [B::Tensor]) -> Result<Self> {
        let len = scratch.len();
        let [qs, ks, probs, dp, ds] = scratch else {
            return Err(shape_error("scaled_dot_product_attention", format!("expects 5 scratch tensors, got {len}")));
        };
        Ok(Self { qs, ks, probs, dp, ds })
    }
}

/// `out` [B, H, L, Ev] = softmax((Q√s)(K√s)ᵀ [+ causal mask]) · V.
pub fn sdpa_forward<B: Backend>(
    be: &B,
    out: &mut B::Tensor,
    q: &B::Tensor,
    k: &B::Tensor,
    v: &B::Tensor,
    causal: bool,
    sc: &mut AttentionScratch<'_, B>,
) -> Result<()> {
    let d = AttentionDims::new(be.shape(q), be.shape(k), be.shape(v))?;
    let root = d.sqrt_scale();
    elementwise::copy(be, sc.qs, &be.view(q, 0, &[d.m, d.l, d.e])?)?;
    elementwise::scale(be, sc.qs, root)?;
    elementwise::copy(be, sc.ks, &be.view(k, 0, &[d.m, d.s, d.e])?)?;
    elementwise::scale(be, sc.ks, root)?;
    // The scores live in the backward's dS buffer until the softmax has read them.
    let mut scores = be.view(sc.ds, 0, &[d.m, d.l, d.s])?;
    matmul::matmul(be, MatmulForm::Nt, &mut scores, sc.qs, sc.ks, false)?;
    if causal {
        causal_mask(be, &mut scores)?;
    }
    let mut probs = be.view(sc.probs, 0, &[d.m * d.l, d.s])?;
    softmax::softmax_forward(be, &mut probs, sc.ds)?;
    let mut o = be.view(out, 0, &[d.m, d.l, d.ev])?;
    matmul::matmul(be, MatmulForm::Nn, &mut o, sc.probs, &be.view(v, 0, &[d.m, d.s, d.ev])?, false)
}

/// The gradients of [`sdpa_forward`] (which must have run with the same scratch): `dq`, `dk`,
/// `dv` from the output gradient `dout`.
#[allow(clippy::too_many_arguments, reason = "three inputs, their three gradients, the upstream gradient")]
pub fn sdpa_backward<B: Backend>(
    be: &B,
    dq: &mut B::Tensor,
    dk: &mut B::Tensor,
    dv: &mut B::Tensor,
    k: &B::Tensor,
    v: &B::Tensor,
    dout: &B::Tensor,
    sc: &mut AttentionScratch<'_, B>,
) -> Result<()> {
    let d = AttentionDims::new(be.shape(dq), be.shape(k), be.shape(v))?;
    let root = d.sqrt_scale();
    let dout = be.view(dout, 0, &[d.m, d.l, d.ev])?;
    let mut dv3 = be.view(dv, 0, &[d.m, d.s, d.ev])?;
    matmul::matmul(be, MatmulForm::Tn, &mut dv3, sc.probs, &dout, false)?;
    let mut dp = be.view(sc.dp, 0, &[d.m, d.l, d.s])?;
    matmul::matmul(be, MatmulForm::Nt, &mut dp, &dout, &be.view(v, 0, &[d.m, d.s, d.ev])?, false)?;
    softmax::softmax_backward(be, sc.ds, &be.view(sc.probs, 0, &[d.m * d.l, d.s])?, sc.dp)?;
    let ds = be.view(sc.ds, 0, &[d.m, d.l, d.s])?;
    let mut dq3 = be.view(dq, 0, &[d.m, d.l, d.e])?;
    matmul::matmul(be, MatmulForm::Nn, &mut dq3, &ds, sc.ks, false)?;
    elementwise::scale(be, dq, root)?;
    let mut dk3 = be.view(dk, 0, &[d.m, d.s, d.e])?;
    matmul::matmul(be, MatmulForm::Tn, &mut dk3, &ds, sc.qs, false)?;
    elementwise::scale(be, dk, root)
}
