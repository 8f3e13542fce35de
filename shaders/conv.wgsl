// conv.wgsl: convolution as im2col + the batched tiled matmul (matmul.wgsl), plus the layout
// kernels around the product and the bias gradient. The pipeline is drawn in src/ops/conv/mod.rs;
// CPU twins: src/ops/conv/cpu.rs.

@group(0) @binding(0) var<uniform> g: Window;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> in0: array<f32>;
@group(0) @binding(3) var<storage, read> in1: array<f32>;

// out = cols [G, N·P, K]: cols[grp, s·P + i·OW + j, (ch·kh + a)·kw + b] = x[s, grp·C/G + ch, i·sh − ph + a·dh, j·sw − pw + b·dw].
@compute @workgroup_size(WG)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    let cg = g.c / g.groups;
    let k = cg * g.kh * g.kw;
    let p = g.oh * g.ow;
    let np = g.n * p;
    if (t >= g.groups * np * k) {
        return;
    }
    let col = t % k;
    let row = (t / k) % np;
    let grp = t / (k * np);
    let b = col % g.kw;
    let a = (col / g.kw) % g.kh;
    let ch = col / (g.kw * g.kh);
    let s = row / p;
    let i = (row % p) / g.ow;
    let j = (row % p) % g.ow;
    let hi = i32(i * g.sh + a * g.dh) - i32(g.ph);
    let wi = i32(j * g.sw + b * g.dw) - i32(g.pw);
    var v = 0.0;
    if (hi >= 0 && hi < i32(g.h) && wi >= 0 && wi < i32(g.w)) {
        v = in0[((s * g.c + grp * cg + ch) * g.h + u32(hi)) * g.w + u32(wi)];
    }
    out[t] = v;
}

// out = dx [N, C, H, W] from in0 = dcols: each input element sums the column entries that read
// it (kernel row outer, kernel column inner). No atomics, so the sum order is fixed.
@compute @workgroup_size(WG)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    if (t >= g.n * g.c * g.h * g.w) {
        return;
    }
    let x = t % g.w;
    let y = (t / g.w) % g.h;
    let ch = (t / (g.w * g.h)) % g.c;
    let s = t / (g.w * g.h * g.c);
    let cg = g.c / g.groups;
    let grp = ch / cg;
    let cl = ch % cg;
    let k = cg * g.kh * g.kw;
    let np = g.n * g.oh * g.ow;
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
            let row = s * g.oh * g.ow + u32(i) * g.ow + u32(j);
            acc += in0[(grp * np + row) * k + (cl * g.kh + a) * g.kw + b];
        }
    }
    out[t] = acc;
}

// out = gy [G, N·P, O/G] from in0 = go [N, O, OH, OW]: the product's layout, from NCHW.
@compute @workgroup_size(WG)
fn conv_grad_output(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    let p = g.oh * g.ow;
    let np = g.n * p;
    let og = g.o / g.groups;
    if (t >= g.groups * np * og) {
        return;
    }
    let ol = t % og;
    let row = (t / og) % np;
    let grp = t / (og * np);
    out[t] = in0[((row / p) * g.o + grp * og + ol) * p + row % p];
}

// out[c] (+)= Σ_{s, e} in0[s, c, e] for in0 [N = g.n, C = g.c, E = g.h]; flags bit 0 accumulates.
// One workgroup per channel.
@compute @workgroup_size(256)
fn channel_sum(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let ch = wid.x;
    let e = g.h;
    var acc = 0.0;
    for (var idx = lid.x; idx < g.n * e; idx += REDUCE_THREADS) {
        acc += in0[((idx / e) * g.c + ch) * e + idx % e];
    }
    let total = workgroup_sum(lid.x, acc);
    if (lid.x == 0u) {
        if ((g.flags & 1u) != 0u) {
            out[ch] = out[ch] + total;
        } else {
            out[ch] = total;
        }
    }
}

// ---- direct convolution (one invocation per output element; CPU twins: src/ops/conv/direct.rs) ----

@group(0) @binding(4) var<storage, read> in2: array<f32>;

// out = y [N, O, OH, OW] = in0 = x [N, C, H, W] convolved with in1 = weight [O, C/G, kh, kw],
// plus in2 = bias [O] when flags bit 0.
@compute @workgroup_size(WG)
fn conv2d_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    let p = g.oh * g.ow;
    if (t >= g.n * g.o * p) {
        return;
    }
    let q = t % p;
    let oc = (t / p) % g.o;
    let s = t / (p * g.o);
    let i = q / g.ow;
    let j = q % g.ow;
    let cg = g.c / g.groups;
    let grp = oc / (g.o / g.groups);
    var acc = 0.0;
    for (var ch = 0u; ch < cg; ch++) {
        let plane = (s * g.c + grp * cg + ch) * g.h;
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
                acc += in0[(plane + u32(hi)) * g.w + u32(wi)] * in1[((oc * cg + ch) * g.kh + a) * g.kw + b];
            }
        }
    }
    if ((g.flags & 1u) != 0u) {
        acc += in2[oc];
    }
    out[t] = acc;
}

// out = dx [N, C, H, W] from in0 = dy [N, O, OH, OW] and in1 = weight: each input element sums
// the outputs whose windows read it (output channel, kernel row, kernel column in order).
@compute @workgroup_size(WG)
fn conv2d_grad_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    if (t >= g.n * g.c * g.h * g.w) {
        return;
    }
    let x = t % g.w;
    let y = (t / g.w) % g.h;
    let ch = (t / (g.w * g.h)) % g.c;
    let s = t / (g.w * g.h * g.c);
    let cg = g.c / g.groups;
    let og = g.o / g.groups;
    let grp = ch / cg;
    let cl = ch % cg;
    var acc = 0.0;
    for (var ol = 0u; ol < og; ol++) {
        let oc = grp * og + ol;
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
                acc += in0[((s * g.o + oc) * g.oh + u32(i)) * g.ow + u32(j)] * in1[((oc * cg + cl) * g.kh + a) * g.kw + b];
            }
        }
    }
    out[t] = acc;
}

// out = dw [O, C/G, kh, kw] (+)= Σ over samples and output positions of in0 = x times in1 = dy;
// flags bit 0 adds to out.
@compute @workgroup_size(WG)
fn conv2d_grad_weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    let cg = g.c / g.groups;
    if (t >= g.o * cg * g.kh * g.kw) {
        return;
    }
    let b = t % g.kw;
    let a = (t / g.kw) % g.kh;
    let cl = (t / (g.kw * g.kh)) % cg;
    let oc = t / (g.kw * g.kh * cg);
    let ch = (oc / (g.o / g.groups)) * cg + cl;
    var acc = 0.0;
    for (var s = 0u; s < g.n; s++) {
        for (var i = 0u; i < g.oh; i++) {
            let hi = i32(i * g.sh + a * g.dh) - i32(g.ph);
            if (hi < 0 || hi >= i32(g.h)) {
                continue;
            }
            for (var j = 0u; j < g.ow; j++) {
                let wi = i32(j * g.sw + b * g.dw) - i32(g.pw);
                if (wi < 0 || wi >= i32(g.w)) {
                    continue;
                }
                acc += in0[((s * g.c + ch) * g.h + u32(hi)) * g.w + u32(wi)] * in1[((s * g.o + oc) * g.oh + i) * g.ow + j];
            }
        }
    }
    if ((g.flags & 1u) != 0u) {
        out[t] = out[t] + acc;
    } else {
        out[t] = acc;
    }
}
