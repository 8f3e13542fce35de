// segment_norm.wgsl: LAMB's trust ratio per tensor of a flat parameter buffer (src/ops/segment_norm;
// CPU twin in cpu.rs there). One workgroup per segment (offset, length): ‖a‖₂ and ‖b‖₂ over its
// elements (b read from b_offset), ratio = ‖a‖/‖b‖, or 1 where either is 0, written to
// out[1 + chunk] for every ALIGN-element chunk of the segment (out[0] is left alone: it holds
// the global gradient norm the clip reads).

struct Params {
    segments: u32,
    b_offset: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> segs: array<u32>;

const ALIGN: u32 = 64u; // src/params.rs ALIGN

@compute @workgroup_size(256)
fn trust_ratio(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let s = wid.x;
    let tid = lid.x;
    if (s >= p.segments) {
        return; // uniform per workgroup
    }
    let offset = segs[2u * s];
    let len = segs[2u * s + 1u];
    var wa = 0.0;
    var wb = 0.0;
    for (var i = tid; i < len; i = i + REDUCE_THREADS) {
        let x = a[offset + i];
        let y = b[p.b_offset + offset + i];
        wa = wa + x * x;
        wb = wb + y * y;
    }
    let sa = workgroup_sum(tid, wa);
    let sb = workgroup_sum(tid, wb);
    let w = sqrt(sa);
    let r = sqrt(sb);
    var ratio = 1.0;
    if (w > 0.0 && r > 0.0) {
        ratio = w / r;
    }
    let chunks = (len + ALIGN - 1u) / ALIGN;
    for (var c = tid; c < chunks; c = c + REDUCE_THREADS) {
        out[1u + offset / ALIGN + c] = ratio;
    }
}
