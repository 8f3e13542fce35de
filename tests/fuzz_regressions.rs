//! Every input the fuzzers (`fuzz/`, `cargo fuzz`) found that broke a reader, minimised where
//! libFuzzer could, kept in `tests/fixtures/fuzz/`: each must now end in a clear error (or,
//! for the round-trip properties, hold).

use downhill::checkpoint::Checkpoint;
use downhill::data::idx::parse_idx;
use downhill::nn::{Init, ModelSpec};
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(name)).unwrap()
}

/// An IDX header whose dimensions multiply past usize (f32: 0x7e000000 × 0xfe290000 × 4 bytes)
/// panicked on the overflow (debug) or wrapped to a small size (release).
#[test]
fn idx_dimensions_whose_product_overflows_are_refused() {
    let bytes = fixture("idx-dims-overflow");
    let err = parse_idx(Path::new("x.idx"), &bytes).unwrap_err().to_string();
    assert!(err.contains("too large"), "{err}");
}

/// `gpt(…, n_embd=1151465054, …)`: the parameter count overflowed in the layout.
#[test]
fn a_spec_whose_parameter_count_overflows_is_refused() {
    // The target's first byte picks the input shape (3: [16]); the rest is the spec.
    let text = String::from_utf8(fixture("spec-gpt-huge-embd")[1..].to_vec()).unwrap();
    let err = ModelSpec::parse(&text, &[16], 10, Init::TorchDefault).unwrap_err().to_string();
    assert!(err.contains("too large"), "{err}");
}

/// A tokenizer.json cut inside its decoder: the tokenizers crate panicked while reading it.
#[test]
fn a_tokenizer_json_that_panics_the_tokenizers_crate_is_an_error() {
    let dir = std::env::temp_dir().join(format!("downhill-fuzzreg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, fixture("tokenizer-truncated-decoder.json")).unwrap();
    let err = downhill::hf::TextTokenizer::from_file(&path).err().expect("refused").to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
}

/// A checkpoint saves to bytes that load and save to the same bytes (the fuzz target's
/// property), starting from a format-2 file the CLI wrote.
#[test]
fn a_loaded_checkpoint_saves_the_same_bytes_twice() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format2-mlp.safetensors");
    let first = Checkpoint::from_bytes(&path, &std::fs::read(&path).unwrap()).unwrap().to_bytes().unwrap();
    let second = Checkpoint::from_bytes(&path, &first).unwrap().to_bytes().unwrap();
    if first != second {
        let text = |b: &[u8]| {
            String::from_utf8_lossy(&b[8..8 + u64::from_le_bytes(b[..8].try_into().unwrap()) as usize]).to_string()
        };
        let (a, b) = (text(&first), text(&second));
        let at = a.chars().zip(b.chars()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        let lo = at.saturating_sub(80);
        panic!("headers differ at {at}:\n{}\n{}", &a[lo..(at + 80).min(a.len())], &b[lo..(at + 80).min(b.len())]);
    }
}
