// matmul.wgsl: the three products of a Linear layer, workgroup-memory and register tiled.
//
// Each workgroup computes a 64x64 tile of `out` (M,N) with 16x16 threads, each thread a 4x4
// block held in registers. K advances in steps of 16 through two workgroup tiles. Loads
// outside the matrices read 0 and stores outside are skipped, so every size is correct,
// multiples of the tile or not. Entry points are named like their CPU twins
// (src/ops/matmul/cpu.rs):
// A batch of products runs in one dispatch: workgroup z picks the batch, and each operand
// starts stride_* elements after the previous one (convolution groups).
// With `accumulate` set, the product is added to out instead of replacing it.
//   matmul_nt: out = a·bᵀ   a (M,K), b (N,K)   forward X·Wᵀ
//   matmul_nt_bias: out = a·bᵀ + bias[col]    the Linear forward X·Wᵀ + b in one pass
//   matmul_nt_bias_act: the same, and act_out = act(out)   a Linear and its activation
//   matmul_nt_conv: a convolution's forward, the product written straight into NCHW + bias
//   matmul_nn: out = a·b    a (M,K), b (K,N)   input gradient dY·W
//   matmul_tn: out = aᵀ·b   a (K,M), b (K,N)   weight gradient dYᵀ·X

struct Params {
    m: u32,
    n: u32,
    k: u32,
    accumulate: u32, // 1: out += product (gradient accumulation); 0: out = product
    // Batched products (workgroup z = batch index): element strides between batches.
    stride_out: u32,
    stride_a: u32,
    stride_b: u32,
    act_kind: u32, // matmul_nt_bias_act: Activation::shader_kind
    act_param: f32, // matmul_nt_bias_act: the activation's parameter (LeakyReLU's slope)
    conv_plane: u32, // matmul_nt_conv: output positions per channel, OH·OW
    conv_channels: u32, // matmul_nt_conv: output channels O (all groups)
    conv_bias: u32, // matmul_nt_conv: 1 when bias[channel] is added
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
// Only the bias kernels bind it: (N), added to every row in the epilogue.
@group(0) @binding(4) var<storage, read> bias: array<f32>;
// Only matmul_nt_bias_act binds it: act(out), the next layer's activation.
@group(0) @binding(5) var<storage, read_write> act_out: array<f32>;

// Tile sizes. They size workgroup arrays, so they are `const` (WGSL has no override-sized
// workgroup arrays in every implementation wgpu targets).
const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;
const THREADS: u32 = 256u; // 16 x 16
const PER_THREAD: u32 = 4u; // each thread owns a 4x4 block of out

// tile_a[kk * TILE_M + i] = A(m0 + i, k0 + kk); tile_b[kk * TILE_N + j] = B(k0 + kk, n0 + j),
// where A (M,K) and B (K,N) are the logical operands after any transpose.
var<workgroup> tile_a: array<f32, 1024>;
var<workgroup> tile_b: array<f32, 1024>;

// A(row, col) of the logical (M,K) operand, 0 outside.
fn load_a(base: u32, row: u32, col: u32, trans_a: bool) -> f32 {
    if (row >= p.m || col >= p.k) {
        return 0.0;
    }
    if (trans_a) {
        return a[base + col * p.m + row]; // stored (K,M)
    }
    return a[base + row * p.k + col]; // stored (M,K)
}

// B(row, col) of the logical (K,N) operand, 0 outside.
fn load_b(base: u32, row: u32, col: u32, trans_b: bool) -> f32 {
    if (row >= p.k || col >= p.n) {
        return 0.0;
    }
    if (trans_b) {
        return b[base + col * p.k + row]; // stored (N,K)
    }
    return b[base + row * p.n + col]; // stored (K,N)
}

// This thread's 4x4 block of the product (rows lid.y*4.., columns lid.x*4.. of the tile).
fn matmul_tiled(lid: vec3<u32>, wid: vec3<u32>, trans_a: bool, trans_b: bool) -> array<f32, 16> {
    let tid = lid.y * 16u + lid.x;
    let m0 = wid.y * TILE_M;
    let n0 = wid.x * TILE_N;
    let base_a = wid.z * p.stride_a;
    let base_b = wid.z * p.stride_b;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
        // 1024 elements per tile, 4 per thread; consecutive threads walk the stored
        // operand's contiguous dimension so global reads coalesce.
        for (var r = 0u; r < 4u; r++) {
            let e = tid + r * THREADS;
            var i: u32;
            var kk: u32;
            if (trans_a) {
                i = e % TILE_M;
                kk = e / TILE_M;
            } else {
                kk = e % TILE_K;
                i = e / TILE_K;
            }
            tile_a[kk * TILE_M + i] = load_a(base_a, m0 + i, k0 + kk, trans_a);
            var j: u32;
            var kb: u32;
            if (trans_b) {
                kb = e % TILE_K;
                j = e / TILE_K;
            } else {
                j = e % TILE_N;
                kb = e / TILE_N;
            }
            tile_b[kb * TILE_N + j] = load_b(base_b, k0 + kb, n0 + j, trans_b);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            var ra: array<f32, 4>;
            var rb: array<f32, 4>;
            for (var i = 0u; i < PER_THREAD; i++) {
                ra[i] = tile_a[kk * TILE_M + lid.y * PER_THREAD + i];
                rb[i] = tile_b[kk * TILE_N + lid.x * PER_THREAD + i];
            }
            for (var i = 0u; i < PER_THREAD; i++) {
                for (var j = 0u; j < PER_THREAD; j++) {
                    acc[i * PER_THREAD + j] = fma(ra[i], rb[j], acc[i * PER_THREAD + j]);
                }
            }
        }
        workgroupBarrier();
    }
    return acc;
}

// Writes a thread's block: replaced, or added to out with `accumulate`.
fn store(lid: vec3<u32>, wid: vec3<u32>, acc: array<f32, 16>) {
    let base_out = wid.z * p.stride_out;
    for (var i = 0u; i < PER_THREAD; i++) {
        let row = wid.y * TILE_M + lid.y * PER_THREAD + i;
        for (var j = 0u; j < PER_THREAD; j++) {
            let col = wid.x * TILE_N + lid.x * PER_THREAD + j;
            if (row < p.m && col < p.n) {
                let idx = base_out + row * p.n + col;
                if (p.accumulate != 0u) {
                    out[idx] = out[idx] + acc[i * PER_THREAD + j];
                } else {
                    out[idx] = acc[i * PER_THREAD + j];
                }
            }
        }
    }
}

@compute @workgroup_size(16, 16)
fn matmul_nt(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    store(lid, wid, matmul_tiled(lid, wid, false, true));
}

// The Linear forward: the product plus bias[col], written once (no separate bias_add pass).
@compute @workgroup_size(16, 16)
fn matmul_nt_bias(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let acc = matmul_tiled(lid, wid, false, true);
    let base_out = wid.z * p.stride_out;
    for (var i = 0u; i < PER_THREAD; i++) {
        let row = wid.y * TILE_M + lid.y * PER_THREAD + i;
        for (var j = 0u; j < PER_THREAD; j++) {
            let col = wid.x * TILE_N + lid.x * PER_THREAD + j;
            if (row < p.m && col < p.n) {
                out[base_out + row * p.n + col] = acc[i * PER_THREAD + j] + bias[col];
            }
        }
    }
}

// A Linear followed by its activation: out keeps the pre-activation (the activation's backward
// reads it) and act_out gets act(out), with the same function activation_forward uses.
@compute @workgroup_size(16, 16)
fn matmul_nt_bias_act(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let acc = matmul_tiled(lid, wid, false, true);
    let base_out = wid.z * p.stride_out;
    for (var i = 0u; i < PER_THREAD; i++) {
        let row = wid.y * TILE_M + lid.y * PER_THREAD + i;
        for (var j = 0u; j < PER_THREAD; j++) {
            let col = wid.x * TILE_N + lid.x * PER_THREAD + j;
            if (row < p.m && col < p.n) {
                let idx = base_out + row * p.n + col;
                let v = acc[i * PER_THREAD + j] + bias[col];
                out[idx] = v;
                act_out[idx] = activate(p.act_kind, v, p.act_param);
            }
        }
    }
}

// A convolution's forward after im2col, in one pass: group z's product w·colsᵀ (M = O/G
// channels, N = N·OH·OW patch rows, K = C/G·kh·kw) written straight to its NCHW place in
// out [N, O, OH, OW], plus bias[channel] when conv_bias is 1 (no product buffer and no
// conv_output pass). Columns are output positions, so neighbouring threads write neighbouring
// addresses of one channel's plane.
@compute @workgroup_size(16, 16)
fn matmul_nt_conv(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let acc = matmul_tiled(lid, wid, false, true);
    let plane = p.conv_plane;
    for (var i = 0u; i < PER_THREAD; i++) {
        let row = wid.y * TILE_M + lid.y * PER_THREAD + i;
        for (var j = 0u; j < PER_THREAD; j++) {
            let col = wid.x * TILE_N + lid.x * PER_THREAD + j;
            if (row < p.m && col < p.n) {
                let ch = wid.z * p.m + row;
                var v = acc[i * PER_THREAD + j];
                if (p.conv_bias != 0u) {
                    v += bias[ch];
                }
                out[((col / plane) * p.conv_channels + ch) * plane + col % plane] = v;
            }
        }
    }
}

@compute @workgroup_size(16, 16)
fn matmul_nn(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    store(lid, wid, matmul_tiled(lid, wid, false, false));
}

@compute @workgroup_size(16, 16)
fn matmul_tn(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    store(lid, wid, matmul_tiled(lid, wid, true, false));
}
