// gather.wgsl: batches gathered on the device from a resident data set, by a permutation that
// is the only thing uploaded each epoch. CPU twins: src/ops/gather/cpu.rs.

struct Params {
    rows: u32,   // rows to gather (the batch)
    cols: u32,   // values per row
    offset: u32, // first index of idx to use
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_labels: array<u32>;
@group(0) @binding(5) var<storage, read> labels: array<u32>;


// out[r, c] = x[idx[offset + r], c]
@compute @workgroup_size(WG)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < p.rows * p.cols) {
        let r = i / p.cols;
        let c = i % p.cols;
        out[i] = x[idx[p.offset + r] * p.cols + c];
    }
}

// out_labels[r] = labels[idx[offset + r]]
@compute @workgroup_size(WG)
fn gather_labels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r < p.rows) {
        out_labels[r] = labels[idx[p.offset + r]];
    }
}
