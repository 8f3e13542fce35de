// elementwise.wgsl: activations forward/backward, bias add, scale, axpy, add_sign, fill, copy.
// CPU twins: src/ops/elementwise/cpu.rs (same names, same formulas). The activation functions
// themselves are in activation.wgsl, prepended to this file.
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

// out[p.cols + i] = in0[p.kind + i] for i < p.n: a run of elements copied between offsets
// that need not be aligned (a KV cache's new row); p.cols and p.kind carry the offsets.
@compute @workgroup_size(WG)
fn copy_range(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[p.cols + i] = in0[p.kind + i];
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

// out = in0 / max(sqrt(in1[0]), alpha): a tensor divided by its norm (in1 holds Σx², alpha
// is the floor ε), as Muon normalises before Newton–Schulz.
@compute @workgroup_size(WG)
fn div_by_norm(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[i] = in0[i] / max(sqrt(in1[0]), p.alpha);
    }
}
