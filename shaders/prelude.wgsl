// prelude.wgsl: prepended to every kernel file when it is loaded (ShaderFile::source in
// src/backend/gpu/kernels.rs), so helpers shared by every family live here once.

// Invocations per workgroup of the kernels that run one invocation per item. Rust sets it per
// file through the pipeline's compilation constants (ShaderFile::workgroup); this default only
// serves tools that read a file on its own.
override WG: u32 = 256u;

// lowbias32 (Chris Wellons), the counter hash of dropout masks and sampled labels; src/rng.rs
// has the same function.
fn hash32(x: u32) -> u32 {
    var h = x;
    h ^= h >> 16u;
    h *= 0x7feb352du;
    h ^= h >> 15u;
    h *= 0x846ca68bu;
    h ^= h >> 16u;
    return h;
}

// The flat item index of an invocation. The grid folds into two dimensions when one is not
// enough (GpuBackend::grid), so the index folds num_workgroups.x back in.
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Threads of the kernels that reduce inside one workgroup (a fixed @workgroup_size, since the
// scratch array below must have a constant size).
const REDUCE_THREADS: u32 = 256u;
var<workgroup> reduce_scratch: array<f32, 256>;

// The sum of `v` over the workgroup, returned to every invocation (a tree over the scratch).
// Call it from uniform control flow, with @workgroup_size(REDUCE_THREADS).
fn workgroup_sum(tid: u32, v: f32) -> f32 {
    reduce_scratch[tid] = v;
    workgroupBarrier();
    for (var stride = REDUCE_THREADS / 2u; stride > 0u; stride = stride / 2u) {
        if (tid < stride) {
            reduce_scratch[tid] += reduce_scratch[tid + stride];
        }
        workgroupBarrier();
    }
    let total = reduce_scratch[0];
    workgroupBarrier();
    return total;
}

// The output position i whose window (stride, padding, dilation) reads input position `pos`
// at kernel offset `a`: i·stride − pad + a·dil = pos. −1 when there is none.
fn window_source(pos: u32, a: u32, pad: u32, dil: u32, stride: u32, out_len: u32) -> i32 {
    let num = i32(pos) + i32(pad) - i32(a * dil);
    if (num < 0 || num % i32(stride) != 0) {
        return -1;
    }
    let i = num / i32(stride);
    if (i >= i32(out_len)) {
        return -1;
    }
    return i;
}

// The sliding-window geometry of conv.wgsl and pool.wgsl (Window2d in src/ops/mod.rs).
struct Window {
    n: u32, c: u32, h: u32, w: u32,
    o: u32, groups: u32, kh: u32, kw: u32,
    sh: u32, sw: u32, ph: u32, pw: u32,
    dh: u32, dw: u32, oh: u32, ow: u32,
    flags: u32, pad0: u32, pad1: u32, pad2: u32,
}
