// sample.wgsl: one class label per row of logits, drawn from softmax(row) (src/ops/sample; CPU
// twin in cpu.rs there, the same float32 operations in the same order). u = the top 24 bits of
// hash32(hash32(row) ^ key) / 2^24; the label is the first class whose running sum of
// exp(l − max) exceeds u·Σ exp(l − max), or the last class when rounding leaves none.

struct Params {
    rows: u32,
    classes: u32,
    key: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> labels: array<u32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;


@compute @workgroup_size(WG)
fn sample_labels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat_index(gid, nwg);
    if (r >= p.rows) {
        return;
    }
    let base = r * p.classes;
    var m = logits[base];
    for (var k = 1u; k < p.classes; k = k + 1u) {
        m = max(m, logits[base + k]);
    }
    var total = 0.0;
    for (var k = 0u; k < p.classes; k = k + 1u) {
        total = total + exp(logits[base + k] - m);
    }
    let u = f32(hash32(hash32(r) ^ p.key) >> 8u) * (1.0 / 16777216.0);
    let target_sum = u * total;
    var acc = 0.0;
    var label = p.classes - 1u;
    for (var k = 0u; k < p.classes; k = k + 1u) {
        acc = acc + exp(logits[base + k] - m);
        if (acc > target_sum) {
            label = k;
            break;
        }
    }
    labels[r] = label;
}
