//! The CPU twin of the fused optimizer update: one pass over the whole flat parameter buffer.
//! Element i reads its group's block from `table[chunk_groups[i / ALIGN]]`, clips its gradient,
//! and applies its optimizer's update (`src/optim/<name>.rs`, the twin of
//! `shaders/optim/<name>.wgsl`); state slot s of element i is `state[s·n + i]`.

use crate::optim::{GroupHyper, OptimKind};
use crate::params::ALIGN;

/// The gradient after clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_). `norm` is
/// the global sum of squares (mode 1), max |g| (mode 2) or Σ|g| (mode 4) of the unclipped
/// gradients.
fn clipped(g: f32, h: &GroupHyper, norm: f32) -> f32 {
    let c = &h.clip;
    match c.mode as u32 {
        1 | 2 | 4 => {
            let total = if c.mode == 1.0 { norm.sqrt() } else { norm };
            let coef = (c.value / (total + 1e-6)).min(1.0);
            g * coef
        }
        3 => g.clamp(-c.value, c.value),
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
    let update = kind.update();
    for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
        let h = &table[chunk_groups[i / ALIGN] as usize];
        update(h, p, clipped(*g, h, norm), state, i, n);
    }
}
