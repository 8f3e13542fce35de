//! The CPU twin of the fused optimizer update: one pass over the whole flat parameter buffer.
//! Element i reads its group's block from `table[chunk_groups[i / ALIGN]]`, clips its gradient,
//! and applies its optimizer's update (`src/optim/<name>.rs`, the twin of
//! `shaders/optim/<name>.wgsl`); state slot s of element i is `state[s·n + i]`.

use crate::optim::GroupHyper;
use crate::params::ALIGN;
use rayon::prelude::*;

/// Elements per parallel task: a multiple of ALIGN, so a task never splits a group's chunk.
const TASK: usize = 256 * ALIGN;

/// The bindings of the fused step: params, grads are (n); state is (slots·n); table has one
/// block per group; chunk_groups has one group index per ALIGN elements; norm is the global
/// norm the clip reads; chunk_scalars is empty or one number per chunk (LAMB's trust ratio),
/// which the update finds in the last of its terms (`terms[TERMS_LEN − 1]`).
pub(crate) struct FusedStep<'a> {
    pub(crate) params: &'a mut [f32],
    pub(crate) grads: &'a [f32],
    pub(crate) state: &'a mut [f32],
    pub(crate) table: &'a [GroupHyper],
    pub(crate) chunk_groups: &'a [u32],
    pub(crate) norm: f32,
    pub(crate) chunk_scalars: &'a [f32],
}

/// The fused step: runs `update` (one optimizer's per-element twin, chosen and inlined by
/// `OptimKind::run_cpu`) over every element. Elements are independent, so tasks of TASK
/// elements run on rayon's threads and the result does not depend on their number. Each state
/// slot is cut into the same tasks; an optimizer's missing slots are empty slices.
pub(crate) fn drive<U>(update: U, step: FusedStep<'_>)
where
    U: Fn(&GroupHyper, &mut f32, f32, &mut [f32; 3]) + Sync,
{
    let FusedStep { params, grads, state, table, chunk_groups, norm, chunk_scalars } = step;
    let n = params.len();
    if n == 0 {
        return;
    }
    let slots = state.len() / n;
    let (s0, rest) = state.split_at_mut(n.min(state.len()));
    let (s1, s2) = rest.split_at_mut(n.min(rest.len()));
    let tasks = params.par_chunks_mut(TASK).zip(grads.par_chunks(TASK)).enumerate();
    let task = |t, p, g, s| Task { t, p, g, s, table, chunk_groups, norm, chunk_scalars };
    let u = &update;
    match slots {
        0 => tasks.for_each(|(t, (p, g))| run_task::<U, 0>(u, task(t, p, g, [&mut [], &mut [], &mut []]))),
        1 => tasks
            .zip(s0.par_chunks_mut(TASK))
            .for_each(|((t, (p, g)), a)| run_task::<U, 1>(u, task(t, p, g, [a, &mut [], &mut []]))),
        2 => tasks
            .zip(s0.par_chunks_mut(TASK).zip(s1.par_chunks_mut(TASK)))
            .for_each(|((t, (p, g)), (a, b))| run_task::<U, 2>(u, task(t, p, g, [a, b, &mut []]))),
        _ => tasks
            .zip(s0.par_chunks_mut(TASK).zip(s1.par_chunks_mut(TASK)).zip(s2.par_chunks_mut(TASK)))
            .for_each(|((t, (p, g)), ((a, b), c))| run_task::<U, 3>(u, task(t, p, g, [a, b, c]))),
    }
}

/// How one group clips each gradient (torch.nn.utils.clip_grad_norm_ / clip_grad_value_),
/// hoisted out of the element loop: `g·scale`, then clamped into `[lo, hi]`. The norm modes
/// (1 global L2, 2 global ∞, 4 global L1; `norm` is the sum of squares, max |g| or Σ|g| of the
/// unclipped gradients) set `scale = min(max_norm / (total + 1e-6), 1)` and leave the bounds
/// at ±∞; mode 3 (by value) keeps `scale = 1` and clamps. A NaN gradient stays NaN.
#[derive(Clone, Copy)]
struct ChunkClip {
    scale: f32,
    /// Mode 5 (LAMB) divides by max(‖g‖/max_norm, 1) instead of scaling; 1 otherwise.
    div: f32,
    lo: f32,
    hi: f32,
}

impl ChunkClip {
    fn of(h: &GroupHyper, norm: f32) -> Self {
        let c = &h.clip;
        match c.mode as u32 {
            1 | 2 | 4 => {
                let total = if c.mode == 1.0 { norm.sqrt() } else { norm };
                Self { scale: (c.value / (total + 1e-6)).min(1.0), div: 1.0, lo: f32::NEG_INFINITY, hi: f32::INFINITY }
            }
            3 => Self { scale: 1.0, div: 1.0, lo: -c.value, hi: c.value },
            5 => Self { scale: 1.0, div: (norm.sqrt() / c.value).max(1.0), lo: f32::NEG_INFINITY, hi: f32::INFINITY },
            _ => Self { scale: 1.0, div: 1.0, lo: f32::NEG_INFINITY, hi: f32::INFINITY },
        }
    }

    #[inline(always)]
    fn apply(self, g: f32) -> f32 {
        // The branch is the same for every element of a run, so the loop is unswitched.
        let g = if self.div != 1.0 { g / self.div } else { g * self.scale };
        if g < self.lo {
            self.lo
        } else if g > self.hi {
            self.hi
        } else {
            g
        }
    }
}

/// One parallel task's share of the fused kernel's bindings: task `t`'s TASK-element pieces of
/// params, grads and the three state slots (empty when the optimizer has fewer), and the whole
/// group table, chunk-to-group map and global norm.
struct Task<'a> {
    t: usize,
    p: &'a mut [f32],
    g: &'a [f32],
    s: [&'a mut [f32]; 3],
    table: &'a [GroupHyper],
    chunk_groups: &'a [u32],
    norm: f32,
    chunk_scalars: &'a [f32],
}

/// One task: its runs of ALIGN-element chunks of one group, one run at a time, the `S` state
/// slots of every element gathered into a small array and written back. With the slot count
/// and the block fixed per run and every slice cut to the run's length, the element loop
/// has no bounds checks and the update's branches become selects, so it vectorises; the
/// widest instruction set the CPU offers is picked at run time (the same IEEE operations at
/// any width, so the bits do not depend on it).
#[inline(always)]
fn run_task<U, const S: usize>(update: &U, task: Task<'_>)
where
    U: Fn(&GroupHyper, &mut f32, f32, &mut [f32; 3]),
{
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { chunks_avx512::<U, S>(update, task) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { chunks_avx2::<U, S>(update, task) };
        }
    }
    chunks::<U, S>(update, task)
}

/// [`chunks`] compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn chunks_avx512<U, const S: usize>(update: &U, task: Task<'_>)
where
    U: Fn(&GroupHyper, &mut f32, f32, &mut [f32; 3]),
{
    chunks::<U, S>(update, task)
}

/// [`chunks`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn chunks_avx2<U, const S: usize>(update: &U, task: Task<'_>)
where
    U: Fn(&GroupHyper, &mut f32, f32, &mut [f32; 3]),
{
    chunks::<U, S>(update, task)
}

/// The body of [`run_task`].
#[inline(always)]
fn chunks<U, const S: usize>(update: &U, task: Task<'_>)
where
    U: Fn(&GroupHyper, &mut f32, f32, &mut [f32; 3]),
{
    let Task { t, p, g, s, table, chunk_groups, norm, chunk_scalars } = task;
    let per_chunk = !chunk_scalars.is_empty();
    let [s0, s1, s2] = s;
    // Runs of consecutive chunks of one group go through the loop together (one group's
    // tensors are contiguous, so a task is usually one run).
    let group_of = |start: usize| chunk_groups[(t * TASK + start) / ALIGN];
    let mut start = 0;
    while start < p.len() {
        let group = group_of(start);
        let mut end = (start + ALIGN).min(p.len());
        while !per_chunk && end < p.len() && group_of(end) == group {
            end = (end + ALIGN).min(p.len());
        }
        let mut h = table[group as usize];
        if per_chunk {
            h.terms[crate::optim::TERMS_LEN - 1] = chunk_scalars[(t * TASK + start) / ALIGN];
        }
        let clip = ChunkClip::of(&h, norm);
        let n = end - start;
        let (p, g) = (&mut p[start..end], &g[start..end]);
        let cut = |slot: &mut [f32], k: usize| -> std::ops::Range<usize> {
            if S > k {
                assert_eq!(slot[start..end].len(), n);
                start..end
            } else {
                0..0
            }
        };
        let (r0, r1, r2) = (cut(s0, 0), cut(s1, 1), cut(s2, 2));
        let (a, b, c) = (&mut s0[r0], &mut s1[r1], &mut s2[r2]);
        for j in 0..n {
            let mut st = [0.0f32; 3];
            if S > 0 {
                st[0] = a[j];
            }
            if S > 1 {
                st[1] = b[j];
            }
            if S > 2 {
                st[2] = c[j];
            }
            update(&h, &mut p[j], clip.apply(g[j]), &mut st);
            if S > 0 {
                a[j] = st[0];
            }
            if S > 1 {
                b[j] = st[1];
            }
            if S > 2 {
                c[j] = st[2];
            }
        }
        start = end;
    }
}

/// The clip the group block `h` sets, as a function of one gradient element (the fused step's
/// clip, for the per-tensor updates).
pub(crate) fn clip_fn(h: &GroupHyper, norm: f32) -> impl Fn(f32) -> f32 + Copy {
    let clip = ChunkClip::of(h, norm);
    move |g| clip.apply(g)
}

/// Adafactor's step on the CPU: each tensor of the table in turn (`optim::adafactor`).
pub(crate) fn adafactor(p: &mut [f32], g: &[f32], state: &mut [f32], table: &[GroupHyper], tensors: &[u32], norm: f32) {
    let n = p.len();
    let (r, c) = state.split_at_mut(n);
    for e in tensors.chunks(crate::optim::adafactor::META_LEN) {
        let [offset, numel, rows, cols, group] = [e[0], e[1], e[2], e[3], e[4]].map(|v| v as usize);
        let h = &table[group];
        let range = offset..offset + numel;
        crate::optim::adafactor::step_tensor(
            h,
            rows,
            cols,
            &mut p[range.clone()],
            &g[range.clone()],
            clip_fn(h, norm),
            &mut r[range.clone()],
            &mut c[range],
        );
    }
}
