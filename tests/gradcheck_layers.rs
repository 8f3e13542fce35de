//! The CPU twins of the layer kernel families (src/ops: conv, pool, norm, embedding) against
//! central finite differences in f64, the same code the CPU path runs in f32. For a forward f
//! and a random upstream gradient dy, L = Σ dy·f and each backward result must equal the
//! finite difference of L.

mod common;

use common::gradcheck::{assert_grad, dot, numeric_grad, randv};
use common::Rng;
use downhill::ops::conv::{self, cpu as conv_cpu};
use downhill::ops::embedding::{cpu as emb_cpu, EmbeddingParams};
use downhill::ops::matmul::cpu as matmul;
use downhill::ops::norm::{cpu as norm_cpu, sums_stride, NormParams};
use downhill::ops::pool::cpu as pool_cpu;
use downhill::ops::{Window2d, WindowSpec};

/// The grouped convolution the layer runs, in f64: im2col, a product per group, NCHW + bias.
fn conv_forward(x: &[f64], w: &[f64], b: &[f64], g: &Window2d) -> Vec<f64> {
    let [groups, np, k] = conv::cols_shape(g);
    let og = g.o as usize / groups;
    let mut cols = vec![0.0; groups * np * k];
    conv_cpu::im2col(&mut cols, x, g);
    let mut product = vec![0.0; groups * np * og];
    for grp in 0..groups {
        matmul::matmul_nt(
            &mut product[grp * np * og..][..np * og],
            &cols[grp * np * k..][..np * k],
            &w[grp * og * k..][..og * k],
            np,
            og,
            k,
            false,
        );
    }
    // The product [G, N·P, O/G] laid out as NCHW, plus the bias.
    let (p, o) = (g.out_plane(), g.o as usize);
    let mut out = vec![0.0; g.output_shape().iter().product()];
    for (i, v) in out.iter_mut().enumerate() {
        let (s, ch, q) = (i / (o * p), (i / p) % o, i % p);
        *v = product[((ch / og) * np + s * p + q) * og + ch % og] + b[ch];
    }
    out
}

#[test]
fn conv_backward_matches_finite_differences() {
    let mut rng = Rng::new(31);
    let spec = WindowSpec { kernel: [3, 2], stride: [2, 1], padding: [1, 1], dilation: [2, 1] };
    let g = Window2d::new("conv2d", &[2, 4, 7, 6], &spec, 6, 2).unwrap();
    let [groups, np, k] = conv::cols_shape(&g);
    let og = g.o as usize / groups;
    let x = randv(&mut rng, 2 * 4 * 7 * 6, -1.0, 1.0);
    let w = randv(&mut rng, 6 * k, -1.0, 1.0);
    let b = randv(&mut rng, 6, -1.0, 1.0);
    let dy = randv(&mut rng, g.output_shape().iter().product(), -1.0, 1.0);
    // Backward as the layer runs it.
    let mut cols = vec![0.0; groups * np * k];
    conv_cpu::im2col(&mut cols, &x, &g);
    let mut gy = vec![0.0; groups * np * og];
    conv_cpu::conv_grad_output(&mut gy, &dy, &g);
    let mut dw = vec![0.0; w.len()];
    let mut dcols = vec![0.0; cols.len()];
    for grp in 0..groups {
        let (gy, cols) = (&gy[grp * np * og..][..np * og], &cols[grp * np * k..][..np * k]);
        matmul::matmul_tn(&mut dw[grp * og * k..][..og * k], gy, cols, og, k, np, false);
        matmul::matmul_nn(&mut dcols[grp * np * k..][..np * k], gy, &w[grp * og * k..][..og * k], np, k, og, false);
    }
    let mut db = vec![0.0; 6];
    conv_cpu::channel_sum(&mut db, &dy, 2, 6, g.out_plane(), false);
    let mut dx = vec![0.0; x.len()];
    conv_cpu::col2im(&mut dx, &dcols, &g);
    assert_grad("conv dx", &dx, &numeric_grad(&x, |x| dot(&conv_forward(x, &w, &b, &g), &dy)));
    assert_grad("conv dw", &dw, &numeric_grad(&w, |w| dot(&conv_forward(&x, w, &b, &g), &dy)));
    assert_grad("conv db", &db, &numeric_grad(&b, |b| dot(&conv_forward(&x, &w, b, &g), &dy)));
}

#[test]
fn pooling_backward_matches_finite_differences() {
    let mut rng = Rng::new(32);
    let shape = [2, 3, 7, 6];
    let n: usize = shape.iter().product();
    // Distinct values: no tied window maximum, where the max is not differentiable.
    let mut x: Vec<f64> = (0..n).map(|i| i as f64 * 0.013).collect();
    rng_shuffle(&mut rng, &mut x);
    for (spec, max) in [
        (WindowSpec { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1] }, true),
        (WindowSpec { kernel: [2, 3], stride: [1, 2], padding: [0, 1], dilation: [2, 1] }, true),
        (WindowSpec { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1] }, false),
    ] {
        for include_pad in [true, false] {
            let g = Window2d::new("pool", &shape, &spec, 3, 1).unwrap().with_flag(include_pad);
            let out_n: usize = g.output_shape().iter().product();
            let dy = randv(&mut rng, out_n, -1.0, 1.0);
            let forward = |x: &[f64]| {
                let mut out = vec![0.0; out_n];
                if max {
                    let mut idx = vec![0.0; out_n];
                    pool_cpu::max_pool_forward(&mut out, &mut idx, x, &g);
                } else {
                    pool_cpu::avg_pool_forward(&mut out, x, &g);
                }
                out
            };
            let mut dx = vec![0.0; n];
            if max {
                let (mut out, mut idx) = (vec![0.0; out_n], vec![0.0; out_n]);
                pool_cpu::max_pool_forward(&mut out, &mut idx, &x, &g);
                pool_cpu::max_pool_backward(&mut dx, &dy, &idx, &g);
            } else {
                pool_cpu::avg_pool_backward(&mut dx, &dy, &g);
            }
            let what = format!("{} pool {spec:?} include_pad={include_pad}", if max { "max" } else { "avg" });
            assert_grad(&what, &dx, &numeric_grad(&x, |x| dot(&forward(x), &dy)));
        }
    }
}

fn rng_shuffle(rng: &mut Rng, v: &mut [f64]) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u32 + 1) as usize;
        v.swap(i, j);
    }
}

#[test]
fn batch_norm_backward_matches_finite_differences() {
    let mut rng = Rng::new(33);
    let (n, c, s) = (3, 4, 5);
    let p = NormParams {
        n: n as u32,
        c: c as u32,
        s: s as u32,
        train: 1,
        momentum: 0.1,
        eps: 1e-5,
        stride: sums_stride(c) as u32,
        ..Default::default()
    };
    let x = randv(&mut rng, n * c * s, -2.0, 2.0);
    let w = randv(&mut rng, c, 0.5, 1.5);
    let b = randv(&mut rng, c, -1.0, 1.0);
    let dy = randv(&mut rng, n * c * s, -1.0, 1.0);
    let forward = |x: &[f64], w: &[f64], b: &[f64]| {
        let (mut y, mut saved, mut rm, mut rv) = (vec![0.0; x.len()], vec![0.0; 2 * c], vec![0.0; c], vec![1.0; c]);
        norm_cpu::batch_norm_forward(&mut y, &mut saved, &mut rm, &mut rv, x, w, b, &p);
        (y, saved)
    };
    let (_, saved) = forward(&x, &w, &b);
    let mut dx = vec![0.0; x.len()];
    let mut sums = vec![0.0; 2 * sums_stride(c)];
    norm_cpu::batch_norm_backward(&mut dx, &mut sums, &x, &w, &saved, &dy, &p);
    let stride = sums_stride(c);
    assert_grad("batchnorm dx", &dx, &numeric_grad(&x, |x| dot(&forward(x, &w, &b).0, &dy)));
    assert_grad("batchnorm dweight", &sums[..c], &numeric_grad(&w, |w| dot(&forward(&x, w, &b).0, &dy)));
    assert_grad("batchnorm dbias", &sums[stride..stride + c], &numeric_grad(&b, |b| dot(&forward(&x, &w, b).0, &dy)));
}

#[test]
fn layer_norm_backward_matches_finite_differences() {
    let mut rng = Rng::new(34);
    let (rows, m) = (6, 10);
    let p = NormParams {
        n: rows as u32,
        c: m as u32,
        s: 1,
        train: 0,
        momentum: 0.0,
        eps: 1e-5,
        stride: sums_stride(m) as u32,
        ..Default::default()
    };
    let x = randv(&mut rng, rows * m, -2.0, 2.0);
    let w = randv(&mut rng, m, 0.5, 1.5);
    let b = randv(&mut rng, m, -1.0, 1.0);
    let dy = randv(&mut rng, rows * m, -1.0, 1.0);
    let forward = |x: &[f64], w: &[f64], b: &[f64]| {
        let (mut y, mut saved) = (vec![0.0; x.len()], vec![0.0; 2 * rows]);
        norm_cpu::layer_norm_forward(&mut y, &mut saved, x, w, b, &p);
        (y, saved)
    };
    let (_, saved) = forward(&x, &w, &b);
    let mut dx = vec![0.0; x.len()];
    norm_cpu::layer_norm_backward(&mut dx, &x, &w, &saved, &dy, &p);
    let mut sums = vec![0.0; 2 * sums_stride(m)];
    norm_cpu::layer_norm_param_grad(&mut sums, &x, &saved, &dy, &p);
    let stride = sums_stride(m);
    assert_grad("layernorm dx", &dx, &numeric_grad(&x, |x| dot(&forward(x, &w, &b).0, &dy)));
    assert_grad("layernorm dweight", &sums[..m], &numeric_grad(&w, |w| dot(&forward(&x, w, &b).0, &dy)));
    assert_grad("layernorm dbias", &sums[stride..stride + m], &numeric_grad(&b, |b| dot(&forward(&x, &w, b).0, &dy)));
}

#[test]
fn embedding_backward_matches_finite_differences() {
    let mut rng = Rng::new(35);
    let (vocab, dim) = (7, 3);
    let idx: Vec<f64> = [3, 0, 3, 6, 1, 3, 0].iter().map(|&v| v as f64).collect();
    let w = randv(&mut rng, vocab * dim, -1.0, 1.0);
    let dy = randv(&mut rng, idx.len() * dim, -1.0, 1.0);
    for padding in [None, Some(3u32)] {
        let p = EmbeddingParams {
            rows: idx.len() as u32,
            dim: dim as u32,
            vocab: vocab as u32,
            padding_idx: padding.unwrap_or(u32::MAX),
            accumulate: 0,
            pad: [0; 3],
        };
        let mut dw = vec![0.0; w.len()];
        emb_cpu::embedding_backward(&mut dw, &idx, &dy, &p);
        let mut numeric = numeric_grad(&w, |w| {
            let mut out = vec![0.0; idx.len() * dim];
            emb_cpu::embedding_forward(&mut out, &idx, w, &p);
            dot(&out, &dy)
        });
        if let Some(pad) = padding {
            // PyTorch's rule: the padding row gets no gradient although the forward reads it.
            numeric[pad as usize * dim..(pad as usize + 1) * dim].fill(0.0);
        }
        assert_grad(&format!("embedding dweight (padding {padding:?})"), &dw, &numeric);
    }
}
