// norm.wgsl: batch and layer normalisation, forward and backward. Rules in src/ops/norm/mod.rs;
// CPU twins: src/ops/norm/cpu.rs. One workgroup per channel (batch norm) or row (layer norm).

struct NormParams {
    n: u32,        // samples (batch norm) or rows (layer norm)
    c: u32,        // channels (batch norm) or normalised elements M (layer norm)
    s: u32,        // elements per channel per sample (batch norm)
    train: u32,    // batch norm: 1 = batch statistics and running-stat update
    momentum: f32,
    eps: f32,
    stride: u32,   // row stride of `sums`
    act_kind: u32, // batch_norm_forward_act: the activation after it (Activation::shader_kind)
    act_param: f32, // its parameter (LeakyReLU's slope)
    pad1: u32,
    pad2: u32,
    pad3: u32,
}

@group(0) @binding(0) var<uniform> p: NormParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;       // y or dx
@group(0) @binding(2) var<storage, read_write> out2: array<f32>;      // saved (forward) or sums (backward)
@group(0) @binding(3) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> run_var: array<f32>;
@group(0) @binding(5) var<storage, read> x: array<f32>;
@group(0) @binding(6) var<storage, read> weight: array<f32>;
@group(0) @binding(7) var<storage, read> bias: array<f32>;
@group(0) @binding(8) var<storage, read> saved: array<f32>;
@group(0) @binding(9) var<storage, read> dy: array<f32>;
@group(0) @binding(10) var<storage, read_write> act_out: array<f32>;  // batch_norm_forward_act

// Flat index of the idx-th element (sample-major) of channel ch in x [N, C, S].
fn bn_index(idx: u32, ch: u32) -> u32 {
    return ((idx / p.s) * p.c + ch) * p.s + idx % p.s;
}

// Channel ch's (mean, 1/σ): the batch's in training (the running stats move), else the running
// stats; thread 0 stores them in `out2` (saved). Called by the whole workgroup.
fn bn_statistics(ch: u32, tid: u32) -> vec2<f32> {
    let count = p.n * p.s;
    var mean = 0.0;
    var invstd = 0.0;
    if (p.train != 0u) {
        var acc = 0.0;
        for (var i = tid; i < count; i += REDUCE_THREADS) {
            acc += x[bn_index(i, ch)];
        }
        mean = workgroup_sum(tid, acc) / f32(count);
        var acc2 = 0.0;
        for (var i = tid; i < count; i += REDUCE_THREADS) {
            let d = x[bn_index(i, ch)] - mean;
            acc2 += d * d;
        }
        let var_b = workgroup_sum(tid, acc2) / f32(count);
        invstd = 1.0 / sqrt(var_b + p.eps);
        if (tid == 0u) {
            run_mean[ch] = (1.0 - p.momentum) * run_mean[ch] + p.momentum * mean;
            let unbiased = var_b * f32(count) / f32(count - 1u);
            run_var[ch] = (1.0 - p.momentum) * run_var[ch] + p.momentum * unbiased;
        }
    } else {
        mean = run_mean[ch];
        invstd = 1.0 / sqrt(run_var[ch] + p.eps);
    }
    if (tid == 0u) {
        out2[ch] = mean;
        out2[p.c + ch] = invstd;
    }
    return vec2<f32>(mean, invstd);
}

@compute @workgroup_size(256)
fn batch_norm_forward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let ch = wid.x;
    let stats = bn_statistics(ch, lid.x);
    for (var i = lid.x; i < p.n * p.s; i += REDUCE_THREADS) {
        let k = bn_index(i, ch);
        out[k] = (x[k] - stats.x) * stats.y * weight[ch] + bias[ch];
    }
}

// batch_norm_forward with the next layer's activation in its epilogue: out = y (kept: the
// activation's backward reads it), act_out = act(y).
@compute @workgroup_size(256)
fn batch_norm_forward_act(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let ch = wid.x;
    let stats = bn_statistics(ch, lid.x);
    for (var i = lid.x; i < p.n * p.s; i += REDUCE_THREADS) {
        let k = bn_index(i, ch);
        let v = (x[k] - stats.x) * stats.y * weight[ch] + bias[ch];
        out[k] = v;
        act_out[k] = activate(p.act_kind, v, p.act_param);
    }
}

@compute @workgroup_size(256)
fn batch_norm_backward(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let ch = wid.x;
    let tid = lid.x;
    let count = p.n * p.s;
    let mean = saved[ch];
    let invstd = saved[p.c + ch];
    var a = 0.0;
    var b = 0.0;
    for (var i = tid; i < count; i += REDUCE_THREADS) {
        let k = bn_index(i, ch);
        a += dy[k];
        b += dy[k] * (x[k] - mean) * invstd;
    }
    let sum_dy = workgroup_sum(tid, a);
    let sum_dy_xhat = workgroup_sum(tid, b);
    for (var i = tid; i < count; i += REDUCE_THREADS) {
        let k = bn_index(i, ch);
        if (p.train != 0u) {
            let xhat = (x[k] - mean) * invstd;
            out[k] = weight[ch] * invstd / f32(count) * (f32(count) * dy[k] - sum_dy - xhat * sum_dy_xhat);
        } else {
            out[k] = dy[k] * weight[ch] * invstd;
        }
    }
    if (tid == 0u) {
        out2[ch] = sum_dy_xhat;
        out2[p.stride + ch] = sum_dy;
    }
}

@compute @workgroup_size(256)
fn layer_norm_forward(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let r = wid.x + wid.y * nwg.x;
    let tid = lid.x;
    let m = p.c;
    var acc = 0.0;
    for (var j = tid; j < m; j += REDUCE_THREADS) {
        acc += x[r * m + j];
    }
    let mean = workgroup_sum(tid, acc) / f32(m);
    var acc2 = 0.0;
    for (var j = tid; j < m; j += REDUCE_THREADS) {
        let d = x[r * m + j] - mean;
        acc2 += d * d;
    }
    let invstd = 1.0 / sqrt(workgroup_sum(tid, acc2) / f32(m) + p.eps);
    if (r >= p.n) {
        return;
    }
    for (var j = tid; j < m; j += REDUCE_THREADS) {
        out[r * m + j] = (x[r * m + j] - mean) * invstd * weight[j] + bias[j];
    }
    if (tid == 0u) {
        out2[r] = mean;
        out2[p.n + r] = invstd;
    }
}

@compute @workgroup_size(256)
fn layer_norm_backward(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let r = wid.x + wid.y * nwg.x;
    let tid = lid.x;
    let m = p.c;
    let mean = saved[r];
    let invstd = saved[p.n + r];
    var a = 0.0;
    var b = 0.0;
    for (var j = tid; j < m; j += REDUCE_THREADS) {
        let g = dy[r * m + j] * weight[j];
        a += g;
        b += g * (x[r * m + j] - mean) * invstd;
    }
    let mean_g = workgroup_sum(tid, a) / f32(m);
    let mean_gx = workgroup_sum(tid, b) / f32(m);
    if (r >= p.n) {
        return;
    }
    for (var j = tid; j < m; j += REDUCE_THREADS) {
        let xhat = (x[r * m + j] - mean) * invstd;
        out[r * m + j] = invstd * (dy[r * m + j] * weight[j] - mean_g - xhat * mean_gx);
    }
}

// One invocation per column: sums over rows of dy·x̂ (weight gradient) and dy (bias gradient).
@compute @workgroup_size(WG)
fn layer_norm_param_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat_index(gid, nwg);
    let m = p.c;
    if (j >= m) {
        return;
    }
    var acc_w = 0.0;
    var acc_b = 0.0;
    for (var r = 0u; r < p.n; r++) {
        let g = dy[r * m + j];
        acc_w += g * (x[r * m + j] - saved[r]) * saved[p.n + r];
        acc_b += g;
    }
    out2[j] = acc_w;
    out2[p.stride + j] = acc_b;
}
