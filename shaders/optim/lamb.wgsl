// optim/lamb.wgsl: LAMB (timm Lamb, Algorithm 2 of You et al.), two phases around the per-tensor
// trust ratios (segment_norm.wgsl writes them to norm[1 + chunk]).
// Phase 0: m = lerp(m, g, 1 − β1) (or β1·m + g); v = β2·v + (1 − β2)·g·g;
//          u = (m/bc1) / (√v/√bc2 + ε); p += (−lr·wd)·p (decoupled) or u += wd·p; slot 2 = u.
// Phase 1: u ·= trust (min(trust, 1) with trust clip) when adapting; p += (−lr)·u.
// Twin: src/optim/lamb.rs. State: exp_avg, exp_avg_sq, u (scratch).

struct LambTerms {
    phase: f32,
    bc1: f32,
    sqrt_bc2: f32,
    flags: f32, // 1 decoupled, 2 grad averaging, 4 adapt, 8 trust clip
    neg_lr_wd: f32,
    pad0: f32,
    trust: f32, // unused here: the ratio comes from norm[1 + chunk]
}

struct Group {
    head: Head,
    terms: LambTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn lamb_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let t = s.h.terms;
    let i = s.i;
    let n = p.n;
    let flags = u32(t.flags);
    if (t.phase == 0.0) {
        var m: f32;
        if ((flags & 2u) != 0u) {
            m = lerp(state[i], s.g, h.one_minus_beta1);
        } else {
            m = state[i] * h.beta1 + s.g;
        }
        state[i] = m;
        let v = state[n + i] * h.beta2 + h.one_minus_beta2 * s.g * s.g;
        state[n + i] = v;
        var u = (m / t.bc1) / (sqrt(v) / t.sqrt_bc2 + h.eps);
        if (h.weight_decay != 0.0) {
            if ((flags & 1u) != 0u) {
                let w = params[i];
                params[i] = w + t.neg_lr_wd * w;
            } else {
                u = u + h.weight_decay * params[i];
            }
        }
        state[2u * n + i] = u;
    } else {
        var u = state[2u * n + i];
        if ((flags & 4u) != 0u) {
            var trust = norm[1u + i / ALIGN];
            if ((flags & 8u) != 0u) {
                trust = min(trust, 1.0);
            }
            u = u * trust;
        }
        params[i] = params[i] + -h.lr * u;
    }
}
