// optim/radam.wgsl: torch.optim.RAdam. Twin: src/optim/radam.rs. State: exp_avg, exp_avg_sq.

struct RadamTerms {
    bc1: f32,       // 1 − β1^t
    sqrt_bc2: f32,  // √(1 − β2^t)
    rect: f32,      // the rectification term (when rectified)
    rectified: f32, // ρ_t > 5
    decoupled: f32,
    pad0: f32,
    pad1: f32,
}

struct Group {
    head: Head,
    terms: RadamTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn radam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let t = s.h.terms;
    let i = s.i;
    let g = decay(h, t.decoupled, i, s.g);
    let mv = adam_moments(h, i, g);
    let m = mv.x;
    let v = mv.y;
    let mhat = m / t.bc1;
    var update: f32;
    if (t.rectified != 0.0) {
        let adaptive = t.sqrt_bc2 / (sqrt(v) + h.eps);
        update = mhat * h.lr * adaptive * t.rect;
    } else {
        update = mhat * h.lr;
    }
    params[i] = params[i] + -1.0 * update;
}
