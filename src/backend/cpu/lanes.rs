//! Sums over a slice in 16 independent f32 lanes (what one AVX-512 register holds; the compiler
//! vectorises the fixed-size lane array at any width), the lanes then added in f64: element i
//! goes to lane i mod 16. The order is fixed by the slice alone, so the result never depends on
//! threads; in f32 the error is that of summing len/16 terms in f32, far below an f32 tolerance for
//! the planes these see.

use super::float::Float;

/// Lanes per sum.
const LANES: usize = 16;

fn total<F: Float>(acc: [F; LANES]) -> f64 {
    acc.iter().map(|v| v.to_f64()).sum()
}

/// Σ f(x) over one slice.
#[inline(always)]
fn map_sum<F: Float>(x: &[F], f: impl Fn(F) -> F) -> f64 {
    let mut acc = [F::zero(); LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += f(*v);
        }
    }
    for (a, v) in acc.iter_mut().zip(chunks.remainder()) {
        *a += f(*v);
    }
    total(acc)
}

/// Σ x.
pub fn sum<F: Float>(x: &[F]) -> f64 {
    map_sum(x, |v| v)
}

/// Σ (x − c)².
pub fn sum_sq_dev<F: Float>(x: &[F], c: F) -> f64 {
    map_sum(x, |v| (v - c) * (v - c))
}

/// Σ y·(x − c), for `x` and `y` of one length.
pub fn dot_dev<F: Float>(y: &[F], x: &[F], c: F) -> f64 {
    assert_eq!(x.len(), y.len(), "dot_dev operands");
    let mut acc = [F::zero(); LANES];
    let (mut xs, mut ys) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    for (xc, yc) in (&mut xs).zip(&mut ys) {
        for ((a, xv), yv) in acc.iter_mut().zip(xc).zip(yc) {
            *a += *yv * (*xv - c);
        }
    }
    for ((a, xv), yv) in acc.iter_mut().zip(xs.remainder()).zip(ys.remainder()) {
        *a += *yv * (*xv - c);
    }
    total(acc)
}
