//! Fused multi-head attention in the flash-attention style (Dao et al. 2022): the T×T scores
//! are never stored. Queries, keys and values are read straight out of row-major `[B, rows, W]`
//! buffers at column offsets (so q, k and v come out of `c_attn`'s `[B, T, 3C]` output, or a
//! KV cache's `[1, S, 2C]` rows, without a head split), and the output is written merged,
//! `[B, L, H·D]`, without a head merge. For batch b, head h and query i:
//!
//! ```text
//! s_ij  = scale · q_i · k_j            j visible to i: j ≤ i + (S − L) when causal, else all j
//! lse_i = log Σ_j exp(s_ij)            (online: a running max and sum over key tiles)
//! o_i   = Σ_j exp(s_ij − lse_i) v_j
//! backward   δ_i = dO_i · o_i;  p_ij = exp(s_ij − lse_i) recomputed from the saved lse;
//!            ds_ij = p_ij (dO_i · v_j − δ_i)
//!            dq_i = scale Σ_j ds_ij k_j;  dk_j = scale Σ_i ds_ij q_i;  dv_j = Σ_i p_ij dO_i
//! ```
//!
//! Three kernels: the forward (one invocation per query, key/value tiles in workgroup memory),
//! the backward's dq pass (which also writes δ) and its dk/dv pass (one invocation per key,
//! query tiles in workgroup memory): each gradient element is written by one invocation, so
//! there are no atomics and the sums have a fixed order. The CPU twins run the same tiles,
//! parallel over (batch, head). Gradients are written in the layout of what they differentiate:
//! dq like q, dk and dv like k and v (into `c_attn`'s `[B, T, 3C]` gradient at once). Options
//! ([`FlashOptions`]): dropout of the probabilities, and a key mask `[B, S]` that hides padding
//! keys from every query.

use crate::backend::kernel::{Arg, Grid};
use crate::backend::Backend;
use crate::error::{shape_error, Result, ShapeDisplay};
use crate::ops::registry;

/// Queries (or keys) one workgroup of the GPU kernels handles; also the CPU twins' key tile.
pub const ROWS_PER_GROUP: u32 = 64;

/// The widest head the GPU kernels hold in registers (`HEAD_DIM_MAX` in flash_attention.wgsl).
pub const HEAD_DIM_MAX: usize = 128;

/// Mirrors `FlashParams` in flash_attention.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FlashParams {
    /// Batch B.
    pub batch: u32,
    /// Heads H.
    pub heads: u32,
    /// Width of one head D.
    pub dim: u32,
    /// Query positions L.
    pub l: u32,
    /// Key positions S (≥ L when causal: the queries are the last L positions).
    pub s: u32,
    /// Row width of the query buffer (and of dq).
    pub q_width: u32,
    /// First column of the queries in it.
    pub q_off: u32,
    /// Row width of the key/value buffer (and of dk, dv).
    pub kv_width: u32,
    /// First column of the keys in it.
    pub k_off: u32,
    /// First column of the values in it.
    pub v_off: u32,
    /// 1: query i sees keys j ≤ i + S − L; 0: every key.
    pub causal: u32,
    /// The score scale (1/√D).
    pub scale: f32,
    /// Attention-probability dropout: ⌊p·2³²⌋, 0 for none (a weight is kept where its hash is
    /// at least this, as `ops::dropout`).
    pub drop_threshold: u32,
    /// 1/(1 − p).
    pub drop_scale: f32,
    /// Where the dropout key is in the keys buffer.
    pub slot: u32,
    /// 1: a key mask `[B, S]` is bound (0 for a padding key: no query attends to it).
    pub key_mask: u32,
}

/// Where the queries, keys and values of one attention call live: `q` rows of `q_width`
/// columns holding H heads of D from column `q_off`; `kv` rows holding the keys from `k_off`
/// and the values from `v_off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashLayout {
    /// Heads H.
    pub heads: usize,
    /// First query column.
    pub q_off: usize,
    /// First key column.
    pub k_off: usize,
    /// First value column.
    pub v_off: usize,
    /// Whether the mask is causal.
    pub causal: bool,
}

impl FlashLayout {
    /// Self-attention over `c_attn`'s `[B, T, 3C]` output: q, k, v at columns 0, C and 2C.
    pub fn packed_qkv(heads: usize, width: usize, causal: bool) -> Self {
        Self { heads, q_off: 0, k_off: width, v_off: 2 * width, causal }
    }

    /// Checks the buffers' shapes (`q` `[B, L, Wq]`, `kv` `[B, S, Wkv]`, `out` `[B, L, C]` with
    /// C = H·D) and returns the kernels' params.
    pub fn params(&self, op: &'static str, q: &[usize], kv: &[usize], out: &[usize]) -> Result<FlashParams> {
        let bad = |why: String| {
            shape_error(
                op,
                format!(
                    "query rows {}, key/value rows {}, output {}: {why}",
                    ShapeDisplay(q),
                    ShapeDisplay(kv),
                    ShapeDisplay(out)
                ),
            )
        };
        let (&[b, l, wq], &[kb, s, wkv], &[ob, ol, c]) = (q, kv, out) else {
            return Err(bad("expects [B, L, Wq], [B, S, Wkv] and [B, L, H·D]".into()));
        };
        let h = self.heads;
        if h == 0 || !c.is_multiple_of(h) || c == 0 {
            return Err(bad(format!("the output width must be a positive multiple of the {h} heads")));
        }
        let d = c / h;
        if (kb, ob, ol) != (b, b, l) || l == 0 || s == 0 {
            return Err(bad("batch and query positions must agree and be positive".into()));
        }
        if self.q_off + c > wq || self.k_off + c > wkv || self.v_off + c > wkv {
            return Err(bad(format!(
                "columns {}.., {}.. and {}.. of width {c} do not fit the rows",
                self.q_off, self.k_off, self.v_off
            )));
        }
        if self.causal && s < l {
            return Err(bad("a causal mask needs at least as many keys as queries".into()));
        }
        if d > HEAD_DIM_MAX {
            return Err(bad(format!("heads of {d} are wider than the kernels' {HEAD_DIM_MAX}")));
        }
        let u = |v: usize| v as u32;
        Ok(FlashParams {
            batch: u(b),
            heads: u(h),
            dim: u(d),
            l: u(l),
            s: u(s),
            q_width: u(wq),
            q_off: u(self.q_off),
            kv_width: u(wkv),
            k_off: u(self.k_off),
            v_off: u(self.v_off),
            causal: self.causal as u32,
            scale: (1.0 / (d as f64).sqrt()) as f32,
            drop_threshold: 0,
            drop_scale: 1.0,
            slot: 0,
            key_mask: 0,
        })
    }
}

/// Dropout of the attention probabilities (nanoGPT's `attn_dropout`): weight (b, h, i, j) is
/// kept, scaled by 1/(1 − p), where `hash32(hash32(index) ^ key) ≥ ⌊p·2³²⌋` with index the
/// flat position of the weight in `[B, H, L, S]` (u32, wrapping) and key element `slot` of
/// `keys` (u32 bits as f32, as `ops::dropout` takes them). The row sums of the softmax are not
/// dropped: out_i = Σ_j p_ij·m_ij·v_j, so the forward and both backward kernels draw the same
/// mask from the key alone.
#[derive(Clone, Copy, Debug)]
pub struct FlashDropout<'a, T> {
    /// Drop probability, in [0, 1).
    pub p: f32,
    /// The keys buffer.
    pub keys: &'a T,
    /// This call's key in it.
    pub slot: usize,
}

impl<T> FlashDropout<'_, T> {
    /// Sets `params`' dropout fields, after checking p and the slot.
    fn apply(&self, params: &mut FlashParams, keys_len: usize) -> Result<()> {
        crate::ops::dropout::dropout_p(self.p)?;
        crate::ops::dropout::key_slot(keys_len, self.slot)?;
        params.drop_threshold = crate::ops::dropout::cpu::threshold(self.p);
        params.drop_scale = 1.0 / (1.0 - self.p);
        params.slot = self.slot as u32;
        Ok(())
    }
}

/// What a call adds to plain attention: dropout of the probabilities, and a key mask
/// `[B, S]` (Hugging Face's `attention_mask`: 1 attends, 0 is padding no query sees; a query
/// that sees no key at all gets a zero output). `FlashOptions::default()` is neither.
#[derive(Clone, Copy, Debug)]
pub struct FlashOptions<'a, T> {
    /// Dropout of the attention probabilities.
    pub dropout: Option<FlashDropout<'a, T>>,
    /// The key mask.
    pub key_mask: Option<&'a T>,
}

impl<T> Default for FlashOptions<'_, T> {
    fn default() -> Self {
        Self { dropout: None, key_mask: None }
    }
}

impl<'a, T> FlashOptions<'a, T> {
    /// Only dropout (None: plain attention).
    pub fn dropout(dropout: Option<FlashDropout<'a, T>>) -> Self {
        Self { dropout, key_mask: None }
    }
}

/// The params with `opts` applied, and the buffers to bind as keys and key mask (`fallback`,
/// never read, for what is not used).
fn with_options<'a, B: Backend>(
    be: &B,
    mut p: FlashParams,
    opts: FlashOptions<'a, B::Tensor>,
    fallback: &'a B::Tensor,
) -> Result<(FlashParams, &'a B::Tensor, &'a B::Tensor)> {
    let keys = match opts.dropout {
        Some(d) if d.p > 0.0 => {
            d.apply(&mut p, crate::tensor::numel(be.shape(d.keys)))?;
            d.keys
        }
        _ => fallback,
    };
    let mask = match opts.key_mask {
        Some(m) => {
            let want = [p.batch as usize, p.s as usize];
            if be.shape(m) != want {
                return Err(shape_error(
                    "flash_attention",
                    format!("the key mask {} must be [B, S] = {}", ShapeDisplay(be.shape(m)), ShapeDisplay(&want)),
                ));
            }
            p.key_mask = 1;
            m
        }
        None => fallback,
    };
    Ok((p, keys, mask))
}

/// The grid of `rows` positions per (batch, head): workgroups of [`ROWS_PER_GROUP`] along x,
/// one (batch, head) pair per y.
fn grid(p: &FlashParams, rows: u32) -> Result<Grid> {
    let pairs = p.batch * p.heads;
    if pairs > u16::MAX as u32 {
        return Err(shape_error("flash_attention", format!("{pairs} (batch, head) pairs pass the 65535 a grid holds")));
    }
    Ok(Grid::Fixed(rows.div_ceil(ROWS_PER_GROUP), pairs, 1))
}

/// The shape of the per-query statistics: `[2, B, H, L]`, each query's log-sum-exp (written
/// by the forward), then the backward's δ (written by its dq kernel). One tensor, so the dq
/// kernel stays within eight storage buffers.
pub fn stats_shape(batch: usize, heads: usize, queries: usize) -> Vec<usize> {
    vec![2, batch, heads, queries]
}

/// `out [B, L, H·D]` = attention of the queries in `q` over the keys and values in `kv`
/// (placed as `layout` says), with `opts`' dropout and key mask; `stats` ([`stats_shape`])
/// keeps each query's log-sum-exp for the backward.
pub fn flash_forward<B: Backend>(
    be: &B,
    out: &mut B::Tensor,
    stats: &mut B::Tensor,
    q: &B::Tensor,
    kv: &B::Tensor,
    layout: &FlashLayout,
    opts: FlashOptions<'_, B::Tensor>,
) -> Result<()> {
    let p = layout.params("flash_attention_forward", be.shape(q), be.shape(kv), be.shape(out))?;
    check_stats("flash_attention_forward", be.shape(stats), &p)?;
    let (p, keys, mask) = with_options(be, p, opts, q)?;
    be.launch(
        &registry::FLASH_ATTENTION_FORWARD,
        bytemuck::bytes_of(&p),
        &mut [Arg::Write(out), Arg::Write(stats), Arg::Read(q), Arg::Read(kv), Arg::Read(keys), Arg::Read(mask)],
        grid(&p, p.l)?,
    )
}

/// The gradients of [`flash_forward`] (given the same `opts`, so the same dropout mask is
/// drawn) from the output gradient `dout` (laid out like `out`): dq into `dq` (laid out like
/// `q`), dk and dv into `dkv` (laid out like `kv`; the two may be one tensor when q and kv
/// were, which is why both are shared references: kernels write through shared storage).
/// Columns outside the heads are not touched. `stats` is the forward's; the backward writes
/// its δ half.
#[allow(clippy::too_many_arguments, reason = "the forward's inputs, output and options, and the three gradients")]
pub fn flash_backward<B: Backend>(
    be: &B,
    dq: &B::Tensor,
    dkv: &B::Tensor,
    stats: &B::Tensor,
    q: &B::Tensor,
    kv: &B::Tensor,
    out: &B::Tensor,
    dout: &B::Tensor,
    layout: &FlashLayout,
    opts: FlashOptions<'_, B::Tensor>,
) -> Result<()> {
    let op = "flash_attention_backward";
    let p = layout.params(op, be.shape(q), be.shape(kv), be.shape(out))?;
    for (what, shape, want) in [("dq", be.shape(dq), be.shape(q)), ("dkv", be.shape(dkv), be.shape(kv))] {
        if shape != want {
            return Err(shape_error(
                op,
                format!("{what} {} must match its input {}", ShapeDisplay(shape), ShapeDisplay(want)),
            ));
        }
    }
    if be.shape(dout) != be.shape(out) {
        return Err(shape_error(
            op,
            format!("dout {} must match out {}", ShapeDisplay(be.shape(dout)), ShapeDisplay(be.shape(out))),
        ));
    }
    check_stats(op, be.shape(stats), &p)?;
    let (p, keys, mask) = with_options(be, p, opts, q)?;
    be.launch(
        &registry::FLASH_ATTENTION_BACKWARD_DQ,
        bytemuck::bytes_of(&p),
        &mut [
            Arg::Write(stats),
            Arg::Read(q),
            Arg::Read(kv),
            Arg::Read(out),
            Arg::Read(dout),
            Arg::Write(dq),
            Arg::Read(keys),
            Arg::Read(mask),
        ],
        grid(&p, p.l)?,
    )?;
    be.launch(
        &registry::FLASH_ATTENTION_BACKWARD_DKV,
        bytemuck::bytes_of(&p),
        &mut [
            Arg::Read(q),
            Arg::Read(kv),
            Arg::Read(dout),
            Arg::Read(stats),
            Arg::Write(dkv),
            Arg::Read(keys),
            Arg::Read(mask),
        ],
        grid(&p, p.s)?,
    )
}

/// Checks a `[2, B, H, L]` statistics tensor.
fn check_stats(op: &'static str, shape: &[usize], p: &FlashParams) -> Result<()> {
    let want = stats_shape(p.batch as usize, p.heads as usize, p.l as usize);
    if shape != want {
        return Err(shape_error(
            op,
            format!("statistics {} must be [2, B, H, L] = {}", ShapeDisplay(shape), ShapeDisplay(&want)),
        ));
    }
    Ok(())
}
