// optim/adamax.wgsl: torch.optim.Adamax. Twin: src/optim/adamax.rs. State: exp_avg, exp_inf.

struct AdamaxTerms {
    step_size: f32, // lr / bc1
    pad0: f32,
    pad1: f32,
    pad2: f32,
    pad3: f32,
    pad4: f32,
    pad5: f32,
}

struct Group {
    head: Head,
    terms: AdamaxTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn adamax_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let i = s.i;
    let n = p.n;
    let g = coupled(h, params[i], s.g);
    let m = lerp(state[i], g, h.one_minus_beta1);
    state[i] = m;
    let u = max(state[n + i] * h.beta2, abs(g) + h.eps);
    state[n + i] = u;
    params[i] = params[i] + -s.h.terms.step_size * (m / u);
}
