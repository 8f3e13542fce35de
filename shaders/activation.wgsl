// activation.wgsl: the activation functions and their derivatives, shared by elementwise.wgsl
// (activation_forward/backward) and matmul.wgsl (the Linear forward with the activation in its
// epilogue), so both compute the same values. Kinds are Activation::shader_kind; `param` is
// LeakyReLU's slope; the table of kinds is src/ops/elementwise/activation.rs. CPU twins:
// activate_kind / derivative_kind in src/ops/elementwise/cpu.rs.

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const FRAC_1_SQRT_2: f32 = 0.7071067811865476;
const FRAC_1_SQRT_2PI: f32 = 0.3989422804014327;
const GELU_KAPPA: f32 = 0.044715;

// Overflow-free logistic function.
fn sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

// tanh saturates to ±1 in f32 beyond |x| = 10; clamping keeps every driver away from inf/inf.
fn tanh_safe(x: f32) -> f32 {
    return tanh(clamp(x, -10.0, 10.0));
}

// erf(x) from the complementary error function of Numerical Recipes (fractional error < 1.2e-7).
fn erf_approx(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
        t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
        t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * exp(poly);
    return select(erfc - 1.0, 1.0 - erfc, x >= 0.0);
}

fn activate(kind: u32, x: f32, param: f32) -> f32 {
    switch kind {
        case 0u: { return max(x, 0.0); }
        case 1u: { return select(param * x, x, x > 0.0); }
        case 2u: { return sigmoid(x); }
        case 3u: { return tanh_safe(x); }
        case 4u: {
            // 0.5·x·(1 + tanh u) = x·sigmoid(2u), free of cancellation near u = −∞.
            let inner = SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x);
            return x * sigmoid(2.0 * inner);
        }
        case 5u: { return 0.5 * x * (1.0 + erf_approx(x * FRAC_1_SQRT_2)); }
        case 6u: { return x * sigmoid(x); }
        // A kind without a formula: NaN (as the CPU twins), so a missing arm cannot pass.
        default: { return bitcast<f32>(0x7fc00000u); }
    }
}

fn activate_derivative(kind: u32, x: f32, param: f32) -> f32 {
    switch kind {
        case 0u: { return select(0.0, 1.0, x > 0.0); }
        case 1u: { return select(param, 1.0, x > 0.0); }
        case 2u: {
            let s = sigmoid(x);
            return s * (1.0 - s);
        }
        case 3u: {
            let t = tanh_safe(x);
            return 1.0 - t * t;
        }
        case 4u: {
            // With s = sigmoid(2u): 0.5(1 + tanh u) = s and 1 − tanh²u = 4s(1 − s).
            let s = sigmoid(2.0 * SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x));
            let left_derivative = s;
            let right_derivative = 2.0 * x * s * (1.0 - s) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_KAPPA * x * x);
            return left_derivative + right_derivative;
        }
        case 5u: {
            let cdf = 0.5 * (1.0 + erf_approx(x * FRAC_1_SQRT_2));
            let pdf = FRAC_1_SQRT_2PI * exp(-0.5 * x * x);
            return cdf + x * pdf;
        }
        case 6u: {
            let s = sigmoid(x);
            return s * (1.0 + x * (1.0 - s));
        }
        default: { return bitcast<f32>(0x7fc00000u); }
    }
}

