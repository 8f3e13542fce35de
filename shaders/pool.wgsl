// pool.wgsl: max and average pooling over NCHW planes, forward and backward (gather form).
// Rules in src/ops/pool/mod.rs; CPU twins: src/ops/pool/cpu.rs. `g.n` counts planes (N·C).

@group(0) @binding(0) var<uniform> g: Window;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> in0: array<f32>;
@group(0) @binding(3) var<storage, read> in1: array<f32>;
@group(0) @binding(4) var<storage, read_write> out2: array<f32>;

// out = max over each window, out2 = the chosen h·W + w (first maximum; NaN propagates).
@compute @workgroup_size(WG)
fn max_pool_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    let p = g.oh * g.ow;
    if (t >= g.n * p) {
        return;
    }
    let base = (t / p) * g.h * g.w;
    let i = (t % p) / g.ow;
    let j = (t % p) % g.ow;
    var best = bitcast<f32>(0xff800000u); // −∞
    var best_idx = -1;
    for (var a = 0u; a < g.kh; a++) {
        let hi = i32(i * g.sh + a * g.dh) - i32(g.ph);
        if (hi < 0 || hi >= i32(g.h)) {
            continue;
        }
        for (var b = 0u; b < g.kw; b++) {
            let wi = i32(j * g.sw + b * g.dw) - i32(g.pw);
            if (wi < 0 || wi >= i32(g.w)) {
                continue;
            }
            let idx = hi * i32(g.w) + wi;
            let v = in0[base + u32(idx)];
            if (best_idx < 0 || v > best || v != v) {
                best = v;
                best_idx = idx;
            }
        }
    }
    out[t] = best;
    out2[t] = f32(best_idx);
}

// out = dx: each element sums in0 = dy over the windows whose in1 = index chose it.
@compute @workgroup_size(WG)
fn max_pool_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    let plane_len = g.h * g.w;
    if (t >= g.n * plane_len) {
        return;
    }
    let plane = t / plane_len;
    let y = (t % plane_len) / g.w;
    let x = t % g.w;
    let here = f32(y * g.w + x);
    var acc = 0.0;
    for (var a = 0u; a < g.kh; a++) {
        let i = window_source(y, a, g.ph, g.dh, g.sh, g.oh);
        if (i < 0) {
            continue;
        }
        for (var b = 0u; b < g.kw; b++) {
            let j = window_source(x, b, g.pw, g.dw, g.sw, g.ow);
            if (j < 0) {
                continue;
            }
            let o = plane * g.oh * g.ow + u32(i) * g.ow + u32(j);
            if (in1[o] == here) {
                acc += in0[o];
            }
        }
    }
    out[t] = acc;
}

// kh·kw with count_include_pad (flags bit 0), else the in-bounds count of window (i, j).
fn divisor(i: u32, j: u32) -> f32 {
    if ((g.flags & 1u) != 0u) {
        return f32(g.kh * g.kw);
    }
    let h0 = i32(i * g.sh) - i32(g.ph);
    let w0 = i32(j * g.sw) - i32(g.pw);
    let hs = max(min(h0 + i32(g.kh), i32(g.h)) - max(h0, 0), 0);
    let ws = max(min(w0 + i32(g.kw), i32(g.w)) - max(w0, 0), 0);
    return f32(hs * ws);
}

// out = each window's in-bounds sum over divisor().
@compute @workgroup_size(WG)
fn avg_pool_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    let p = g.oh * g.ow;
    if (t >= g.n * p) {
        return;
    }
    let base = (t / p) * g.h * g.w;
    let i = (t % p) / g.ow;
    let j = (t % p) % g.ow;
    var acc = 0.0;
    for (var a = 0u; a < g.kh; a++) {
        let hi = i32(i * g.sh + a) - i32(g.ph);
        if (hi < 0 || hi >= i32(g.h)) {
            continue;
        }
        for (var b = 0u; b < g.kw; b++) {
            let wi = i32(j * g.sw + b) - i32(g.pw);
            if (wi >= 0 && wi < i32(g.w)) {
                acc += in0[base + u32(hi) * g.w + u32(wi)];
            }
        }
    }
    out[t] = acc / divisor(i, j);
}

// out = dx: each element sums in0 = dy / divisor over the windows covering it.
@compute @workgroup_size(WG)
fn avg_pool_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    let plane_len = g.h * g.w;
    if (t >= g.n * plane_len) {
        return;
    }
    let plane = t / plane_len;
    let y = (t % plane_len) / g.w;
    let x = t % g.w;
    var acc = 0.0;
    for (var a = 0u; a < g.kh; a++) {
        let i = window_source(y, a, g.ph, 1u, g.sh, g.oh);
        if (i < 0) {
            continue;
        }
        for (var b = 0u; b < g.kw; b++) {
            let j = window_source(x, b, g.pw, 1u, g.sw, g.ow);
            if (j < 0) {
                continue;
            }
            acc += in0[plane * g.oh * g.ow + u32(i) * g.ow + u32(j)] / divisor(u32(i), u32(j));
        }
    }
    out[t] = acc;
}
