//! The rows of `maxpool2d(2)` with AVX-512 registers: sixteen outputs at a time (fewer, masked,
//! at a row's end) from two loads of each input row, split into even and odd columns, and the
//! scalar loop's rule (taps in row order; a strictly greater value or a NaN replaces) as
//! masked blends.

/// Outputs `0..done` of one output row, where `r0` is the first of its two input rows
/// (`r1 = r0 + w`), and returns `done`: the whole row, or 0 without AVX-512 (the caller's
/// scalar loop then does it).
/// Values and indices are bit for bit those of the scalar loop in `cpu.rs`.
pub(super) fn row(out: &mut [f32], indices: &mut [f32], x: &[f32], r0: usize, w: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let ow = out.len().min(indices.len());
        // The two rows' first 2·ow columns exist; indices up to r0 + w + 2·ow fit an i32.
        let fits = r0 + w + 2 * ow <= x.len() && 2 * ow <= w && r0 + 2 * w < i32::MAX as usize;
        if fits && std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked); the reads and writes stay inside the
            // slices (checked just above: row r0 and r0 + w hold 2·ow columns; j + 16 ≤ ow).
            return unsafe { avx512(out, indices, x, r0, w, ow) };
        }
    }
    let _ = (out, indices, x, r0, w);
    0
}

/// # Safety
/// AVX-512F; `x[r0 + w + 2·ow - 1]` exists, `2·ow ≤ w`, `out` and `indices` hold `ow`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512(out: &mut [f32], indices: &mut [f32], x: &[f32], r0: usize, w: usize, ow: usize) -> usize {
    use std::arch::x86_64::*;
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    let (one, below, below_right) =
        (_mm512_set1_epi32(1), _mm512_set1_epi32(w as i32), _mm512_set1_epi32(w as i32 + 1));
    let mut j = 0;
    while j < ow {
        // Outputs j .. j + n, read from columns 2j .. 2j + 2n of both rows; a short last
        // group (or a row under 16 outputs, as in 28×28 → 14×14) loads and stores masked.
        let n = (ow - j).min(16);
        let lanes = |c: usize| -> __mmask16 { ((1u32 << c.min(16)) - 1) as __mmask16 };
        let (first_half, second_half) = (lanes(2 * n), lanes((2 * n).saturating_sub(16)));
        // SAFETY (all loads and stores): the unmasked columns 2j .. 2j + 2n ≤ 2·ow ≤ w of
        // rows r0 and r0 + w, and outputs j .. j + n ≤ ow.
        let (top, bottom) = unsafe { (x.as_ptr().add(r0 + 2 * j), x.as_ptr().add(r0 + w + 2 * j)) };
        let (t0, t1) =
            unsafe { (_mm512_maskz_loadu_ps(first_half, top), _mm512_maskz_loadu_ps(second_half, top.add(16))) };
        let (b0, b1) =
            unsafe { (_mm512_maskz_loadu_ps(first_half, bottom), _mm512_maskz_loadu_ps(second_half, bottom.add(16))) };
        // Taps 2..4 in the scalar loop's order, each with its index offset from tap 1.
        let taps = [
            (_mm512_permutex2var_ps(t0, odd, t1), one),
            (_mm512_permutex2var_ps(b0, even, b1), below),
            (_mm512_permutex2var_ps(b0, odd, b1), below_right),
        ];
        let mut best = _mm512_permutex2var_ps(t0, even, t1);
        let mut offset = _mm512_setzero_si512();
        for (v, code) in taps {
            let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best) | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
            best = _mm512_mask_blend_ps(take, best, v);
            offset = _mm512_mask_blend_epi32(take, offset, code);
        }
        let first = _mm512_add_epi32(_mm512_set1_epi32((r0 + 2 * j) as i32), even);
        let index = _mm512_cvtepi32_ps(_mm512_add_epi32(first, offset));
        let outputs = lanes(n);
        unsafe {
            _mm512_mask_storeu_ps(out.as_mut_ptr().add(j), outputs, best);
            _mm512_mask_storeu_ps(indices.as_mut_ptr().add(j), outputs, index);
        }
        j += n;
    }
    j
}
