// embedding.wgsl: lookup and its weight gradient (gather form). Rules in src/ops/embedding/mod.rs;
// CPU twins: src/ops/embedding/cpu.rs.

struct EmbeddingParams {
    rows: u32,
    dim: u32,
    vocab: u32,
    padding_idx: u32, // 0xffffffff: none
    accumulate: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: EmbeddingParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<f32>;
@group(0) @binding(3) var<storage, read> in1: array<f32>;

// out [R, D] = in1 (weight [V, D]) rows picked by idx.
@compute @workgroup_size(WG)
fn embedding_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    if (t >= p.rows * p.dim) {
        return;
    }
    let r = t / p.dim;
    out[t] = in1[u32(idx[r]) * p.dim + t % p.dim];
}

// out = dweight [V, D]: each element sums in1 = dy [R, D] over the rows whose index is its row.
@compute @workgroup_size(WG)
fn embedding_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    if (t >= p.vocab * p.dim) {
        return;
    }
    let v = t / p.dim;
    let k = t % p.dim;
    var acc = 0.0;
    if (v != p.padding_idx) {
        for (var r = 0u; r < p.rows; r++) {
            if (u32(idx[r]) == v) {
                acc += in1[r * p.dim + k];
            }
        }
    }
    if (p.accumulate != 0u) {
        out[t] = out[t] + acc;
    } else {
        out[t] = acc;
    }
}
