//! Cached decoding: a language model run on one new position at a time, each attention layer
//! keeping the keys and values of the positions before (a KV cache), so a new token costs
//! O(T) attention instead of a forward pass over the whole context. It walks the model tree
//! with each leaf's [`Decoding`]: position-wise leaves run their ordinary forward on the new
//! position alone, `position_embedding` adds the new position's row, `causal_self_attention`
//! appends the new key and value to its cache and attends over the cache (no mask: every cached
//! position precedes the new one). The results are the uncached forward's, position by position.

use super::layer::{Decoding, Forward};
use super::layers::causal_self_attention::{linear_forward, CausalSelfAttention};
use super::spec::Node;
use super::Model;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::ops::attention::flash::{flash_forward, stats_shape, FlashLayout, FlashOptions};
use crate::ops::elementwise;
use crate::tensor::Tensor;

/// The keys and values of the positions decoded so far, one `[block_size, 2C]` tensor per
/// attention layer (row t: the key, then the value, of position t).
pub struct KvCache<B: Backend> {
    /// Per leaf, in the model's leaf order: the cache of an attention layer.
    layers: Vec<Option<B::Tensor>>,
    /// Positions cached.
    len: usize,
    /// The most positions the model takes.
    block_size: usize,
    /// A one-element key buffer for the leaves' forward (no dropout draws in decoding).
    keys: B::Tensor,
}

impl<B: Backend> KvCache<B> {
    /// Positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first position.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when another position would pass the model's context.
    pub fn is_full(&self) -> bool {
        self.len >= self.block_size
    }
}

impl<B: Backend> Model<B> {
    /// An empty KV cache for this model, or None when a layer cannot decode position by
    /// position (a convolution, say): decode those by re-running the context.
    pub fn kv_cache(&self, be: &B, block_size: usize) -> Result<Option<KvCache<B>>> {
        let mut layers = Vec::new();
        for leaf in self.spec().leaves() {
            match leaf.layer.decoding() {
                Decoding::Unsupported => return Ok(None),
                Decoding::Attention(a) => layers.push(Some(be.zeros(&[block_size, 2 * a.dim])?)),
                _ => layers.push(None),
            }
        }
        Ok(Some(KvCache { layers, len: 0, block_size, keys: be.zeros(&[1])? }))
    }

    /// Runs `token` at the next position of `cache` and returns that position's outputs (the
    /// logits over the vocabulary).
    pub fn decode_step(&mut self, be: &B, cache: &mut KvCache<B>, token: u32) -> Result<Tensor> {
        if cache.is_full() {
            return Err(Error::InvalidArgument {
                what: "decode".into(),
                detail: format!("the cache holds block_size = {} positions already", cache.block_size),
            });
        }
        let x = be.upload(&Tensor::from_vec(&[1, 1], vec![token as f32])?)?;
        let nodes = self.spec().nodes.clone();
        let mut leaf = 0;
        let y = self.decode_nodes(be, &nodes, &x, &mut leaf, cache)?;
        cache.len += 1;
        let out = be.read(&y)?;
        let v = out.shape().last().copied().unwrap_or(0);
        Tensor::from_vec(&[v], out.data().to_vec())
    }

    fn decode_nodes(
        &mut self,
        be: &B,
        nodes: &[Node],
        x: &B::Tensor,
        leaf: &mut usize,
        cache: &mut KvCache<B>,
    ) -> Result<B::Tensor> {
        let mut h: Option<B::Tensor> = None;
        for node in nodes {
            let input = h.as_ref().unwrap_or(x);
            let out = match node {
                Node::Layer(layer) => {
                    let y = self.decode_leaf(be, &**layer, *leaf, input, cache)?;
                    *leaf += 1;
                    y
                }
                Node::Sequential(children) => self.decode_nodes(be, children, input, leaf, cache)?,
                Node::Residual(children) => {
                    let mut y = self.decode_nodes(be, children, input, leaf, cache)?;
                    elementwise::axpy(be, &mut y, 1.0, input)?;
                    y
                }
            };
            h = Some(out);
        }
        h.ok_or_else(|| Error::InvalidArgument { what: "decode".into(), detail: "an empty container".into() })
    }

    fn decode_leaf(
        &mut self,
        be: &B,
        layer: &(dyn super::layer::Layer + 'static),
        li: usize,
        x: &B::Tensor,
        cache: &mut KvCache<B>,
    ) -> Result<B::Tensor> {
        let t = cache.len;
        let shape = be.shape(x).to_vec();
        match layer.decoding() {
            Decoding::Unsupported => Err(Error::InvalidArgument {
                what: "decode".into(),
                detail: format!("{} cannot decode one position at a time", layer.spec()),
            }),
            Decoding::PositionWise => {
                let mut y = be.zeros(&layer.output_shape(&shape)?)?;
                let mut scratch: Vec<B::Tensor> =
                    layer.scratch(&shape, true)?.iter().map(|s| be.zeros(s)).collect::<Result<_>>()?;
                let (params, buffers) = self.leaf_state(li);
                let io = Forward {
                    x,
                    y: &mut y,
                    params,
                    buffers,
                    scratch: &mut scratch,
                    train: false,
                    keys: &cache.keys,
                    slot: 0,
                    then: None,
                    padding: None,
                };
                B::pick(layer).run_forward(be, io)?;
                Ok(y)
            }
            Decoding::Position { dim } => {
                let (params, _) = self.leaf_state(li);
                let mut row = be.zeros(&[dim])?;
                elementwise::copy_range(be, &mut row, 0, &params[0], t * dim, dim)?;
                let mut y = be.zeros(&shape)?;
                elementwise::copy(be, &mut y, x)?;
                let mut flat = be.view(&y, 0, &[1, dim])?;
                elementwise::bias_add(be, &mut flat, &row)?;
                Ok(y)
            }
            Decoding::Attention(a) => {
                let (params, _) = self.leaf_state(li);
                let kv = cache.layers[li].as_mut().expect("an attention layer has a cache");
                attend(be, &a, params, x, kv, t, &cache.keys)
            }
        }
    }
}

/// `causal_self_attention` at position `t`: the new q, k, v from `c_attn`; k and v appended as
/// row t of the cache; the fused attention of the new query over rows 0..=t (q read from
/// `c_attn`'s output, k and v from the cache rows, the heads written merged); `c_proj`.
fn attend<B: Backend>(
    be: &B,
    a: &CausalSelfAttention,
    params: &[B::Tensor],
    x: &B::Tensor,
    kv: &mut B::Tensor,
    t: usize,
    keys: &B::Tensor,
) -> Result<B::Tensor> {
    let c = a.dim;
    let (attn_params, proj_params) = params.split_at(a.per_linear());
    let mut qkv = be.zeros(&[1, 1, 3 * c])?;
    linear_forward(be, &a.c_attn(), &mut qkv, x, attn_params, keys)?;
    elementwise::copy_range(be, kv, t * 2 * c, &qkv, c, 2 * c)?;
    let rows = be.view(kv, 0, &[1, t + 1, 2 * c])?;
    let layout = FlashLayout { heads: a.heads, q_off: 0, k_off: 0, v_off: c, causal: false };
    let (mut att, mut stats) = (be.zeros(&[1, 1, c])?, be.zeros(&stats_shape(1, a.heads, 1))?);
    flash_forward(be, &mut att, &mut stats, &qkv, &rows, &layout, FlashOptions::default())?;
    let mut y = be.zeros(&[1, 1, c])?;
    linear_forward(be, &a.c_proj(), &mut y, &att, proj_params, keys)?;
    Ok(y)
}
