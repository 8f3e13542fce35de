//! A cache-blocked matrix transpose for the CPU products. `matmul_nt` (X·Wᵀ) hands the gemm
//! crate a right operand whose rows are strided; gemm then packs it element by element (16 % of
//! a 512³ product on 2 threads, `perf`), and the same product with Wᵀ stored row-major
//! (`matmul_nn`) ran 15–25 % faster. Transposing W once, 8×8 blocks in AVX registers, costs
//! less than that difference for the shapes `cpu::worth_transposing` admits. Values are only
//! moved, never computed, so the product's bits do not change.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Source rows moved together: two 8×8 blocks fill whole 64-byte lines of dst, and sixteen
/// source lines in flight fit L1 even at power-of-two row strides (which put every line in
/// the same few cache sets: the square tiles tried first ran at ~1 ns an element).
const STRIP: usize = 16;

/// Rows per parallel task (a multiple of STRIP).
const TASK_ROWS: usize = 8 * STRIP;

/// `dst (cols × rows) = src (rows × cols)ᵀ`, both row-major. Large matrices are cut into row
/// bands of the source that rayon's threads transpose at once (each writes its own columns of
/// dst).
pub fn transpose(dst: &mut [f32], src: &[f32], rows: usize, cols: usize) {
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols, "transpose sizes");
    if rows * cols >= 1 << 16 && rayon::current_num_threads() > 1 {
        // Shared with the tasks as an address: task b writes columns b·TASK_ROWS.. of dst.
        let out = dst.as_mut_ptr() as usize;
        use rayon::prelude::*;
        (0..rows.div_ceil(TASK_ROWS)).into_par_iter().for_each(|b| {
            let (r0, r1) = (b * TASK_ROWS, ((b + 1) * TASK_ROWS).min(rows));
            // SAFETY: dst holds rows·cols elements (asserted); this task writes only the
            // elements (j, i) for i in r0..r1, which no other task writes.
            unsafe { band(out as *mut f32, src.as_ptr(), rows, cols, r0, r1) }
        });
    } else {
        // SAFETY: as above, with the one band of every row.
        unsafe { band(dst.as_mut_ptr(), src.as_ptr(), rows, cols, 0, rows) }
    }
}

/// Transposes source rows r0..r1 into dst's columns r0..r1: strips of STRIP rows, each walked
/// left to right in 8×8 blocks (in AVX registers where the CPU has AVX), the ragged edges
/// element by element.
///
/// # Safety
/// src is readable for rows·cols elements and dst writable for as many.
unsafe fn band(dst: *mut f32, src: *const f32, rows: usize, cols: usize, r0: usize, r1: usize) {
    #[cfg(target_arch = "x86_64")]
    let avx = std::arch::is_x86_feature_detected!("avx");
    #[cfg(not(target_arch = "x86_64"))]
    let avx = false;
    let full_j = if avx { cols / 8 * 8 } else { 0 };
    for i0 in (r0..r1).step_by(STRIP) {
        let i1 = (i0 + STRIP).min(r1);
        let full_i = if avx { i0 + (i1 - i0) / 8 * 8 } else { i0 };
        #[cfg(target_arch = "x86_64")]
        for j in (0..full_j).step_by(8) {
            for i in (i0..full_i).step_by(8) {
                // SAFETY: rows i..i+8 and columns j..j+8 lie inside the source, so their
                // transposed block lies inside dst; the CPU has AVX (checked above).
                unsafe { block8(dst.add(j * rows + i), rows, src.add(i * cols + j), cols) };
            }
        }
        // The ragged edges: columns past full_j in the whole-block rows, every column in
        // the rows past full_i.
        for i in i0..i1 {
            let from = if i < full_i { full_j } else { 0 };
            for j in from..cols {
                // SAFETY: (i, j) lies inside the source and (j, i) inside dst.
                unsafe { *dst.add(j * rows + i) = *src.add(i * cols + j) };
            }
        }
    }
}

/// One 8×8 block: eight rows of src loaded, transposed with unpacks, shuffles and lane
/// permutes (the classic sequence), stored as eight rows of dst.
///
/// # Safety
/// src is readable for 8 rows of 8 at row stride `src_rs`, dst writable likewise at `dst_rs`;
/// the CPU has AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn block8(dst: *mut f32, dst_rs: usize, src: *const f32, src_rs: usize) {
    // SAFETY: every load and store stays inside the 8×8 blocks the caller vouches for.
    unsafe {
        let r = |i: usize| _mm256_loadu_ps(src.add(i * src_rs));
        let (r0, r1, r2, r3, r4, r5, r6, r7) = (r(0), r(1), r(2), r(3), r(4), r(5), r(6), r(7));
        let t0 = _mm256_unpacklo_ps(r0, r1);
        let t1 = _mm256_unpackhi_ps(r0, r1);
        let t2 = _mm256_unpacklo_ps(r2, r3);
        let t3 = _mm256_unpackhi_ps(r2, r3);
        let t4 = _mm256_unpacklo_ps(r4, r5);
        let t5 = _mm256_unpackhi_ps(r4, r5);
        let t6 = _mm256_unpacklo_ps(r6, r7);
        let t7 = _mm256_unpackhi_ps(r6, r7);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let w = |i: usize, v: __m256| _mm256_storeu_ps(dst.add(i * dst_rs), v);
        w(0, _mm256_permute2f128_ps::<0x20>(u0, u4));
        w(1, _mm256_permute2f128_ps::<0x20>(u1, u5));
        w(2, _mm256_permute2f128_ps::<0x20>(u2, u6));
        w(3, _mm256_permute2f128_ps::<0x20>(u3, u7));
        w(4, _mm256_permute2f128_ps::<0x31>(u0, u4));
        w(5, _mm256_permute2f128_ps::<0x31>(u1, u5));
        w(6, _mm256_permute2f128_ps::<0x31>(u2, u6));
        w(7, _mm256_permute2f128_ps::<0x31>(u3, u7));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_every_shape_exactly_on_one_and_two_threads() {
        for (rows, cols) in [(1, 1), (8, 8), (7, 9), (33, 65), (512, 512), (130, 784), (1000, 3), (300, 257)] {
            let src: Vec<f32> = (0..rows * cols).map(|i| i as f32 + 0.5).collect();
            for threads in [1, 2] {
                let mut dst = vec![f32::NAN; rows * cols];
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| transpose(&mut dst, &src, rows, cols));
                for i in 0..rows {
                    for j in 0..cols {
                        assert_eq!(dst[j * rows + i], src[i * cols + j], "{rows}×{cols} at ({i}, {j})");
                    }
                }
            }
        }
    }
}
