//! CPU twins of `shaders/elementwise.wgsl`: activations, bias add, scale, axpy, fill, copy.
//! Plain index loops, shaped like the shader, so the two read side by side.
#![allow(clippy::needless_range_loop, reason = "index loops mirror the GPU shaders")]

use super::activation::{visit_kind, KindVisitor};
use super::Activation;
use crate::backend::cpu::float::Float;
use rayon::prelude::*;

/// √(2/π), the GELU tanh-approximation constant.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// 1/√2.
/// 1/√(2π), the standard normal density at 0.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// The cubic coefficient of GELU's tanh approximation.
const GELU_KAPPA: f64 = 0.044715;

/// Overflow-free logistic function (the same branch as the shader's `sigmoid`).
#[inline(always)]
pub fn sigmoid<F: Float>(x: F) -> F {
    if x >= F::zero() {
        F::one() / (F::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (F::one() + e)
    }
}

/// `act(x)` for activation kind `K` ([`Activation::shader_kind`]) with parameter `p`
/// (LeakyReLU's slope). `K` is a compile-time constant, so each kind's loop holds only its
/// own formula and vectorises.
#[inline(always)]
pub(crate) fn activate_kind<F: Float, const K: u32>(x: F, p: F) -> F {
    match K {
        0 => x.max(F::zero()),
        1 => {
            if x > F::zero() {
                x
            } else {
                p * x
            }
        }
        2 => sigmoid(x),
        3 => x.tanh(),
        4 => {
            // 0.5·x·(1 + tanh u) = x·sigmoid(2u): the same value without the cancellation
            // of 1 + tanh u near u = −∞.
            let inner = F::c(SQRT_2_OVER_PI) * (x + F::c(GELU_KAPPA) * x * x * x);
            x * sigmoid(F::c(2.0) * inner)
        }
        5 => x * x.normal_cdf(),
        6 => x * sigmoid(x),
        // A kind without a formula: NaN, as the shader's `default:`.
        _ => F::c(f64::NAN),
    }
}

/// `act'(x)` for activation kind `K` (the derivative PyTorch's autograd uses; 0 at ReLU's kink).
#[inline(always)]
fn derivative_kind<F: Float, const K: u32>(x: F, p: F) -> F {
    let one = F::one();
    let half = F::c(0.5);
    match K {
        0 => {
            if x > F::zero() {
                one
            } else {
                F::zero()
            }
        }
        1 => {
            if x > F::zero() {
                one
            } else {
                p
            }
        }
        2 => {
            let s = sigmoid(x);
            s * (one - s)
        }
        3 => {
            let t = x.tanh();
            one - t * t
        }
        4 => {
            let beta = F::c(SQRT_2_OVER_PI);
            let kappa = F::c(GELU_KAPPA);
            // With s = sigmoid(2u): 0.5(1 + tanh u) = s and 1 − tanh²u = 4s(1 − s).
            let s = sigmoid(F::c(2.0) * beta * (x + kappa * x * x * x));
            let left_derivative = s;
            let right_derivative = F::c(2.0) * x * s * (one - s) * beta * (one + F::c(3.0) * kappa * x * x);
            left_derivative + right_derivative
        }
        5 => {
            let pdf = F::c(FRAC_1_SQRT_2PI) * (-half * x * x).exp_lanes();
            let cdf = x.normal_cdf();
            cdf + x * pdf
        }
        6 => {
            let s = sigmoid(x);
            s * (one + x * (one - s))
        }
        // A kind without a formula: NaN, as the shader's `default:`.
        _ => F::c(f64::NAN),
    }
}

/// Elements per parallel task of the elementwise loops. Fixed, and each element is computed on
/// its own, so results never depend on the thread count.
pub(crate) const TASK: usize = 1 << 15;

/// `out[i] = f(x[i])`, in parallel tasks of [`TASK`] elements above one task's worth.
pub(crate) fn map1<F: Float>(out: &mut [F], x: &[F], f: impl Fn(F) -> F + Sync) {
    if out.len() <= TASK {
        map1_task(out, x, &f);
    } else {
        out.par_chunks_mut(TASK).zip(x.par_chunks(TASK)).for_each(|(o, x)| map1_task(o, x, &f));
    }
}

/// `out[i] = f(out[i], a[i], b[i])` (`b` may be empty when `f` ignores it; `a` may not), in
/// parallel tasks.
pub(crate) fn map3<F: Float>(out: &mut [F], a: &[F], b: &[F], f: impl Fn(F, F, F) -> F + Sync) {
    if out.len() <= TASK {
        map3_task(out, a, b, &f);
    } else if b.is_empty() {
        out.par_chunks_mut(TASK).zip(a.par_chunks(TASK)).for_each(|(o, a)| map3_task(o, a, &[], &f));
    } else {
        out.par_chunks_mut(TASK)
            .zip(a.par_chunks(TASK))
            .zip(b.par_chunks(TASK))
            .for_each(|((o, a), b)| map3_task(o, a, b, &f));
    }
}

/// One task of [`map1`]: the loop compiled for AVX-512 or AVX2 when the CPU has them (each
/// element on its own, so the bits do not depend on the width).
fn map1_task<F: Float, G: Fn(F) -> F>(o: &mut [F], x: &[F], f: &G) {
    #[inline(always)]
    fn body<F: Float, G: Fn(F) -> F>(o: &mut [F], x: &[F], f: &G) {
        let n = o.len().min(x.len());
        let (o, x) = (&mut o[..n], &x[..n]);
        for i in 0..n {
            o[i] = f(x[i]);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn avx512<F: Float, G: Fn(F) -> F>(o: &mut [F], x: &[F], f: &G) {
            body(o, x, f)
        }
        #[target_feature(enable = "avx2")]
        fn avx2<F: Float, G: Fn(F) -> F>(o: &mut [F], x: &[F], f: &G) {
            body(o, x, f)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { avx512(o, x, f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { avx2(o, x, f) };
        }
    }
    body(o, x, f)
}

/// One task of [`map3`], compiled as [`map1_task`] is.
fn map3_task<F: Float, G: Fn(F, F, F) -> F>(o: &mut [F], a: &[F], b: &[F], f: &G) {
    #[inline(always)]
    fn body<F: Float, G: Fn(F, F, F) -> F>(o: &mut [F], a: &[F], b: &[F], f: &G) {
        // Index loops over slices cut to one length: no iterator adapter left to inline, so
        // the loop compiles inside the wrapper with its instruction set.
        let n = o.len().min(a.len());
        let (o, a) = (&mut o[..n], &a[..n]);
        if b.is_empty() {
            for i in 0..n {
                o[i] = f(o[i], a[i], F::zero());
            }
        } else {
            let b = &b[..n];
            for i in 0..n {
                o[i] = f(o[i], a[i], b[i]);
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn avx512<F: Float, G: Fn(F, F, F) -> F>(o: &mut [F], a: &[F], b: &[F], f: &G) {
            body(o, a, b, f)
        }
        #[target_feature(enable = "avx2")]
        fn avx2<F: Float, G: Fn(F, F, F) -> F>(o: &mut [F], a: &[F], b: &[F], f: &G) {
            body(o, a, b, f)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { avx512(o, a, b, f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { avx2(o, a, b, f) };
        }
    }
    body(o, a, b, f)
}

/// `out[i] = act(x[i])`. out and x are (N).
pub fn activation_forward<F: Float>(act: Activation, out: &mut [F], x: &[F]) {
    activation_forward_kind(act.shader_kind(), act.parameter(), out, x)
}

/// `dx[i] = act'(x[i]) · dy[i]`. dx, x, dy are (N); x is the activation's input.
pub fn activation_backward<F: Float>(act: Activation, dx: &mut [F], x: &[F], dy: &[F]) {
    activation_backward_kind(act.shader_kind(), act.parameter(), dx, x, dy)
}

/// [`activation_forward`] for a raw shader `kind` and parameter, as the kernel reads them.
pub fn activation_forward_kind<F: Float>(kind: u32, param: f32, out: &mut [F], x: &[F]) {
    struct Forward<'a, F> {
        out: &'a mut [F],
        x: &'a [F],
        p: F,
    }
    impl<F: Float> KindVisitor for Forward<'_, F> {
        type Out = ();
        fn visit<const K: u32>(self) {
            let p = self.p;
            map1(self.out, self.x, move |v| activate_kind::<F, K>(v, p))
        }
    }
    visit_kind(kind, Forward { out, x, p: F::c(param as f64) })
}

/// [`activation_backward`] for a raw shader `kind` and parameter, as the kernel reads them.
pub fn activation_backward_kind<F: Float>(kind: u32, param: f32, dx: &mut [F], x: &[F], dy: &[F]) {
    struct Backward<'a, F> {
        dx: &'a mut [F],
        x: &'a [F],
        dy: &'a [F],
        p: F,
    }
    impl<F: Float> KindVisitor for Backward<'_, F> {
        type Out = ();
        fn visit<const K: u32>(self) {
            let p = self.p;
            map3(self.dx, self.x, self.dy, move |_, x, dy| derivative_kind::<F, K>(x, p) * dy)
        }
    }
    visit_kind(kind, Backward { dx, x, dy, p: F::c(param as f64) })
}

/// `x[r, c] += bias[c]`. x is (R,C), bias is (C).
pub fn bias_add<F: Float>(x: &mut [F], bias: &[F], cols: usize) {
    let rows_per_task = (TASK / cols.max(1)).max(1);
    let run = |rows: &mut [F]| {
        for row in rows.chunks_mut(cols.max(1)) {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += *b);
        }
    };
    if x.len() <= TASK || cols == 0 {
        run(x);
    } else {
        x.par_chunks_mut(rows_per_task * cols).for_each(run);
    }
}

/// `x[i] *= alpha`.
pub fn scale<F: Float>(x: &mut [F], alpha: F) {
    let run = |x: &mut [F]| x.iter_mut().for_each(|v| *v = *v * alpha);
    if x.len() <= TASK {
        run(x);
    } else {
        x.par_chunks_mut(TASK).for_each(run);
    }
}

/// `y[i] += alpha · x[i]`.
pub fn axpy<F: Float>(y: &mut [F], alpha: F, x: &[F]) {
    map3(y, x, &[], |y, x, _| y + alpha * x);
}

/// `y[i] += alpha · sign(x[i])` with sign(0) = 0: the gradient of an L1 penalty.
pub fn add_sign<F: Float>(y: &mut [F], alpha: F, x: &[F]) {
    map3(y, x, &[], |y, x, _| {
        let s = if x > F::zero() {
            F::one()
        } else if x < F::zero() {
            -F::one()
        } else {
            F::zero()
        };
        y + alpha * s
    });
}

/// `x[i] = value`.
pub fn fill<F: Float>(x: &mut [F], value: F) {
    x.fill(value);
}

/// `dst[i] = src[i]`.
pub fn copy<F: Float>(dst: &mut [F], src: &[F]) {
    dst.copy_from_slice(src);
}

/// `out = x / max(√sumsq, eps)`: a tensor divided by its norm (Muon's normalisation).
pub fn div_by_norm(out: &mut [f32], x: &[f32], sumsq: f32, eps: f32) {
    let d = sumsq.sqrt().max(eps);
    for (o, &x) in out.iter_mut().zip(x) {
        *o = x / d;
    }
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::elementwise::ElementwiseParams;

    /// `activation_forward`: (out, x).
    pub fn activation_forward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ElementwiseParams = params("activation_forward", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("activation_forward", bufs)) };
        super::activation_forward_kind(p.kind, p.alpha, out, x);
        Ok(())
    }

    /// `activation_backward`: (dx, x, dy).
    pub fn activation_backward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ElementwiseParams = params("activation_backward", bytes)?;
        let [CpuBuf::Write(dx), CpuBuf::Read(x), CpuBuf::Read(dy)] = bufs else {
            return Err(bad_buffers("activation_backward", bufs));
        };
        super::activation_backward_kind(p.kind, p.alpha, dx, x, dy);
        Ok(())
    }

    /// `bias_add`: (x, bias).
    pub fn bias_add(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ElementwiseParams = params("bias_add", bytes)?;
        let [CpuBuf::Write(x), CpuBuf::Read(bias)] = bufs else { return Err(bad_buffers("bias_add", bufs)) };
        super::bias_add(x, bias, p.cols as usize);
        Ok(())
    }

    /// `scale`: (x).
    pub fn scale(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ElementwiseParams = params("scale", bytes)?;
        let [CpuBuf::Write(x)] = bufs else { return Err(bad_buffers("scale", bufs)) };
        super::scale(x, p.alpha);
        Ok(())
    }

    /// `fill`: (x).
    pub fn fill(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ElementwiseParams = params("fill", bytes)?;
        let [CpuBuf::Write(x)] = bufs else { return Err(bad_buffers("fill", bufs)) };
        super::fill(x, p.alpha);
        Ok(())
    }

    /// `axpy`: (y, x).
    pub fn axpy(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ElementwiseParams = params("axpy", bytes)?;
        let [CpuBuf::Write(y), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("axpy", bufs)) };
        super::axpy(y, p.alpha, x);
        Ok(())
    }

    /// `add_sign`: (y, x).
    pub fn add_sign(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ElementwiseParams = params("add_sign", bytes)?;
        let [CpuBuf::Write(y), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("add_sign", bufs)) };
        super::add_sign(y, p.alpha, x);
        Ok(())
    }

    /// `copy`: (dst, src).
    pub fn copy(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let _: ElementwiseParams = params("copy", bytes)?;
        let [CpuBuf::Write(dst), CpuBuf::Read(src)] = bufs else { return Err(bad_buffers("copy", bufs)) };
        super::copy(dst, src);
        Ok(())
    }

    /// `copy_range`: (dst, src); n elements from src offset `kind` to dst offset `cols`.
    pub fn copy_range(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ElementwiseParams = params("copy_range", bytes)?;
        let [CpuBuf::Write(dst), CpuBuf::Read(src)] = bufs else { return Err(bad_buffers("copy_range", bufs)) };
        let (n, d, s) = (p.n as usize, p.cols as usize, p.kind as usize);
        super::copy(&mut dst[d..d + n], &src[s..s + n]);
        Ok(())
    }

    /// `div_by_norm`: (out, x, sumsq).
    pub fn div_by_norm(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ElementwiseParams = params("div_by_norm", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x), CpuBuf::Read(s)] = bufs else {
            return Err(bad_buffers("div_by_norm", bufs));
        };
        super::div_by_norm(out, x, s[0], p.alpha);
        Ok(())
    }
}
