// dropout.wgsl: inverted dropout with a mask drawn from a counter-based hash, so the CPU twin
// (src/ops/dropout/cpu.rs) draws the very same mask for the same key.
// Element i is kept when hash32(hash32(i) ^ key) >= threshold, where threshold = ⌊p·2³²⌋;
// kept elements are scaled by 1/(1−p).

struct Params {
    n: u32,
    threshold: u32, // ⌊p · 2³²⌋
    slot: u32,      // where this call's key is in `in1` (keys from the seed and call counter, host-computed)
    pad0: u32,
    scale: f32,     // 1 / (1 − p)
    pad1: f32,
    pad2: f32,
    pad3: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> in0: array<f32>;
@group(0) @binding(3) var<storage, read> in1: array<f32>;
@group(0) @binding(4) var<storage, read_write> mask: array<f32>;



// out = x ⊙ mask, mask = keep ? 1/(1−p) : 0 (written for the backward pass). The key is read
// from a storage buffer (in1, u32 bits), so the uniform stays the same from step to step.
@compute @workgroup_size(WG)
fn dropout_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        let keep = hash32(hash32(i) ^ bitcast<u32>(in1[p.slot])) >= p.threshold;
        let m = select(0.0, p.scale, keep);
        mask[i] = m;
        out[i] = in0[i] * m;
    }
}

// out (dx) = in0 (dy) ⊙ in1 (mask)
@compute @workgroup_size(WG)
fn dropout_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.n) {
        out[i] = in0[i] * in1[i];
    }
}
