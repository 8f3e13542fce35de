//! CPU twins of `shaders/attention.wgsl` (the causal mask) and `shaders/flash_attention.wgsl`
//! (fused attention: the same tiles as the shader, one (batch, head) pair per rayon task, each
//! query's scores computed over the keys transposed so the inner loops vectorise).

use super::flash::{FlashParams, ROWS_PER_GROUP};
use crate::backend::cpu::float::Float;
use crate::ops::dropout::cpu::keeps;
use rayon::prelude::*;

/// `scores[m, i, j] = −∞` for `j > i`, for scores of `l` query and `s` key positions per matrix.
pub fn causal_mask<F: Float>(scores: &mut [F], l: usize, s: usize) {
    for (t, v) in scores.iter_mut().enumerate() {
        let (j, i) = (t % s, (t / s) % l);
        if j > i {
            *v = F::c(f64::NEG_INFINITY);
        }
    }
}

/// Where one (batch, head) pair's rows live, from [`FlashParams`].
#[derive(Clone, Copy)]
struct Geometry {
    heads: usize,
    dim: usize,
    l: usize,
    s: usize,
    q_width: usize,
    q_off: usize,
    kv_width: usize,
    k_off: usize,
    v_off: usize,
    causal: bool,
}

impl Geometry {
    fn new(p: &FlashParams) -> Self {
        let u = |v: u32| v as usize;
        Self {
            heads: u(p.heads),
            dim: u(p.dim),
            l: u(p.l),
            s: u(p.s),
            q_width: u(p.q_width),
            q_off: u(p.q_off),
            kv_width: u(p.kv_width),
            k_off: u(p.k_off),
            v_off: u(p.v_off),
            causal: p.causal != 0,
        }
    }

    /// The keys query i sees: `0..visible(i)`.
    fn visible(&self, i: usize) -> usize {
        if self.causal {
            (i + self.s - self.l + 1).min(self.s)
        } else {
            self.s
        }
    }

    fn q_index(&self, b: usize, i: usize, h: usize) -> usize {
        (b * self.l + i) * self.q_width + self.q_off + h * self.dim
    }

    fn kv_index(&self, b: usize, j: usize, off: usize, h: usize) -> usize {
        (b * self.s + j) * self.kv_width + off + h * self.dim
    }

    fn out_index(&self, b: usize, i: usize, h: usize) -> usize {
        ((b * self.l + i) * self.heads + h) * self.dim
    }

    /// Rows `0..n` of one head out of a `[B, n, width]` buffer at column `off`, as `[n, D]`.
    fn rows<F: Float>(&self, x: &[F], index: impl Fn(usize) -> usize, n: usize) -> Vec<F> {
        let mut out = Vec::with_capacity(n * self.dim);
        for r in 0..n {
            let at = index(r);
            out.extend_from_slice(&x[at..at + self.dim]);
        }
        out
    }

    /// `[n, D]` rows transposed to `[D, stride]` (`stride` ≥ n; the columns past n zero), so
    /// a query's scores over keys are D lane-wise passes.
    fn transposed<F: Float>(&self, rows: &[F], stride: usize) -> Vec<F> {
        let mut t = vec![F::zero(); stride * self.dim];
        for (r, row) in rows.chunks_exact(self.dim).enumerate() {
            for (d, v) in row.iter().enumerate() {
                t[d * stride + r] = *v;
            }
        }
        t
    }
}

/// Lanes a register-blocked loop keeps in one accumulator array (one AVX-512 register of f32).
const LANES: usize = 16;

/// `out[j] = Σ_d x[d] · cols[d][from + j]` for `out.len()` columns of a `[D, stride]` matrix
/// whose rows are padded to a multiple of [`LANES`] (`from` one too), in the shader's order (d
/// ascending), [`LANES`] columns at a time held in a register.
#[inline(always)]
fn dots<F: Float>(out: &mut [F], x: &[F], cols: &[F], stride: usize, from: usize) {
    for (c, o) in out.chunks_mut(LANES).enumerate() {
        let j = from + c * LANES;
        let mut acc = [F::zero(); LANES];
        for (d, xd) in x.iter().enumerate() {
            let col: &[F; LANES] = cols[d * stride + j..d * stride + j + LANES].try_into().expect("padded rows");
            for l in 0..LANES {
                acc[l] += *xd * col[l];
            }
        }
        let w = o.len();
        o.copy_from_slice(&acc[..w]);
    }
}

/// `o += Σ_j w[j] · rows[j]` over `[len(w), D]` rows, j ascending (the shader's order),
/// [`LANES`] columns of `o` at a time held in registers.
#[inline(always)]
fn add_weighted_rows<F: Float>(o: &mut [F], w: &[F], rows: &[F]) {
    let d = o.len();
    let mut blocks = o.chunks_exact_mut(LANES);
    for (c, oc) in blocks.by_ref().enumerate() {
        let at = c * LANES;
        let mut acc: [F; LANES] = (&*oc).try_into().expect("LANES columns");
        for (j, wj) in w.iter().enumerate() {
            let row: &[F; LANES] = rows[j * d + at..j * d + at + LANES].try_into().expect("LANES columns");
            for l in 0..LANES {
                acc[l] += *wj * row[l];
            }
        }
        oc.copy_from_slice(&acc);
    }
    let rest = blocks.into_remainder();
    let at = d - rest.len();
    for (j, wj) in w.iter().enumerate() {
        axpy(rest, *wj, &rows[j * d + at..(j + 1) * d]);
    }
}

/// `acc += a · x`.
#[inline(always)]
fn axpy<F: Float>(acc: &mut [F], a: F, x: &[F]) {
    for (o, v) in acc.iter_mut().zip(x) {
        *o += a * *v;
    }
}

/// The keys and values of one (batch, head) pair: rows `[S, D]`, and both transposed to
/// `[D, stride]` with `stride` = S rounded up to [`LANES`].
struct HeadKv<F> {
    stride: usize,
    k: Vec<F>,
    kt: Vec<F>,
    v: Vec<F>,
    vt: Vec<F>,
}

#[inline(always)]
fn head_kv<F: Float>(g: &Geometry, kv: &[F], b: usize, h: usize) -> HeadKv<F> {
    let k = g.rows(kv, |j| g.kv_index(b, j, g.k_off, h), g.s);
    let v = g.rows(kv, |j| g.kv_index(b, j, g.v_off, h), g.s);
    let stride = g.s.next_multiple_of(LANES);
    HeadKv { stride, kt: g.transposed(&k, stride), vt: g.transposed(&v, stride), k, v }
}

/// `qs` = query i of head h, times the scale.
#[inline(always)]
fn scaled_query<F: Float>(qs: &mut [F], g: &Geometry, q: &[F], (b, i, h): (usize, usize, usize), scale: F) {
    let at = g.q_index(b, i, h);
    qs.iter_mut().zip(&q[at..at + g.dim]).for_each(|(o, v)| *o = *v * scale);
}

/// Defines `$name`, which runs `$body` (an `#[inline(always)]` fn) compiled for AVX-512 or
/// AVX2 when the CPU has them: the loops are lane-wise (no sums reassociated), so the bits do
/// not depend on the width picked.
macro_rules! widest_simd {
    ($name:ident => $body:ident($($a:ident: $t:ty),*) -> $r:ty) => {
        #[doc = concat!("[`", stringify!($body), "`] on the widest vector unit present.")]
        fn $name<F: Float>($($a: $t),*) -> $r {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512<F: Float>($($a: $t),*) -> $r {
                    $body($($a),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2<F: Float>($($a: $t),*) -> $r {
                    $body($($a),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    return unsafe { avx512($($a),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above).
                    return unsafe { avx2($($a),*) };
                }
            }
            $body($($a),*)
        }
    };
}

/// Attention-probability dropout as the shader draws it (`drop_factor`).
#[derive(Clone, Copy)]
struct Dropout {
    /// ⌊p·2³²⌋; 0: none.
    threshold: u32,
    /// 1/(1 − p).
    scale: f32,
    /// This call's key.
    key: u32,
}

impl Dropout {
    fn new(p: &FlashParams, key: u32) -> Self {
        Self { threshold: p.drop_threshold, scale: p.drop_scale, key }
    }

    /// `w[j] *= factor(base + j)`: 0 or 1/(1 − p) from the hash of the weight's flat index
    /// (u32, wrapping as the shader's) and the key; nothing without dropout.
    #[inline(always)]
    fn apply<F: Float>(&self, w: &mut [F], base: u32) {
        if self.threshold == 0 {
            return;
        }
        let scale = F::c(self.scale as f64);
        for (j, v) in w.iter_mut().enumerate() {
            let keep = keeps(base.wrapping_add(j as u32), self.key, self.threshold);
            *v = if keep { *v * scale } else { F::zero() };
        }
    }
}

/// One (batch, head) pair of a twin: the geometry, the scale, the dropout, its batch row of
/// the key mask, and which pair.
#[derive(Clone, Copy)]
struct Pair<'a, F> {
    g: &'a Geometry,
    scale: F,
    drop: Dropout,
    /// The key mask's row `[S]` for this batch row (0 marks a padding key).
    mask: Option<&'a [F]>,
    b: usize,
    h: usize,
}

impl<F: Float> Pair<'_, F> {
    /// The index of query i's statistics (lse, δ) in `[B, H, L]`.
    fn stat(&self, i: usize) -> usize {
        (self.b * self.g.heads + self.h) * self.g.l + i
    }

    /// The flat index of weight (i, 0) of this pair in `[B, H, L, S]`, wrapping as the
    /// shader's u32 arithmetic does.
    fn weight_base(&self, i: usize) -> u32 {
        (self.stat(i) as u32).wrapping_mul(self.g.s as u32)
    }

    /// Zeroes `w[j]` (and `also[j]`) for the padding keys `from + j`.
    #[inline(always)]
    fn mask_keys(&self, w: &mut [F], also: Option<&mut [F]>, from: usize) {
        let Some(mask) = self.mask else { return };
        let row = &mask[from..from + w.len()];
        match also {
            Some(also) => {
                for ((v, a), m) in w.iter_mut().zip(also.iter_mut()).zip(row) {
                    if *m == F::zero() {
                        (*v, *a) = (F::zero(), F::zero());
                    }
                }
            }
            None => w.iter_mut().zip(row).filter(|(_, m)| **m == F::zero()).for_each(|(v, _)| *v = F::zero()),
        }
    }
}

/// The lse of a query that sees no key (every key masked): every exp(s − lse) is 0.
const NO_KEYS_LSE: f64 = f32::MAX as f64;

/// Runs `task` for every (batch, head) pair in parallel; returns their results in pair order.
fn per_head<F: Float, T: Send>(
    g: &Geometry,
    p: &FlashParams,
    (key, mask): (u32, Option<&[F]>),
    task: impl Fn(Pair<'_, F>) -> T + Sync,
) -> Vec<T> {
    let (scale, drop) = (F::c(p.scale as f64), Dropout::new(p, key));
    (0..p.batch as usize * g.heads)
        .into_par_iter()
        .map(|bh| {
            let b = bh / g.heads;
            let mask = mask.map(|m| &m[b * g.s..(b + 1) * g.s]);
            task(Pair { g, scale, drop, mask, b, h: bh % g.heads })
        })
        .collect()
}

widest_simd!(forward_head_simd => forward_head(pair: Pair<'_, F>, q: &[F], kv: &[F]) -> (Vec<F>, Vec<F>));

/// The forward of one (batch, head) pair: its output rows `[L, D]` and log-sum-exps `[L]`,
/// keys in tiles of [`ROWS_PER_GROUP`] with a running max and sum per query.
#[inline(always)]
fn forward_head<F: Float>(pair: Pair<'_, F>, q: &[F], kv: &[F]) -> (Vec<F>, Vec<F>) {
    let Pair { g, scale, b, h, .. } = pair;
    let (d, tile) = (g.dim, ROWS_PER_GROUP as usize);
    let head = head_kv(g, kv, b, h);
    let (mut o, mut stats) = (vec![F::zero(); g.l * d], Vec::with_capacity(g.l));
    let (mut scores, mut qs) = (vec![F::zero(); tile], vec![F::zero(); d]);
    for (i, o) in o.chunks_exact_mut(d).enumerate() {
        scaled_query(&mut qs, g, q, (b, i, h), scale);
        let (mut m, mut sum) = (F::c(f64::NEG_INFINITY), F::zero());
        let seen = g.visible(i);
        for j0 in (0..seen).step_by(tile) {
            let s = &mut scores[..tile.min(seen - j0)];
            dots(s, &qs, &head.kt, head.stride, j0);
            let on = |j: usize| pair.mask.is_none_or(|m| m[j0 + j] != F::zero());
            let top = s.iter().enumerate().filter(|(j, _)| on(*j)).fold(m, |a, (_, v)| if *v > a { *v } else { a });
            if top == F::c(f64::NEG_INFINITY) {
                continue; // every key of the tile is masked (and none before it was seen)
            }
            let corr = (m - top).exp();
            sum = sum * corr;
            o.iter_mut().for_each(|v| *v = *v * corr);
            for sj in s.iter_mut() {
                *sj = (*sj - top).exp_lanes();
            }
            pair.mask_keys(s, None, j0);
            for sj in s.iter() {
                sum += *sj;
            }
            // The row sum is taken before dropout; the weights of the values after it.
            pair.drop.apply(s, pair.weight_base(i).wrapping_add(j0 as u32));
            add_weighted_rows(o, s, &head.v[j0 * d..(j0 + s.len()) * d]);
            m = top;
        }
        if sum == F::zero() {
            stats.push(F::c(NO_KEYS_LSE)); // o stays 0: the mask hides every key
            continue;
        }
        o.iter_mut().for_each(|v| *v = *v / sum);
        stats.push(m + sum.ln());
    }
    (o, stats)
}

/// `flash_attention_forward`: `out [B, L, H·D]` and the lse half of `stats [2, B, H, L]`, one
/// (batch, head) pair per task; `key` is the dropout key, `mask` the key mask `[B, S]`.
pub fn flash_forward<F: Float>(
    out: &mut [F],
    stats: &mut [F],
    q: &[F],
    kv: &[F],
    (key, mask): (u32, Option<&[F]>),
    p: &FlashParams,
) {
    let g = Geometry::new(p);
    let d = g.dim;
    let lse = stats;
    let heads = per_head(&g, p, (key, mask), |pair| forward_head_simd(pair, q, kv));
    for (bh, (o, stats)) in heads.into_iter().enumerate() {
        let (b, h) = (bh / g.heads, bh % g.heads);
        for (i, row) in o.chunks_exact(d).enumerate() {
            let at = g.out_index(b, i, h);
            out[at..at + d].copy_from_slice(row);
        }
        lse[bh * g.l..(bh + 1) * g.l].copy_from_slice(&stats);
    }
}

/// One query's backward quantities over the keys it sees (the lengths of `w` and `ds`), with
/// m_j the dropout factors: the value weights w_j = p_j·m_j, and ds_j = p_j (m_j·dO · v_j − δ).
#[inline(always)]
#[allow(clippy::too_many_arguments, reason = "one query's inputs and its two outputs")]
fn weights_and_ds<F: Float>(
    w: &mut [F],
    ds: &mut [F],
    m: &mut [F],
    head: &HeadKv<F>,
    qs: &[F],
    dout: &[F],
    (lse, delta): (F, F),
    (drop, base): (&Dropout, u32),
) {
    dots(w, qs, &head.kt, head.stride, 0);
    w.iter_mut().for_each(|v| *v = (*v - lse).exp_lanes());
    dots(ds, dout, &head.vt, head.stride, 0);
    if drop.threshold == 0 {
        ds.iter_mut().zip(w.iter()).for_each(|(v, pj)| *v = *pj * (*v - delta));
        return;
    }
    m.fill(F::one());
    drop.apply(m, base);
    for ((v, pj), mj) in ds.iter_mut().zip(w.iter_mut()).zip(m.iter()) {
        *v = *pj * (*mj * *v - delta);
        *pj = *pj * *mj;
    }
}

/// [`weights_and_ds`] with the padding keys' weights and ds zeroed.
#[inline(always)]
#[allow(clippy::too_many_arguments, reason = "one query's inputs and its two outputs")]
fn masked_weights_and_ds<F: Float>(
    pair: &Pair<'_, F>,
    w: &mut [F],
    ds: &mut [F],
    m: &mut [F],
    head: &HeadKv<F>,
    qs: &[F],
    dout: &[F],
    stats: (F, F),
    i: usize,
) {
    weights_and_ds(w, ds, m, head, qs, dout, stats, (&pair.drop, pair.weight_base(i)));
    pair.mask_keys(w, Some(ds), 0);
}

widest_simd!(dq_head_simd => dq_head(pair: Pair<'_, F>, q: &[F], kv: &[F], o: &[F], dout: &[F], lse: &[F]) -> (Vec<F>, Vec<F>));

/// The backward's walk over one pair's queries, shared by both twins: for query i, δ_i from
/// `delta(i, dO_i)`, then its scaled query, its output-gradient row and the value weights w and
/// ds over the keys it sees, handed to `visit`.
#[inline(always)]
#[allow(clippy::type_complexity, reason = "the visitor sees one query's four rows")]
fn walk_queries<F: Float>(
    pair: &Pair<'_, F>,
    head: &HeadKv<F>,
    (q, dout, lse): (&[F], &[F], &[F]),
    mut delta: impl FnMut(usize, &[F]) -> F,
    mut visit: impl FnMut(usize, &[F], &[F], &[F], &[F]),
) {
    let Pair { g, scale, b, h, .. } = *pair;
    let d = g.dim;
    let (mut qs, mut w, mut ds, mut m) =
        (vec![F::zero(); d], vec![F::zero(); g.s], vec![F::zero(); g.s], vec![F::zero(); g.s]);
    for i in 0..g.l {
        let at = g.out_index(b, i, h);
        let dor = &dout[at..at + d];
        let stats = (lse[pair.stat(i)], delta(i, dor));
        scaled_query(&mut qs, g, q, (b, i, h), scale);
        let seen = g.visible(i);
        masked_weights_and_ds(pair, &mut w[..seen], &mut ds[..seen], &mut m[..seen], head, &qs, dor, stats, i);
        visit(i, &qs, dor, &w[..seen], &ds[..seen]);
    }
}

/// dq rows `[L, D]` and δ `[L]` of one (batch, head) pair.
#[inline(always)]
fn dq_head<F: Float>(pair: Pair<'_, F>, q: &[F], kv: &[F], o: &[F], dout: &[F], lse: &[F]) -> (Vec<F>, Vec<F>) {
    let Pair { g, scale, b, h, .. } = pair;
    let d = g.dim;
    let head = head_kv(g, kv, b, h);
    let (mut dqs, mut deltas) = (vec![F::zero(); g.l * d], Vec::with_capacity(g.l));
    let delta = |i: usize, dor: &[F]| {
        let at = g.out_index(b, i, h);
        let dl = dor.iter().zip(&o[at..at + d]).fold(F::zero(), |a, (x, y)| a + *x * *y);
        deltas.push(dl);
        dl
    };
    walk_queries(&pair, &head, (q, dout, lse), delta, |i, _, _, _, ds| {
        let acc = &mut dqs[i * d..(i + 1) * d];
        add_weighted_rows(acc, ds, &head.k[..ds.len() * d]);
        acc.iter_mut().for_each(|v| *v = *v * scale);
    });
    (dqs, deltas)
}

/// `flash_attention_backward_dq`: dq (into q's layout), and δ into the second half of `stats`
/// `[2, B, H, L]` (whose first half, the forward's lse, it reads).
pub fn flash_backward_dq<F: Float>(
    dq: &mut [F],
    stats: &mut [F],
    q: &[F],
    kv: &[F],
    (o, dout): (&[F], &[F]),
    (key, mask): (u32, Option<&[F]>),
    p: &FlashParams,
) {
    let g = Geometry::new(p);
    let d = g.dim;
    let (lse, delta) = stats.split_at_mut(stats.len() / 2);
    let lse: &[F] = lse;
    let heads = per_head(&g, p, (key, mask), |pair| dq_head_simd(pair, q, kv, o, dout, lse));
    for (bh, (rows, deltas)) in heads.into_iter().enumerate() {
        let (b, h) = (bh / g.heads, bh % g.heads);
        for (i, row) in rows.chunks_exact(d).enumerate() {
            let at = g.q_index(b, i, h);
            dq[at..at + d].copy_from_slice(row);
        }
        delta[bh * g.l..(bh + 1) * g.l].copy_from_slice(&deltas);
    }
}

widest_simd!(dkv_head_simd => dkv_head(pair: Pair<'_, F>, q: &[F], kv: &[F], dout: &[F], lse: &[F], delta: &[F]) -> (Vec<F>, Vec<F>));

/// dk and dv rows `[S, D]` of one (batch, head) pair, the queries of each key summed in
/// ascending order as the shader does.
#[inline(always)]
fn dkv_head<F: Float>(pair: Pair<'_, F>, q: &[F], kv: &[F], dout: &[F], lse: &[F], delta: &[F]) -> (Vec<F>, Vec<F>) {
    let Pair { g, b, h, .. } = pair;
    let d = g.dim;
    let head = head_kv(g, kv, b, h);
    let (mut dk, mut dv) = (vec![F::zero(); g.s * d], vec![F::zero(); g.s * d]);
    walk_queries(
        &pair,
        &head,
        (q, dout, lse),
        |i, _| delta[pair.stat(i)],
        |_, qs, dor, w, ds| {
            for (j, (wj, dsj)) in w.iter().zip(ds).enumerate() {
                axpy(&mut dv[j * d..(j + 1) * d], *wj, dor);
                axpy(&mut dk[j * d..(j + 1) * d], *dsj, qs);
            }
        },
    );
    (dk, dv)
}

/// `flash_attention_backward_dkv`: dk and dv (into kv's layout) from `stats` `[2, B, H, L]`
/// (lse, δ); a masked key gets zeros.
pub fn flash_backward_dkv<F: Float>(
    dkv: &mut [F],
    q: &[F],
    kv: &[F],
    (dout, stats): (&[F], &[F]),
    (key, mask): (u32, Option<&[F]>),
    p: &FlashParams,
) {
    let g = Geometry::new(p);
    let d = g.dim;
    let (lse, delta) = stats.split_at(stats.len() / 2);
    let heads = per_head(&g, p, (key, mask), |pair| dkv_head_simd(pair, q, kv, dout, lse, delta));
    for (bh, (dk, dv)) in heads.into_iter().enumerate() {
        let (b, h) = (bh / g.heads, bh % g.heads);
        for j in 0..g.s {
            let (k_at, v_at) = (g.kv_index(b, j, g.k_off, h), g.kv_index(b, j, g.v_off, h));
            dkv[k_at..k_at + d].copy_from_slice(&dk[j * d..(j + 1) * d]);
            dkv[v_at..v_at + d].copy_from_slice(&dv[j * d..(j + 1) * d]);
        }
    }
}

/// The twins as the op table calls them (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::attention::flash::FlashParams;
    use crate::ops::attention::MaskParams;

    /// `causal_mask`: (scores).
    pub fn causal_mask(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: MaskParams = params("causal_mask", bytes)?;
        let [CpuBuf::Write(scores)] = bufs else { return Err(bad_buffers("causal_mask", bufs)) };
        super::causal_mask(scores, p.l as usize, p.s as usize);
        Ok(())
    }

    /// The dropout key the kernels read (`drop_key` in the shader): element `slot` of `keys`
    /// as u32 bits, 0 without dropout (then `keys` is not read).
    fn key(keys: &[f32], p: &FlashParams) -> u32 {
        if p.drop_threshold == 0 {
            return 0;
        }
        keys.get(p.slot as usize).map_or(0, |k| k.to_bits())
    }

    /// The key mask `[B, S]` when the params say one is bound.
    fn mask<'a>(mask: &'a [f32], p: &FlashParams) -> Option<&'a [f32]> {
        (p.key_mask != 0).then_some(mask)
    }

    /// `flash_attention_forward`: (out, stats, q, kv, keys, mask).
    pub fn flash_attention_forward(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: FlashParams = params("flash_attention_forward", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Write(stats), CpuBuf::Read(q), CpuBuf::Read(kv), CpuBuf::Read(keys), CpuBuf::Read(m)] =
            bufs
        else {
            return Err(bad_buffers("flash_attention_forward", bufs));
        };
        super::flash_forward(out, stats, q, kv, (key(keys, &p), mask(m, &p)), &p);
        Ok(())
    }

    /// `flash_attention_backward_dq`: (stats, q, kv, out, dout, dq, keys, mask).
    pub fn flash_attention_backward_dq(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: FlashParams = params("flash_attention_backward_dq", bytes)?;
        let [CpuBuf::Write(stats), CpuBuf::Read(q), CpuBuf::Read(kv), CpuBuf::Read(o), CpuBuf::Read(dout), CpuBuf::Write(dq), CpuBuf::Read(keys), CpuBuf::Read(m)] =
            bufs
        else {
            return Err(bad_buffers("flash_attention_backward_dq", bufs));
        };
        super::flash_backward_dq(dq, stats, q, kv, (o, dout), (key(keys, &p), mask(m, &p)), &p);
        Ok(())
    }

    /// `flash_attention_backward_dkv`: (q, kv, dout, stats, dkv, keys, mask).
    pub fn flash_attention_backward_dkv(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: FlashParams = params("flash_attention_backward_dkv", bytes)?;
        let [CpuBuf::Read(q), CpuBuf::Read(kv), CpuBuf::Read(dout), CpuBuf::Read(stats), CpuBuf::Write(dkv), CpuBuf::Read(keys), CpuBuf::Read(m)] =
            bufs
        else {
            return Err(bad_buffers("flash_attention_backward_dkv", bufs));
        };
        super::flash_backward_dkv(dkv, q, kv, (dout, stats), (key(keys, &p), mask(m, &p)), &p);
        Ok(())
    }
}
