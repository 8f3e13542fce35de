//! A corpus encoded once into a token file on disk, so a text larger than memory trains at
//! constant RSS: the text is streamed twice (once to find its vocabulary and count its tokens,
//! once to encode them), never held whole, and each window of a batch is one positioned read
//! of the file. (A memory map was tried first: every page a random window touches stays in the
//! process's RSS, which grew by the file's size over a run; positioned reads leave the pages in
//! the page cache, outside it.) Tokens are little-endian u16 when the vocabulary has at most
//! 65,536 entries (every character vocabulary seen in practice, and bytes), else u32.

use super::text::Vocabulary;
use crate::error::{file_error, Error, Result};
use crate::rng::Rng;
use std::collections::BTreeSet;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

/// Where the text comes from: a file, or bytes in memory (the built-in corpus).
#[derive(Clone, Copy, Debug)]
pub enum TextSource<'a> {
    /// A file, read in chunks.
    File(&'a Path),
    /// Bytes already in memory, with the name errors give them.
    Bytes(&'a [u8], &'a str),
}

impl TextSource<'_> {
    /// What errors call the text.
    pub fn name(&self) -> String {
        match self {
            TextSource::File(p) => p.display().to_string(),
            TextSource::Bytes(_, name) => name.to_string(),
        }
    }

    fn error(&self, detail: impl Into<String>) -> Error {
        file_error(Path::new(&self.name()), detail)
    }

    fn reader(&self) -> Result<Box<dyn Read + '_>> {
        match self {
            TextSource::File(p) => {
                let f = std::fs::File::open(p).map_err(|e| file_error(p, format!("cannot read: {e}")))?;
                Ok(Box::new(f))
            }
            TextSource::Bytes(b, _) => Ok(Box::new(*b)),
        }
    }

    /// Calls `f` with the text in order, in valid UTF-8 pieces (`bytes`: raw chunks). Bytes
    /// that are not UTF-8 stop it with an error naming their offset.
    fn stream(&self, bytes: bool, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<u64> {
        const CHUNK: usize = 1 << 20;
        let mut reader = self.reader()?;
        let (mut buf, mut carry, mut offset) = (vec![0u8; CHUNK], Vec::new(), 0u64);
        loop {
            let n = reader.read(&mut buf).map_err(|e| self.error(format!("cannot read: {e}")))?;
            if n == 0 {
                break;
            }
            if bytes {
                f(&buf[..n])?;
                offset += n as u64;
                continue;
            }
            carry.extend_from_slice(&buf[..n]);
            let valid = match std::str::from_utf8(&carry) {
                Ok(_) => carry.len(),
                Err(e) if e.error_len().is_some() => return Err(not_utf8(self, offset + e.valid_up_to() as u64)),
                Err(e) => e.valid_up_to(), // a character cut by the chunk's end: keep its start
            };
            f(&carry[..valid])?;
            offset += valid as u64;
            carry.drain(..valid);
        }
        if !carry.is_empty() {
            return Err(not_utf8(self, offset));
        }
        Ok(offset)
    }
}

fn not_utf8(src: &TextSource<'_>, offset: u64) -> Error {
    src.error(format!("is not UTF-8 text (byte offset {offset}); read it byte by byte with --tokenizer bytes"))
}

/// A text's vocabulary and token count, from one streaming pass (nothing written).
#[derive(Clone, Debug, PartialEq)]
pub struct Scan {
    /// The sorted set of the text's characters, or the 256 bytes.
    pub vocabulary: Vocabulary,
    /// Tokens the text encodes to.
    pub tokens: u64,
}

/// Reads `src` once: its vocabulary (nanoGPT's sorted character set, or bytes with `bytes`) and
/// its length in tokens. An empty text, or one that is not UTF-8 (naming the byte offset), is
/// an error.
pub fn scan(src: &TextSource<'_>, bytes: bool) -> Result<Scan> {
    let (mut ascii, mut other, mut chars) = ([false; 128], BTreeSet::new(), 0u64);
    let len = src.stream(bytes, |piece| {
        if !bytes {
            let text = std::str::from_utf8(piece).expect("stream passes whole characters");
            for c in text.chars() {
                chars += 1;
                match ascii.get_mut(c as usize) {
                    Some(seen) => *seen = true,
                    None => {
                        other.insert(c);
                    }
                }
            }
        }
        Ok(())
    })?;
    if len == 0 {
        return Err(src.error("the text is empty: a language model needs text to learn from"));
    }
    if bytes {
        return Ok(Scan { vocabulary: Vocabulary::Bytes, tokens: len });
    }
    let mut set: Vec<char> = (0..128u8).filter(|b| ascii[*b as usize]).map(char::from).collect();
    set.extend(other);
    Ok(Scan { vocabulary: Vocabulary::Chars(set), tokens: chars })
}

/// The train/validation boundary: the first `1 − validation` of `tokens` trains, the rest
/// validates (nanoGPT's 90 / 10); each part must hold a window of `block_size + 1` tokens.
pub fn split_point(tokens: u64, validation: f64, block_size: usize, source: &str) -> Result<u64> {
    let n = ((tokens as f64) * (1.0 - validation)) as u64;
    let n = n.min(tokens);
    for (what, part) in [("training", n), ("validation", tokens - n)] {
        if part < block_size as u64 + 1 {
            return Err(Error::InvalidArgument {
                what: "data".into(),
                detail: format!(
                    "{source}: the {what} part has {part} tokens, fewer than one window of block_size + 1 = {}; use \
                     more text or a smaller block_size",
                    block_size + 1
                ),
            });
        }
    }
    Ok(n)
}

/// Bytes per token of a vocabulary's token file.
fn width(vocabulary: &Vocabulary) -> usize {
    if vocabulary.len() <= 1 << 16 {
        2
    } else {
        4
    }
}

/// Encodes `src` with `vocabulary` (from [`scan`]) into the token file `path` (written under a
/// temporary name and renamed, so a failed run leaves no half-written file) and opens it.
pub fn write(src: &TextSource<'_>, vocabulary: &Vocabulary, path: &Path) -> Result<TokenFile> {
    let w = width(vocabulary);
    let tmp = path.with_extension("tmp");
    let result = (|| -> Result<()> {
        let file = std::fs::File::create(&tmp).map_err(|e| file_error(&tmp, format!("cannot create: {e}")))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let io = |e: std::io::Error| file_error(&tmp, format!("cannot write: {e}"));
        let mut put = |id: u32| -> Result<()> {
            let bytes = id.to_le_bytes();
            out.write_all(&bytes[..w]).map_err(io)
        };
        match vocabulary {
            Vocabulary::Bytes => {
                src.stream(true, |piece| piece.iter().try_for_each(|b| put(u32::from(*b))))?;
            }
            Vocabulary::Chars(chars) => {
                let mut ascii = [u32::MAX; 128];
                for (id, c) in chars.iter().enumerate() {
                    if let Some(slot) = ascii.get_mut(*c as usize) {
                        *slot = id as u32;
                    }
                }
                src.stream(false, |piece| {
                    for c in std::str::from_utf8(piece).expect("stream passes whole characters").chars() {
                        let id = match ascii.get(c as usize) {
                            Some(id) => *id,
                            None => chars.binary_search(&c).map(|k| k as u32).unwrap_or(u32::MAX),
                        };
                        if id == u32::MAX {
                            return Err(
                                src.error(format!("character {c:?} changed under the run: it was not in the text"))
                            );
                        }
                        put(id)?;
                    }
                    Ok(())
                })?;
            }
        }
        out.into_inner().map_err(|e| file_error(&tmp, format!("cannot write: {e}")))?.sync_all().map_err(io)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, format!("cannot write: {e}")))?;
    TokenFile::open(path, w)
}

/// A token file, open for positioned reads.
pub struct TokenFile {
    file: std::fs::File,
    path: std::path::PathBuf,
    width: usize,
    len: usize,
}

impl TokenFile {
    /// Opens `path`, a file of `width`-byte little-endian tokens.
    pub fn open(path: &Path, width: usize) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| file_error(path, format!("cannot read: {e}")))?;
        let bytes = file.metadata().map_err(|e| file_error(path, format!("cannot read: {e}")))?.len();
        if bytes % width as u64 != 0 {
            return Err(file_error(path, format!("is not a file of {width}-byte tokens")));
        }
        Ok(Self { file, path: path.to_path_buf(), width, len: (bytes / width as u64) as usize })
    }

    /// Every token.
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens { source: TokenBytes::File(self), start: 0, len: self.len, width: self.width }
    }
}

/// Where a run of tokens is read from.
#[derive(Clone, Copy)]
enum TokenBytes<'a> {
    File(&'a TokenFile),
    Memory(&'a [u8]),
}

/// A run of tokens in a token file (or in a little-endian buffer of them).
#[derive(Clone, Copy)]
pub struct Tokens<'a> {
    source: TokenBytes<'a>,
    /// The first token, in the source.
    start: usize,
    len: usize,
    width: usize,
}

impl<'a> Tokens<'a> {
    /// Tokens of `width` (2 or 4) little-endian bytes each, in memory.
    pub fn new(bytes: &'a [u8], width: usize) -> Self {
        Self { source: TokenBytes::Memory(bytes), start: 0, len: bytes.len() / width, width }
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tokens before `at` and from `at` on.
    pub fn split_at(&self, at: usize) -> (Tokens<'a>, Tokens<'a>) {
        let at = at.min(self.len);
        (Tokens { len: at, ..*self }, Tokens { start: self.start + at, len: self.len - at, ..*self })
    }

    /// Tokens `from..from + n` appended to `out`.
    fn read(&self, from: usize, n: usize, buf: &mut Vec<u8>, out: &mut Vec<u32>) -> Result<()> {
        let (at, bytes) = ((self.start + from) * self.width, n * self.width);
        buf.resize(bytes, 0);
        match self.source {
            TokenBytes::Memory(m) => buf.copy_from_slice(&m[at..at + bytes]),
            TokenBytes::File(f) => read_at(&f.file, buf, at as u64)
                .map_err(|e| file_error(&f.path, format!("cannot read tokens at byte {at}: {e}")))?,
        }
        out.extend(buf.chunks_exact(self.width).map(|b| match *b {
            [a, b] => u32::from(u16::from_le_bytes([a, b])),
            [a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
            _ => unreachable!("tokens are 2 or 4 bytes"),
        }));
        Ok(())
    }

    /// nanoGPT's `get_batch`: `batch` windows at offsets drawn uniformly from
    /// `0..len − block_size` by `rng`; returns the inputs (`[batch, block_size]` token ids as
    /// f32, what an embedding takes) and the targets (the same windows one token later). Each
    /// window is one positioned read of block_size + 1 tokens.
    pub fn get_batch(&self, rng: &mut Rng, batch: usize, block_size: usize) -> Result<(Vec<f32>, Vec<u32>)> {
        let mut b = Batch::default();
        self.get_batch_into(rng, batch, block_size, &mut b)?;
        Ok((b.x, b.y))
    }

    /// [`Tokens::get_batch`] into `batch`'s buffers, which keep their allocations from one
    /// draw to the next (a training step allocates nothing here).
    pub fn get_batch_into(&self, rng: &mut Rng, batch: usize, block_size: usize, out: &mut Batch) -> Result<()> {
        let span = (self.len - block_size) as u64;
        let Batch { x, y, bytes, window } = out;
        x.clear();
        y.clear();
        for _ in 0..batch {
            let o = (rng.next_u64() % span) as usize;
            window.clear();
            self.read(o, block_size + 1, bytes, window)?;
            x.extend(window[..block_size].iter().map(|&t| t as f32));
            y.extend_from_slice(&window[1..]);
        }
        Ok(())
    }
}

/// One batch of windows on the host: inputs, targets, and the read buffers behind them.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Inputs `[batch, block_size]`, token ids as f32.
    pub x: Vec<f32>,
    /// Targets, the inputs one token later.
    pub y: Vec<u32>,
    bytes: Vec<u8>,
    window: Vec<u32>,
}

/// Fills `buf` from byte `at` of `file` without moving a cursor (so reads need no lock).
#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

/// Fills `buf` from byte `at` of `file` (Windows: `seek_read` until full).
#[cfg(windows)]
fn read_at(file: &std::fs::File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(file, buf, at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("downhill-tokens-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_file_encodes_as_its_characters_and_reads_back() {
        let d = dir("roundtrip");
        // Multi-byte characters across the 1 MiB chunk boundary are kept whole.
        let mut text = "a".repeat((1 << 20) - 1);
        text.push_str("é→b\nzé");
        let src_path = d.join("text.txt");
        std::fs::write(&src_path, &text).unwrap();
        let src = TextSource::File(&src_path);
        let s = scan(&src, false).unwrap();
        assert_eq!(s.vocabulary, Vocabulary::Chars(vec!['\n', 'a', 'b', 'z', 'é', '→']));
        assert_eq!(s.tokens, text.chars().count() as u64);
        let file = write(&src, &s.vocabulary, &d.join("tokens.bin")).unwrap();
        let t = file.tokens();
        let (mut buf, mut ids) = (Vec::new(), Vec::new());
        t.read(0, t.len(), &mut buf, &mut ids).unwrap();
        let (train, val) = t.split_at(1000);
        assert_eq!((train.len(), val.len()), (1000, t.len() - 1000));
        let mut tail = Vec::new();
        val.read(0, val.len(), &mut buf, &mut tail).unwrap();
        assert_eq!(tail, ids[1000..], "a split reads from its own start");
        assert_eq!(ids, s.vocabulary.encode(&text, "text").unwrap());
        assert_eq!(std::fs::metadata(d.join("tokens.bin")).unwrap().len(), 2 * s.tokens, "u16 tokens");
        assert!(!d.join("tokens.tmp").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn bad_texts_are_named() {
        let e = scan(&TextSource::Bytes(b"", "empty.txt"), false).unwrap_err().to_string();
        assert!(e.contains("empty.txt") && e.contains("empty"), "{e}");
        let e = scan(&TextSource::Bytes(b"caf\xe9 au lait", "latin1.txt"), false).unwrap_err().to_string();
        assert!(e.contains("byte offset 3") && e.contains("--tokenizer bytes"), "{e}");
        // A character cut off by the end of the file.
        let e = scan(&TextSource::Bytes("ab\u{e9}".as_bytes().split_last().unwrap().1, "cut.txt"), false);
        assert!(e.unwrap_err().to_string().contains("byte offset 2"));
        let s = scan(&TextSource::Bytes(b"caf\xe9 au lait", "latin1.txt"), true).unwrap();
        assert_eq!(s, Scan { vocabulary: Vocabulary::Bytes, tokens: 12 });
        let e = split_point(10, 0.1, 8, "tiny").unwrap_err().to_string();
        assert!(e.contains("validation part has 1 tokens") && e.contains("block_size + 1 = 9"), "{e}");
        assert_eq!(split_point(1000, 0.1, 8, "tiny").unwrap(), 900);
    }

    #[test]
    fn windows_are_inputs_and_next_tokens() {
        let bytes: Vec<u8> = (0u16..100).flat_map(|t| t.to_le_bytes()).collect();
        let data = Tokens::new(&bytes, 2);
        let (x, y) = data.get_batch(&mut Rng::new(3), 4, 8).unwrap();
        assert_eq!((x.len(), y.len()), (32, 32));
        for row in 0..4 {
            let first = x[row * 8] as u32;
            assert!(first + 8 < 100);
            for k in 0..8 {
                assert_eq!(x[row * 8 + k] as u32, first + k as u32);
                assert_eq!(y[row * 8 + k], first + k as u32 + 1);
            }
        }
        assert_eq!(data.get_batch(&mut Rng::new(3), 4, 8).unwrap(), (x, y), "seeded");
    }
}
