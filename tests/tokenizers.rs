//! Tokenizers through Hugging Face's `tokenizers` crate: the all-MiniLM-L6-v2 WordPiece
//! tokenizer against the ids `transformers` gives (fixture section `tokenizer`), and GPT-2's
//! byte-level BPE built from its vocabulary files against `tiktoken-rs`' r50k encoder.

mod common;

use common::oracle::load;
use downhill::hf::tokenizer::PadTo;
use downhill::hf::TextTokenizer;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every edge case's ids and tokens, exactly: truncation at the fixture's max_length, the
/// file's own padding (to a fixed length), `[CLS] … [SEP]`.
#[test]
fn wordpiece_ids_equal_the_fixture() {
    let oracle = load("transformer.json");
    let section = &oracle["tokenizer"];
    let tok = TextTokenizer::from_file(&fixtures().join("oracle/minilm-tokenizer.json")).unwrap();
    let max_len = section["max_length"].as_u64().unwrap() as usize;
    for case in section["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = case["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let enc = tok.encode(&[text], max_len, PadTo::Length(want.len())).unwrap();
        let got: Vec<u32> = enc.ids.data().iter().map(|&x| x as u32).collect();
        assert_eq!(got, want, "{text:?}");
        let real = enc.lengths[0];
        let tokens: Vec<&str> = case["tokens"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(tokens[real..].iter().all(|t| *t == "[PAD]"), "{text:?}: {real} real tokens");
        for (i, t) in tokens[..real].iter().enumerate() {
            assert_eq!(tok.inner().id_to_token(got[i]).as_deref(), Some(*t), "{text:?} token {i}");
        }
        assert_eq!(enc.mask.data().iter().filter(|&&m| m == 1.0).count(), real);
    }
}

/// A batch pads to its longest text, masks the padding and counts the texts it cut.
#[test]
fn batches_pad_to_the_longest_and_count_truncation() {
    let tok = TextTokenizer::from_file(&fixtures().join("oracle/minilm-tokenizer.json")).unwrap();
    let texts = ["a b c d e f g h", "short", "one two"];
    let enc = tok.encode(&texts, 6, PadTo::Longest).unwrap();
    assert_eq!(enc.ids.shape(), [3, 6]);
    assert_eq!(enc.lengths, [6, 3, 4]);
    assert_eq!(enc.truncated, 1);
    assert_eq!(&enc.mask.data()[6..12], &[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
}

/// GPT-2's BPE from encoder.json + vocab.bpe: "Hello world" is [15496, 995], and texts with
/// spaces, punctuation, digits, accents, emoji and `<|endoftext|>` get r50k's ids; saved as a
/// tokenizer.json and read back, the same ids.
#[test]
fn gpt2_bpe_matches_tiktoken_r50k() {
    let dir = fixtures().join("gpt2-bpe");
    let tok = TextTokenizer::from_bpe_files(&dir.join("encoder.json"), &dir.join("vocab.bpe")).unwrap();
    assert_eq!(tok.encode_plain("Hello world", false).unwrap(), [15496, 995]);
    let r50k = tiktoken_rs::r50k_base().unwrap();
    let texts = [
        "Hello world",
        "  leading spaces and trailing  ",
        "The year 2026: 3.14159 apples, ½ price!",
        "Naïve café — résumé",
        "emoji 😀 and symbols ™ © ∑ ∞\nnew line\ttab",
        "don't won't it's I'm we've",
        "First doc.<|endoftext|>Second doc.",
        "supercalifragilisticexpialidocious",
    ];
    let saved = std::env::temp_dir().join(format!("downhill-gpt2-tokenizer-{}.json", std::process::id()));
    tok.save(&saved).unwrap();
    let reread = TextTokenizer::from_file(&saved).unwrap();
    std::fs::remove_file(&saved).unwrap();
    for text in texts {
        let want: Vec<u32> = r50k.encode_with_special_tokens(text);
        assert_eq!(tok.encode_plain(text, false).unwrap(), want, "{text:?}");
        assert_eq!(reread.encode_plain(text, false).unwrap(), want, "{text:?} (saved tokenizer.json)");
        assert_eq!(tok.decode(&want).unwrap(), text.replace("<|endoftext|>", ""), "{text:?} decoded");
    }
}

/// A tokenizer.json that does not parse is named.
#[test]
fn a_broken_tokenizer_json_is_named() {
    let path = std::env::temp_dir().join(format!("downhill-broken-tokenizer-{}.json", std::process::id()));
    std::fs::write(&path, "{\"version\": \"1.0\", \"model\": 7").unwrap();
    let err = TextTokenizer::from_file(&path).err().unwrap().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(err.contains("tokenizer.json") || err.contains("downhill-broken-tokenizer"), "{err}");
    assert!(err.contains("cannot read") || err.contains("not a tokenizer"), "{err}");
}
