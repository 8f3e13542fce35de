//! Sentence embeddings: texts through a BERT encoder, pooled over the attention mask and
//! L2-normalised, as sentence-transformers' `encode(..., normalize_embeddings=True)` does.

use super::folder::HfModel;
use super::task::{task_model, Task};
use super::tokenizer::{PadTo, TextTokenizer};
use crate::backend::Backend;
use crate::error::Result;
use crate::nn::layers::pool_tokens::Pooling;
use crate::tensor::Tensor;
use std::path::Path;

/// The embeddings of a list of texts.
pub struct Embeddings {
    /// `[n, C]`, each row of length 1.
    pub vectors: Tensor,
    /// Texts cut at the maximum length.
    pub truncated: usize,
}

/// sentence-transformers' `max_seq_length` from the folder's `sentence_bert_config.json`,
/// when it has one.
pub fn sentence_max_length(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("sentence_bert_config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("max_seq_length")?.as_u64().map(|n| n as usize)
}

/// Embeds `texts` in batches of `batch` (each padded to its longest text, cut at `max_len`
/// tokens), pooled by `pooling`, rows L2-normalised (norm clamped at 1e-12 as
/// `torch.nn.functional.normalize`).
pub fn embed_texts<B: Backend>(
    be: &B,
    hf: &HfModel,
    tok: &TextTokenizer,
    texts: &[&str],
    max_len: usize,
    batch: usize,
    pooling: Pooling,
) -> Result<Embeddings> {
    let mut model = task_model(be, hf, Task::Embed(pooling), max_len, false, 0)?;
    model.share_plan_memory();
    let c = hf.hidden();
    let mut out = Vec::with_capacity(texts.len() * c);
    let mut truncated = 0;
    for chunk in texts.chunks(batch.max(1)) {
        let enc = tok.encode(chunk, max_len, PadTo::Longest)?;
        truncated += enc.truncated;
        let ids = be.upload(&model.set_packed_batch(be, &enc.ids, &enc.mask, 8)?)?;
        let pooled = be.read(model.forward(be, &ids, false)?)?;
        for row in pooled.data().chunks(c) {
            let norm = row.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt().max(1e-12);
            out.extend(row.iter().map(|&x| (x as f64 / norm) as f32));
        }
    }
    Ok(Embeddings { vectors: Tensor::from_vec(&[texts.len(), c], out)?, truncated })
}
