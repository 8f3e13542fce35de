//! The shared step driver of the update rules: the fused optimizer update over one flat buffer
//! (the clip, then the optimizer's own per-element update), its shape checks, its launch, and
//! its CPU twin: one pass over the whole flat parameter buffer. Element i reads its group's
//! block from `table[chunk_groups[i / ALIGN]]`, clips its gradient, and applies its optimizer's
//! update (`src/optim/<name>.rs`, the twin of `shaders/optim/<name>.wgsl`); state slot s of
//! element i is `state[s·n + i]`. Adafactor's per-tensor step (its own bindings) is here too.

use crate::backend::checks::{elementwise, scalar_out};
use crate::backend::kernel::{bad_buffers, params as decode, Arg, CpuBuf, Grid, Kernel};
use crate::backend::Backend;
use crate::error::{shape_error, Error, Result, ShapeDisplay};
use crate::optim::{GroupHyper, HYPER_LEN};
use crate::params::ALIGN;
use crate::tensor::numel;
use rayon::prelude::*;

/// Mirrors `Params` in the optimizer shaders.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FusedParams {
    /// Elements of the flat buffer.
    pub n: u32,
    /// Padding to 16 bytes.
    pub pad: [u32; 3],
}

/// Shapes of an optimizer step: params and grads (n) with n a multiple of ALIGN, state a whole
/// number of slots of n, a table of whole blocks, one group per chunk, and a norm of one
/// element (the global gradient norm) or 1 + one per chunk (LAMB's per-chunk trust ratios).
pub fn check_fused(
    params: &[usize],
    grads: &[usize],
    state: &[usize],
    table: &[usize],
    chunks: usize,
    norm: &[usize],
) -> Result<usize> {
    let op = "optimizer_step";
    let n = elementwise(op, &[("params", params), ("grads", grads)])?;
    if !n.is_multiple_of(ALIGN) || chunks != n / ALIGN {
        return Err(shape_error(
            op,
            format!("{n} parameters need {} chunk groups of {ALIGN}, got {chunks}", n.div_ceil(ALIGN)),
        ));
    }
    let s = numel(state);
    if n > 0 && !s.is_multiple_of(n) {
        return Err(shape_error(
            op,
            format!("state {} is not a whole number of {n}-element slots", ShapeDisplay(state)),
        ));
    }
    check_table(op, table)?;
    if numel(norm) != 1 + chunks {
        scalar_out(op, norm)?;
    }
    Ok(n)
}

/// A table of whole group blocks.
fn check_table(op: &'static str, table: &[usize]) -> Result<()> {
    if !numel(table).is_multiple_of(HYPER_LEN) || numel(table) == 0 {
        return Err(shape_error(op, format!("table {} is not a whole number of group blocks", ShapeDisplay(table))));
    }
    Ok(())
}

/// One fused optimizer update over a whole flat buffer (ONE dispatch on the GPU path) with an
/// update rule's `kernel` (its bindings are [`crate::ops::registry::OPTIM_BINDINGS`]):
/// `params` and `grads` are (n), `state` is (slots·n), `table` is (groups, HYPER_LEN) of
/// [`GroupHyper`] blocks, `chunk_groups` gives the group of every ALIGN-element chunk, and
/// `norm` (one element, or 1 + one per chunk) is what clipping (and LAMB) reads.
#[allow(clippy::too_many_arguments, reason = "the kernel's bindings, one argument each")]
pub fn record<B: Backend>(
    be: &B,
    kernel: &'static Kernel,
    params: &mut B::Tensor,
    grads: &B::Tensor,
    state: &mut B::Tensor,
    table: &B::Tensor,
    chunk_groups: &B::U32Buffer,
    norm: &B::Tensor,
) -> Result<()> {
    let chunks = be.u32_len(chunk_groups);
    let shapes = (be.shape(params), be.shape(grads), be.shape(state), be.shape(table), be.shape(norm));
    let n = check_fused(shapes.0, shapes.1, shapes.2, shapes.3, chunks, shapes.4)?;
    let p = FusedParams { n: n as u32, pad: [0; 3] };
    let args = &mut [
        Arg::Write(params),
        Arg::Read(grads),
        Arg::Write(state),
        Arg::Read(table),
        Arg::ReadU32(chunk_groups),
        Arg::Read(norm),
    ];
    be.launch(kernel, bytemuck::bytes_of(&p), args, Grid::Items(n))
}

/// Adafactor's step over the flat buffers (`optim::adafactor`), one workgroup per tensor:
/// `tensors` is its tensor table (offset, numel, n, m, group per tensor); state
/// holds 2 slots of n; `norm[0]` is the global norm a clip reads.
#[allow(clippy::too_many_arguments, reason = "the kernel's bindings, one argument each")]
pub fn record_adafactor<B: Backend>(
    be: &B,
    params: &mut B::Tensor,
    grads: &B::Tensor,
    state: &mut B::Tensor,
    table: &B::Tensor,
    tensors: &B::U32Buffer,
    norm: &B::Tensor,
) -> Result<()> {
    let op = "adafactor_step";
    let entries = be.u32_len(tensors);
    if !entries.is_multiple_of(crate::optim::adafactor::META_LEN) {
        return Err(shape_error(op, "the tensor table is not a whole number of entries"));
    }
    let count = entries / crate::optim::adafactor::META_LEN;
    let n = elementwise(op, &[("params", be.shape(params)), ("grads", be.shape(grads))])?;
    if numel(be.shape(state)) != 2 * n {
        return Err(shape_error(op, format!("state must hold 2 slots of {n}, got {}", ShapeDisplay(be.shape(state)))));
    }
    check_table(op, be.shape(table))?;
    let p = FusedParams { n: n as u32, pad: [0; 3] };
    let args = &mut [
        Arg::Write(params),
        Arg::Read(grads),
        Arg::Write(state),
        Arg::Read(table),
        Arg::Read(norm),
        Arg::ReadU32(tensors),
    ];
    be.launch(&super::kernels::ADAFACTOR_STEP, bytemuck::bytes_of(&p), args, Grid::Fixed(count as u32, 1, 1))
}

/// The group blocks of a table tensor.
fn blocks<'a>(op: &'static str, table: &'a [f32]) -> Result<&'a [GroupHyper]> {
    bytemuck::try_cast_slice(table).map_err(|e| Error::InvalidArgument {
        what: op.into(),
        detail: format!("the table is not a whole number of group blocks: {e}"),
    })
}

/// A rule's per-element update as the fused driver runs it: any
/// `fn(&GroupHyper, &mut param, clipped grad, &mut state)` is one; a rule whose general update
/// carries branches on its own settings (Adam's AMSGrad and decay) also overrides [`ElementUpdate::run`]
/// to pick, once per run of elements, a loop without them.
pub(crate) trait ElementUpdate: Sync {
    /// The update of one element.
    fn update(&self, h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]);

    /// The element loop over one run of one group (`h` fixed): by default [`elements`] over
    /// [`ElementUpdate::update`].
    #[inline(always)]
    fn run<C: Fn(f32) -> f32, const S: usize>(
        &self,
        h: &GroupHyper,
        p: &mut [f32],
        g: &[f32],
        slots: [&mut [f32]; 3],
        clip: C,
    ) {
        elements::<S>(|h, p, g, s| self.update(h, p, g, s), h, p, g, slots, clip)
    }
}

impl<F: Fn(&GroupHyper, &mut f32, f32, &mut [f32; 3]) + Sync> ElementUpdate for F {
    #[inline(always)]
    fn update(&self, h: &GroupHyper, p: &mut f32, g: f32, s: &mut [f32; 3]) {
        self(h, p, g, s)
    }
}

/// The CPU twin of every fused update kernel, with the rule's per-element `update`
/// (`optim::kernels` instantiates it once per rule).
pub(crate) fn fused_twin<U>(entry: &'static str, bytes: &[u8], bufs: &mut [CpuBuf<'_>], update: U) -> Result<()>
where
    U: ElementUpdate,
{
    let _: FusedParams = decode(entry, bytes)?;
    let [CpuBuf::Write(p), CpuBuf::Read(g), CpuBuf::Write(st), CpuBuf::Read(t), CpuBuf::ReadU32(chunk_groups), CpuBuf::Read(nrm)] =
        bufs
    else {
        return Err(bad_buffers(entry, bufs));
    };
    let table = blocks(entry, t)?;
    crate::backend::checks::labels(chunk_groups, table.len())?;
    let step =
        FusedStep { params: p, grads: g, state: st, table, chunk_groups, norm: nrm[0], chunk_scalars: &nrm[1..] };
    drive(update, step);
    Ok(())
}

/// The CPU twin of `adafactor_step`.
pub(crate) fn adafactor_twin(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
    let op = "adafactor_step";
    let _: FusedParams = decode(op, bytes)?;
    let [CpuBuf::Write(p), CpuBuf::Read(g), CpuBuf::Write(st), CpuBuf::Read(t), CpuBuf::Read(nrm), CpuBuf::ReadU32(tensors)] =
        bufs
    else {
        return Err(bad_buffers(op, bufs));
    };
    let hyper = blocks(op, t)?;
    let meta = crate::optim::adafactor::META_LEN;
    if !tensors.len().is_multiple_of(meta) {
        return Err(shape_error(op, "the tensor table is not a whole number of entries"));
    }
    if let Some(bad) =
        tensors.chunks(meta).find(|e| e[0] as usize + e[1] as usize > p.len() || e[4] as usize >= hyper.len())
    {
        return Err(Error::InvalidArgument {
            what: op.into(),
            detail: format!("tensor entry {bad:?} is out of range"),
        });
    }
    adafactor(p, g, st, hyper, tensors, nrm[0]);
    Ok(())
}

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
/// `optim::kernels`) over every element. Elements are independent, so tasks of TASK
/// elements run on rayon's threads and the result does not depend on their number. Each state
/// slot is cut into the same tasks; an optimizer's missing slots are empty slices.
pub(crate) fn drive<U>(update: U, step: FusedStep<'_>)
where
    U: ElementUpdate,
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

    /// True when [`ChunkClip::apply`] returns every gradient unchanged (no clipping, or a norm
    /// within its limit): `g·1` is g, and no number lies outside ±∞.
    fn is_identity(self) -> bool {
        self.scale == 1.0 && self.div == 1.0 && self.lo == f32::NEG_INFINITY && self.hi == f32::INFINITY
    }

    #[inline(always)]
    fn apply(self, g: f32) -> f32 {
        // The branch is the same for every element of a run (predicted every time).
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
    U: ElementUpdate,
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
    U: ElementUpdate,
{
    chunks::<U, S>(update, task)
}

/// [`chunks`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn chunks_avx2<U, const S: usize>(update: &U, task: Task<'_>)
where
    U: ElementUpdate,
{
    chunks::<U, S>(update, task)
}

/// The body of [`run_task`].
#[inline(always)]
fn chunks<U, const S: usize>(update: &U, task: Task<'_>)
where
    U: ElementUpdate,
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
        // The clip unswitched by hand (LLVM keeps invariant branches inside the vector loop):
        // without clipping the loop is lighter by a multiply and two compares an element.
        if clip.is_identity() {
            update.run::<_, S>(&h, p, g, [a, b, c], |g| g);
        } else {
            update.run::<_, S>(&h, p, g, [a, b, c], |g| clip.apply(g));
        }
        start = end;
    }
}

/// The element loop of one run: `update` with the clipped gradient, the `S` state slots
/// gathered into a small array and written back.
#[inline(always)]
pub(crate) fn elements<const S: usize>(
    update: impl Fn(&GroupHyper, &mut f32, f32, &mut [f32; 3]),
    h: &GroupHyper,
    p: &mut [f32],
    g: &[f32],
    [a, b, c]: [&mut [f32]; 3],
    clip: impl Fn(f32) -> f32,
) {
    let n = p.len();
    // Every slice cut to the run's length, so the loop has no bounds checks and vectorises.
    let g = &g[..n];
    let a = if S > 0 { &mut a[..n] } else { a };
    let b = if S > 1 { &mut b[..n] } else { b };
    let c = if S > 2 { &mut c[..n] } else { c };
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
        update(h, &mut p[j], clip(g[j]), &mut st);
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
