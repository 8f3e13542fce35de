// optim/sophia.wgsl: Sophia-G (the official SophiaG). A step: p = p·(1 − lr·wd);
// m = β1·m + (1−β1)·g; ratio = min(|m| / (ρ·bs·h + 1e-15), 1); p = p − lr·sign(m)·ratio.
// A Hessian pass (terms.hessian_pass = 1, the gradient is ĝ): h = β2·h + (1−β2)·ĝ·ĝ.
// Twin: src/optim/sophia.rs. State: exp_avg, hessian.

struct SophiaTerms {
    rho_bs: f32,
    hessian_pass: f32,
    pad0: f32,
    pad1: f32,
    pad2: f32,
    pad3: f32,
    pad4: f32,
}

struct Group {
    head: Head,
    terms: SophiaTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn sophia_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let t = s.h.terms;
    let i = s.i;
    let n = p.n;
    if (t.hessian_pass != 0.0) {
        state[n + i] = state[n + i] * h.beta2 + h.one_minus_beta2 * s.g * s.g;
        return;
    }
    let w = params[i] * h.decay_factor;
    let m = state[i] * h.beta1 + h.one_minus_beta1 * s.g;
    state[i] = m;
    let ratio = min(abs(m) / (state[n + i] * t.rho_bs + 1e-15), 1.0);
    params[i] = w + -h.lr * sign(m) * ratio;
}
