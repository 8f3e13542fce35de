//! The forward convolution of a network's first layers (few input channels, stride 1, no
//! dilation: `conv2d(6, 5, padding=2)` on grey 28×28, `conv2d(32, 3, padding=1)` on RGB) as
//! the fast CPU engines compute it: straight from the input, without unfolding patches.
//!
//! With C/G·kh·kw of 9 or 25, a GEMM over unfolded columns spends its time copying rows of 28
//! floats into the column buffer and packing them again, for a product too thin to amortise
//! either. Here each output row of a block of [`BLOCK`] output channels is a set of register
//! accumulators of [`LANES`] columns; every tap adds `w[o, ch, a, b] · x[ch, i + a, j + b]` to
//! them, reading the input row once for the whole block:
//!
//! ```text
//! acc[o][j..j+16] = bias[o]
//! for ch, a, b (in order): acc[o][j..j+16] = fma(w[o, ch, a, b], xpad[ch, i + a, j + b ..], acc[o])
//! ```
//!
//! The input is first copied into a zero-padded plane wide enough for whole lane groups, so the
//! inner loop has no bounds to test. Each output is one fused multiply-add chain over the taps
//! in (channel, kernel row, kernel column) order, computed on its own: the bits depend on
//! neither the thread count nor the vector width.

use super::direct::Dims;
use crate::ops::Window2d;

/// Output columns per accumulator (one AVX-512 register of f32).
const LANES: usize = 16;
/// Output channels accumulated together: each loaded input vector feeds this many FMAs.
const BLOCK: usize = 8;

/// True where this path applies: stride 1, dilation 1, at most 4 input channels per group,
/// and a window (not a 1×1 pointwise kernel, which needs no unfolding anyway).
pub(super) fn applies(d: &Dims, g: &Window2d) -> bool {
    (g.sh, g.sw, g.dh, g.dw) == (1, 1, 1, 1) && d.cg <= 32 && !d.pointwise && d.p > 0
}

/// The weights of every group regrouped tap-major per block of [`BLOCK`] output channels
/// (`[group][block][tap][BLOCK]`, zeros past the last channel), so one tap's weights are
/// adjacent; written into `packed` (resized; its allocation kept from call to call).
pub(super) fn pack_weights(packed: &mut Vec<f32>, w: &[f32], d: &Dims) {
    let blocks = d.og.div_ceil(BLOCK);
    packed.clear();
    packed.resize(d.groups * blocks * d.k * BLOCK, 0.0);
    for grp in 0..d.groups {
        for o in 0..d.og {
            let (block, q) = (o / BLOCK, o % BLOCK);
            let row = &w[(grp * d.og + o) * d.k..][..d.k];
            for (tap, v) in row.iter().enumerate() {
                packed[((grp * blocks + block) * d.k + tap) * BLOCK + q] = *v;
            }
        }
    }
}

/// Length of the padded copy of one sample's group of input planes.
pub(super) fn padded_len(d: &Dims, g: &Window2d) -> usize {
    let (rows, cols) = padded_plane(g);
    d.cg * rows * cols
}

/// Rows and columns of a padded input plane: every output row's window, and whole lane groups.
fn padded_plane(g: &Window2d) -> (usize, usize) {
    let (oh, ow, kh, kw) = (g.oh as usize, g.ow as usize, g.kh as usize, g.kw as usize);
    (oh + kh - 1, ow.div_ceil(LANES) * LANES + kw - 1)
}

/// `ys` [O, OH, OW] of one sample from its input `xs` [C, H, W]: every group, block and output
/// row. `packed` is [`pack_weights`]' layout; `scratch` holds at least [`padded_len`] floats.
pub(super) fn forward_sample(
    ys: &mut [f32],
    xs: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    d: &Dims,
    g: &Window2d,
    scratch: &mut [f32],
) {
    forward_sample_on(ys, xs, packed, bias, d, g, scratch, false)
}

/// [`forward_sample`], on the portable loop only when `portable` (the test compares the two).
#[allow(clippy::too_many_arguments, reason = "forward_sample's arguments and the switch")]
fn forward_sample_on(
    ys: &mut [f32],
    xs: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    d: &Dims,
    g: &Window2d,
    scratch: &mut [f32],
    portable: bool,
) {
    let (rows, cols) = padded_plane(g);
    let (h, w, ph, pw) = (g.h as usize, g.w as usize, g.ph as usize, g.pw as usize);
    let blocks = d.og.div_ceil(BLOCK);
    for grp in 0..d.groups {
        // The zero-padded copy of this group's planes.
        let xp = &mut scratch[..d.cg * rows * cols];
        xp.fill(0.0);
        for ch in 0..d.cg {
            let plane = &xs[(grp * d.cg + ch) * d.plane_in..][..d.plane_in];
            for r in 0..h {
                xp[(ch * rows + r + ph) * cols + pw..][..w].copy_from_slice(&plane[r * w..][..w]);
            }
        }
        let xp = &*xp;
        for block in 0..blocks {
            let o0 = grp * d.og + block * BLOCK;
            let channels = BLOCK.min(d.og - block * BLOCK);
            let mut start = [0.0f32; BLOCK];
            if let Some(b) = bias {
                start[..channels].copy_from_slice(&b[o0..o0 + channels]);
            }
            let taps = &packed[(grp * blocks + block) * d.k * BLOCK..][..d.k * BLOCK];
            let out = &mut ys[o0 * d.p..][..channels * d.p];
            if portable {
                block_rows_portable(out, xp, taps, &start, channels, d, g);
            } else {
                block_rows(out, xp, taps, &start, channels, d, g);
            }
        }
    }
}

/// One block's output rows: AVX-512 registers where the CPU has them, else the portable loop
/// (compiled for AVX2 where present). Both make the same fused multiply-adds in the same order.
fn block_rows(
    out: &mut [f32],
    xp: &[f32],
    taps: &[f32],
    start: &[f32; BLOCK],
    channels: usize,
    d: &Dims,
    g: &Window2d,
) {
    let (rows, cols) = padded_plane(g);
    assert!(xp.len() >= d.cg * rows * cols, "padded input size");
    assert!(taps.len() >= d.k * BLOCK && out.len() >= channels * d.p && channels <= BLOCK, "block sizes");
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above); the sizes are asserted above.
            return unsafe { avx512::block_rows(out, xp, taps, start, channels, d, g) };
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(o: &mut [f32], xp: &[f32], t: &[f32], s: &[f32; BLOCK], c: usize, d: &Dims, g: &Window2d) {
            block_rows_portable(o, xp, t, s, c, d, g)
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { avx2(out, xp, taps, start, channels, d, g) };
        }
    }
    block_rows_portable(out, xp, taps, start, channels, d, g)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{padded_plane, Dims, BLOCK, LANES};
    use crate::ops::Window2d;
    use std::arch::x86_64::*;

    /// [`super::block_rows`] with one `__m512` accumulator per output channel of the block.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `xp`, `taps` and `out` hold the sizes `block_rows` asserts.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn block_rows(
        out: &mut [f32],
        xp: &[f32],
        taps: &[f32],
        start: &[f32; BLOCK],
        channels: usize,
        d: &Dims,
        g: &Window2d,
    ) {
        let (rows, cols) = padded_plane(g);
        let (oh, ow, kh, kw) = (g.oh as usize, g.ow as usize, g.kh as usize, g.kw as usize);
        for i in 0..oh {
            for j0 in (0..ow).step_by(LANES) {
                let mut acc = [_mm512_setzero_ps(); BLOCK];
                for (a, s) in acc.iter_mut().zip(start) {
                    *a = _mm512_set1_ps(*s);
                }
                for ch in 0..d.cg {
                    for a in 0..kh {
                        // SAFETY: rows i + a < rows and columns j0 + b + 15 < cols (padded_plane).
                        let row = unsafe { xp.as_ptr().add((ch * rows + i + a) * cols + j0) };
                        for b in 0..kw {
                            // SAFETY: as above; the tap index is below k (asserted k·BLOCK taps).
                            let (x, t) = unsafe {
                                (_mm512_loadu_ps(row.add(b)), taps.as_ptr().add(((ch * kh + a) * kw + b) * BLOCK))
                            };
                            for (q, acc) in acc.iter_mut().enumerate() {
                                // SAFETY: q < BLOCK within the tap's BLOCK weights.
                                *acc = _mm512_fmadd_ps(_mm512_set1_ps(unsafe { *t.add(q) }), x, *acc);
                            }
                        }
                    }
                }
                let n = LANES.min(ow - j0);
                let mask: __mmask16 = if n == LANES { !0 } else { (1u16 << n) - 1 };
                for (q, acc) in acc.iter().enumerate().take(channels) {
                    // SAFETY: q·p + i·ow + j0 + n ≤ channels·p ≤ out.len() (asserted).
                    unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr().add(q * d.p + i * ow + j0), mask, *acc) };
                }
            }
        }
    }
}

/// The portable form of [`block_rows`]: the same fused multiply-adds, lane by lane.
#[inline(always)]
fn block_rows_portable(
    out: &mut [f32],
    xp: &[f32],
    taps: &[f32],
    start: &[f32; BLOCK],
    channels: usize,
    d: &Dims,
    g: &Window2d,
) {
    let (rows, cols) = padded_plane(g);
    let (oh, ow, kh, kw) = (g.oh as usize, g.ow as usize, g.kh as usize, g.kw as usize);
    for i in 0..oh {
        for j0 in (0..ow).step_by(LANES) {
            let n = LANES.min(ow - j0);
            for q in 0..channels {
                let mut acc = [start[q]; LANES];
                for ch in 0..d.cg {
                    for a in 0..kh {
                        let row = &xp[(ch * rows + i + a) * cols + j0..][..LANES + kw - 1];
                        for b in 0..kw {
                            let wt = taps[((ch * kh + a) * kw + b) * BLOCK + q];
                            for (l, acc) in acc.iter_mut().enumerate() {
                                *acc = wt.mul_add(row[b + l], *acc);
                            }
                        }
                    }
                }
                out[q * d.p + i * ow + j0..][..n].copy_from_slice(&acc[..n]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::direct::dims;
    use super::*;
    use crate::ops::WindowSpec;

    /// The vector rows (AVX-512 where this CPU has it) and the portable loop give the same bits:
    /// two blocks of output channels (the second short), three lane groups (the last short),
    /// padding on both axes, two groups.
    #[test]
    fn the_vector_rows_and_the_portable_loop_give_the_same_bits() {
        let spec = WindowSpec { kernel: [3, 5], stride: [1, 1], padding: [1, 2], dilation: [1, 1] };
        let g = Window2d::new("conv2d", &[1, 6, 9, 37], &spec, 22, 2).unwrap();
        let d = dims(&g);
        assert!(applies(&d, &g));
        let mut state = 7u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1 << 24) as f32 - 0.5
        };
        let x: Vec<f32> = (0..6 * 9 * 37).map(|_| next()).collect();
        let w: Vec<f32> = (0..22 * d.k).map(|_| next()).collect();
        let bias: Vec<f32> = (0..22).map(|_| next()).collect();
        let mut packed = Vec::new();
        pack_weights(&mut packed, &w, &d);
        let run = |portable: bool| {
            let (mut y, mut scratch) = (vec![0.0f32; d.o * d.p], vec![0.0f32; padded_len(&d, &g)]);
            forward_sample_on(&mut y, &x, &packed, Some(&bias), &d, &g, &mut scratch, portable);
            y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(run(false), run(true));
    }
}
