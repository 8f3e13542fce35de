// flash_attention.wgsl: fused multi-head attention in the flash-attention style. The T×T
// scores are never stored: the forward keeps a running max and sum per query over tiles of
// keys and values held in workgroup memory, and saves each query's log-sum-exp; the backward
// recomputes the scores from it. Rules in src/ops/attention/flash.rs; CPU twins:
// src/ops/attention/cpu.rs.
//
// With dropout (nanoGPT's attn_dropout) each weight p_ij is multiplied by a factor drawn from a
// hash of its index and the call's key (drop_factor), identically in all three kernels and the
// CPU twins; the softmax's row sums are taken before it.
//
// Each workgroup handles ROWS positions of one (batch, head) pair (workgroup_id.y); each
// invocation one position, whose rows (the query, its accumulators) live in private arrays of
// HEAD_DIM_MAX. Every gradient element is written by one invocation: no atomics, fixed order.

struct FlashParams {
    batch: u32,
    heads: u32,     // H
    dim: u32,       // D, the width of one head
    l: u32,         // query positions
    s: u32,         // key positions (the queries are the last l of them when causal)
    q_width: u32,   // row width of q and dq
    q_off: u32,     // first query column
    kv_width: u32,  // row width of kv and dkv
    k_off: u32,     // first key column
    v_off: u32,     // first value column
    causal: u32,    // 1: query i sees keys j <= i + s - l
    scale: f32,     // 1/sqrt(D)
    drop_threshold: u32,  // attention dropout: floor(p·2^32), 0 for none
    drop_scale: f32,      // 1/(1 − p)
    slot: u32,            // the dropout key's index in `keys`
    key_mask: u32,        // 1: `mask` [B, S] is bound (0.0 marks a padding key)
}

@group(0) @binding(0) var<uniform> p: FlashParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;      // [B, L, H·D]
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;    // [2, B, H, L]: lse, then δ = dO_i · o_i
@group(0) @binding(3) var<storage, read> q: array<f32>;              // [B, L, q_width]
@group(0) @binding(4) var<storage, read> kv: array<f32>;             // [B, S, kv_width]
@group(0) @binding(5) var<storage, read> o_in: array<f32>;           // the forward's out
@group(0) @binding(6) var<storage, read> dout: array<f32>;           // its gradient
@group(0) @binding(7) var<storage, read> stats_in: array<f32>;       // stats, read-only (dk/dv)
@group(0) @binding(8) var<storage, read_write> dq: array<f32>;       // laid out like q
@group(0) @binding(11) var<storage, read_write> dkv: array<f32>;     // laid out like kv
@group(0) @binding(12) var<storage, read> keys: array<f32>;          // dropout keys (u32 bits)
@group(0) @binding(13) var<storage, read> mask: array<f32>;          // key mask [B, S]

const ROWS: u32 = 64u;           // positions per workgroup (ROWS_PER_GROUP in flash.rs)
const HEAD_DIM_MAX: u32 = 128u;  // HEAD_DIM_MAX in flash.rs
const TILE_ELEMS: u32 = 1792u;   // floats per tile array: 2 of them + stats stay under 16 KiB
const NEG_BIG: f32 = -3.4028235e38;
const POS_BIG: f32 = 3.4028235e38;  // the lse of a query that sees no key: every exp(s − lse) is 0

var<workgroup> tile_a: array<f32, 1792>;  // keys (forward, dq) or scaled queries (dk/dv)
var<workgroup> tile_b: array<f32, 1792>;  // values (forward, dq) or output gradients (dk/dv)
var<workgroup> tile_stats: array<f32, 128>;  // dk/dv: the tile's lse, then its δ

// Positions per tile: as many rows of D as a tile array holds, at most ROWS.
fn tile_rows() -> u32 {
    return min(ROWS, TILE_ELEMS / p.dim);
}

// The keys query i sees: 0..visible(i).
fn visible(i: u32) -> u32 {
    if (p.causal != 0u) {
        return min(p.s, i + p.s - p.l + 1u);
    }
    return p.s;
}

fn q_index(b: u32, i: u32, h: u32, d: u32) -> u32 {
    return (b * p.l + i) * p.q_width + p.q_off + h * p.dim + d;
}

fn kv_index(b: u32, j: u32, off: u32, h: u32, d: u32) -> u32 {
    return (b * p.s + j) * p.kv_width + off + h * p.dim + d;
}

fn out_index(b: u32, i: u32, h: u32, d: u32) -> u32 {
    return ((b * p.l + i) * p.heads + h) * p.dim + d;
}

fn stat_index(b: u32, h: u32, i: u32) -> u32 {
    return (b * p.heads + h) * p.l + i;
}

// Where δ of query i is in stats (after every lse).
fn delta_index(b: u32, h: u32, i: u32) -> u32 {
    return p.batch * p.heads * p.l + stat_index(b, h, i);
}

// Whether key j of batch row b can be attended to (the key mask; every key without one).
fn key_on(b: u32, j: u32) -> bool {
    return p.key_mask == 0u || mask[b * p.s + j] != 0.0;
}

// The dropout factor of weight (b, h, i, j): 0 or 1/(1 − p), as dropout.wgsl draws it from the
// weight's flat index in [B, H, L, S] and the key; 1 without dropout.
fn drop_factor(key: u32, b: u32, h: u32, i: u32, j: u32) -> f32 {
    if (p.drop_threshold == 0u) {
        return 1.0;
    }
    let index = ((b * p.heads + h) * p.l + i) * p.s + j;
    return select(0.0, p.drop_scale, hash32(hash32(index) ^ key) >= p.drop_threshold);
}

// This call's dropout key (0 without dropout: `keys` is then not read).
fn drop_key() -> u32 {
    if (p.drop_threshold == 0u) {
        return 0u;
    }
    return bitcast<u32>(keys[p.slot]);
}

// Keys (tile_a) and values (tile_b) j0..j0 + rows of head h; zeros past S.
fn load_kv_tile(b: u32, h: u32, j0: u32, rows: u32, tid: u32) {
    for (var e = tid; e < rows * p.dim; e += ROWS) {
        let j = j0 + e / p.dim;
        let d = e % p.dim;
        var k = 0.0;
        var v = 0.0;
        if (j < p.s) {
            k = kv[kv_index(b, j, p.k_off, h, d)];
            v = kv[kv_index(b, j, p.v_off, h, d)];
        }
        tile_a[e] = k;
        tile_b[e] = v;
    }
}

// out, lse: one invocation per query, the keys and values streamed through tiles.
@compute @workgroup_size(64)
fn flash_attention_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b = wid.y / p.heads;
    let h = wid.y % p.heads;
    let i = wid.x * ROWS + lid.x;
    let live = i < p.l;
    var qs: array<f32, HEAD_DIM_MAX>;
    var o: array<f32, HEAD_DIM_MAX>;
    if (live) {
        for (var d = 0u; d < p.dim; d++) {
            qs[d] = q[q_index(b, i, h, d)] * p.scale;
        }
    }
    var m = NEG_BIG;
    var l = 0.0;
    let key = drop_key();
    let rows = tile_rows();
    let seen = visible(min(wid.x * ROWS + ROWS, p.l) - 1u);  // what the group's last query sees
    for (var j0 = 0u; j0 < seen; j0 += rows) {
        workgroupBarrier();
        load_kv_tile(b, h, j0, rows, lid.x);
        workgroupBarrier();
        if (live) {
            let end = min(j0 + rows, visible(i));
            for (var j = j0; j < end; j++) {
                if (!key_on(b, j)) {
                    continue;
                }
                let base = (j - j0) * p.dim;
                var s = 0.0;
                for (var d = 0u; d < p.dim; d++) {
                    s += qs[d] * tile_a[base + d];
                }
                if (s > m) {
                    let corr = exp(m - s);
                    l *= corr;
                    for (var d = 0u; d < p.dim; d++) {
                        o[d] *= corr;
                    }
                    m = s;
                }
                let pj = exp(s - m);
                l += pj;
                let w = pj * drop_factor(key, b, h, i, j);
                for (var d = 0u; d < p.dim; d++) {
                    o[d] += w * tile_b[base + d];
                }
            }
        }
    }
    if (live) {
        let seen_any = l > 0.0;  // false only when the mask hides every key from this query
        for (var d = 0u; d < p.dim; d++) {
            out[out_index(b, i, h, d)] = select(0.0, o[d] / l, seen_any);
        }
        stats[stat_index(b, h, i)] = select(POS_BIG, m + log(l), seen_any);
    }
}

// dq and δ: one invocation per query, the keys and values streamed through tiles again.
@compute @workgroup_size(64)
fn flash_attention_backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b = wid.y / p.heads;
    let h = wid.y % p.heads;
    let i = wid.x * ROWS + lid.x;
    let live = i < p.l;
    var qs: array<f32, HEAD_DIM_MAX>;
    var dor: array<f32, HEAD_DIM_MAX>;
    var acc: array<f32, HEAD_DIM_MAX>;
    var dl = 0.0;
    var li = 0.0;
    if (live) {
        for (var d = 0u; d < p.dim; d++) {
            qs[d] = q[q_index(b, i, h, d)] * p.scale;
            dor[d] = dout[out_index(b, i, h, d)];
            dl += dor[d] * o_in[out_index(b, i, h, d)];
        }
        li = stats[stat_index(b, h, i)];
        stats[delta_index(b, h, i)] = dl;
    }
    let key = drop_key();
    let rows = tile_rows();
    let seen = visible(min(wid.x * ROWS + ROWS, p.l) - 1u);
    for (var j0 = 0u; j0 < seen; j0 += rows) {
        workgroupBarrier();
        load_kv_tile(b, h, j0, rows, lid.x);
        workgroupBarrier();
        if (live) {
            let end = min(j0 + rows, visible(i));
            for (var j = j0; j < end; j++) {
                if (!key_on(b, j)) {
                    continue;
                }
                let base = (j - j0) * p.dim;
                var s = 0.0;
                var dp = 0.0;
                for (var d = 0u; d < p.dim; d++) {
                    s += qs[d] * tile_a[base + d];
                    dp += dor[d] * tile_b[base + d];
                }
                let ds = exp(s - li) * (drop_factor(key, b, h, i, j) * dp - dl);
                for (var d = 0u; d < p.dim; d++) {
                    acc[d] += ds * tile_a[base + d];
                }
            }
        }
    }
    if (live) {
        for (var d = 0u; d < p.dim; d++) {
            dq[q_index(b, i, h, d)] = acc[d] * p.scale;
        }
    }
}

// dk and dv: one invocation per key, the (scaled) queries and output gradients streamed
// through tiles with their lse and δ.
@compute @workgroup_size(64)
fn flash_attention_backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let b = wid.y / p.heads;
    let h = wid.y % p.heads;
    let j = wid.x * ROWS + lid.x;
    let live = j < p.s && key_on(b, j);  // a masked key gets zero gradients
    var kr: array<f32, HEAD_DIM_MAX>;
    var vr: array<f32, HEAD_DIM_MAX>;
    var dk: array<f32, HEAD_DIM_MAX>;
    var dv: array<f32, HEAD_DIM_MAX>;
    if (live) {
        for (var d = 0u; d < p.dim; d++) {
            kr[d] = kv[kv_index(b, j, p.k_off, h, d)];
            vr[d] = kv[kv_index(b, j, p.v_off, h, d)];
        }
    }
    // Causal: key j is seen by the queries i with i + s - l >= j; the group's first key decides
    // where its tiles start.
    let shift = p.s - p.l;
    let first_key = wid.x * ROWS;
    var start = 0u;
    if (p.causal != 0u && first_key > shift) {
        start = first_key - shift;
    }
    let key = drop_key();
    let rows = tile_rows();
    for (var i0 = start; i0 < p.l; i0 += rows) {
        workgroupBarrier();
        for (var e = lid.x; e < rows * p.dim; e += ROWS) {
            let i = i0 + e / p.dim;
            let d = e % p.dim;
            var qv = 0.0;
            var g = 0.0;
            if (i < p.l) {
                qv = q[q_index(b, i, h, d)] * p.scale;
                g = dout[out_index(b, i, h, d)];
            }
            tile_a[e] = qv;
            tile_b[e] = g;
        }
        if (lid.x < rows) {
            let i = i0 + lid.x;
            var ls = 0.0;
            var dl = 0.0;
            if (i < p.l) {
                ls = stats_in[stat_index(b, h, i)];
                dl = stats_in[delta_index(b, h, i)];
            }
            tile_stats[lid.x] = ls;
            tile_stats[ROWS + lid.x] = dl;
        }
        workgroupBarrier();
        if (live) {
            let end = min(i0 + rows, p.l);
            for (var i = i0; i < end; i++) {
                if (p.causal != 0u && j > i + shift) {
                    continue;
                }
                let r = i - i0;
                let base = r * p.dim;
                var s = 0.0;
                var dp = 0.0;
                for (var d = 0u; d < p.dim; d++) {
                    s += tile_a[base + d] * kr[d];
                    dp += tile_b[base + d] * vr[d];
                }
                let pj = exp(s - tile_stats[r]);
                let f = drop_factor(key, b, h, i, j);
                let ds = pj * (f * dp - tile_stats[ROWS + r]);
                let w = pj * f;
                for (var d = 0u; d < p.dim; d++) {
                    dv[d] += w * tile_b[base + d];
                    dk[d] += ds * tile_a[base + d];
                }
            }
        }
    }
    if (j < p.s) {
        for (var d = 0u; d < p.dim; d++) {
            dkv[kv_index(b, j, p.k_off, h, d)] = dk[d];
            dkv[kv_index(b, j, p.v_off, h, d)] = dv[d];
        }
    }
}
