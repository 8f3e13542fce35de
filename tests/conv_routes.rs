//! The CPU path's direct convolution (per-sample unfold + GEMM, `ops/conv/direct.rs`) and the
//! im2col route the GPU path takes, both on the CPU path, against plain f64 loops over 60
//! random geometries (strides, padding, dilation, groups, pointwise, windows larger than the
//! input with padding, batches below and above the thread count) and 40 first-layer ones (the
//! forward without unfolding, `shallow.rs`); and the direct twins give the same bits on 1 and
//! on 3 threads.

mod common;
use common::{worst_relative, Rng};
use downhill::ops::conv::{self, cols_shape, patch_len, product_shape};
use downhill::ops::{matmul, Window2d, WindowSpec};
use downhill::tensor::MatmulForm;
use downhill::{Backend, CpuBackend, Tensor};

/// One random case: input [N, C, H, W], weight, dy, and the window.
struct Case {
    g: Window2d,
    x: Vec<f32>,
    w: Vec<f32>,
    bias: Vec<f32>,
    dy: Vec<f32>,
}

fn random_case(rng: &mut Rng) -> Case {
    loop {
        let groups = [1, 1, 2, 3][rng.below(4) as usize];
        let c = groups * (1 + rng.below(3) as usize);
        let o = groups * (1 + rng.below(3) as usize);
        let shape = [1 + rng.below(5) as usize, c, 1 + rng.below(9) as usize, 1 + rng.below(9) as usize];
        let pick = |rng: &mut Rng, n: u32| 1 + rng.below(n) as usize;
        let spec = WindowSpec {
            kernel: [pick(rng, 4), pick(rng, 4)],
            stride: [pick(rng, 3), pick(rng, 3)],
            padding: [rng.below(3) as usize, rng.below(3) as usize],
            dilation: [pick(rng, 2), pick(rng, 2)],
        };
        let Ok(g) = Window2d::new("conv2d", &shape, &spec, o, groups) else { continue };
        let k = c / groups * spec.kernel[0] * spec.kernel[1];
        return Case {
            x: rng.vec_f32(shape.iter().product(), -1.0, 1.0),
            w: rng.vec_f32(o * k, -1.0, 1.0),
            bias: rng.vec_f32(o, -1.0, 1.0),
            dy: rng.vec_f32(g.output_shape().iter().product(), -1.0, 1.0),
            g,
        };
    }
}

/// A first-layer case (stride 1, no dilation, at most 4 input channels per group), the shape
/// the CPU forward computes without unfolding: widths past one 16-lane group, output channels
/// past one block of 8, with and without padding.
fn random_shallow_case(rng: &mut Rng) -> Case {
    loop {
        let groups = [1, 1, 1, 2][rng.below(4) as usize];
        let c = groups * (1 + rng.below(4) as usize);
        let o = groups * (1 + rng.below(20) as usize);
        // Short in N and H: the weight gradient's sums stay as long as the other cases'.
        let shape = [1 + rng.below(2) as usize, c, 1 + rng.below(6) as usize, 1 + rng.below(40) as usize];
        let pick = |rng: &mut Rng, n: u32| 1 + rng.below(n) as usize;
        let spec = WindowSpec {
            kernel: [pick(rng, 5), pick(rng, 5)],
            stride: [1, 1],
            padding: [rng.below(3) as usize, rng.below(3) as usize],
            dilation: [1, 1],
        };
        if spec.kernel == [1, 1] && spec.padding == [0, 0] {
            continue;
        }
        let Ok(g) = Window2d::new("conv2d", &shape, &spec, o, groups) else { continue };
        let k = c / groups * spec.kernel[0] * spec.kernel[1];
        return Case {
            x: rng.vec_f32(shape.iter().product(), -1.0, 1.0),
            w: rng.vec_f32(o * k, -1.0, 1.0),
            bias: rng.vec_f32(o, -1.0, 1.0),
            dy: rng.vec_f32(g.output_shape().iter().product(), -1.0, 1.0),
            g,
        };
    }
}

/// Plain f64 loops: (y, dx, dw) of the convolution with bias.
fn reference(case: &Case) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let g = &case.g;
    let [n, c, h, w] = g.input_shape();
    let [_, o, oh, ow] = g.output_shape();
    let (cg, og) = (c / g.groups as usize, o / g.groups as usize);
    let (kh, kw) = (g.kh as usize, g.kw as usize);
    let mut y = vec![0.0; n * o * oh * ow];
    let mut dx = vec![0.0; n * c * h * w];
    let mut dw = vec![0.0; case.w.len()];
    for s in 0..n {
        for oc in 0..o {
            let grp = oc / og;
            for i in 0..oh {
                for j in 0..ow {
                    let at = ((s * o + oc) * oh + i) * ow + j;
                    let mut acc = f64::from(case.bias[oc]);
                    for cl in 0..cg {
                        for a in 0..kh {
                            for b in 0..kw {
                                let hi = (i * g.sh as usize + a * g.dh as usize) as isize - g.ph as isize;
                                let wi = (j * g.sw as usize + b * g.dw as usize) as isize - g.pw as isize;
                                if hi < 0 || wi < 0 || hi as usize >= h || wi as usize >= w {
                                    continue;
                                }
                                let xi = ((s * c + grp * cg + cl) * h + hi as usize) * w + wi as usize;
                                let wi_ = ((oc * cg + cl) * kh + a) * kw + b;
                                acc += f64::from(case.x[xi]) * f64::from(case.w[wi_]);
                                dx[xi] += f64::from(case.dy[at]) * f64::from(case.w[wi_]);
                                dw[wi_] += f64::from(case.dy[at]) * f64::from(case.x[xi]);
                            }
                        }
                    }
                    y[at] = acc;
                }
            }
        }
    }
    (y, dx, dw)
}

/// (y, dx, dw) on the CPU path through the direct kernels.
fn direct(be: &CpuBackend, case: &Case) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let g = &case.g;
    let up = |shape: &[usize], v: &[f32]| be.upload(&Tensor::from_vec(shape, v.to_vec()).unwrap()).unwrap();
    let wshape = [g.o as usize, (g.c / g.groups) as usize, g.kh as usize, g.kw as usize];
    let (x, w, bias, dy) = (
        up(&g.input_shape(), &case.x),
        up(&wshape, &case.w),
        up(&[g.o as usize], &case.bias),
        up(&g.output_shape(), &case.dy),
    );
    let mut y = be.zeros(&g.output_shape()).unwrap();
    conv::conv2d_forward(be, &mut y, &x, &w, Some(&bias), g).unwrap();
    let mut dx = be.zeros(&g.input_shape()).unwrap();
    conv::conv2d_grad_input(be, &mut dx, &dy, &w, g).unwrap();
    let mut dw = be.zeros(&wshape).unwrap();
    conv::conv2d_grad_weight(be, &mut dw, &x, &dy, g, false).unwrap();
    [y, dx, dw].map(|t| be.read(&t).unwrap().data().to_vec()).into()
}

/// (y, dx, dw) on the CPU path through im2col, the batched product and the layout kernels.
fn im2col_route(be: &CpuBackend, case: &Case) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let g = &case.g;
    let up = |shape: &[usize], v: &[f32]| be.upload(&Tensor::from_vec(shape, v.to_vec()).unwrap()).unwrap();
    let grouped = [g.groups as usize, (g.o / g.groups) as usize, patch_len(g)];
    let (x, w, bias, dy) = (
        up(&g.input_shape(), &case.x),
        up(&grouped, &case.w),
        up(&[g.o as usize], &case.bias),
        up(&g.output_shape(), &case.dy),
    );
    let (mut cols, mut product) = (be.zeros(&cols_shape(g)).unwrap(), be.zeros(&product_shape(g)).unwrap());
    let mut y = be.zeros(&g.output_shape()).unwrap();
    conv::im2col(be, &mut cols, &x, g).unwrap();
    conv::conv_gemm_forward(be, &mut y, &cols, &w, Some(&bias), g).unwrap();
    let mut dw = be.zeros(&grouped).unwrap();
    conv::conv_grad_output(be, &mut product, &dy, g).unwrap();
    matmul::matmul(be, MatmulForm::Tn, &mut dw, &product, &cols, false).unwrap();
    let mut dx = be.zeros(&g.input_shape()).unwrap();
    matmul::matmul(be, MatmulForm::Nn, &mut cols, &product, &w, false).unwrap();
    conv::col2im(be, &mut dx, &cols, g).unwrap();
    [y, dx, dw].map(|t| be.read(&t).unwrap().data().to_vec()).into()
}

#[test]
fn both_convolution_routes_match_plain_loops() {
    let be = CpuBackend::new();
    let mut rng = Rng::new(23);
    for i in 0..100 {
        let case = if i < 60 { random_case(&mut rng) } else { random_shallow_case(&mut rng) };
        let want = reference(&case);
        for (route, got) in [("direct", direct(&be, &case)), ("im2col", im2col_route(&be, &case))] {
            for (what, got, want) in [("y", &got.0, &want.0), ("dx", &got.1, &want.1), ("dw", &got.2, &want.2)] {
                let (err, at) = worst_relative(got, want, 1.0);
                assert!(err < 1e-5, "case {i} {:?}: {route} {what} off by {err:.2e} at {at}", case.g);
            }
        }
    }
}

#[test]
fn the_direct_kernels_give_the_same_bits_on_any_thread_count() {
    let mut rng = Rng::new(5);
    let cases: Vec<Case> =
        (0..30).map(|i| if i < 20 { random_case(&mut rng) } else { random_shallow_case(&mut rng) }).collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| cases.iter().map(|c| direct(&CpuBackend::new(), c)).collect::<Vec<_>>())
    };
    let (one, three) = (run(1), run(3));
    for (i, (a, b)) in one.iter().zip(&three).enumerate() {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.0), bits(&b.0), "case {i}: y");
        assert_eq!(bits(&a.1), bits(&b.1), "case {i}: dx");
        assert_eq!(bits(&a.2), bits(&b.2), "case {i}: dw");
    }
}
