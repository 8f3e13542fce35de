//! The CPU twin of the fused optimizer update: one pass over the whole flat parameter buffer.
//! Element i reads its group's block from `table[chunk_groups[i / ALIGN]]`, clips its gradient,
//! and applies its optimizer's update (`src/optim/<name>.rs`, the twin of
//! `shaders/optim/<name>.wgsl`); state slot s of element i is `state[s·n + i]`.

use crate::optim::GroupHyper;
use crate::params::ALIGN;
use rayon::prelude::*;

/// The gradient after clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_). `norm` is
/// the global sum of squares (mode 1), max |g| (mode 2) or Σ|g| (mode 4) of the unclipped
/// gradients.
pub(crate) fn clipped(g: f32, h: &GroupHyper, norm: f32) -> f32 {
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

/// Elements per parallel task: a multiple of ALIGN, so a task never splits a group's chunk.
const TASK: usize = 256 * ALIGN;

/// The fused step: runs `update` (one optimizer's per-element twin, chosen and inlined by
/// `OptimKind::run_cpu`) over every element. params, grads are (n); state is (slots·n);
/// table has one block per group; chunk_groups has one group index per ALIGN elements.
/// Elements are independent, so tasks of TASK elements run on rayon's threads and the result
/// does not depend on their number.
pub(crate) fn drive<U>(
    update: U,
    params: &mut [f32],
    grads: &[f32],
    state: &mut [f32],
    table: &[GroupHyper],
    chunk_groups: &[u32],
    norm: f32,
) where
    U: Fn(&GroupHyper, &mut f32, f32, &mut [f32; 3]) + Sync,
{
    let n = params.len();
    if n == 0 {
        return;
    }
    let slots = state.len() / n;
    let (s0, rest) = state.split_at_mut(n.min(state.len()));
    let (s1, s2) = rest.split_at_mut(n.min(rest.len()));
    let chunk = |t: usize, p: &mut [f32], g: &[f32], s: [&mut [f32]; 3]| match slots {
        0 => task::<U, 0>(&update, t, p, g, s, table, chunk_groups, norm),
        1 => task::<U, 1>(&update, t, p, g, s, table, chunk_groups, norm),
        2 => task::<U, 2>(&update, t, p, g, s, table, chunk_groups, norm),
        _ => task::<U, 3>(&update, t, p, g, s, table, chunk_groups, norm),
    };
    // Missing slots are empty slices, chunked as empty: pad them to the task count.
    let tasks = n.div_ceil(TASK);
    let (c0, c1, c2) = (split(s0, tasks), split(s1, tasks), split(s2, tasks));
    params
        .par_chunks_mut(TASK)
        .zip(grads.par_chunks(TASK))
        .zip(c0.into_par_iter().zip(c1.into_par_iter()).zip(c2.into_par_iter()))
        .enumerate()
        .for_each(|(t, ((p, g), ((a, b), c)))| chunk(t, p, g, [a, b, c]));
}

/// One task: its ALIGN-element chunks one by one (each has one group's block), the `S` state
/// slots of every element gathered into a small array and written back. With the slot count
/// and the block fixed per chunk, the compiler can keep the update's branches out of the loop.
#[allow(clippy::too_many_arguments, reason = "the fused kernel's bindings plus the task's index")]
#[inline(always)]
fn task<U, const S: usize>(
    update: &U,
    t: usize,
    p: &mut [f32],
    g: &[f32],
    s: [&mut [f32]; 3],
    table: &[GroupHyper],
    chunk_groups: &[u32],
    norm: f32,
) where
    U: Fn(&GroupHyper, &mut f32, f32, &mut [f32; 3]),
{
    let [s0, s1, s2] = s;
    for start in (0..p.len()).step_by(ALIGN) {
        let end = (start + ALIGN).min(p.len());
        let h = &table[chunk_groups[(t * TASK + start) / ALIGN] as usize];
        for j in start..end {
            let mut st = [0.0f32; 3];
            if S > 0 {
                st[0] = s0[j];
            }
            if S > 1 {
                st[1] = s1[j];
            }
            if S > 2 {
                st[2] = s2[j];
            }
            update(h, &mut p[j], clipped(g[j], h, norm), &mut st);
            if S > 0 {
                s0[j] = st[0];
            }
            if S > 1 {
                s1[j] = st[1];
            }
            if S > 2 {
                s2[j] = st[2];
            }
        }
    }
}

/// A state slot cut into tasks of TASK elements; a missing (empty) slot becomes `tasks` empty pieces.
fn split(slot: &mut [f32], tasks: usize) -> Vec<&mut [f32]> {
    let mut pieces: Vec<&mut [f32]> = slot.chunks_mut(TASK).collect();
    pieces.resize_with(tasks, Default::default);
    pieces
}
