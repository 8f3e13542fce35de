// elementwise.wgsl: activations forward/backward, bias add, scale, axpy, add_sign, fill, copy.
// CPU twins: src/ops/elementwise/cpu.rs (same names, same formulas).
// One invocation per element; the grid may be two-dimensional when n needs more than
// 65535 workgroups, so the flat index folds in num_workgroups.x.

struct Params {
    n: u32,       // element count
    cols: u32,    // row length, for bias_add
    kind: u32,    // activation kind (see Activation::shader_kind)
    pad0: u32,
    alpha: f32,   // scale/axpy factor, fill value, or the activation's parameter
    pad1: f32,
    pad2: f32,
    pad3: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> in0: array<f32>;
@group(0) @binding(3) var<storage, read> in1: array<f32>;


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
        default: { return x * sigmoid(x); }
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
        default: {
            let s = sigmoid(x);
            return s * (1.0 + x * (1.0 - s));
        }
    }
}

// out = act(in0)
@compute @workgroup_size(WG)
fn activation_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[i] = activate(p.kind, in0[i], p.alpha);
    }
}

// out (dx) = act'(in0 (x)) * in1 (dy)
@compute @workgroup_size(WG)
fn activation_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[i] = activate_derivative(p.kind, in0[i], p.alpha) * in1[i];
    }
}

// out (x, R×C) += in0 (bias, C) broadcast over rows
@compute @workgroup_size(WG)
fn bias_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[i] = out[i] + in0[i % p.cols];
    }
}

// out *= alpha
@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[i] = out[i] * p.alpha;
    }
}

// out (y) += alpha * in0 (x)
@compute @workgroup_size(WG)
fn axpy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[i] = out[i] + p.alpha * in0[i];
    }
}

// out = alpha
@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[i] = p.alpha;
    }
}

// out = in0
@compute @workgroup_size(WG)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[i] = in0[i];
    }
}

// out (y) += alpha * sign(in0 (x)), the gradient of an L1 penalty alpha·Σ|x| (sign(0) = 0)
@compute @workgroup_size(WG)
fn add_sign(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[i] = out[i] + p.alpha * sign(in0[i]);
    }
}
