//! The CPU twins' backward passes against central finite differences, all in f64: the twins are
//! generic over the float type, so the very code the CPU path runs in f32 is checked here.
//! For a forward f and a random upstream gradient dy, L(x) = Σ dy·f(x) and the backward pass
//! must equal (L(x+h) − L(x−h)) / 2h for every input element.

mod common;

use common::gradcheck::{assert_grad, dot, numeric_grad, randv};
use common::Rng;
use downhill::ops::{
    elementwise::cpu as elementwise, heads, loss::cpu as loss, matmul::cpu as matmul, reduce::cpu as reduce,
    softmax::cpu as softmax,
};
use downhill::Activation;

#[test]
fn activation_backward_matches_finite_differences() {
    let mut rng = Rng::new(11);
    for act in Activation::ALL {
        // Keep away from ReLU/LeakyReLU's kink at 0, where the derivative is not defined.
        let x: Vec<f64> =
            randv(&mut rng, 64, -5.0, 5.0).into_iter().map(|v| if v.abs() < 1e-3 { 0.5 } else { v }).collect();
        let dy = randv(&mut rng, 64, -1.0, 1.0);
        let mut dx = vec![0.0; 64];
        elementwise::activation_backward(act, &mut dx, &x, &dy);
        let numeric = numeric_grad(&x, |x| {
            let mut y = vec![0.0; x.len()];
            elementwise::activation_forward(act, &mut y, x);
            dot(&y, &dy)
        });
        assert_grad(act.name(), &dx, &numeric);
    }
}

#[test]
fn softmax_backward_matches_finite_differences() {
    let mut rng = Rng::new(12);
    let (r, c) = (5, 7);
    let x = randv(&mut rng, r * c, -3.0, 3.0);
    let dy = randv(&mut rng, r * c, -1.0, 1.0);
    let mut y = vec![0.0; r * c];
    softmax::softmax_forward(&mut y, &x, r, c);
    let mut dx = vec![0.0; r * c];
    softmax::softmax_backward(&mut dx, &y, &dy, r, c);
    let numeric = numeric_grad(&x, |x| {
        let mut y = vec![0.0; x.len()];
        softmax::softmax_forward(&mut y, x, r, c);
        dot(&y, &dy)
    });
    assert_grad("softmax", &dx, &numeric);
}

#[test]
fn loss_gradients_match_finite_differences() {
    let mut rng = Rng::new(13);
    let (b, c) = (6, 5);
    let z = randv(&mut rng, b * c, -4.0, 4.0);
    let target = randv(&mut rng, b * c, -1.0, 1.0);
    let probs = randv(&mut rng, b * c, 0.0, 1.0);
    let labels: Vec<u32> = (0..b).map(|_| rng.below(c as u32)).collect();
    let mut g = vec![0.0; b * c];

    loss::mse_loss(&mut g, &z, &target);
    let numeric = numeric_grad(&z, |z| loss::mse_loss(&mut vec![0.0; z.len()], z, &target));
    assert_grad("mse", &g, &numeric);

    loss::bce_with_logits_loss(&mut g, &z, &probs);
    let numeric = numeric_grad(&z, |z| loss::bce_with_logits_loss(&mut vec![0.0; z.len()], z, &probs));
    assert_grad("bce_with_logits", &g, &numeric);

    loss::cross_entropy_loss(&mut g, &z, &labels, b, c);
    let numeric = numeric_grad(&z, |z| loss::cross_entropy_loss(&mut vec![0.0; z.len()], z, &labels, b, c));
    assert_grad("cross_entropy", &g, &numeric);
}

#[test]
fn linear_layer_backward_matches_finite_differences() {
    // y = x·Wᵀ + b with x (B,I), W (O,I), b (O); L = Σ dy·y.
    // dX = dY·W (matmul_nn), dW = dYᵀ·X (matmul_tn), db = column_sum(dY).
    let mut rng = Rng::new(14);
    let (bsz, i, o) = (4, 7, 3);
    let x = randv(&mut rng, bsz * i, -1.0, 1.0);
    let w = randv(&mut rng, o * i, -1.0, 1.0);
    let bias = randv(&mut rng, o, -1.0, 1.0);
    let dy = randv(&mut rng, bsz * o, -1.0, 1.0);
    let forward = |x: &[f64], w: &[f64], bias: &[f64]| {
        let mut y = vec![0.0; bsz * o];
        matmul::matmul_nt(&mut y, x, w, bsz, o, i, false);
        elementwise::bias_add(&mut y, bias, o);
        dot(&y, &dy)
    };
    let mut dx = vec![0.0; bsz * i];
    matmul::matmul_nn(&mut dx, &dy, &w, bsz, i, o, false);
    assert_grad("dX = dY·W", &dx, &numeric_grad(&x, |x| forward(x, &w, &bias)));
    let mut dw = vec![0.0; o * i];
    matmul::matmul_tn(&mut dw, &dy, &x, o, i, bsz, false);
    assert_grad("dW = dYᵀ·X", &dw, &numeric_grad(&w, |w| forward(&x, w, &bias)));
    let mut db = vec![0.0; o];
    reduce::column_sum(&mut db, &dy, bsz, o, false);
    assert_grad("db = Σ_rows dY", &db, &numeric_grad(&bias, |b| forward(&x, &w, b)));
}

#[test]
fn head_split_and_merge_are_transposes_and_each_others_backward() {
    // x [B, T, W] with the heads in columns 3..3+H·D (as q, k or v inside c_attn's output).
    let mut rng = Rng::new(15);
    let (b, t, h, d, w, offset) = (2, 3, 2, 4, 13, 3);
    let p = heads::check("split_heads", &[b, t, w], &[b, h, t, d], offset).unwrap();
    let x = randv(&mut rng, b * t * w, -1.0, 1.0);
    let mut split = vec![0.0; b * h * t * d];
    heads::cpu::split_heads(&mut split, &x, &p);
    // PyTorch's x[..., 3:3+H·D].view(B, T, H, D).transpose(1, 2), written out.
    for (bi, hi, ti, di) in (0..b)
        .flat_map(|bi| (0..h).flat_map(move |hi| (0..t).flat_map(move |ti| (0..d).map(move |di| (bi, hi, ti, di)))))
    {
        assert_eq!(split[((bi * h + hi) * t + ti) * d + di], x[(bi * t + ti) * w + offset + hi * d + di]);
    }
    // The split's backward is the merge (into a zeroed gradient), and the merge's is the split.
    let dy = randv(&mut rng, b * h * t * d, -1.0, 1.0);
    let mut dx = vec![0.0; b * t * w];
    heads::cpu::merge_heads(&mut dx, &dy, &p);
    let numeric = numeric_grad(&x, |x| {
        let mut y = vec![0.0; b * h * t * d];
        heads::cpu::split_heads(&mut y, x, &p);
        dot(&y, &dy)
    });
    assert_grad("split_heads backward = merge_heads", &dx, &numeric);
    let dz = randv(&mut rng, b * t * w, -1.0, 1.0);
    let mut dsplit = vec![0.0; b * h * t * d];
    heads::cpu::split_heads(&mut dsplit, &dz, &p);
    let numeric = numeric_grad(&split, |y| {
        let mut z = vec![0.0; b * t * w];
        heads::cpu::merge_heads(&mut z, y, &p);
        dot(&z, &dz)
    });
    assert_grad("merge_heads backward = split_heads", &dsplit, &numeric);
}
