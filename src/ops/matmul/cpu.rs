//! CPU twins of `shaders/matmul.wgsl`: the three products of a Linear layer, on the `gemm`
//! crate (candle's CPU GEMM: packed SIMD microkernels chosen at run time for AVX-512, AVX2,
//! NEON…, threads on rayon). Transposed operands are read through their strides, never copied.

use crate::backend::cpu::float::Float;
use rayon::prelude::*;

/// A row-major matrix view for `gemm`: its pointer and (row, column) strides in elements.
#[derive(Clone, Copy)]
pub(crate) struct Strided<F> {
    pub(crate) ptr: *const F,
    pub(crate) rs: isize,
    pub(crate) cs: isize,
}

/// A (rows, cols) row-major buffer read as is.
pub(crate) fn plain<F>(x: &[F], cols: usize) -> Strided<F> {
    Strided { ptr: x.as_ptr(), rs: cols as isize, cs: 1 }
}

/// A (rows, cols) row-major buffer read as its transpose (cols, rows).
pub(crate) fn transposed<F>(x: &[F], cols: usize) -> Strided<F> {
    Strided { ptr: x.as_ptr(), rs: 1, cs: cols as isize }
}

/// Products of at least this many multiply-adds are split into column blocks.
const SPLIT_WORK: usize = 1 << 24;

/// The column-block width for `out (m,n) = lhs · rhs` on `threads` threads, when the
/// product is split: blocks of a quarter of n (at least 256 columns, a multiple of 64) run as
/// single-threaded GEMMs on rayon's threads, balanced by work stealing. The gemm crate's own
/// threading syncs its threads several times per product and ran 512³ at 91–97 GFLOP/s on 2
/// threads where the blocks run 143–150 (alternated, this 2-core VM); on one thread the
/// blocks only repack the left operand (−6 %), so one thread never splits. Every block edge
/// falls on a microkernel tile edge with the same k blocking, so each element is computed by
/// the same operations as in the unsplit product: the bits do not depend on the split.
fn column_block(m: usize, n: usize, k: usize, threads: usize) -> Option<usize> {
    let width = (n / 4).next_multiple_of(64).max(256);
    let split = threads > 1 && m.saturating_mul(n).saturating_mul(k) >= SPLIT_WORK && m > 64 && n > width;
    split.then_some(width)
}

/// `out (m,n) = lhs (m,k) · rhs (k,n)`, or `+=` when `accumulate`. Callers have checked the
/// sizes (out m·n, lhs and rhs at least what the strides reach).
fn product<F: Float>(out: &mut [F], lhs: Strided<F>, rhs: Strided<F>, m: usize, n: usize, k: usize, accumulate: bool) {
    assert_eq!(out.len(), m * n, "matmul output size");
    if m == 0 || n == 0 {
        return;
    }
    let Some(width) = column_block(m, n, k, rayon::current_num_threads()) else {
        // SAFETY: out is m·n elements (asserted) with row stride n; lhs and rhs point into
        // slices whose sizes the callers checked against (m,k), (k,n) under their strides.
        unsafe { gemm_into(out.as_mut_ptr(), n, lhs, rhs, m, n, k, accumulate, gemm::Parallelism::Rayon(0)) };
        return;
    };
    // Shared with the tasks as addresses: each task writes only its own columns.
    let (dst, l, r) = (out.as_mut_ptr() as usize, lhs.ptr as usize, rhs.ptr as usize);
    (0..n.div_ceil(width)).into_par_iter().for_each(|b| {
        let (j0, j1) = (b * width, ((b + 1) * width).min(n));
        let lhs = Strided { ptr: l as *const F, ..lhs };
        let rhs = Strided { ptr: (r as *const F).wrapping_offset(j0 as isize * rhs.cs), ..rhs };
        // SAFETY: columns j0..j1 of out (row stride n) lie inside its m·n elements and no other
        // task writes them; rhs's columns j0..j1 lie inside what the callers checked.
        unsafe { gemm_into((dst as *mut F).add(j0), n, lhs, rhs, m, j1 - j0, k, accumulate, gemm::Parallelism::None) }
    });
}

/// `dst (m,n; row stride dst_rs) = lhs · rhs` (or `+=`) with the gemm crate.
///
/// # Safety
/// dst must be valid for writes of m rows of n elements at row stride `dst_rs`, and lhs, rhs
/// for reads of (m,k) and (k,n) under their strides; F is f32 or f64, which gemm supports.
#[allow(clippy::too_many_arguments, reason = "gemm's own arguments")]
pub(crate) unsafe fn gemm_into<F: Float>(
    dst: *mut F,
    dst_rs: usize,
    lhs: Strided<F>,
    rhs: Strided<F>,
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs as isize,
        accumulate,
        lhs.ptr,
        lhs.cs,
        lhs.rs,
        rhs.ptr,
        rhs.cs,
        rhs.rs,
        if accumulate { F::one() } else { F::zero() },
        F::one(),
        false,
        false,
        false,
        parallelism,
    )
}

/// Rows of the left operand from which `matmul_nt` on f32 transposes b first and runs the
/// `matmul_nn` product (see `transpose`): gemm packs a strided right operand element by
/// element, and `a·(bᵀ stored)` ran 10–16 % faster at 512³, 768×128×512 and 1024³ (transpose
/// included; this 2-core VM, 1 and 2 threads). The transpose costs 0.3–0.6 ns an element of b
/// against a gain of about 3 ps per element and row of a, so fewer rows lose: 128×512×784
/// ran 5 % slower, 256×1024×784 6 %.
const TRANSPOSE_FROM_ROWS: usize = 384;

/// The largest right operand (elements) `matmul_nt` transposes: its per-thread scratch buffer
/// is kept between products, so a training step allocates nothing; a larger b (an LM head,
/// say) keeps the strided path rather than a 16 MiB+ buffer per thread.
const MAX_TRANSPOSED: usize = 4 << 20;

thread_local! {
    /// This thread's buffer for a transposed right operand (taken out while in use, so a
    /// product nested through rayon's work stealing gets a fresh one).
    static SCRATCH: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// `x` as f32 elements when F is f32.
fn as_f32<F: Float>(x: &[F]) -> Option<&[f32]> {
    // SAFETY: F is f32 (same type, so same size, alignment and bits).
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) })
}

/// `x` as mutable f32 elements when F is f32.
fn as_f32_mut<F: Float>(x: &mut [F]) -> Option<&mut [f32]> {
    // SAFETY: F is f32 (same type, so same size, alignment and bits).
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut f32, x.len()) })
}

/// `out = a · bᵀ` (or `out += …` when `accumulate`). out is (M,N), a is (M,K), b is (N,K). The forward pass `X·Wᵀ`.
pub fn matmul_nt<F: Float>(out: &mut [F], a: &[F], b: &[F], m: usize, n: usize, k: usize, accumulate: bool) {
    assert!(a.len() >= m * k && b.len() >= n * k, "matmul_nt operand sizes");
    if m >= TRANSPOSE_FROM_ROWS && n >= 64 && k >= 64 && n * k <= MAX_TRANSPOSED {
        if let (Some(a), Some(b)) = (as_f32(a), as_f32(b)) {
            let out = as_f32_mut(out).expect("out has a's element type");
            let mut bt = SCRATCH.take();
            if bt.len() < n * k {
                bt = vec![0.0; n * k];
            }
            super::transpose::transpose(&mut bt[..n * k], b, n, k);
            product(out, plain(a, k), plain(&bt, n), m, n, k, accumulate);
            SCRATCH.set(bt);
            return;
        }
    }
    product(out, plain(a, k), transposed(b, k), m, n, k, accumulate);
}

/// `out = a · b` (or `out += …` when `accumulate`). out is (M,N), a is (M,K), b is (K,N). The input gradient `dY·W`.
pub fn matmul_nn<F: Float>(out: &mut [F], a: &[F], b: &[F], m: usize, n: usize, k: usize, accumulate: bool) {
    assert!(a.len() >= m * k && b.len() >= k * n, "matmul_nn operand sizes");
    product(out, plain(a, k), plain(b, n), m, n, k, accumulate);
}

/// `out = aᵀ · b` (or `out += …` when `accumulate`). out is (M,N), a is (K,M), b is (K,N). The weight gradient `dYᵀ·X`.
pub fn matmul_tn<F: Float>(out: &mut [F], a: &[F], b: &[F], m: usize, n: usize, k: usize, accumulate: bool) {
    assert!(a.len() >= k * m && b.len() >= k * n, "matmul_tn operand sizes");
    product(out, transposed(a, m), plain(b, n), m, n, k, accumulate);
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::matmul::MatmulParams;

    /// One of the three products on f32: (out, a, b, m, n, k, accumulate).
    type Product = fn(&mut [f32], &[f32], &[f32], usize, usize, usize, bool);

    /// The batched product `f` over every batch entry of `out`.
    fn batched(p: &MatmulParams, out: &mut [f32], a: &[f32], b: &[f32], f: Product) {
        let (m, n, k) = (p.m as usize, p.n as usize, p.k as usize);
        let batch = out.len().checked_div(m * n).unwrap_or(0);
        for i in 0..batch {
            let o = &mut out[i * m * n..][..m * n];
            f(o, &a[i * m * k..][..m * k], &b[i * n * k..][..n * k], m, n, k, p.accumulate != 0)
        }
    }

    /// One of the three products: (out, a, b).
    fn product(entry: &'static str, bytes: &[u8], bufs: &mut [CpuBuf<'_>], f: Product) -> Result<()> {
        let p: MatmulParams = params(entry, bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(a), CpuBuf::Read(b)] = bufs else { return Err(bad_buffers(entry, bufs)) };
        batched(&p, out, a, b, f);
        Ok(())
    }

    /// `matmul_nt`: (out, a, b).
    pub fn matmul_nt(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        product("matmul_nt", bytes, bufs, super::matmul_nt::<f32>)
    }

    /// `matmul_nn`: (out, a, b).
    pub fn matmul_nn(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        product("matmul_nn", bytes, bufs, super::matmul_nn::<f32>)
    }

    /// `matmul_tn`: (out, a, b).
    pub fn matmul_tn(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        product("matmul_tn", bytes, bufs, super::matmul_tn::<f32>)
    }

    /// `matmul_nt_bias`: (out, a, b, bias): the product, then the bias add.
    pub fn matmul_nt_bias(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: MatmulParams = params("matmul_nt_bias", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(a), CpuBuf::Read(b), CpuBuf::Read(bias)] = bufs else {
            return Err(bad_buffers("matmul_nt_bias", bufs));
        };
        batched(&p, out, a, b, super::matmul_nt::<f32>);
        crate::ops::elementwise::cpu::bias_add(out, bias, p.n as usize);
        Ok(())
    }

    /// `matmul_nt_bias_act`: (out, a, b, bias, act_out): the product, the bias add, then the
    /// activation into act_out.
    pub fn matmul_nt_bias_act(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: MatmulParams = params("matmul_nt_bias_act", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(a), CpuBuf::Read(b), CpuBuf::Read(bias), CpuBuf::Write(act_out)] = bufs
        else {
            return Err(bad_buffers("matmul_nt_bias_act", bufs));
        };
        batched(&p, out, a, b, super::matmul_nt::<f32>);
        crate::ops::elementwise::cpu::bias_add(out, bias, p.n as usize);
        crate::ops::elementwise::cpu::activation_forward_kind(p.act_kind, p.act_param, act_out, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded numbers in [-1, 1).
    fn numbers(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::rng::Rng::new(seed);
        (0..len).map(|_| rng.uniform(-1.0, 1.0) as f32).collect()
    }

    #[test]
    fn nt_products_through_a_transposed_copy_equal_the_strided_gemm_bit_for_bit() {
        for (m, n, k) in [(384, 64, 64), (512, 512, 512), (400, 130, 77), (768, 128, 512)] {
            assert!(m >= TRANSPOSE_FROM_ROWS, "{m}×{n}×{k} takes the transposed path");
            let (a, b) = (numbers(m * k, 4), numbers(n * k, 5));
            for accumulate in [false, true] {
                let start = numbers(m * n, 6);
                let mut strided = start.clone();
                // SAFETY: strided is m·n; a and b hold m·k and n·k elements.
                unsafe {
                    gemm_into(
                        strided.as_mut_ptr(),
                        n,
                        plain(&a, k),
                        transposed(&b, k),
                        m,
                        n,
                        k,
                        accumulate,
                        gemm::Parallelism::None,
                    )
                };
                for threads in [1, 2] {
                    let mut via_copy = start.clone();
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    pool.install(|| matmul_nt(&mut via_copy, &a, &b, m, n, k, accumulate));
                    let same = via_copy.iter().zip(&strided).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{m}×{n}×{k}, {threads} threads, accumulate {accumulate}");
                }
            }
        }
    }

    #[test]
    fn split_products_equal_one_unsplit_gemm_bit_for_bit() {
        // Shapes above the split threshold, with a ragged last block and every form's strides.
        for (m, n, k) in [(512, 512, 512), (300, 1000, 130), (256, 1024, 784), (65, 2100, 200)] {
            assert!(column_block(m, n, k, 2).is_some(), "{m}×{n}×{k} is split on 2 threads");
            assert!(column_block(m, n, k, 1).is_none(), "one thread never splits");
            let (a, b) = (numbers(m * k, 1), numbers(k * n, 2));
            for accumulate in [false, true] {
                let start = numbers(m * n, 3);
                type Form = fn(&[f32], &[f32], usize, usize, usize) -> (Strided<f32>, Strided<f32>);
                let forms: [Form; 3] = [
                    |a, b, _, _, k| (plain(a, k), transposed(b, k)),
                    |a, b, _, n, k| (plain(a, k), plain(b, n)),
                    |a, b, m, n, _| (transposed(a, m), plain(b, n)),
                ];
                let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
                for form in forms {
                    let mut split = start.clone();
                    pool.install(|| {
                        let (lhs, rhs) = form(&a, &b, m, n, k);
                        product(&mut split, lhs, rhs, m, n, k, accumulate)
                    });
                    let (lhs, rhs) = form(&a, &b, m, n, k);
                    let mut whole = start.clone();
                    // SAFETY: whole is m·n; a and b hold m·k and k·n elements.
                    unsafe { gemm_into(whole.as_mut_ptr(), n, lhs, rhs, m, n, k, accumulate, gemm::Parallelism::None) };
                    assert!(split.iter().zip(&whole).all(|(x, y)| x.to_bits() == y.to_bits()), "{m}×{n}×{k}");
                }
            }
        }
    }
}
