//! Hugging Face `tokenizer.json` (WordPiece, BPE; the `tokenizers` crate behind
//! `TextTokenizer`): loading, then encoding with truncation and padding, and decoding.
#![no_main]
#[path = "common.rs"]
mod common;
use downhill::hf::tokenizer::PadTo;
use downhill::hf::TextTokenizer;
use libfuzzer_sys::fuzz_target;

/// libfuzzer-sys's panic hook aborts on every panic, caught or not. `TextTokenizer::from_file`
/// catches the panics of the tokenizers crate (it panics on some malformed files) and returns
/// an error, so those are not findings: this hook stays quiet for them and aborts, as before,
/// for any other panic.
fn let_the_tokenizers_crate_panic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_tokenizers = info.location().is_some_and(|l| l.file().contains("/tokenizers-"));
            if !in_tokenizers {
                fuzzer_hook(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    let_the_tokenizers_crate_panic();
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
