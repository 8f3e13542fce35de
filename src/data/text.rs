//! Text for language models: a vocabulary (the sorted set of a corpus's characters, as nanoGPT's
//! `shakespeare_char/prepare.py`, or the 256 byte values), encoding and decoding. A corpus is
//! streamed into a token file by `data::token_file`, which also splits it and draws windows.

use crate::error::{Error, Result};

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

    /// True for a vocabulary without tokens (never built from a text).
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
}
