//! Hugging Face `tokenizer.json` (WordPiece, BPE; the `tokenizers` crate behind
//! `TextTokenizer`): loading, then encoding with truncation and padding, and decoding.
#![no_main]
#[path = "common.rs"]
mod common;
use downhill::hf::tokenizer::PadTo;
use downhill::hf::TextTokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("tokenizer.json", data);
    let Ok(tok) = TextTokenizer::from_file(&path) else { return };
    let _ = tok.vocab_size();
    if let Ok(enc) = tok.encode(&["Hello, world!", "ünïcödé and a longer second text"], 12, PadTo::Longest) {
        let _ = enc;
    }
    if let Ok(ids) = tok.encode_plain("the quick brown fox", true) {
        let _ = tok.decode(&ids);
    }
});
