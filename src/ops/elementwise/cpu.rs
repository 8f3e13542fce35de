//! CPU twins of `shaders/elementwise.wgsl`: activations, bias add, scale, axpy, fill, copy.
//! Plain index loops, shaped like the shader, so the two read side by side.
#![allow(clippy::needless_range_loop, reason = "index loops mirror the GPU shaders")]

use crate::backend::cpu::float::Float;
use crate::backend::Activation;

/// √(2/π), the GELU tanh-approximation constant.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// 1/√2.
const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// 1/√(2π), the standard normal density at 0.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// The cubic coefficient of GELU's tanh approximation.
const GELU_KAPPA: f64 = 0.044715;

/// Overflow-free logistic function (the same branch as the shader's `sigmoid`).
pub fn sigmoid<F: Float>(x: F) -> F {
    if x >= F::zero() {
        F::one() / (F::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (F::one() + e)
    }
}

/// `act(x)` for one element.
pub fn activate<F: Float>(act: Activation, x: F) -> F {
    let half = F::c(0.5);
    match act {
        Activation::Relu => x.max(F::zero()),
        Activation::LeakyRelu { slope } => {
            if x > F::zero() {
                x
            } else {
                F::c(slope as f64) * x
            }
        }
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => x.tanh(),
        Activation::GeluTanh => {
            // 0.5·x·(1 + tanh u) = x·sigmoid(2u): the same value without the cancellation
            // of 1 + tanh u near u = −∞.
            let inner = F::c(SQRT_2_OVER_PI) * (x + F::c(GELU_KAPPA) * x * x * x);
            x * sigmoid(F::c(2.0) * inner)
        }
        Activation::GeluErf => half * x * (F::one() + (x * F::c(FRAC_1_SQRT_2)).erf()),
        Activation::Silu => x * sigmoid(x),
    }
}

/// `act'(x)` for one element (the derivative PyTorch's autograd uses; 0 at ReLU's kink).
pub fn activate_derivative<F: Float>(act: Activation, x: F) -> F {
    let one = F::one();
    let half = F::c(0.5);
    match act {
        Activation::Relu => {
            if x > F::zero() {
                one
            } else {
                F::zero()
            }
        }
        Activation::LeakyRelu { slope } => {
            if x > F::zero() {
                one
            } else {
                F::c(slope as f64)
            }
        }
        Activation::Sigmoid => {
            let s = sigmoid(x);
            s * (one - s)
        }
        Activation::Tanh => {
            let t = x.tanh();
            one - t * t
        }
        Activation::GeluTanh => {
            let beta = F::c(SQRT_2_OVER_PI);
            let kappa = F::c(GELU_KAPPA);
            // With s = sigmoid(2u): 0.5(1 + tanh u) = s and 1 − tanh²u = 4s(1 − s).
            let s = sigmoid(F::c(2.0) * beta * (x + kappa * x * x * x));
            let left_derivative = s;
            let right_derivative = F::c(2.0) * x * s * (one - s) * beta * (one + F::c(3.0) * kappa * x * x);
            left_derivative + right_derivative
        }
        Activation::GeluErf => {
            let cdf = half * (one + (x * F::c(FRAC_1_SQRT_2)).erf());
            let pdf = F::c(FRAC_1_SQRT_2PI) * (-half * x * x).exp();
            cdf + x * pdf
        }
        Activation::Silu => {
            let s = sigmoid(x);
            s * (one + x * (one - s))
        }
    }
}

/// `out[i] = act(x[i])`. out and x are (N).
pub fn activation_forward<F: Float>(act: Activation, out: &mut [F], x: &[F]) {
    for i in 0..out.len() {
        out[i] = activate(act, x[i]);
    }
}

/// `dx[i] = act'(x[i]) · dy[i]`. dx, x, dy are (N); x is the activation's input.
pub fn activation_backward<F: Float>(act: Activation, dx: &mut [F], x: &[F], dy: &[F]) {
    for i in 0..dx.len() {
        dx[i] = activate_derivative(act, x[i]) * dy[i];
    }
}

/// `x[r, c] += bias[c]`. x is (R,C), bias is (C).
pub fn bias_add<F: Float>(x: &mut [F], bias: &[F], cols: usize) {
    for i in 0..x.len() {
        x[i] += bias[i % cols];
    }
}

/// `x[i] *= alpha`.
pub fn scale<F: Float>(x: &mut [F], alpha: F) {
    for i in 0..x.len() {
        x[i] = x[i] * alpha;
    }
}

/// `y[i] += alpha · x[i]`.
pub fn axpy<F: Float>(y: &mut [F], alpha: F, x: &[F]) {
    for i in 0..y.len() {
        y[i] += alpha * x[i];
    }
}

/// `y[i] += alpha · sign(x[i])` with sign(0) = 0: the gradient of an L1 penalty.
pub fn add_sign<F: Float>(y: &mut [F], alpha: F, x: &[F]) {
    for i in 0..y.len() {
        let s = if x[i] > F::zero() {
            F::one()
        } else if x[i] < F::zero() {
            -F::one()
        } else {
            F::zero()
        };
        y[i] += alpha * s;
    }
}

/// `x[i] = value`.
pub fn fill<F: Float>(x: &mut [F], value: F) {
    for i in 0..x.len() {
        x[i] = value;
    }
}

/// `dst[i] = src[i]`.
pub fn copy<F: Float>(dst: &mut [F], src: &[F]) {
    dst.copy_from_slice(src);
}
