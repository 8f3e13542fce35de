//! CPU twins of `shaders/optim.wgsl`: one fused update over the whole flat parameter buffer.
//! Element i reads its group's numbers from `table[chunk_groups[i / ALIGN]]`; state slot s of
//! element i is `state[s·n + i]`. Each formula is torch 2.15's single-tensor path, in the same
//! order of float32 operations (see tests/fixtures/oracle/README.md).
#![allow(clippy::needless_range_loop, reason = "index loops mirror the GPU shaders")]

use crate::optim::{GroupHyper, OptimKind};
use crate::params::ALIGN;

/// ATen's lerp: `a + w·(b − a)` for w < 0.5, else `b − (b − a)·(1 − w)`.
fn lerp(a: f32, b: f32, w: f32) -> f32 {
    if w < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

/// The gradient after clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_). `norm` is
/// the global sum of squares (mode 1), max |g| (mode 2) or Σ|g| (mode 4) of the unclipped
/// gradients.
fn clipped(g: f32, h: &GroupHyper, norm: f32) -> f32 {
    match h.clip_mode as u32 {
        1 | 2 | 4 => {
            let total = if h.clip_mode == 1.0 { norm.sqrt() } else { norm };
            let coef = (h.clip_value / (total + 1e-6)).min(1.0);
            g * coef
        }
        3 => g.clamp(-h.clip_value, h.clip_value),
        _ => g,
    }
}

/// The fused step. params, grads are (n); state is (slots·n); table has one block per group;
/// chunk_groups has one group index per ALIGN elements.
pub fn optimizer_step(
    kind: OptimKind,
    params: &mut [f32],
    grads: &[f32],
    state: &mut [f32],
    table: &[GroupHyper],
    chunk_groups: &[u32],
    norm: f32,
) {
    let n = params.len();
    for i in 0..n {
        let h = &table[chunk_groups[i / ALIGN] as usize];
        let g = clipped(grads[i], h, norm);
        let p = &mut params[i];
        match kind {
            OptimKind::Sgd => sgd(h, p, g, state, i, n),
            OptimKind::Adagrad => adagrad(h, p, g, state, i, n),
            OptimKind::Rmsprop => rmsprop(h, p, g, state, i, n),
            OptimKind::Adam => adam(h, p, g, state, i, n),
            OptimKind::Adamax => adamax(h, p, g, state, i, n),
            OptimKind::Nadam => nadam(h, p, g, state, i, n),
            OptimKind::Radam => radam(h, p, g, state, i, n),
            OptimKind::Lion => lion(h, p, g, state, i, n),
        }
    }
}

/// `g + wd·p` when the decay is coupled and non-zero.
fn coupled(h: &GroupHyper, p: f32, g: f32) -> f32 {
    if h.weight_decay != 0.0 {
        g + h.weight_decay * p
    } else {
        g
    }
}

/// SGD. beta1 = momentum, one_minus_beta1 = 1 − dampening, flag0 nesterov, flag1 first step,
/// flag2 momentum ≠ 0. State: momentum_buffer.
fn sgd(h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32], i: usize, _n: usize) {
    let mut g = coupled(h, *p, g);
    if h.flag2 != 0.0 {
        let buf = &mut s[i];
        *buf = if h.flag1 != 0.0 { g } else { *buf * h.beta1 + h.one_minus_beta1 * g };
        g = if h.flag0 != 0.0 { g + h.beta1 * *buf } else { *buf };
    }
    *p += -h.lr * g;
}

/// Adagrad. c0 = lr / (1 + (t−1)·lr_decay). State: sum.
fn adagrad(h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32], i: usize, _n: usize) {
    let g = coupled(h, *p, g);
    s[i] += 1.0 * g * g;
    let std = s[i].sqrt() + h.eps;
    *p += -h.c0 * (g / std);
}

/// RMSprop. beta1 = alpha, one_minus_beta1 = 1 − alpha, beta2 = momentum, flag0 centered,
/// flag2 momentum > 0. State: square_avg, momentum_buffer, grad_avg.
fn rmsprop(h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32], i: usize, n: usize) {
    let g = coupled(h, *p, g);
    s[i] = s[i] * h.beta1 + h.one_minus_beta1 * g * g;
    let mut avg = if h.flag0 != 0.0 {
        s[2 * n + i] = lerp(s[2 * n + i], g, h.one_minus_beta1);
        let ga = s[2 * n + i];
        (s[i] + -ga * ga).sqrt()
    } else {
        s[i].sqrt()
    };
    avg += h.eps;
    if h.flag2 != 0.0 {
        s[n + i] = s[n + i] * h.beta2 + g / avg;
        *p += -h.lr * s[n + i];
    } else {
        *p += -h.lr * (g / avg);
    }
}

/// The Adam-family moments, in state slots 0 and 1: m = lerp(m, g, 1 − β1),
/// v = β2·v + (1 − β2)·g·g.
fn adam_moments(h: &GroupHyper, s: &mut [f32], i: usize, n: usize, g: f32) {
    s[i] = lerp(s[i], g, h.one_minus_beta1);
    s[n + i] = s[n + i] * h.beta2 + h.one_minus_beta2 * g * g;
}

/// Adam / AdamW / AMSGrad. c0 = lr/bc1, c1 = √bc2, flag0 amsgrad, flag1 decoupled decay.
/// State: exp_avg, exp_avg_sq, max_exp_avg_sq.
fn adam(h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32], i: usize, n: usize) {
    let g = if h.flag1 != 0.0 {
        *p *= h.decay_factor;
        g
    } else {
        coupled(h, *p, g)
    };
    adam_moments(h, s, i, n, g);
    let v = if h.flag0 != 0.0 {
        s[2 * n + i] = s[2 * n + i].max(s[n + i]);
        s[2 * n + i]
    } else {
        s[n + i]
    };
    let denom = v.sqrt() / h.c1 + h.eps;
    *p += -h.c0 * (s[i] / denom);
}

/// Adamax. c0 = lr/bc1. State: exp_avg, exp_inf.
fn adamax(h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32], i: usize, n: usize) {
    let g = coupled(h, *p, g);
    s[i] = lerp(s[i], g, h.one_minus_beta1);
    s[n + i] = (s[n + i] * h.beta2).max(g.abs() + h.eps);
    *p += -h.c0 * (s[i] / s[n + i]);
}

/// NAdam. c0 = bc2, c1 = −lr(1−μ_t)/(1−Πμ), c2 = −lr·μ_{t+1}/(1−Πμ·μ_{t+1}), flag1 decoupled.
/// State: exp_avg, exp_avg_sq.
fn nadam(h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32], i: usize, n: usize) {
    let g = if h.flag1 != 0.0 {
        *p *= h.decay_factor;
        g
    } else {
        coupled(h, *p, g)
    };
    adam_moments(h, s, i, n, g);
    let denom = (s[n + i] / h.c0).sqrt() + h.eps;
    *p += h.c1 * (g / denom);
    *p += h.c2 * (s[i] / denom);
}

/// RAdam. c0 = bc1, c1 = √bc2, c2 = the rectification term, flag0 rectified (ρ_t > 5),
/// flag1 decoupled. State: exp_avg, exp_avg_sq.
fn radam(h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32], i: usize, n: usize) {
    let g = if h.flag1 != 0.0 {
        *p *= h.decay_factor;
        g
    } else {
        coupled(h, *p, g)
    };
    adam_moments(h, s, i, n, g);
    let mhat = s[i] / h.c0;
    let update = if h.flag0 != 0.0 {
        let adaptive = h.c1 / (s[n + i].sqrt() + h.eps);
        mhat * h.lr * adaptive * h.c2
    } else {
        mhat * h.lr
    };
    *p += -update;
}

/// Lion: c = β1·m + (1−β1)·g; p = p·(1 − lr·wd) − lr·sign(c); m = β2·m + (1−β2)·g.
/// State: exp_avg.
fn lion(h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32], i: usize, _n: usize) {
    let c = h.beta1 * s[i] + h.one_minus_beta1 * g;
    let sign = if c > 0.0 {
        1.0
    } else if c < 0.0 {
        -1.0
    } else {
        0.0
    };
    *p = *p * h.decay_factor - h.lr * sign;
    s[i] = h.beta2 * s[i] + h.one_minus_beta2 * g;
}
