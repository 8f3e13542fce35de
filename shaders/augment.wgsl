// augment.wgsl: training-batch augmentation of [rows, C, H, W] images, one output element per
// invocation. Each row draws its transform from a counter-based hash of (row, key), so the CPU
// twin (src/ops/augment/cpu.rs) draws the very same ones: a horizontal flip with probability ½
// (when `flip` is 1), a random crop of the image padded by `crop` zeros (a shift of
// c − crop pixels per axis, c uniform in [0, 2·crop]) and a further translation by t ∈
// [−translate, translate] per axis. out[y][x] = in[y + dy][x' + dx] with x' = W−1−x when
// flipped, else x; where that falls outside the image, fill[c][y][x]: a black pixel in the
// model's input units (torchvision pads with black, then normalises).

struct Params {
    n: u32,         // rows · C · H · W
    channels: u32,
    height: u32,
    width: u32,
    key: u32,       // this batch's key (host-computed from the seed and the step)
    crop: u32,
    translate: u32,
    flip: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> in0: array<f32>;
@group(0) @binding(3) var<storage, read> fill: array<f32>; // [C, H, W]

// A draw in [−r, r] from the hash h.
fn centred(h: u32, r: u32) -> i32 {
    return i32(h % (2u * r + 1u)) - i32(r);
}

@compute @workgroup_size(WG)
fn augment(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) {
        return;
    }
    let plane = p.height * p.width;
    let per_row = p.channels * plane;
    let row = i / per_row;
    let rest = i % per_row;
    let c = rest / plane;
    let y = (rest % plane) / p.width;
    let x = rest % p.width;
    let h = hash32(hash32(row) ^ p.key);
    let flipped = p.flip == 1u && (h & 1u) == 1u;
    let dy = centred(hash32(h ^ 0x9e3779b9u), p.crop) + centred(hash32(h ^ 0x7f4a7c15u), p.translate);
    let dx = centred(hash32(h ^ 0x85ebca6bu), p.crop) + centred(hash32(h ^ 0xc2b2ae35u), p.translate);
    let fx = select(x, p.width - 1u - x, flipped);
    let sy = i32(y) + dy;
    let sx = i32(fx) + dx;
    var v = fill[rest];
    if (sy >= 0 && sy < i32(p.height) && sx >= 0 && sx < i32(p.width)) {
        v = in0[row * per_row + c * plane + u32(sy) * p.width + u32(sx)];
    }
    out[i] = v;
}
