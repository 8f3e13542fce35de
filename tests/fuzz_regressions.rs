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

/// The error of loading fixture `name` as a model folder's tokenizer.json (it must be refused).
fn load_tokenizer(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("downhill-fuzzreg-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, fixture(name)).unwrap();
    downhill::hf::TextTokenizer::from_file(&path).err().expect("refused").to_string()
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
    let err = load_tokenizer("tokenizer-truncated-decoder.json");
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

/// An IDX file of zero images of 2⁴⁰-pixel planes: the file's size bounds nothing, and the
/// image view's pixel count overflowed.
#[test]
fn idx_images_whose_plane_size_overflows_are_refused() {
    let path = Path::new("x.idx");
    let idx = parse_idx(path, &fixture("idx-no-images-huge-planes")).unwrap();
    let err = downhill::data::idx::images(path, idx).unwrap_err().to_string();
    assert!(err.contains("too large"), "{err}");
}

/// `gpt(…, n_embd=1865828341830560426, …)`: the embedding's output [N, 28, n_embd] overflowed
/// when the next layer multiplied it out.
#[test]
fn a_spec_whose_activations_overflow_is_refused() {
    // gpt(…) now caps n_embd before any layer is built; the output-size check still guards
    // every other spec, as a bare linear layer shows.
    let text = String::from_utf8(fixture("spec-gpt-huge-activation")[1..].to_vec()).unwrap();
    let err = ModelSpec::parse(&text, &[16], 10, Init::TorchDefault).unwrap_err().to_string();
    assert!(err.contains("is more than 2147483648"), "{err}");
    let err = ModelSpec::parse("linear(9223372036854775807)", &[16], 10, Init::TorchDefault).unwrap_err().to_string();
    assert!(err.contains("too large"), "{err}");
}

/// A checkpoint whose metadata maps two model parameters to one file tensor (`3.weight`):
/// it loaded, and saving it again panicked inside the safetensors crate.
#[test]
fn a_checkpoint_naming_a_tensor_twice_is_refused() {
    let path = Path::new("dup.safetensors");
    let err = Checkpoint::from_bytes(path, &fixture("checkpoint-duplicate-name.safetensors")).unwrap_err().to_string();
    assert!(err.contains("names a parameter twice"), "{err}");
}

/// A tokenizer.json whose post-processor template names a special token it does not define:
/// it loaded, then the tokenizers crate panicked on the first text. Now refused at load.
#[test]
fn a_tokenizer_json_that_panics_on_its_first_text_is_refused_at_load() {
    let err = load_tokenizer("tokenizer-panics-in-encode.json");
    assert!(err.contains("tokenizer.json") && err.contains("tokenizers crate failed"), "{err}");
}

/// `gpt(n_layer=333333333, block_size=28)`: expanding it ran past the fuzzer's 1 s limit.
#[test]
fn a_gpt_of_too_many_blocks_is_refused_at_once() {
    let text = String::from_utf8(fixture("spec-gpt-333333333-layers")[1..].to_vec()).unwrap();
    let clock = std::time::Instant::now();
    let err = ModelSpec::parse(&text, &[16], 10, Init::TorchDefault).unwrap_err().to_string();
    assert!(err.contains("n_layer 333333333 is more than 1024"), "{err} after {:?}", clock.elapsed());
}

/// `gpt(n_layer=953)` (within the cap): building it twice took over the fuzzer's 1 s, because
/// the parameter layout checked each of its 11,400 names against every earlier one. Now a
/// set does; the spec builds, lays out one view per parameter and prints as itself.
#[test]
fn a_gpt_of_953_blocks_builds_and_round_trips() {
    let text = String::from_utf8(fixture("spec-gpt-953-layers")[1..].to_vec()).unwrap();
    assert_eq!(text, "gpt(n_layer=953)");
    let spec = ModelSpec::parse(&text, &[16], 10, Init::TorchDefault).unwrap();
    let layout = spec.layout().unwrap();
    assert_eq!(layout.views().len() + layout.aliases().len(), spec.param_shapes().len());
    assert!(layout.views().len() > 953 * 12, "{} views", layout.views().len());
    assert_eq!(ModelSpec::parse(&spec.text(), &[16], 10, Init::TorchDefault).unwrap(), spec);
}

/// A GPT-2 config.json with `"n_embd": 13886589259623781715`: `4 · n_embd` overflowed.
#[test]
fn a_config_json_with_an_absurd_size_is_refused() {
    let config: serde_json::Value = serde_json::from_slice(&fixture("hf-config-huge-n-embd.json")).unwrap();
    let err = downhill::hf::gpt2::Gpt2Config::from_json(&config).unwrap_err().to_string();
    assert!(err.contains("n_embd") && err.contains("from 1 to 2147483648"), "{err}");
}

/// `gpt(…, n_embd=8349017521695402666, …)`: the MLP's `4 · n_embd` overflowed.
#[test]
fn a_gpt_wider_than_the_cap_is_refused() {
    let text = String::from_utf8(fixture("spec-gpt-huge-embd-4x")[1..].to_vec()).unwrap();
    let err = ModelSpec::parse(&text, &[16], 10, Init::TorchDefault).unwrap_err().to_string();
    assert!(err.contains("is more than 2147483648"), "{err}");
}

/// A GPT-2 config.json of 5,621 layers: turning it into a spec took over a second.
#[test]
fn a_config_json_with_too_many_layers_is_refused() {
    let config: serde_json::Value = serde_json::from_slice(&fixture("hf-config-5621-layers.json")).unwrap();
    let err = downhill::hf::gpt2::Gpt2Config::from_json(&config).unwrap_err().to_string();
    assert!(err.contains("n_layer") && err.contains("at most 1024"), "{err}");
}
