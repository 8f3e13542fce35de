// optim/adafactor.wgsl: Adafactor (torch.optim.Adafactor). One workgroup per tensor (the tensor
// table `tensors`: offset, numel, n, m, group; m = 0 for a vector), in phases separated by
// barriers: α = max(ε2, ‖p‖/√numel)·ρ_t from the weight before its decay; the second moments
// (matrices: R = lerp(R, ‖g_row‖²/m, w) in slot 0, C = lerp(C, ‖g_col‖²/n, w) in slot 1, per
// leading batch; vectors: v = lerp(v, g², w) in slot 0); u = g·rsqrt(max(V, ε1²)) with
// V = R_i·C_j / max(mean R, ε1) (or v); denom = max(1, ‖u‖/(√numel·d)); p = p·(1 − lr·wd) +
// (−α/denom)·u. u is recomputed where needed rather than stored. Twin: src/optim/adafactor.rs.

struct AdafactorTerms {
    weight: f32, // t^beta2_decay
    rho: f32,
    eps1: f32,
    eps1_sq: f32,
    eps2: f32,
    d: f32,
    pad0: f32,
}

struct Group {
    head: Head,
    terms: AdafactorTerms,
    clip: Clip,
}

@group(0) @binding(7) var<storage, read> tensors: array<u32>;

// The second-moment estimate of element k (local index) of a matrix tensor, batch b.
fn factored(rows: u32, cols: u32, k: u32, n: u32, m: u32, mean_floor: f32) -> f32 {
    let i = (k / m) % n;
    let j = k % m;
    let b = k / (n * m);
    return state[rows + b * n + i] * state[cols + b * m + j] / mean_floor;
}

@compute @workgroup_size(256)
fn adafactor_step(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let tid = lid.x;
    let base = wid.x * 5u;
    let offset = tensors[base];
    let numel = tensors[base + 1u];
    let n = tensors[base + 2u];
    let m = tensors[base + 3u];
    let h = table[tensors[base + 4u]];
    let t = h.terms;
    let total = p.n;
    let rows = offset;         // this tensor's region of slot 0: R (or v)
    let cols = total + offset; // its region of slot 1: C

    // α from the weight before its decay.
    var acc = 0.0;
    for (var k = tid; k < numel; k = k + REDUCE_THREADS) {
        let w = params[offset + k];
        acc = acc + w * w;
    }
    let alpha = max(t.eps2, sqrt(workgroup_sum(tid, acc)) / sqrt(f32(numel))) * t.rho;

    // The second moments.
    if (m == 0u) {
        for (var k = tid; k < numel; k = k + REDUCE_THREADS) {
            let g = clipped(grads[offset + k], h.clip);
            state[rows + k] = lerp(state[rows + k], g * g, t.weight);
        }
    } else {
        let batch = numel / (n * m);
        for (var r = tid; r < batch * n; r = r + REDUCE_THREADS) {
            var s = 0.0;
            for (var j = 0u; j < m; j = j + 1u) {
                let g = clipped(grads[offset + r * m + j], h.clip);
                s = s + g * g;
            }
            let nrm = sqrt(s);
            state[rows + r] = lerp(state[rows + r], nrm * nrm / f32(m), t.weight);
        }
        for (var c = tid; c < batch * m; c = c + REDUCE_THREADS) {
            let b = c / m;
            let j = c % m;
            var s = 0.0;
            for (var i = 0u; i < n; i = i + 1u) {
                let g = clipped(grads[offset + b * n * m + i * m + j], h.clip);
                s = s + g * g;
            }
            let nrm = sqrt(s);
            state[cols + c] = lerp(state[cols + c], nrm * nrm / f32(n), t.weight);
        }
    }
    storageBarrier();
    workgroupBarrier();

    // ‖u‖, batch by batch for matrices (each batch has its own mean of R).
    var uu = 0.0;
    let batches = select(numel / max(n * m, 1u), 1u, m == 0u);
    for (var b = 0u; b < batches; b = b + 1u) {
        let mean_floor = row_mean_floor(tid, rows, b, n, m, t.eps1);
        for (var k = batch_start(b, n, m) + tid; k < batch_end(b, n, m, numel); k = k + REDUCE_THREADS) {
            let u = update_at(h, offset, rows, cols, k, n, m, mean_floor);
            uu = uu + u * u;
        }
        workgroupBarrier();
    }
    let denom = max(sqrt(workgroup_sum(tid, uu)) / (sqrt(f32(numel)) * t.d), 1.0);
    let step = -alpha / denom;

    // The update, u recomputed.
    for (var b = 0u; b < batches; b = b + 1u) {
        let mean_floor = row_mean_floor(tid, rows, b, n, m, t.eps1);
        for (var k = batch_start(b, n, m) + tid; k < batch_end(b, n, m, numel); k = k + REDUCE_THREADS) {
            let u = update_at(h, offset, rows, cols, k, n, m, mean_floor);
            params[offset + k] = params[offset + k] * h.head.decay_factor + step * u;
        }
    }
}

// max(mean of R over the n rows of batch b, ε1) for a matrix (1 for a vector); call it from
// uniform control flow (it sums over the workgroup).
fn row_mean_floor(tid: u32, rows: u32, b: u32, n: u32, m: u32, eps1: f32) -> f32 {
    if (m == 0u) {
        return 1.0;
    }
    var rs = 0.0;
    for (var i = tid; i < n; i = i + REDUCE_THREADS) {
        rs = rs + state[rows + b * n + i];
    }
    return max(workgroup_sum(tid, rs) / f32(n), eps1);
}

// The local index range of batch b (the whole tensor for a vector).
fn batch_start(b: u32, n: u32, m: u32) -> u32 {
    return select(b * n * m, 0u, m == 0u);
}

fn batch_end(b: u32, n: u32, m: u32, numel: u32) -> u32 {
    return select((b + 1u) * n * m, numel, m == 0u);
}

// u at local index k: g·rsqrt(max(V, ε1²)), V the factored (or plain) second moment.
fn update_at(h: Group, offset: u32, rows: u32, cols: u32, k: u32, n: u32, m: u32, mean_floor: f32) -> f32 {
    let g = clipped(grads[offset + k], h.clip);
    var v: f32;
    if (m == 0u) {
        v = state[rows + k];
    } else {
        v = factored(rows, cols, k, n, m, mean_floor);
    }
    return inverseSqrt(max(v, h.terms.eps1_sq)) * g;
}
