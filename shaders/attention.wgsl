// attention.wgsl: the causal mask of scaled dot-product attention (the rest of attention is the
// batched matmul and the row softmax; see src/ops/attention/mod.rs). CPU twin:
// src/ops/attention/cpu.rs.

struct MaskParams {
    n: u32,    // elements of the scores, [M, L, S]
    l: u32,    // query positions per matrix
    s: u32,    // key positions per matrix
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: MaskParams;
@group(0) @binding(1) var<storage, read_write> scores: array<f32>;

// scores[m, i, j] = −∞ for j > i (the mask tril(ones(L, S)), aligned top-left, as PyTorch's is_causal).
@compute @workgroup_size(WG)
fn causal_mask(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    if (t >= p.n) {
        return;
    }
    let j = t % p.s;
    let i = (t / p.s) % p.l;
    if (j > i) {
        scores[t] = bitcast<f32>(0xff800000u);
    }
}
