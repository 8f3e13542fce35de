//! Text generation from a language model (a model whose input is `[1, T]` token ids and whose
//! output is `[1, T, V]` logits): append one token at a time, chosen from the last position's
//! logits — the argmax (temperature 0: greedy) or a seeded sample of the softmax at a
//! temperature, optionally among the `top_k` largest — with the context cropped from the left
//! to `block_size`, as nanoGPT's `generate`. Models whose layers can (a GPT) decode with a KV
//! cache (`nn::decode`): each new token costs one position's forward and O(T) attention. Once
//! the context is full, cropping shifts every position, so each further token re-runs the
//! cropped context, as the uncached loop does throughout.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::nn::Model;
use crate::rng::Rng;
use crate::tensor::Tensor;

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// 0: the argmax; above 0: sample softmax(logits / temperature).
    pub temperature: f64,
    /// Sample among the k largest logits only (None: all).
    pub top_k: Option<usize>,
    /// Seed of the sampling.
    pub seed: u64,
}

impl Sampling {
    /// Greedy decoding.
    pub const GREEDY: Sampling = Sampling { temperature: 0.0, top_k: None, seed: 0 };

    /// Refuses a temperature below 0 or not finite, and `top_k` 0 or above the vocabulary.
    pub fn check(&self, vocab: usize) -> Result<()> {
        let bad = |what: &str, detail: String| Err(Error::InvalidArgument { what: what.into(), detail });
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return bad("temperature", format!("{} is not a number ≥ 0 (0: greedy)", self.temperature));
        }
        match self.top_k {
            Some(k) if k == 0 || k > vocab => bad("top_k", format!("{k} is outside 1..={vocab} (the vocabulary)")),
            _ => Ok(()),
        }
    }
}

/// The token after `logits` (one position's, V values) under `sampling`, drawing from `rng`.
pub fn next_token(logits: &[f32], sampling: &Sampling, rng: &mut Rng) -> u32 {
    let argmax = |v: &[f32]| v.iter().enumerate().fold(0, |best, (i, &x)| if x > v[best] { i } else { best });
    if sampling.temperature == 0.0 {
        return argmax(logits) as u32;
    }
    let mut scaled: Vec<f64> = logits.iter().map(|&z| z as f64 / sampling.temperature).collect();
    if let Some(k) = sampling.top_k {
        let mut sorted = scaled.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let kth = sorted[k.min(sorted.len()) - 1];
        scaled.iter_mut().filter(|z| **z < kth).for_each(|z| *z = f64::NEG_INFINITY);
    }
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = scaled.iter().map(|z| (z - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.next_f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i as u32;
        }
        u -= w;
    }
    argmax(logits) as u32
}

/// `prompt` followed by `new_tokens` generated tokens; `on_token` sees each new one as it is
/// made (to stream it). The model must take `[1, T]` token ids for every T up to `block_size`.
/// With `cached`, a model that can decode position by position does (the same tokens, faster).
#[allow(clippy::too_many_arguments, reason = "the model, the prompt, how many, how, and the stream")]
pub fn generate<B: Backend>(
    be: &B,
    model: &mut Model<B>,
    prompt: &[u32],
    new_tokens: usize,
    block_size: usize,
    sampling: &Sampling,
    cached: bool,
    on_token: &mut dyn FnMut(u32),
) -> Result<Vec<u32>> {
    if prompt.is_empty() {
        return Err(Error::InvalidArgument { what: "prompt".into(), detail: "needs at least one token".into() });
    }
    let mut rng = Rng::new(sampling.seed);
    let mut ids = prompt.to_vec();
    let mut made = 0;
    if let (true, Some(mut cache)) = (cached, model.kv_cache(be, block_size)?) {
        // The prompt's positions (its last block_size tokens) enter the cache one by one.
        let start = ids.len().saturating_sub(block_size);
        let mut logits = None;
        for &t in &ids[start..] {
            logits = Some(model.decode_step(be, &mut cache, t)?);
        }
        while made < new_tokens && !cache.is_full() {
            let l = logits.take().expect("a position was decoded");
            sampling.check(l.data().len())?;
            let next = next_token(l.data(), sampling, &mut rng);
            on_token(next);
            ids.push(next);
            made += 1;
            if made < new_tokens && !cache.is_full() {
                logits = Some(model.decode_step(be, &mut cache, next)?);
            }
        }
    }
    for _ in made..new_tokens {
        let context = &ids[ids.len().saturating_sub(block_size)..];
        let t = context.len();
        let x = be.upload(&Tensor::from_vec(&[1, t], context.iter().map(|&i| i as f32).collect())?)?;
        let logits = be.read(model.forward(be, &x, false)?)?;
        let v = logits.shape().last().copied().unwrap_or(0);
        sampling.check(v)?;
        let next = next_token(&logits.data()[(t - 1) * v..t * v], sampling, &mut rng);
        on_token(next);
        ids.push(next);
    }
    Ok(ids)
}
