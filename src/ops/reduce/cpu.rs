//! CPU twins of `shaders/reduce.wgsl`: column sums (bias gradients) and whole-tensor reductions.
#![allow(clippy::needless_range_loop, reason = "index loops mirror the GPU shaders")]

use crate::backend::cpu::float::Float;
use rayon::prelude::*;

/// `out[c] = Σ_r x[r, c]` (or `out[c] += …` when `accumulate`). out is (C), x is (R,C).
pub fn column_sum<F: Float>(out: &mut [F], x: &[F], rows: usize, cols: usize, accumulate: bool) {
    // Row by row into the column accumulators: each column still adds its rows in order (the
    // same sums as a column-by-column loop), reading x contiguously. Column blocks are tasks.
    let block = |c0: usize, out: &mut [F]| {
        if !accumulate {
            out.fill(F::zero());
        }
        for r in 0..rows {
            let row = &x[r * cols + c0..][..out.len()];
            out.iter_mut().zip(row).for_each(|(acc, v)| *acc += *v);
        }
    };
    const COLUMNS_PER_TASK: usize = 1024;
    if cols <= COLUMNS_PER_TASK || rows * cols <= 1 << 15 {
        block(0, &mut out[..cols]);
    } else {
        out[..cols].par_chunks_mut(COLUMNS_PER_TASK).enumerate().for_each(|(t, o)| block(t * COLUMNS_PER_TASK, o));
    }
}

/// First pass of a large reduction: `out[w]` reduces `x[w·chunk .. (w+1)·chunk)` by `op`
/// (0 Σx, 1 Σx², 2 Σ|x|, 3 max|x|). The GPU path uses it above one workgroup's worth of data.
pub fn reduce_partial<F: Float>(out: &mut [F], x: &[F], op: u32, chunk: usize) {
    for w in 0..out.len() {
        let part = &x[(w * chunk).min(x.len())..((w + 1) * chunk).min(x.len())];
        out[w] = match op {
            0 => sum(part),
            1 => sum_squares(part),
            2 => sum_abs(part),
            _ => max_abs(part),
        };
    }
}

/// Elements per block of the whole-tensor sums. Fixed, so how the additions are grouped (and
/// so the bits) never depends on the thread count; blocks run as parallel tasks above one.
const SUM_BLOCK: usize = 1 << 14;

/// Independent partial sums inside a block: element i adds into lane i mod LANES, which lets
/// the loop vectorise (a single running sum cannot: each addition waits for the last).
const LANES: usize = 16;

/// `Σ f(x)` of one block: lanes, then the lanes in order.
fn block_sum<F: Float>(x: &[F], f: &impl Fn(F) -> F) -> F {
    let mut acc = [F::zero(); LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += f(c[l]);
        }
    }
    for (l, v) in rest.iter().enumerate() {
        acc[l] += f(*v);
    }
    acc.iter().fold(F::zero(), |s, a| s + *a)
}

/// `Σ f(x)`: blocks of [`SUM_BLOCK`] (in parallel when there are several), then the block sums
/// in order.
fn blocked_sum<F: Float>(x: &[F], f: impl Fn(F) -> F + Sync) -> F {
    if x.len() <= SUM_BLOCK {
        return block_sum(x, &f);
    }
    let blocks: Vec<F> = x.par_chunks(SUM_BLOCK).map(|b| block_sum(b, &f)).collect();
    blocks.into_iter().fold(F::zero(), |s, b| s + b)
}

/// `Σ x`.
pub fn sum<F: Float>(x: &[F]) -> F {
    blocked_sum(x, |v| v)
}

/// `Σ x²`.
pub fn sum_squares<F: Float>(x: &[F]) -> F {
    blocked_sum(x, |v| v * v)
}

/// `Σ |x|`.
pub fn sum_abs<F: Float>(x: &[F]) -> F {
    blocked_sum(x, |v| v.abs())
}

/// `max |x|`, 0 for an empty slice.
pub fn max_abs<F: Float>(x: &[F]) -> F {
    let mut acc = F::zero();
    for i in 0..x.len() {
        acc = acc.max(x[i].abs());
    }
    acc
}

/// The divergence guard's twin: `flag[1]` counts the calls; `flag[0]` (0 while healthy)
/// records that count the first time `loss` or `grad_sumsq` is not finite.
pub fn first_nonfinite(flag: &mut [f32], loss: f32, grad_sumsq: f32) {
    let step = flag[1] + 1.0;
    flag[1] = step;
    if flag[0] == 0.0 && (!loss.is_finite() || !grad_sumsq.is_finite()) {
        flag[0] = step;
    }
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::reduce::ReduceParams;

    /// `column_sum`: (out, x).
    pub fn column_sum(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ReduceParams = params("column_sum", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("column_sum", bufs)) };
        super::column_sum(out, x, p.rows as usize, p.cols as usize, p.accumulate != 0);
        Ok(())
    }

    /// `reduce_partial`: (partials, x).
    pub fn reduce_partial(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: ReduceParams = params("reduce_partial", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers("reduce_partial", bufs)) };
        super::reduce_partial(out, x, p.accumulate, p.rows as usize);
        Ok(())
    }

    /// A one-value reduction's twin: `out[0] = f(x)`.
    fn whole(entry: &'static str, bytes: &[u8], bufs: &mut [CpuBuf<'_>], f: fn(&[f32]) -> f32) -> Result<()> {
        let _: ReduceParams = params(entry, bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x)] = bufs else { return Err(bad_buffers(entry, bufs)) };
        out[0] = f(x);
        Ok(())
    }

    /// `sum`: (out, x).
    pub fn sum(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        whole("sum", bytes, bufs, super::sum)
    }

    /// `sum_squares`: (out, x).
    pub fn sum_squares(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        whole("sum_squares", bytes, bufs, super::sum_squares)
    }

    /// `sum_abs`: (out, x).
    pub fn sum_abs(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        whole("sum_abs", bytes, bufs, super::sum_abs)
    }

    /// `max_abs`: (out, x).
    pub fn max_abs(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        whole("max_abs", bytes, bufs, super::max_abs)
    }

    /// `first_nonfinite`: (flag, loss, grad_sumsq).
    pub fn first_nonfinite(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let _: ReduceParams = params("first_nonfinite", bytes)?;
        let [CpuBuf::Write(flag), CpuBuf::Read(loss), CpuBuf::Read(gsq)] = bufs else {
            return Err(bad_buffers("first_nonfinite", bufs));
        };
        super::first_nonfinite(flag, loss[0], gsq[0]);
        Ok(())
    }
}
