// optim/nadam.wgsl: torch.optim.NAdam. Twin: src/optim/nadam.rs. State: exp_avg, exp_avg_sq.

struct NadamTerms {
    bc2: f32,       // 1 − β2^t
    grad_coef: f32, // −lr(1 − μ_t)/(1 − Πμ)
    avg_coef: f32,  // −lr·μ_{t+1}/(1 − Πμ·μ_{t+1})
    decoupled: f32,
    pad0: f32,
    pad1: f32,
    pad2: f32,
}

struct Group {
    head: Head,
    terms: NadamTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn nadam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let t = s.h.terms;
    let i = s.i;
    let g = decay(h, t.decoupled, i, s.g);
    let mv = adam_moments(h, i, g);
    let m = mv.x;
    let v = mv.y;
    let denom = sqrt(v / t.bc2) + h.eps;
    var w = params[i] + t.grad_coef * (g / denom);
    w = w + t.avg_coef * (m / denom);
    params[i] = w;
}
