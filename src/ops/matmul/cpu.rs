//! CPU twins of `shaders/matmul.wgsl`: the three products of a Linear layer, on ndarray's matmul.

use crate::backend::cpu::float::Float;
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};

/// 1 when the product is added to `out` (gradient accumulation), 0 when it replaces it.
fn beta<F: Float>(accumulate: bool) -> F {
    if accumulate {
        F::one()
    } else {
        F::zero()
    }
}

fn views<'a, F: Float>(
    out: &'a mut [F],
    a: &'a [F],
    b: &'a [F],
    out_dims: (usize, usize),
    a_dims: (usize, usize),
    b_dims: (usize, usize),
) -> (ArrayViewMut2<'a, F>, ArrayView2<'a, F>, ArrayView2<'a, F>) {
    // Callers have checked the sizes, so these cannot fail.
    let o = ArrayViewMut2::from_shape(out_dims, out).expect("out size checked");
    let a = ArrayView2::from_shape(a_dims, a).expect("a size checked");
    let b = ArrayView2::from_shape(b_dims, b).expect("b size checked");
    (o, a, b)
}

/// `out = a · bᵀ` (or `out += …` when `accumulate`). out is (M,N), a is (M,K), b is (N,K). The forward pass `X·Wᵀ`.
pub fn matmul_nt<F: Float>(out: &mut [F], a: &[F], b: &[F], m: usize, n: usize, k: usize, accumulate: bool) {
    let (mut o, a, b) = views(out, a, b, (m, n), (m, k), (n, k));
    general_mat_mul(F::one(), &a, &b.t(), beta::<F>(accumulate), &mut o);
}

/// `out = a · b` (or `out += …` when `accumulate`). out is (M,N), a is (M,K), b is (K,N). The input gradient `dY·W`.
pub fn matmul_nn<F: Float>(out: &mut [F], a: &[F], b: &[F], m: usize, n: usize, k: usize, accumulate: bool) {
    let (mut o, a, b) = views(out, a, b, (m, n), (m, k), (k, n));
    general_mat_mul(F::one(), &a, &b, beta::<F>(accumulate), &mut o);
}

/// `out = aᵀ · b` (or `out += …` when `accumulate`). out is (M,N), a is (K,M), b is (K,N). The weight gradient `dYᵀ·X`.
pub fn matmul_tn<F: Float>(out: &mut [F], a: &[F], b: &[F], m: usize, n: usize, k: usize, accumulate: bool) {
    let (mut o, a, b) = views(out, a, b, (m, n), (k, m), (k, n));
    general_mat_mul(F::one(), &a.t(), &b, beta::<F>(accumulate), &mut o);
}
