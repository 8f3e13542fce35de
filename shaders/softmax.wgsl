// softmax.wgsl: row softmax forward and backward, one invocation per row.
// CPU twins: src/ops/softmax/cpu.rs.

struct Params {
    rows: u32,
    cols: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> in0: array<f32>;
@group(0) @binding(3) var<storage, read> in1: array<f32>;


// out[r, :] = softmax(in0[r, :]), max-subtracted
@compute @workgroup_size(WG)
fn softmax_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= p.rows) {
        return;
    }
    let base = r * p.cols;
    var m = in0[base];
    for (var c = 1u; c < p.cols; c++) {
        m = max(m, in0[base + c]);
    }
    var sum = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        let e = exp(in0[base + c] - m);
        out[base + c] = e;
        sum += e;
    }
    for (var c = 0u; c < p.cols; c++) {
        out[base + c] = out[base + c] / sum;
    }
}

// out (dx) = y ⊙ (dy − Σ dy·y) per row, with in0 = y (the forward output) and in1 = dy
@compute @workgroup_size(WG)
fn softmax_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= p.rows) {
        return;
    }
    let base = r * p.cols;
    var dot = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        dot += in1[base + c] * in0[base + c];
    }
    for (var c = 0u; c < p.cols; c++) {
        out[base + c] = in0[base + c] * (in1[base + c] - dot);
    }
}
