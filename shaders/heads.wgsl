// heads.wgsl: the head split and merge of multi-head attention, each the other's adjoint.
// Rules in src/ops/heads/mod.rs; CPU twins: src/ops/heads/cpu.rs.

struct HeadsParams {
    batch: u32,  // B
    time: u32,   // T
    heads: u32,  // H
    dim: u32,    // D, the width of one head
    width: u32,  // W, the row width of the [B, T, W] side
    offset: u32, // its first column holding the heads
    n: u32,      // B·H·T·D
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: HeadsParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

// Where element t of the [B, H, T, D] side lives in the [B, T, W] side.
fn row_index(t: u32) -> u32 {
    let d = t % p.dim;
    let s = (t / p.dim) % p.time;
    let h = (t / (p.dim * p.time)) % p.heads;
    let b = t / (p.dim * p.time * p.heads);
    return (b * p.time + s) * p.width + p.offset + h * p.dim + d;
}

// out [B, H, T, D] = x [B, T, W] columns offset..offset + H·D, viewed [B, T, H, D], transposed.
@compute @workgroup_size(WG)
fn split_heads(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    if (t >= p.n) {
        return;
    }
    out[t] = x[row_index(t)];
}

// out [B, T, W] columns offset..offset + H·D = x [B, H, T, D] transposed back; the other columns
// are left as they are.
@compute @workgroup_size(WG)
fn merge_heads(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat_index(gid, nwg);
    if (t >= p.n) {
        return;
    }
    out[row_index(t)] = x[t];
}
