//! CPU twins of `shaders/matmul.wgsl`: the three products of a Linear layer, on the `gemm`
//! crate (candle's CPU GEMM: packed SIMD microkernels chosen at run time for AVX-512, AVX2,
//! NEON…, threads on rayon). Transposed operands are read through their strides, never copied.

use crate::backend::cpu::float::Float;

/// A row-major matrix view for `gemm`: its pointer and (row, column) strides in elements.
struct Strided<F> {
    ptr: *const F,
    rs: isize,
    cs: isize,
}

/// A (rows, cols) row-major buffer read as is.
fn plain<F>(x: &[F], cols: usize) -> Strided<F> {
    Strided { ptr: x.as_ptr(), rs: cols as isize, cs: 1 }
}

/// A (rows, cols) row-major buffer read as its transpose (cols, rows).
fn transposed<F>(x: &[F], cols: usize) -> Strided<F> {
    Strided { ptr: x.as_ptr(), rs: 1, cs: cols as isize }
}

/// `out (m,n) = lhs (m,k) · rhs (k,n)`, or `+=` when `accumulate`. Callers have checked the
/// sizes (out m·n, lhs and rhs at least what the strides reach).
fn product<F: Float>(out: &mut [F], lhs: Strided<F>, rhs: Strided<F>, m: usize, n: usize, k: usize, accumulate: bool) {
    assert_eq!(out.len(), m * n, "matmul output size");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: out is m·n elements (asserted) with strides (n, 1); lhs and rhs point into slices
    // whose sizes the callers checked against (m,k), (k,n) under the given strides; gemm reads
    // only inside those extents and writes only out. F is f32 or f64, which gemm supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
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
            gemm::Parallelism::Rayon(0),
        )
    }
}

/// `out = a · bᵀ` (or `out += …` when `accumulate`). out is (M,N), a is (M,K), b is (N,K). The forward pass `X·Wᵀ`.
pub fn matmul_nt<F: Float>(out: &mut [F], a: &[F], b: &[F], m: usize, n: usize, k: usize, accumulate: bool) {
    assert!(a.len() >= m * k && b.len() >= n * k, "matmul_nt operand sizes");
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
