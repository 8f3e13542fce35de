// optim/muon.wgsl: Muon's elementwise part (torch.optim.Muon). Muon's group (the 2-D tensors,
// terms.muon = 1): buf = lerp(buf, g, 1 − μ) in slot 0; U = lerp(g, buf, μ) with Nesterov, else
// buf, into slot 2 for the Newton–Schulz iteration (matmuls, run from Rust). The other group is
// AdamW (its block is Adam's): the Adam update on slots 0 and 1. Twin: src/optim/muon.rs.

struct MuonTerms {
    // Muon's group: nesterov, 5 unused, muon = 1. AdamW's group: Adam's terms (step_size,
    // sqrt_bc2, amsgrad, decoupled), 2 unused, muon = 0.
    t0: f32,
    t1: f32,
    t2: f32,
    t3: f32,
    pad0: f32,
    pad1: f32,
    muon: f32,
}

struct Group {
    head: Head,
    terms: MuonTerms,
    clip: Clip,
}

@compute @workgroup_size(WG)
fn muon_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let s = start(gid, nwg);
    if (!s.ok) { return; }
    let h = s.h.head;
    let t = s.h.terms;
    let i = s.i;
    let n = p.n;
    if (t.muon != 0.0) {
        let buf = lerp(state[i], s.g, h.one_minus_beta1);
        state[i] = buf;
        if (t.t0 != 0.0) {
            state[2u * n + i] = lerp(s.g, buf, h.beta1);
        } else {
            state[2u * n + i] = buf;
        }
        return;
    }
    // AdamW (adam.wgsl's update; AMSGrad is not offered here).
    let g = decay(h, t.t3, i, s.g);
    let mv = adam_moments(h, i, g);
    let denom = sqrt(mv.y) / t.t1 + h.eps;
    params[i] = params[i] + -t.t0 * (mv.x / denom);
}
