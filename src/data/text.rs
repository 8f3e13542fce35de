//! Text for language models: a vocabulary (the sorted set of a corpus's characters, as nanoGPT's
//! `shakespeare_char/prepare.py`, or the 256 byte values), encoding and decoding, the
//! train/validation split (the first 90 % and the rest) and nanoGPT's `get_batch`: random
//! windows of block_size + 1 tokens, the input and the same shifted by one as the target.

use crate::error::{file_error, Error, Result};
use crate::rng::Rng;
use std::path::Path;

/// How text becomes tokens.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Vocabulary {
    /// One token per character of this list (sorted, distinct).
    Chars(Vec<char>),
    /// One token per byte (256 tokens): any file, UTF-8 or not.
    Bytes,
}

/// The built-in text corpus (tiny-shakespeare), relative to the repository.
pub const BUILTIN_CORPUS: &str = "data/tinyshakespeare/input.txt";

impl Vocabulary {
    /// Tokens in the vocabulary.
    pub fn len(&self) -> usize {
        match self {
            Vocabulary::Chars(c) => c.len(),
            Vocabulary::Bytes => 256,
        }
    }

    /// True for a vocabulary without tokens (never built by [`read_corpus`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The token ids of `text`; a character outside the vocabulary is an error naming it and
    /// its position (`what` says whose text: "the prompt").
    pub fn encode(&self, text: &str, what: &str) -> Result<Vec<u32>> {
        match self {
            Vocabulary::Bytes => Ok(text.bytes().map(u32::from).collect()),
            Vocabulary::Chars(chars) => text
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    chars.binary_search(&c).map(|k| k as u32).map_err(|_| Error::InvalidArgument {
                        what: what.into(),
                        detail: format!(
                            "character {c:?} at position {i} is not in the model's vocabulary of {} characters",
                            chars.len()
                        ),
                    })
                })
                .collect(),
        }
    }

    /// The text of token ids (bytes that are not UTF-8 are shown as U+FFFD).
    pub fn decode(&self, ids: &[u32]) -> String {
        match self {
            Vocabulary::Bytes => String::from_utf8_lossy(&ids.iter().map(|&i| i as u8).collect::<Vec<_>>()).into(),
            Vocabulary::Chars(chars) => {
                ids.iter().map(|&i| chars.get(i as usize).copied().unwrap_or('\u{FFFD}')).collect()
            }
        }
    }
}

/// A corpus read and encoded: its vocabulary and its tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct Corpus {
    /// The vocabulary.
    pub vocabulary: Vocabulary,
    /// Every token of the text, in order.
    pub tokens: Vec<u32>,
}

/// Reads `path` as a corpus: with `bytes`, one token per byte; otherwise UTF-8 text, one token
/// per distinct character (sorted). An empty file, or one that is not UTF-8 (the byte offset is
/// named), is an error.
pub fn read_corpus(path: &Path, bytes: bool) -> Result<Corpus> {
    let raw = std::fs::read(path).map_err(|e| file_error(path, format!("cannot read: {e}")))?;
    corpus_from_bytes(path, raw, bytes)
}

/// [`read_corpus`] of bytes already read (`path` names them in errors).
pub fn corpus_from_bytes(path: &Path, raw: Vec<u8>, bytes: bool) -> Result<Corpus> {
    if raw.is_empty() {
        return Err(file_error(path, "the text is empty: a language model needs text to learn from"));
    }
    if bytes {
        return Ok(Corpus { vocabulary: Vocabulary::Bytes, tokens: raw.into_iter().map(u32::from).collect() });
    }
    let text = String::from_utf8(raw).map_err(|e| {
        file_error(
            path,
            format!(
                "is not UTF-8 text (byte offset {}); read it byte by byte with --tokenizer bytes",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let mut chars: Vec<char> = text.chars().collect();
    chars.sort_unstable();
    chars.dedup();
    let vocabulary = Vocabulary::Chars(chars);
    let tokens = vocabulary.encode(&text, &path.display().to_string())?;
    Ok(Corpus { vocabulary, tokens })
}

/// Splits tokens into the first `1 − validation` for training and the rest for validation,
/// as nanoGPT's `prepare.py` (90 / 10); each must hold a window of `block_size + 1` tokens.
pub fn split(tokens: &[u32], validation: f64, block_size: usize, source: &str) -> Result<(Vec<u32>, Vec<u32>)> {
    let n = ((tokens.len() as f64) * (1.0 - validation)) as usize;
    let (train, val) = tokens.split_at(n.min(tokens.len()));
    for (what, part) in [("training", train), ("validation", val)] {
        if part.len() < block_size + 1 {
            return Err(Error::InvalidArgument {
                what: "data".into(),
                detail: format!(
                    "{source}: the {what} part has {} tokens, fewer than one window of block_size + 1 = {}; use more \
                     text or a smaller block_size",
                    part.len(),
                    block_size + 1
                ),
            });
        }
    }
    Ok((train.to_vec(), val.to_vec()))
}

/// nanoGPT's `get_batch`: `batch` windows at offsets drawn uniformly from
/// `0..len − block_size` by `rng`; returns the inputs (`[batch, block_size]` token ids as f32,
/// what an embedding takes) and the targets (the same windows one token later).
pub fn get_batch(rng: &mut Rng, data: &[u32], batch: usize, block_size: usize) -> (Vec<f32>, Vec<u32>) {
    let span = (data.len() - block_size) as u64;
    let (mut x, mut y) = (Vec::with_capacity(batch * block_size), Vec::with_capacity(batch * block_size));
    for _ in 0..batch {
        let o = (rng.next_u64() % span) as usize;
        x.extend(data[o..o + block_size].iter().map(|&t| t as f32));
        y.extend_from_slice(&data[o + 1..o + 1 + block_size]);
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_are_sorted_and_round_trip() {
        let v = Vocabulary::Chars(vec!['\n', ' ', 'a', 'b']);
        let ids = v.encode("ab a\n", "text").unwrap();
        assert_eq!(ids, [2, 3, 1, 2, 0]);
        assert_eq!(v.decode(&ids), "ab a\n");
        let e = v.encode("abz", "the prompt").unwrap_err().to_string();
        assert!(e.contains("the prompt") && e.contains("'z' at position 2"), "{e}");
    }

    #[test]
    fn bad_corpora_are_named() {
        let dir = std::env::temp_dir().join(format!("downhill-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.txt");
        std::fs::write(&empty, "").unwrap();
        assert!(read_corpus(&empty, false).unwrap_err().to_string().contains("empty"));
        let latin1 = dir.join("latin1.txt");
        std::fs::write(&latin1, b"caf\xe9 au lait").unwrap();
        let e = read_corpus(&latin1, false).unwrap_err().to_string();
        assert!(e.contains("byte offset 3") && e.contains("--tokenizer bytes"), "{e}");
        let c = read_corpus(&latin1, true).unwrap();
        assert_eq!((c.vocabulary.len(), c.tokens[3]), (256, 0xe9));
        let e = split(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.1, 8, "tiny").unwrap_err().to_string();
        assert!(e.contains("validation part has 1 tokens") && e.contains("block_size + 1 = 9"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn windows_are_inputs_and_next_tokens() {
        let data: Vec<u32> = (0..100).collect();
        let (x, y) = get_batch(&mut Rng::new(3), &data, 4, 8);
        assert_eq!((x.len(), y.len()), (32, 32));
        for row in 0..4 {
            let first = x[row * 8] as u32;
            assert!(first + 8 < 100);
            for k in 0..8 {
                assert_eq!(x[row * 8 + k] as u32, first + k as u32);
                assert_eq!(y[row * 8 + k], first + k as u32 + 1);
            }
        }
        assert_eq!(get_batch(&mut Rng::new(3), &data, 4, 8), (x, y), "seeded");
    }
}
