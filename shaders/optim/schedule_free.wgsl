// optim/schedule_free.wgsl: schedule-free AdamW (schedulefree.AdamWScheduleFree). The parameters
// hold y. A step: z = p at the first step; v = β2·v + (1−β2)·g·g; gn = g / (sqrt(v/bc2) + eps);
// gn += wd·y; y = lerp(y, z, ckp1); y += y_coef·gn; z −= lr·gn. A switch (terms.switch = 1):
// p = lerp(p, z, switch_weight) (1 − 1/β1 to eval-mode x, 1 − β1 back to y).
// Twin: src/optim/schedule_free.rs. State: z, exp_avg_sq.

struct ScheduleFreeTerms {
    switch_mode: f32,
    first_step: f32,
    bc2: f32,
    ckp1: f32,
    y_coef: f32,
    switch_weight: f32,
    pad0: f32,
}

struct Group {
    head: Head,
    terms: ScheduleFreeTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn schedule_free_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let t = s.h.terms;
    let i = s.i;
    let n = p.n;
    if (t.switch_mode != 0.0) {
        params[i] = lerp(params[i], state[i], t.switch_weight);
        return;
    }
    var z = state[i];
    if (t.first_step != 0.0) {
        z = params[i];
    }
    let v = state[n + i] * h.beta2 + h.one_minus_beta2 * s.g * s.g;
    state[n + i] = v;
    let denom = sqrt(v / t.bc2) + h.eps;
    var gn = s.g / denom;
    var y = params[i];
    if (h.weight_decay != 0.0) {
        gn = gn + h.weight_decay * y;
    }
    y = lerp(y, z, t.ckp1);
    params[i] = y + t.y_coef * gn;
    state[i] = z - h.lr * gn;
}
