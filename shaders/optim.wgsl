// optim.wgsl: fused optimizer updates, ONE dispatch over the whole flat parameter buffer,
// whatever the number of tensors. CPU twins: src/backend/cpu/optim.rs (same formulas, same
// order of float32 operations, after torch 2.15's single-tensor path).
//
// Element i belongs to parameter group chunk_groups[i / ALIGN] (every tensor starts on an
// ALIGN-element boundary, so a chunk never straddles two tensors) and reads that group's block
// in `table`. State slot s of element i is state[s * n + i]. Clipping is applied to the
// gradient first, from the global norm in norm[0] computed by an earlier reduction
// (sum of squares for L2, max |g| for ∞, Σ|g| for L1).

struct Params {
    n: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

// Mirrors GroupHyper in src/optim/hyper.rs. Flags are 0.0 or 1.0.
struct Group {
    lr: f32,
    weight_decay: f32,
    beta1: f32,           // β1 | SGD momentum | RMSprop alpha
    beta2: f32,           // β2 | RMSprop momentum
    eps: f32,
    decay_factor: f32,    // 1 − lr·wd (decoupled decay)
    one_minus_beta1: f32, // 1 − β1 | SGD 1 − dampening
    one_minus_beta2: f32,
    c0: f32,
    c1: f32,
    c2: f32,
    c3: f32,
    flag0: f32,
    flag1: f32,
    flag2: f32,
    clip_mode: f32,       // 0 none, 1 L2-norm, 2 ∞-norm, 3 value, 4 L1-norm
    clip_value: f32,
    pad0: f32,
    pad1: f32,
    pad2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;
@group(0) @binding(4) var<storage, read> table: array<Group>;
@group(0) @binding(5) var<storage, read> chunk_groups: array<u32>;
@group(0) @binding(6) var<storage, read> norm: array<f32>;

const ALIGN: u32 = 64u; // src/params.rs ALIGN

// ATen's lerp.
fn lerp(a: f32, b: f32, w: f32) -> f32 {
    if (w < 0.5) {
        return a + w * (b - a);
    }
    return b - (b - a) * (1.0 - w);
}

fn clipped(g: f32, h: Group) -> f32 {
    if (h.clip_mode == 1.0 || h.clip_mode == 2.0 || h.clip_mode == 4.0) {
        var total = norm[0];
        if (h.clip_mode == 1.0) {
            total = sqrt(total);
        }
        let coef = min(h.clip_value / (total + 1e-6), 1.0);
        return g * coef;
    }
    if (h.clip_mode == 3.0) {
        return clamp(g, -h.clip_value, h.clip_value);
    }
    return g;
}

fn coupled(h: Group, w: f32, g: f32) -> f32 {
    if (h.weight_decay != 0.0) {
        return g + h.weight_decay * w;
    }
    return g;
}

// Decoupled decay (flag1) shrinks the weight; otherwise the decay joins the gradient.
// Returns the gradient; writes the weight back when it decays.
fn decay(h: Group, i: u32, g: f32) -> f32 {
    if (h.flag1 != 0.0) {
        params[i] = params[i] * h.decay_factor;
        return g;
    }
    return coupled(h, params[i], g);
}

// The Adam-family moments, in state slots 0 and 1: m = lerp(m, g, 1 − β1) and
// v = β2·v + (1 − β2)·g·g. Returns (m, v).
fn adam_moments(h: Group, i: u32, g: f32) -> vec2<f32> {
    let n = p.n;
    let m = lerp(state[i], g, h.one_minus_beta1);
    state[i] = m;
    let v = state[n + i] * h.beta2 + h.one_minus_beta2 * g * g;
    state[n + i] = v;
    return vec2<f32>(m, v);
}

struct Start {
    ok: bool,
    i: u32,
    g: f32,
    h: Group,
}

fn start(gid: vec3<u32>, nwg: vec3<u32>) -> Start {
    var s: Start;
    s.i = flat_index(gid, nwg);
    s.ok = s.i < p.n;
    if (s.ok) {
        s.h = table[chunk_groups[s.i / ALIGN]];
        s.g = clipped(grads[s.i], s.h);
    }
    return s;
}

// SGD: beta1 momentum, one_minus_beta1 = 1 − dampening; flag0 nesterov, flag1 first step,
// flag2 momentum ≠ 0. State: momentum_buffer.
@compute @workgroup_size(WG)
fn sgd_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h;
    let i = s.i;
    var g = coupled(h, params[i], s.g);
    if (h.flag2 != 0.0) {
        var buf: f32;
        if (h.flag1 != 0.0) {
            buf = g;
        } else {
            buf = state[i] * h.beta1 + h.one_minus_beta1 * g;
        }
        state[i] = buf;
        if (h.flag0 != 0.0) {
            g = g + h.beta1 * buf;
        } else {
            g = buf;
        }
    }
    params[i] = params[i] + -h.lr * g;
}

// Adagrad: c0 = lr / (1 + (t−1)·lr_decay). State: sum.
@compute @workgroup_size(WG)
fn adagrad_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h;
    let i = s.i;
    let g = coupled(h, params[i], s.g);
    let sum = state[i] + 1.0 * g * g;
    state[i] = sum;
    let root = sqrt(sum) + h.eps;
    params[i] = params[i] + -h.c0 * (g / root);
}

// RMSprop: beta1 alpha, one_minus_beta1 = 1 − alpha, beta2 momentum; flag0 centered,
// flag2 momentum > 0. State: square_avg, momentum_buffer, grad_avg.
@compute @workgroup_size(WG)
fn rmsprop_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h;
    let i = s.i;
    let n = p.n;
    let g = coupled(h, params[i], s.g);
    let sq = state[i] * h.beta1 + h.one_minus_beta1 * g * g;
    state[i] = sq;
    var avg: f32;
    if (h.flag0 != 0.0) {
        let ga = lerp(state[2u * n + i], g, h.one_minus_beta1);
        state[2u * n + i] = ga;
        avg = sqrt(sq + -1.0 * ga * ga);
    } else {
        avg = sqrt(sq);
    }
    avg = avg + h.eps;
    if (h.flag2 != 0.0) {
        let buf = state[n + i] * h.beta2 + g / avg;
        state[n + i] = buf;
        params[i] = params[i] + -h.lr * buf;
    } else {
        params[i] = params[i] + -h.lr * (g / avg);
    }
}

// Adam / AdamW / AMSGrad: c0 = lr/bc1, c1 = √bc2; flag0 amsgrad, flag1 decoupled decay.
// State: exp_avg, exp_avg_sq, max_exp_avg_sq.
@compute @workgroup_size(WG)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h;
    let i = s.i;
    let n = p.n;
    let g = decay(h, i, s.g);
    let mv = adam_moments(h, i, g);
    let m = mv.x;
    let v = mv.y;
    var vv = v;
    if (h.flag0 != 0.0) {
        vv = max(state[2u * n + i], v);
        state[2u * n + i] = vv;
    }
    let denom = sqrt(vv) / h.c1 + h.eps;
    params[i] = params[i] + -h.c0 * (m / denom);
}

// Adamax: c0 = lr/bc1. State: exp_avg, exp_inf.
@compute @workgroup_size(WG)
fn adamax_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h;
    let i = s.i;
    let n = p.n;
    let g = coupled(h, params[i], s.g);
    let m = lerp(state[i], g, h.one_minus_beta1);
    state[i] = m;
    let u = max(state[n + i] * h.beta2, abs(g) + h.eps);
    state[n + i] = u;
    params[i] = params[i] + -h.c0 * (m / u);
}

// NAdam: c0 = bc2, c1 = −lr(1−μ_t)/(1−Πμ), c2 = −lr·μ_{t+1}/(1−Πμ·μ_{t+1}); flag1 decoupled.
// State: exp_avg, exp_avg_sq.
@compute @workgroup_size(WG)
fn nadam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h;
    let i = s.i;
    let g = decay(h, i, s.g);
    let mv = adam_moments(h, i, g);
    let m = mv.x;
    let v = mv.y;
    let denom = sqrt(v / h.c0) + h.eps;
    var w = params[i] + h.c1 * (g / denom);
    w = w + h.c2 * (m / denom);
    params[i] = w;
}

// RAdam: c0 = bc1, c1 = √bc2, c2 = rectification; flag0 rectified (ρ_t > 5), flag1 decoupled.
// State: exp_avg, exp_avg_sq.
@compute @workgroup_size(WG)
fn radam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h;
    let i = s.i;
    let g = decay(h, i, s.g);
    let mv = adam_moments(h, i, g);
    let m = mv.x;
    let v = mv.y;
    let mhat = m / h.c0;
    var update: f32;
    if (h.flag0 != 0.0) {
        let adaptive = h.c1 / (sqrt(v) + h.eps);
        update = mhat * h.lr * adaptive * h.c2;
    } else {
        update = mhat * h.lr;
    }
    params[i] = params[i] + -1.0 * update;
}

// Lion: c = β1·m + (1−β1)·g; p = p·(1 − lr·wd) − lr·sign(c); m = β2·m + (1−β2)·g.
// State: exp_avg.
@compute @workgroup_size(WG)
fn lion_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h;
    let i = s.i;
    let m = state[i];
    let c = h.beta1 * m + h.one_minus_beta1 * s.g;
    params[i] = params[i] * h.decay_factor - h.lr * sign(c);
    state[i] = h.beta2 * m + h.one_minus_beta2 * s.g;
}
