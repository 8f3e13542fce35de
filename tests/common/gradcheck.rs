//! Central finite differences in f64 and the comparison the gradient-check tests share.

use super::Rng;

/// The finite-difference step.
pub const H: f64 = 1e-6;

/// `n` uniform values in [lo, hi).
pub fn randv(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(lo, hi)).collect()
}

/// Σ a·b.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Finite-difference gradient of the scalar function `l` at `x`.
pub fn numeric_grad(x: &[f64], l: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let mut x = x.to_vec();
    (0..x.len())
        .map(|i| {
            let orig = x[i];
            x[i] = orig + H;
            let plus = l(&x);
            x[i] = orig - H;
            let minus = l(&x);
            x[i] = orig;
            (plus - minus) / (2.0 * H)
        })
        .collect()
}

/// Fails unless each analytic value is within 1e-6 + 1e-5·|numeric| of the finite difference.
pub fn assert_grad(what: &str, analytic: &[f64], numeric: &[f64]) {
    assert_eq!(analytic.len(), numeric.len(), "{what}: lengths");
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        let tol = 1e-6 + 1e-5 * n.abs();
        assert!((a - n).abs() <= tol, "{what}: element {i}: backward {a} vs finite difference {n} (tol {tol:e})");
    }
}
