// optim/adagrad.wgsl: torch.optim.Adagrad. Twin: src/optim/adagrad.rs. State: sum.

struct AdagradTerms {
    clr: f32, // lr / (1 + (t − 1)·lr_decay)
    pad0: f32,
    pad1: f32,
    pad2: f32,
    pad3: f32,
    pad4: f32,
    pad5: f32,
}

struct Group {
    head: Head,
    terms: AdagradTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn adagrad_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let i = s.i;
    let g = coupled(h, params[i], s.g);
    let sum = state[i] + 1.0 * g * g;
    state[i] = sum;
    let root = sqrt(sum) + h.eps;
    params[i] = params[i] + -s.h.terms.clr * (g / root);
}
