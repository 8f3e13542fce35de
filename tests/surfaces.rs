//! The explorer's surface kernel (`ops::surface`): each gradient against f64 finite
//! differences of its value, the GPU kernel against the CPU twin for every surface (values,
//! gradients, strided points, trace rows), and the shape checks.

mod common;

use common::gradcheck::assert_grad;
use common::{assert_close, gpu, Rng};
use downhill::ops::surface;
use downhill::ops::surface::cpu::value_grad;
use downhill::ops::surface::{SurfaceKind, SurfaceParams};
use downhill::{Backend, CpuBackend, Tensor};

/// (a, b) parameters: the bowl's condition number and rotation; the others ignore them.
const A: f64 = 7.0;
const B: f64 = 25.0;

#[test]
fn every_surface_gradient_matches_finite_differences() {
    let mut rng = Rng::new(11);
    for kind in SurfaceKind::ALL {
        for _ in 0..20 {
            let (x, y) = (rng.uniform(-2.5, 2.5), rng.uniform(-2.5, 2.5));
            let (_, gx, gy) = value_grad(kind, A, B, x, y);
            let f = |x: f64, y: f64| value_grad(kind, A, B, x, y).0;
            let h = 1e-6;
            let numeric = [(f(x + h, y) - f(x - h, y)) / (2.0 * h), (f(x, y + h) - f(x, y - h)) / (2.0 * h)];
            assert_grad(&format!("{kind:?} at ({x}, {y})"), &[gx, gy], &numeric);
        }
    }
}

/// Runs every surface on `be` over 33 points 3 elements apart (x, y, an untouched slot) and
/// returns (values, gradients, trace with rows 0 and 2 written) per surface.
fn all_surfaces<B: Backend>(be: &B, points: &Tensor) -> Vec<[Tensor; 3]> {
    let n = 33;
    let pts = be.upload(points).unwrap();
    SurfaceKind::ALL
        .iter()
        .map(|&kind| {
            let mut values = be.zeros(&[n]).unwrap();
            let mut grads = be.upload(&Tensor::from_vec(&[3 * n], vec![9.0; 3 * n]).unwrap()).unwrap();
            let mut trace = be.zeros(&[3, n, 4]).unwrap();
            for row in [0, 2] {
                let p = SurfaceParams::new(kind, n, 3, A as f32, B as f32).traced(row);
                surface::surface(be, &p, &mut values, &mut grads, &pts, &mut trace).unwrap();
            }
            [be.read(&values).unwrap(), be.read(&grads).unwrap(), be.read(&trace).unwrap()]
        })
        .collect()
}

#[test]
fn cpu_surfaces_write_values_gradients_and_trace_rows_in_place() {
    let mut rng = Rng::new(5);
    let points = Tensor::from_vec(&[99], rng.vec_f32(99, -2.0, 2.0)).unwrap();
    for (kind, [values, grads, trace]) in SurfaceKind::ALL.iter().zip(all_surfaces(&CpuBackend::new(), &points)) {
        for i in 0..33 {
            let (x, y) = (points.data()[3 * i], points.data()[3 * i + 1]);
            let (f, gx, gy) = value_grad(*kind, A as f32, B as f32, x, y);
            assert_eq!(values.data()[i], f, "{kind:?} value {i}");
            assert_eq!(
                &grads.data()[3 * i..3 * i + 3],
                &[gx, gy, 9.0],
                "{kind:?}: gradient {i}, slot between untouched"
            );
            let row = |r: usize| &trace.data()[(r * 33 + i) * 4..(r * 33 + i) * 4 + 4];
            assert_eq!(row(0), &[x, y, f, (gx * gx + gy * gy).sqrt()], "{kind:?} trace row 0, point {i}");
            assert_eq!(row(0), row(2));
            assert_eq!(row(1), &[0.0; 4], "{kind:?}: an unwritten row stays zero");
        }
    }
}

#[test]
fn gpu_surfaces_match_the_cpu_twin() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(7);
    let points = Tensor::from_vec(&[99], rng.vec_f32(99, -4.0, 4.0)).unwrap();
    let want = all_surfaces(&CpuBackend::new(), &points);
    let got = all_surfaces(g, &points);
    for ((kind, w), gt) in SurfaceKind::ALL.iter().zip(&want).zip(&got) {
        for (what, w, gt) in [("values", &w[0], &gt[0]), ("gradients", &w[1], &gt[1]), ("trace", &w[2], &gt[2])] {
            // f32 polynomials of degree 6 at |x| ≤ 4 and the shader's own cos/sin/exp.
            assert_close(&format!("{kind:?} {what}"), gt.data(), w.data(), 1e-3, 1e-4);
        }
    }
}

#[test]
fn surface_shapes_are_checked() {
    let be = CpuBackend::new();
    let z = |s: &[usize]| be.zeros(s).unwrap();
    let p = SurfaceParams::new(SurfaceKind::Rosenbrock, 4, 2, 1.0, 0.0);
    let cases: Vec<(SurfaceParams, [usize; 4], &str)> = vec![
        (p, [3, 8, 8, 4], "values must hold 4"),
        (p, [4, 6, 6, 4], "need 8 elements"),
        (p, [4, 8, 10, 4], "must have the shape of points"),
        (p.traced(1), [4, 8, 8, 16], "does not fit in trace"),
        (SurfaceParams { stride: 1, ..p }, [4, 8, 8, 4], "stride 1"),
        (SurfaceParams { kind: 99, ..p }, [4, 8, 8, 4], "unknown surface kind 99"),
    ];
    for (p, [v, g, pts, t], want) in cases {
        let err =
            surface::surface(&be, &p, &mut z(&[v]), &mut z(&[g]), &z(&[pts]), &mut z(&[t])).unwrap_err().to_string();
        assert!(err.contains(want), "expected {want:?} in {err:?}");
    }
}
