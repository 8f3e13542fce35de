// reduce.wgsl: column sums (bias gradients) and whole-tensor reductions to one value.
// CPU twins: src/ops/reduce/cpu.rs.

struct Params {
    n: u32,    // element count
    rows: u32, // for column_sum
    cols: u32, // for column_sum
    accumulate: u32, // column_sum: 1 adds to out, 0 replaces it
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> y: array<f32>;

const THREADS: u32 = 256u;
var<workgroup> partial: array<f32, 256>;

// out[c] = Σ_r x[r, c] (+ out[c] when accumulating); one invocation per column, rows in order (as the CPU twin).
@compute @workgroup_size(WG)
fn column_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = flat_index(gid, nwg);
    if (c >= p.cols) {
        return;
    }
    var acc = 0.0;
    if (p.accumulate != 0u) {
        acc = out[c];
    }
    for (var r = 0u; r < p.rows; r++) {
        acc += x[r * p.cols + c];
    }
    out[c] = acc;
}

// Tree reduction of `partial` by sum (op 0) or max (op 1); returns the total in invocation 0.
fn tree(tid: u32, op: u32) {
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride = stride / 2u) {
        if (tid < stride) {
            if (op == 0u) {
                partial[tid] = partial[tid] + partial[tid + stride];
            } else {
                partial[tid] = max(partial[tid], partial[tid + stride]);
            }
        }
        workgroupBarrier();
    }
}

// First pass of a large reduction: workgroup w reduces x[w·chunk .. (w+1)·chunk) into out[w]
// by p.accumulate's op (0 Σx, 1 Σx², 2 Σ|x|, 3 max|x|), with p.rows = chunk. A second pass
// (`sum`, or `max_abs` for op 3) reduces the partials. CPU twin: reduce_partial.
@compute @workgroup_size(256)
fn reduce_partial(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let tid = lid.x;
    let op = p.accumulate;
    let start = wid.x * p.rows;
    let end = min(start + p.rows, p.n);
    var acc = 0.0;
    for (var i = start + tid; i < end; i += THREADS) {
        let v = x[i];
        switch op {
            case 0u: { acc += v; }
            case 1u: { acc = fma(v, v, acc); }
            case 2u: { acc += abs(v); }
            default: { acc = max(acc, abs(v)); }
        }
    }
    partial[tid] = acc;
    tree(tid, select(0u, 1u, op == 3u));
    if (tid == 0u) {
        out[wid.x] = partial[0];
    }
}

// out[0] = Σ x, one workgroup.
@compute @workgroup_size(256)
fn sum(@builtin(local_invocation_id) lid: vec3<u32>) {
    let tid = lid.x;
    var acc = 0.0;
    for (var i = tid; i < p.n; i += THREADS) {
        acc += x[i];
    }
    partial[tid] = acc;
    tree(tid, 0u);
    if (tid == 0u) {
        out[0] = partial[0];
    }
}

// out[0] = Σ x², one workgroup.
@compute @workgroup_size(256)
fn sum_squares(@builtin(local_invocation_id) lid: vec3<u32>) {
    let tid = lid.x;
    var acc = 0.0;
    for (var i = tid; i < p.n; i += THREADS) {
        acc = fma(x[i], x[i], acc);
    }
    partial[tid] = acc;
    tree(tid, 0u);
    if (tid == 0u) {
        out[0] = partial[0];
    }
}

// out[0] = Σ |x|, the L1 norm, one workgroup.
@compute @workgroup_size(256)
fn sum_abs(@builtin(local_invocation_id) lid: vec3<u32>) {
    let tid = lid.x;
    var acc = 0.0;
    for (var i = tid; i < p.n; i += THREADS) {
        acc += abs(x[i]);
    }
    partial[tid] = acc;
    tree(tid, 0u);
    if (tid == 0u) {
        out[0] = partial[0];
    }
}

// out[0] = max |x| (0 when empty), one workgroup.
@compute @workgroup_size(256)
fn max_abs(@builtin(local_invocation_id) lid: vec3<u32>) {
    let tid = lid.x;
    var acc = 0.0;
    for (var i = tid; i < p.n; i += THREADS) {
        acc = max(acc, abs(x[i]));
    }
    partial[tid] = acc;
    tree(tid, 1u);
    if (tid == 0u) {
        out[0] = partial[0];
    }
}

// True for ±inf and NaN: exponent bits all ones (robust where x != x may be folded away).
fn nonfinite(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

// The divergence guard, called once per step: out[1] counts the calls, and out[0] (0 while
// healthy) records that count the first time x[0] (the loss) or y[0] (the gradients' sum of
// squares) is not finite. The step lives on the device, so the uniform never changes.
@compute @workgroup_size(1)
fn first_nonfinite() {
    let step = out[1] + f32(p.n); // p.n = 1: one call per step
    out[1] = step;
    if (out[0] == 0.0 && (nonfinite(x[0]) || nonfinite(y[0]))) {
        out[0] = step;
    }
}
