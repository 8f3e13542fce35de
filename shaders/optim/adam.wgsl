// optim/adam.wgsl: torch.optim.Adam / AdamW / AMSGrad. Twin: src/optim/adam.rs.
// State: exp_avg, exp_avg_sq, max_exp_avg_sq.

struct AdamTerms {
    step_size: f32,      // lr / bc1
    sqrt_bc2: f32,       // √(1 − β2^t)
    amsgrad: f32,
    decoupled: f32,      // AdamW's decay
    pad0: f32,
    pad1: f32,
    pad2: f32,
}

struct Group {
    head: Head,
    terms: AdamTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let t = s.h.terms;
    let i = s.i;
    let n = p.n;
    let g = decay(h, t.decoupled, i, s.g);
    let mv = adam_moments(h, i, g);
    let m = mv.x;
    let v = mv.y;
    var vv = v;
    if (t.amsgrad != 0.0) {
        vv = max(state[2u * n + i], v);
        state[2u * n + i] = vv;
    }
    let denom = sqrt(vv) / t.sqrt_bc2 + h.eps;
    params[i] = params[i] + -t.step_size * (m / denom);
}
