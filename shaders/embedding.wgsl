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

// out = dweight [V, D]: row v sums in1 = dy [R, D] over the rows r whose index is v, in
// ascending r (the CPU twin's order). One workgroup per vocabulary row: it scans the indices
// EMB_THREADS at a time into a flag per row, then every invocation walks the flags in order
// and adds the matching rows into the columns it owns (k ≡ its id mod EMB_THREADS), EMB_COLS
// columns at a time. V·R index reads in all, not V·D·R; no atomics.
const EMB_THREADS: u32 = 64u;
const EMB_COLS: u32 = 2048u;
var<workgroup> emb_acc: array<f32, 2048>;
var<workgroup> emb_flags: array<u32, 64>;

@compute @workgroup_size(64)
fn embedding_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let v = wid.x + wid.y * nwg.x;  // the grid folds into two dimensions past the limit
    if (v >= p.vocab) {
        return;  // the whole workgroup
    }
    let t = lid.x;
    let counted = v != p.padding_idx;  // the padding row's gradient is 0
    for (var c0 = 0u; c0 < p.dim; c0 += EMB_COLS) {
        let cols = min(EMB_COLS, p.dim - c0);
        for (var k = t; k < cols; k += EMB_THREADS) {
            emb_acc[k] = 0.0;
        }
        if (counted) {
            for (var r0 = 0u; r0 < p.rows; r0 += EMB_THREADS) {
                workgroupBarrier();
                let r = r0 + t;
                emb_flags[t] = select(0u, 1u, r < p.rows && u32(idx[r]) == v);
                workgroupBarrier();
                for (var m = 0u; m < EMB_THREADS; m++) {
                    if (emb_flags[m] != 0u) {
                        let row = (r0 + m) * p.dim + c0;
                        for (var k = t; k < cols; k += EMB_THREADS) {
                            emb_acc[k] += in1[row + k];
                        }
                    }
                }
            }
        }
        for (var k = t; k < cols; k += EMB_THREADS) {
            let o = v * p.dim + c0 + k;
            if (p.accumulate != 0u) {
                out[o] = out[o] + emb_acc[k];
            } else {
                out[o] = emb_acc[k];
            }
        }
        workgroupBarrier();
    }
}
