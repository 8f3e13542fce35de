// optim/sgd.wgsl: torch.optim.SGD (momentum, dampening, Nesterov, coupled L2). Twin: src/optim/sgd.rs.
// Head: beta1 = momentum, one_minus_beta1 = 1 − dampening. State: momentum_buffer.

struct SgdTerms {
    nesterov: f32,
    first_step: f32,   // the buffer starts as the gradient itself
    has_momentum: f32, // momentum ≠ 0 (else no buffer)
    pad0: f32,
    pad1: f32,
    pad2: f32,
    pad3: f32,
}

struct Group {
    head: Head,
    terms: SgdTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn sgd_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let t = s.h.terms;
    let i = s.i;
    var g = coupled(h, params[i], s.g);
    if (t.has_momentum != 0.0) {
        var buf: f32;
        if (t.first_step != 0.0) {
            buf = g;
        } else {
            buf = state[i] * h.beta1 + h.one_minus_beta1 * g;
        }
        state[i] = buf;
        if (t.nesterov != 0.0) {
            g = g + h.beta1 * buf;
        } else {
            g = buf;
        }
    }
    params[i] = params[i] + -h.lr * g;
}
