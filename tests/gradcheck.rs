//! The CPU twins' backward passes against central finite differences, all in f64: the twins are
//! generic over the float type, so the very code the CPU path runs in f32 is checked here.
//! For a forward f and a random upstream gradient dy, L(x) = Σ dy·f(x) and the backward pass
//! must equal (L(x+h) − L(x−h)) / 2h for every input element.

mod common;

use common::gradcheck::{assert_grad, dot, numeric_grad, randv};
use common::Rng;
use downhill::ops::{
    elementwise::cpu as elementwise, loss::cpu as loss, matmul::cpu as matmul, reduce::cpu as reduce,
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
fn fused_attention_backward_matches_finite_differences() {
    // q, k, v packed side by side in one [B, T, 3C] buffer (c_attn's output), causal; and a
    // non-causal cross case (3 queries over 7 keys in their own buffer, values at a column
    // offset), whose two gradients go to two buffers; each without and with dropout of the
    // attention probabilities (a fixed key: a fixed mask, so the function is differentiable);
    // the non-packed ones also with a key mask that hides keys 1 and 4 of the first batch row
    // and every key of the second (whose outputs are then 0).
    use downhill::ops::attention::{cpu as attention, flash::FlashLayout};
    use downhill::ops::dropout::cpu::threshold;
    let mut rng = Rng::new(15);
    let (b, h, d) = (2, 2, 3);
    let c = h * d;
    let cases = [(5, 5, true, true), (3, 7, false, false), (2, 6, false, true)];
    for ((t_q, t_k, packed, causal), drop) in cases.into_iter().flat_map(|c| [(c, 0.0f32), (c, 0.3)]) {
        let layout = if packed {
            FlashLayout::packed_qkv(h, c, causal)
        } else {
            FlashLayout { heads: h, q_off: 1, k_off: 0, v_off: c + 2, causal }
        };
        let (q_shape, kv_shape) =
            if packed { ([b, t_q, 3 * c], [b, t_k, 3 * c]) } else { ([b, t_q, c + 1], [b, t_k, 2 * c + 2]) };
        let mut p = layout.params("gradcheck", &q_shape, &kv_shape, &[b, t_q, c]).unwrap();
        let key = 0x2545_f491;
        if drop > 0.0 {
            (p.drop_threshold, p.drop_scale) = (threshold(drop), 1.0 / (1.0 - drop));
        }
        let q = randv(&mut rng, q_shape.iter().product(), -1.5, 1.5);
        let kv = if packed { q.clone() } else { randv(&mut rng, kv_shape.iter().product(), -1.5, 1.5) };
        let mask: Vec<f64> = (0..b * t_k).map(|i| if i == 1 || i == 4 || i >= t_k { 0.0 } else { 1.0 }).collect();
        for masked in [false, true].into_iter().filter(|m| !m || !packed) {
            let mask = masked.then_some(&mask[..]);
            let stats = 2 * b * h * t_q;
            let forward = |q: &[f64], kv: &[f64]| {
                let (mut out, mut st) = (vec![0.0; b * t_q * c], vec![0.0; stats]);
                attention::flash_forward(&mut out, &mut st, q, kv, (key, mask), &p);
                (out, st)
            };
            let (out, mut st) = forward(&q, &kv);
            let dy = randv(&mut rng, out.len(), -1.0, 1.0);
            let (mut dq, mut dkv) = (vec![0.0; q.len()], vec![0.0; kv.len()]);
            attention::flash_backward_dq(&mut dq, &mut st, &q, &kv, (&out, &dy), (key, mask), &p);
            attention::flash_backward_dkv(&mut dkv, &q, &kv, (&dy, &st), (key, mask), &p);
            let case = format!("T {t_q}×{t_k}, packed {packed}, causal {causal}, dropout {drop}, masked {masked}");
            if masked {
                let second = &out[t_q * c..];
                assert!(second.iter().all(|v| *v == 0.0), "{case}: a row that sees no key outputs 0");
            }
            if packed {
                // One buffer feeds q, k and v: its gradient is the sum, and dq, dkv fill disjoint columns.
                let both: Vec<f64> = dq.iter().zip(&dkv).map(|(a, b)| a + b).collect();
                assert_grad(&case, &both, &numeric_grad(&q, |x| dot(&forward(x, x).0, &dy)));
            } else {
                assert_grad(&format!("{case}: dq"), &dq, &numeric_grad(&q, |x| dot(&forward(x, &kv).0, &dy)));
                assert_grad(&format!("{case}: dk, dv"), &dkv, &numeric_grad(&kv, |x| dot(&forward(&q, x).0, &dy)));
            }
        }
    }
}

/// A key mask is padding: a batch of sequences padded to one length with their padding keys
/// masked gives, at every real position, what each sequence gives alone (no causal mask: an
/// encoder's attention, where padding is what the mask is for).
#[test]
fn masked_padding_keys_are_as_if_absent() {
    use downhill::ops::attention::{cpu as attention, flash::FlashLayout};
    let mut rng = Rng::new(17);
    let (h, c, t) = (2, 6, 7);
    let lengths = [7usize, 4];
    let layout = FlashLayout::packed_qkv(h, c, false);
    let qkv = randv(&mut rng, lengths.len() * t * 3 * c, -1.0, 1.0);
    let mask: Vec<f64> = lengths.iter().flat_map(|&n| (0..t).map(move |j| if j < n { 1.0 } else { 0.0 })).collect();
    let p = layout.params("padding", &[2, t, 3 * c], &[2, t, 3 * c], &[2, t, c]).unwrap();
    let mut out = vec![0.0; 2 * t * c];
    attention::flash_forward(&mut out, &mut vec![0.0; 2 * 2 * h * t], &qkv, &qkv, (0, Some(&mask)), &p);
    for (b, &n) in lengths.iter().enumerate() {
        let alone = &qkv[b * t * 3 * c..(b * t + n) * 3 * c];
        let p1 = layout.params("alone", &[1, n, 3 * c], &[1, n, 3 * c], &[1, n, c]).unwrap();
        let mut want = vec![0.0; n * c];
        attention::flash_forward(&mut want, &mut vec![0.0; 2 * h * n], alone, alone, (0, None), &p1);
        let got = &out[b * t * c..(b * t + n) * c];
        let worst = got.iter().zip(&want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst < 1e-12, "sequence {b}: padded and masked vs alone differ by {worst}");
    }
}

/// Attention dropout keeps the expectation: over many keys, the mean output is the output
/// without dropout (each weight kept with probability 1 − p and scaled by 1/(1 − p)), and
/// about p of the weights are dropped.
#[test]
fn fused_attention_dropout_is_unbiased() {
    use downhill::ops::attention::{cpu as attention, flash::FlashLayout};
    use downhill::ops::dropout::cpu::threshold;
    let mut rng = Rng::new(16);
    let (b, h, t, c) = (1, 2, 6, 8);
    let layout = FlashLayout::packed_qkv(h, c, true);
    let mut p = layout.params("unbiased", &[b, t, 3 * c], &[b, t, 3 * c], &[b, t, c]).unwrap();
    let qkv = randv(&mut rng, b * t * 3 * c, -1.0, 1.0);
    let run = |p: &downhill::ops::attention::flash::FlashParams, key: u32| {
        let (mut out, mut stats) = (vec![0.0f64; b * t * c], vec![0.0; 2 * b * h * t]);
        attention::flash_forward(&mut out, &mut stats, &qkv, &qkv, (key, None), p);
        out
    };
    let plain = run(&p, 0);
    let drop = 0.25;
    (p.drop_threshold, p.drop_scale) = (threshold(drop), 1.0 / (1.0 - drop));
    let draws = 4000;
    let mut mean = vec![0.0; plain.len()];
    let mut changed = 0;
    for key in 0..draws {
        let out = run(&p, downhill::rng::dropout_key(7, key));
        changed += (out != plain) as usize;
        mean.iter_mut().zip(&out).for_each(|(m, o)| *m += o / draws as f64);
    }
    let scale = plain.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = mean.iter().zip(&plain).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 0.05 * scale, "mean over {draws} keys off by {worst} (outputs up to {scale})");
    assert!(changed > draws as usize * 9 / 10, "dropout changes the output for almost every key: {changed}");
}
