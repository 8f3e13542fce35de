//! Tokenizers: Hugging Face's own `tokenizers` crate reading a folder's tokenizer.json
//! (WordPiece for BERT, byte-level BPE for GPT-2, whatever the file describes), batches of
//! texts to padded ids and attention masks, with truncation counted.

use crate::error::{file_error, Error, Result};
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// A tokenizer.json, loaded.
pub struct TextTokenizer {
    inner: Tokenizer,
    path: PathBuf,
}

/// How a batch is padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadTo {
    /// To its longest sequence.
    Longest,
    /// To this many positions.
    Length(usize),
    /// To its longest sequence rounded up to a multiple of this (fewer distinct batch shapes,
    /// so fewer step plans: `pad_to_multiple_of`).
    LongestMultipleOf(usize),
}

/// A batch of encoded texts.
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// Token ids `[n, T]` (as f32, the way models take ids).
    pub ids: Tensor,
    /// `[n, T]`: 1 for a token, 0 for padding.
    pub mask: Tensor,
    /// Each text's tokens (special tokens included), after truncation.
    pub lengths: Vec<usize>,
    /// How many texts were cut at the maximum length.
    pub truncated: usize,
}

impl TextTokenizer {
    /// Reads `path`; an unreadable or unparsable file is named.
    pub fn from_file(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(file_error(path, "missing: the model folder has no tokenizer.json"));
        }
        // The tokenizers crate panics on some malformed files (a decoder cut short: found by
        // fuzz/, tests/fuzz_regressions.rs) instead of returning its error: catch that too.
        let inner = match std::panic::catch_unwind(|| Tokenizer::from_file(path)) {
            Ok(result) => result
                .map_err(|e| file_error(path, format!("not a tokenizer.json the tokenizers crate can read: {e}")))?,
            Err(panic) => {
                let why = panic_text(panic);
                return Err(file_error(path, format!("not a tokenizer.json the tokenizers crate can read: {why}")));
            }
        };
        let tok = Self { inner, path: path.to_path_buf() };
        // Some broken files load and then panic on the first text (a post-processor template
        // naming a special token it does not define): probe one, so they are refused here.
        // Only a panic refuses the file; an ordinary error (no `[UNK]` for these letters)
        // belongs to the texts that meet it.
        let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tok.encode_plain_unguarded("a b", true)));
        if let Err(panic) = probe {
            let why = panic_text(panic);
            return Err(file_error(
                path,
                format!("the tokenizers crate failed on this tokenizer.json while encoding: {why}"),
            ));
        }
        Ok(tok)
    }

    /// Runs `f`, a call into the tokenizers crate, turning a panic of that crate (it panics on
    /// some malformed files instead of returning its error) into an error naming the file.
    fn guarded<T>(&self, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
            Err(file_error(
                &self.path,
                format!("the tokenizers crate failed on this tokenizer.json while {what}: {}", panic_text(panic)),
            ))
        })
    }

    /// GPT-2's byte-level BPE from its two vocabulary files (`vocab.json`/`encoder.json`
    /// and `merges.txt`/`vocab.bpe`, as the original `gpt2` folder and OpenAI ship them):
    /// byte-level pre-tokenizer (no prefix space) and decoder, `<|endoftext|>` special.
    pub fn from_bpe_files(vocab: &Path, merges: &Path) -> Result<Self> {
        use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
        use tokenizers::models::bpe::BPE;
        use tokenizers::pre_tokenizers::byte_level::ByteLevel;
        let name = |p: &Path| p.to_str().map(str::to_string).ok_or_else(|| file_error(p, "not a UTF-8 path"));
        let bpe = BPE::from_file(&name(vocab)?, &name(merges)?)
            .build()
            .map_err(|e| file_error(vocab, format!("with {}: not GPT-2 BPE files: {e}", merges.display())))?;
        let mut inner = Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        inner.add_special_tokens(&[tokenizers::AddedToken::from("<|endoftext|>", true)]);
        Ok(Self { inner, path: vocab.to_path_buf() })
    }

    /// Writes it as a tokenizer.json.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = self
            .inner
            .to_string(true)
            .map_err(|e| Error::InvalidArgument { what: "tokenizer".into(), detail: e.to_string() })?;
        crate::checkpoint::write_atomically(path, text.as_bytes())
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Ids it can produce (vocabulary plus added tokens): the model's embedding must have as
    /// many rows.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The underlying `tokenizers::Tokenizer`.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// The padding id: the file's, else `[PAD]`'s or `<pad>`'s, else 0 (masked out anyway).
    fn pad(&self) -> (u32, String) {
        if let Some(p) = self.inner.get_padding() {
            return (p.pad_id, p.pad_token.clone());
        }
        for token in ["[PAD]", "<pad>"] {
            if let Some(id) = self.inner.token_to_id(token) {
                return (id, token.to_string());
            }
        }
        (0, String::new())
    }

    /// Encodes `texts` (special tokens added as the file says), each cut at `max_len` tokens
    /// and padded as `pad` says.
    pub fn encode(&self, texts: &[&str], max_len: usize, pad: PadTo) -> Result<Encoded> {
        self.guarded("encoding", || self.encode_unguarded(texts, max_len, pad))
    }

    fn encode_unguarded(&self, texts: &[&str], max_len: usize, pad: PadTo) -> Result<Encoded> {
        let fail = |e: tokenizers::Error| Error::InvalidArgument { what: "tokenizer".into(), detail: e.to_string() };
        if max_len == 0 {
            return Err(Error::InvalidArgument { what: "max_length".into(), detail: "must be at least 1".into() });
        }
        let mut tok = self.inner.clone();
        tok.with_truncation(Some(TruncationParams { max_length: max_len, ..Default::default() })).map_err(fail)?;
        let (pad_id, pad_token) = self.pad();
        let (strategy, multiple) = match pad {
            PadTo::Longest => (PaddingStrategy::BatchLongest, None),
            PadTo::Length(n) => (PaddingStrategy::Fixed(n), None),
            PadTo::LongestMultipleOf(m) => (PaddingStrategy::BatchLongest, Some(m.max(1))),
        };
        let params = PaddingParams { strategy, pad_id, pad_token, pad_to_multiple_of: multiple, ..Default::default() };
        tok.with_padding(Some(params));
        let encodings = tok.encode_batch(texts.to_vec(), true).map_err(fail)?;
        let t = encodings.first().map_or(0, |e| e.get_ids().len());
        let n = encodings.len();
        let (mut ids, mut mask) = (Vec::with_capacity(n * t), Vec::with_capacity(n * t));
        let mut lengths = Vec::with_capacity(n);
        let mut truncated = 0;
        for e in &encodings {
            ids.extend(e.get_ids().iter().map(|&i| i as f32));
            mask.extend(e.get_attention_mask().iter().map(|&m| m as f32));
            lengths.push(e.get_attention_mask().iter().filter(|&&m| m == 1).count());
            truncated += usize::from(!e.get_overflowing().is_empty());
        }
        Ok(Encoded { ids: Tensor::from_vec(&[n, t], ids)?, mask: Tensor::from_vec(&[n, t], mask)?, lengths, truncated })
    }

    /// The ids of one text, untruncated and unpadded (a language model's corpus).
    pub fn encode_plain(&self, text: &str, special_tokens: bool) -> Result<Vec<u32>> {
        self.guarded("encoding", || self.encode_plain_unguarded(text, special_tokens))
    }

    fn encode_plain_unguarded(&self, text: &str, special_tokens: bool) -> Result<Vec<u32>> {
        let mut tok = self.inner.clone();
        tok.with_truncation(None)
            .map_err(|e| Error::InvalidArgument { what: "tokenizer".into(), detail: e.to_string() })?;
        tok.with_padding(None);
        let e = tok
            .encode(text, special_tokens)
            .map_err(|e| Error::InvalidArgument { what: "tokenizer".into(), detail: e.to_string() })?;
        Ok(e.get_ids().to_vec())
    }

    /// The text of `ids`.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.guarded("decoding", || {
            self.inner
                .decode(ids, true)
                .map_err(|e| Error::InvalidArgument { what: "tokenizer".into(), detail: e.to_string() })
        })
    }
}

/// The message of a caught panic.
fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
