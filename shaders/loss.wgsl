// loss.wgsl: mean-reduced losses with forward and backward fused in one dispatch.
// CPU twins: src/ops/loss/cpu.rs.
//
// One workgroup of 256 invocations: each walks rows r = tid, tid+256, ..., writes the
// gradient of its rows and keeps a partial loss; a tree reduction in workgroup memory sums
// the partials and invocation 0 writes the mean to loss[0]. Losses are small (batch × classes),
// so one workgroup keeps the reduction in the same dispatch with no second pass.

struct Params {
    rows: u32,
    cols: u32,
    pad0: u32,
    pad1: u32,
    inv_count: f32, // 1/N for mse and bce (all elements); cross-entropy counts its own rows
    pad2: f32,
    pad3: f32,
    pad4: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read> input: array<f32>;
@group(0) @binding(4) var<storage, read> targets: array<f32>;
@group(0) @binding(5) var<storage, read> labels: array<u32>;

const THREADS: u32 = REDUCE_THREADS;
// Sums `mine` across the workgroup (the prelude's workgroup_sum); invocation 0 writes the
// total times p.inv_count.
fn finish(tid: u32, mine: f32) {
    let total = workgroup_sum(tid, mine);
    if (tid == 0u) {
        loss[0] = total * p.inv_count;
    }
}

// loss = Σ (pred − target)² / N; grad = 2 (pred − target) / N
@compute @workgroup_size(256)
fn mse_loss(@builtin(local_invocation_id) lid: vec3<u32>) {
    let tid = lid.x;
    let n = p.rows * p.cols;
    var mine = 0.0;
    for (var i = tid; i < n; i += THREADS) {
        let d = input[i] - targets[i];
        mine += d * d;
        grad[i] = 2.0 * d * p.inv_count;
    }
    finish(tid, mine);
}

// The label of a position that does not count (PyTorch's ignore_index = -1 as a u32).
const IGNORE: u32 = 0xffffffffu;

// loss = Σ_r (logsumexp(z_r) − z_r[y_r]) / N; grad = (softmax(z) − onehot(y)) / N, over the N
// rows whose label is not IGNORE (ignored rows get a zero gradient). N is counted here first
// (a workgroup reduction), since the labels may have been gathered on the device.
@compute @workgroup_size(256)
fn cross_entropy_loss(@builtin(local_invocation_id) lid: vec3<u32>) {
    let tid = lid.x;
    var mine_count = 0.0;
    for (var r = tid; r < p.rows; r += THREADS) {
        mine_count += select(1.0, 0.0, labels[r] == IGNORE);
    }
    let inv_n = 1.0 / workgroup_sum(tid, mine_count);
    var mine = 0.0;
    for (var r = tid; r < p.rows; r += THREADS) {
        let base = r * p.cols;
        let y = labels[r];
        if (y == IGNORE) {
            for (var c = 0u; c < p.cols; c++) {
                grad[base + c] = 0.0;
            }
            continue;
        }
        var m = input[base];
        for (var c = 1u; c < p.cols; c++) {
            m = max(m, input[base + c]);
        }
        var sum = 0.0;
        for (var c = 0u; c < p.cols; c++) {
            sum += exp(input[base + c] - m);
        }
        mine += log(sum) - (input[base + y] - m);
        for (var c = 0u; c < p.cols; c++) {
            let prob = exp(input[base + c] - m) / sum;
            let onehot = select(0.0, 1.0, c == y);
            grad[base + c] = (prob - onehot) * inv_n;
        }
    }
    let total = workgroup_sum(tid, mine);
    if (tid == 0u) {
        loss[0] = total * inv_n;
    }
}

// loss = Σ max(z,0) − z·y + ln(1 + e^−|z|) / N; grad = (sigmoid(z) − y) / N
@compute @workgroup_size(256)
fn bce_with_logits_loss(@builtin(local_invocation_id) lid: vec3<u32>) {
    let tid = lid.x;
    let n = p.rows * p.cols;
    var mine = 0.0;
    for (var i = tid; i < n; i += THREADS) {
        let z = input[i];
        let y = targets[i];
        let e = exp(-abs(z));
        // ln(1 + e) for e in [0, 1]: use the (e/u)·ln(u) correction so small e keeps its precision.
        let u = 1.0 + e;
        var log1p_e = e;
        if (u != 1.0) {
            log1p_e = log(u) * e / (u - 1.0);
        }
        mine += max(z, 0.0) - z * y + log1p_e;
        let s = select(e / (1.0 + e), 1.0 / (1.0 + e), z >= 0.0);
        grad[i] = (s - y) * p.inv_count;
    }
    finish(tid, mine);
}
