// optim/lion.wgsl: Lion (Chen et al. 2023): c = β1·m + (1−β1)·g; p = p·(1 − lr·wd) − lr·sign(c);
// m = β2·m + (1−β2)·g. Twin: src/optim/lion.rs. State: exp_avg.

struct LionTerms {
    pad0: f32,
    pad1: f32,
    pad2: f32,
    pad3: f32,
    pad4: f32,
    pad5: f32,
    pad6: f32,
}

struct Group {
    head: Head,
    terms: LionTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn lion_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let i = s.i;
    let m = state[i];
    let c = h.beta1 * m + h.one_minus_beta1 * s.g;
    params[i] = params[i] * h.decay_factor - h.lr * sign(c);
    state[i] = h.beta2 * m + h.one_minus_beta2 * s.g;
}
