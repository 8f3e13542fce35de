//! A tiny BERT folder for fast command tests: `hf-tiny-bert/` (vocabulary 120) with a
//! WordPiece tokenizer.json of its size, made from all-MiniLM-L6-v2's (same normaliser,
//! pre-tokeniser and `[CLS] … [SEP]` template) with a small vocabulary.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The small vocabulary: specials, single letters and digits, their `##` continuations,
/// punctuation and a few whole words; 82 ids.
pub fn vocabulary() -> Vec<String> {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map(String::from).to_vec();
    let letters: Vec<String> = ('a'..='z').map(String::from).collect();
    v.extend(letters.iter().cloned());
    v.extend(letters.iter().map(|l| format!("##{l}")));
    v.extend(('0'..='9').map(String::from));
    v.extend([".", ",", "!", "?", "'"].map(String::from));
    v.extend(["the", "cat", "dog", "sun", "rain", "snow", "wind", "bird", "fish", "cow"].map(String::from));
    v
}

/// Writes the folder at `dir`: hf-tiny-bert's config.json and model.safetensors, and the
/// small tokenizer.json.
pub fn write(dir: &Path) -> PathBuf {
    let oracle = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle");
    std::fs::create_dir_all(dir).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(oracle.join("hf-tiny-bert").join(f), dir.join(f)).unwrap();
    }
    let mut tok: Value =
        serde_json::from_str(&std::fs::read_to_string(oracle.join("minilm-tokenizer.json")).unwrap()).unwrap();
    let vocab = vocabulary();
    let id = |t: &str| vocab.iter().position(|v| v == t).unwrap() as u64;
    tok["model"]["vocab"] = Value::Object(vocab.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect());
    for added in tok["added_tokens"].as_array_mut().unwrap() {
        let content = added["content"].as_str().unwrap().to_string();
        added["id"] = json!(id(&content));
    }
    for special in ["[CLS]", "[SEP]"] {
        tok["post_processor"]["special_tokens"][special]["ids"] = json!([id(special)]);
    }
    tok["padding"] = Value::Null;
    tok["truncation"] = Value::Null;
    std::fs::write(dir.join("tokenizer.json"), tok.to_string()).unwrap();
    dir.to_path_buf()
}
