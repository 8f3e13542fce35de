// surface.wgsl: the explorer's 2-D test surfaces (src/ops/surface; CPU twin in cpu.rs there).
// One invocation per point: value, gradient, and optionally one trace row (x, y, f, |grad f|).
// Points sit `stride` elements apart in a flat buffer (x, then y), the optimizer's parameters.

struct Params {
    n: u32,
    stride: u32,
    row: u32,  // trace row to write, or 0xffffffff for none
    kind: u32, // SurfaceKind
    a: f32,    // the bowl's condition number
    b: f32,    // the bowl's rotation in degrees
    pad0: f32,
    pad1: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> values: array<f32>;
@group(0) @binding(2) var<storage, read> points: array<f32>;
@group(0) @binding(3) var<storage, read_write> grads: array<f32>;
@group(0) @binding(4) var<storage, read_write> trace: array<f32>;

const PI: f32 = 3.14159265358979;

// (f, df/dx, df/dy) of surface `kind` at (x, y); the formulas of SurfaceKind, term for term
// as value_grad in src/ops/surface/cpu.rs.
fn value_grad(kind: u32, a: f32, b: f32, x: f32, y: f32) -> vec3<f32> {
    switch kind {
        case 0u: { // bowl
            let theta = b * (PI / 180.0);
            let cs = cos(theta);
            let sn = sin(theta);
            let u = cs * x + sn * y;
            let v = cs * y - sn * x;
            return vec3<f32>(0.5 * (u * u + a * v * v), u * cs - a * v * sn, u * sn + a * v * cs);
        }
        case 1u: { // Rosenbrock
            let d = y - x * x;
            let e = 1.0 - x;
            return vec3<f32>(e * e + 100.0 * d * d, -2.0 * e - 400.0 * x * d, 200.0 * d);
        }
        case 2u: { // Himmelblau
            let q1 = x * x + y - 11.0;
            let q2 = x + y * y - 7.0;
            return vec3<f32>(q1 * q1 + q2 * q2, 4.0 * x * q1 + 2.0 * q2, 2.0 * q1 + 4.0 * y * q2);
        }
        case 3u: { // Beale
            let y2 = y * y;
            let y3 = y * y * y;
            let t1 = 1.5 - x + x * y;
            let t2 = 2.25 - x + x * y2;
            let t3 = 2.625 - x + x * y3;
            let f = t1 * t1 + t2 * t2 + t3 * t3;
            let gx = 2.0 * (t1 * (y - 1.0) + t2 * (y2 - 1.0) + t3 * (y3 - 1.0));
            let gy = 2.0 * x * (t1 + 2.0 * t2 * y + 3.0 * t3 * y2);
            return vec3<f32>(f, gx, gy);
        }
        case 4u: { // Rastrigin
            let w = 2.0 * PI;
            let f = 20.0 + x * x - 10.0 * cos(w * x) + y * y - 10.0 * cos(w * y);
            return vec3<f32>(f, 2.0 * x + 10.0 * w * sin(w * x), 2.0 * y + 10.0 * w * sin(w * y));
        }
        case 5u: { // six-hump camel
            let x2 = x * x;
            let y2 = y * y;
            let f = (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (4.0 * y2 - 4.0) * y2;
            let gx = 8.0 * x - 8.4 * x2 * x + 2.0 * x2 * x2 * x + y;
            let gy = x - 8.0 * y + 16.0 * y2 * y;
            return vec3<f32>(f, gx, gy);
        }
        case 6u: { // saddle
            let y2 = y * y;
            return vec3<f32>(x * x - y2 + 0.5 * y2 * y2, 2.0 * x, -2.0 * y + 2.0 * y2 * y);
        }
        case 7u: { // plateau
            let e = exp(-(x * x + y * y));
            return vec3<f32>(1.0 - e, 2.0 * x * e, 2.0 * y * e);
        }
        default: { // two-basin
            let d = x * x - 1.0;
            return vec3<f32>(d * d + 0.3 * x + y * y, 4.0 * x * d + 0.3, 2.0 * y);
        }
    }
}

@compute @workgroup_size(WG)
fn surface(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= p.n) {
        return;
    }
    let x = points[i * p.stride];
    let y = points[i * p.stride + 1u];
    let r = value_grad(p.kind, p.a, p.b, x, y);
    values[i] = r.x;
    grads[i * p.stride] = r.y;
    grads[i * p.stride + 1u] = r.z;
    if (p.row != 0xffffffffu) {
        let t = (p.row * p.n + i) * 4u;
        trace[t] = x;
        trace[t + 1u] = y;
        trace[t + 2u] = r.x;
        trace[t + 3u] = sqrt(r.y * r.y + r.z * r.z);
    }
}
