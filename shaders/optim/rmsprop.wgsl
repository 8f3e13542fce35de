// optim/rmsprop.wgsl: torch.optim.RMSprop. Twin: src/optim/rmsprop.rs.
// Head: beta1 = alpha, one_minus_beta1 = 1 − alpha, beta2 = momentum.
// State: square_avg, momentum_buffer, grad_avg.

struct RmspropTerms {
    centered: f32,
    has_momentum: f32, // momentum > 0
    pad0: f32,
    pad1: f32,
    pad2: f32,
    pad3: f32,
    pad4: f32,
}

struct Group {
    head: Head,
    terms: RmspropTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn rmsprop_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let t = s.h.terms;
    let i = s.i;
    let n = p.n;
    let g = coupled(h, params[i], s.g);
    let sq = state[i] * h.beta1 + h.one_minus_beta1 * g * g;
    state[i] = sq;
    var avg: f32;
    if (t.centered != 0.0) {
        let ga = lerp(state[2u * n + i], g, h.one_minus_beta1);
        state[2u * n + i] = ga;
        avg = sqrt(sq + -1.0 * ga * ga);
    } else {
        avg = sqrt(sq);
    }
    avg = avg + h.eps;
    if (t.has_momentum != 0.0) {
        let buf = state[n + i] * h.beta2 + g / avg;
        state[n + i] = buf;
        params[i] = params[i] + -h.lr * buf;
    } else {
        params[i] = params[i] + -h.lr * (g / avg);
    }
}
