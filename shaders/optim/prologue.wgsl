// optim/prologue.wgsl: what every fused optimizer update shares, prepended (after the prelude)
// to each optimizer's own file, which defines `struct Group { head: Head, terms: <its terms>,
// clip: Clip }` (src/optim/hyper.rs GroupHyper, the terms in src/optim/<name>.rs).
//
// ONE dispatch updates the whole flat parameter buffer, whatever the number of tensors.
// Element i belongs to parameter group chunk_groups[i / ALIGN] (every tensor starts on an
// ALIGN-element boundary, so a chunk never straddles two tensors) and reads that group's block
// in `table`. State slot s of element i is state[s * n + i]. Clipping is applied to the
// gradient first, from the global norm in norm[0] computed by an earlier reduction (sum of
// squares for L2, max |g| for ∞, Σ|g| for L1). CPU twins: src/optim/<name>.rs, same formulas
// in the same order of float32 operations (torch 2.15's single-tensor path).

struct Params {
    n: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

// The numbers every optimizer's block starts with (src/optim/hyper.rs Head).
struct Head {
    lr: f32,
    weight_decay: f32,
    beta1: f32,           // β1 | SGD momentum | RMSprop alpha
    beta2: f32,           // β2 | RMSprop momentum
    eps: f32,
    decay_factor: f32,    // 1 − lr·wd (decoupled decay)
    one_minus_beta1: f32, // 1 − β1 | SGD 1 − dampening | RMSprop 1 − alpha
    one_minus_beta2: f32,
}

// How the gradient is clipped (src/optim/hyper.rs ClipBlock).
struct Clip {
    mode: f32,  // 0 none, 1 L2-norm, 2 ∞-norm, 3 value, 4 L1-norm, 5 LAMB's global clip
    value: f32, // max_norm, or the bound for clipping by value
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

fn clipped(g: f32, c: Clip) -> f32 {
    if (c.mode == 1.0 || c.mode == 2.0 || c.mode == 4.0) {
        var total = norm[0];
        if (c.mode == 1.0) {
            total = sqrt(total);
        }
        let coef = min(c.value / (total + 1e-6), 1.0);
        return g * coef;
    }
    if (c.mode == 3.0) {
        return clamp(g, -c.value, c.value);
    }
    if (c.mode == 5.0) {
        // LAMB's own global clip (timm): g / max(‖g‖/max_grad_norm, 1), no epsilon.
        return g / max(sqrt(norm[0]) / c.value, 1.0);
    }
    return g;
}

// g + wd·w when the decay is coupled and non-zero.
fn coupled(h: Head, w: f32, g: f32) -> f32 {
    if (h.weight_decay != 0.0) {
        return g + h.weight_decay * w;
    }
    return g;
}

// Decoupled decay shrinks the weight; otherwise the decay joins the gradient. Returns the
// gradient; writes the weight back when it decays.
fn decay(h: Head, decoupled: f32, i: u32, g: f32) -> f32 {
    if (decoupled != 0.0) {
        params[i] = params[i] * h.decay_factor;
        return g;
    }
    return coupled(h, params[i], g);
}

// The Adam-family moments, in state slots 0 and 1: m = lerp(m, g, 1 − β1) and
// v = β2·v + (1 − β2)·g·g. Returns (m, v).
fn adam_moments(h: Head, i: u32, g: f32) -> vec2<f32> {
    let n = p.n;
    let m = lerp(state[i], g, h.one_minus_beta1);
    state[i] = m;
    let v = state[n + i] * h.beta2 + h.one_minus_beta2 * g * g;
    state[n + i] = v;
    return vec2<f32>(m, v);
}

// What every update starts from: the element, its group's block and its clipped gradient.
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
        s.g = clipped(grads[s.i], s.h.clip);
    }
    return s;
}
