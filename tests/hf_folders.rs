//! Hugging Face folders in and out: GPT-2 (`hf-tiny-gpt2/`, section `hf_gpt2`) gives
//! transformers' logits on both paths; a BERT folder survives a training step, an export and
//! a reload with the same tensors; GPT-2's Conv1D weights go out as they came in; broken
//! folders get errors that name what is wrong.

mod common;

use common::oracle::{host, load, tensor};
use common::{gpu, worst_relative};
use downhill::hf::task::{export, task_model, Task};
use downhill::hf::HfModel;
use downhill::nn::layers::pool_tokens::Pooling;
use downhill::{Backend, CpuBackend};
use std::path::{Path, PathBuf};

fn oracle_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle")
}

/// A fresh folder under the system's temp dir for `name`.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-hf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gpt2_logits<B: Backend>(be: &B) -> f64 {
    let oracle = load("transformer.json");
    let case = &oracle["hf_gpt2"];
    let hf = HfModel::open(&oracle_dir().join(case["dir"].as_str().unwrap())).unwrap();
    let ids = host(&case["input_ids"]);
    let t = ids.shape()[1];
    let mut model = task_model(be, &hf, Task::LanguageModel, t, false, 0).unwrap();
    let x = be.upload(&ids).unwrap();
    let logits = be.read(model.forward(be, &x, false).unwrap()).unwrap();
    let (shape, want) = tensor(&case["logits"]);
    assert_eq!(logits.shape(), &shape[..]);
    let largest = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    let (err, i) = worst_relative(logits.data(), &want, 0.1 * largest);
    assert!(err <= 1e-5, "logits[{i}]: got {} want {} ({err:e})", logits.data()[i], want[i]);
    err
}

#[test]
fn gpt2_folder_gives_transformers_logits_on_the_cpu_path() {
    eprintln!("cpu path: GPT-2 logits worst relative error {:.2e}", gpt2_logits(&CpuBackend::new()));
}

#[test]
fn gpt2_folder_gives_transformers_logits_on_the_gpu_path() {
    let Some(be) = gpu() else { return };
    eprintln!("gpu path: GPT-2 logits worst relative error {:.2e}", gpt2_logits(be));
}

/// Load hf-tiny-bert with a classification head, take one SGD step, export, open the export:
/// every tensor (encoder and head) is the trained one, bit for bit; config.json describes the
/// head. GPT-2's export writes the Conv1D weights back as `[in, out]`, equal to the input file.
#[test]
fn a_folder_survives_a_step_an_export_and_a_reload() {
    use downhill::loss::{LossKind, Target};
    use downhill::optim::{Optimizer, OptimizerConfig, SgdConfig};
    let be = CpuBackend::new();
    let hf = HfModel::open(&oracle_dir().join("hf-tiny-bert")).unwrap();
    let task = Task::Classify { classes: 3, pooling: Pooling::Mean };
    let mut model = task_model(&be, &hf, task, 8, false, 7).unwrap();
    let ids = be
        .upload(&downhill::Tensor::from_vec(&[2, 8], (0..16).map(|i| (i * 7 % 100) as f32).collect()).unwrap())
        .unwrap();
    let mask = downhill::Tensor::from_vec(&[2, 8], [[1.0; 8], [1., 1., 1., 1., 1., 0., 0., 0.]].concat()).unwrap();
    model.set_padding(&be, Some(&mask)).unwrap();
    model.forward(&be, &ids, true).unwrap();
    let labels = be.upload_labels(&[2, 0], 3).unwrap();
    model.loss(&be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
    model.backward(&be, &ids, false).unwrap();
    let layout = model.spec().layout().unwrap();
    let sgd = OptimizerConfig::Sgd(SgdConfig { lr: 0.5, ..SgdConfig::default() });
    let mut optimizer = Optimizer::new(&be, sgd, &layout, &[]).unwrap();
    optimizer.step(&be, model.params.flat_mut(), model.grads.flat()).unwrap();
    let (trained, head) = downhill::hf::task::named_params(&be, &hf, &model).unwrap();
    assert_ne!(trained[0].1.data(), hf.params[0].1.data(), "the step changed the word embeddings");

    let out = scratch("bert-export");
    export(&be, &hf, &model, task, &["a".into(), "b".into(), "c".into()], &out).unwrap();
    let again = HfModel::open(&out).unwrap();
    assert_eq!(again.params.len(), trained.len());
    for ((n, want), (m, got)) in trained.iter().zip(&again.params) {
        assert_eq!(n, m);
        assert_eq!(got.data(), want.data(), "{n}");
    }
    let extra: Vec<&str> = again.extra.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(extra, ["head.bias", "head.weight"]);
    for (n, t) in &head {
        assert_eq!(again.extra.iter().find(|(m, _)| m == n).unwrap().1.data(), t.data(), "{n}");
    }
    assert_eq!(again.config["downhill_head"]["classes"], 3);
    assert_eq!(again.config["hidden_size"], hf.config["hidden_size"]);
    std::fs::remove_dir_all(&out).unwrap();

    let gpt2 = HfModel::open(&oracle_dir().join("hf-tiny-gpt2")).unwrap();
    let lm = task_model(&be, &gpt2, Task::LanguageModel, 4, false, 0).unwrap();
    let out = scratch("gpt2-export");
    export(&be, &gpt2, &lm, Task::LanguageModel, &[], &out).unwrap();
    let read = |p: &Path| downhill::hf::safetensors_io::read_floats(p).unwrap();
    let (before, after) =
        (read(&oracle_dir().join("hf-tiny-gpt2/model.safetensors")), read(&out.join("model.safetensors")));
    assert_eq!(before.len(), after.len(), "the same tensors, no lm_head (tied)");
    for ((n, a), (m, b)) in before.iter().zip(&after) {
        assert_eq!((n, a.shape(), a.data()), (m, b.shape(), b.data()));
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// Copies `src`'s files into a new scratch folder `name`.
fn copy_folder(src: &Path, name: &str) -> PathBuf {
    let dir = scratch(name);
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    dir
}

fn open_err(dir: &Path) -> String {
    HfModel::open(dir).expect_err("the folder is refused").to_string()
}

#[test]
fn broken_folders_are_refused_with_the_reason() {
    let bert = oracle_dir().join("hf-tiny-bert");

    let dir = copy_folder(&bert, "other-arch");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    config["model_type"] = "t5".into();
    config["architectures"] = serde_json::json!(["T5ForConditionalGeneration"]);
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let err = open_err(&dir);
    assert!(err.contains("T5ForConditionalGeneration") && err.contains("not supported"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();

    let dir = copy_folder(&bert, "no-config");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    assert!(open_err(&dir).contains("config.json"));
    std::fs::remove_dir_all(&dir).unwrap();

    let dir = copy_folder(&bert, "pickle");
    std::fs::rename(dir.join("model.safetensors"), dir.join("pytorch_model.bin")).unwrap();
    let err = open_err(&dir);
    assert!(err.contains("pickle") && err.contains("never unpickles") && err.contains("safe_serialization"), "{err}");
    std::fs::remove_file(dir.join("pytorch_model.bin")).unwrap();
    assert!(open_err(&dir).contains("no model.safetensors"));
    std::fs::remove_dir_all(&dir).unwrap();

    // config.json says a wider intermediate layer than the tensors have: the first tensor that
    // disagrees is named, with both shapes.
    let dir = copy_folder(&bert, "shape");
    config = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    config["intermediate_size"] = 80.into();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let err = open_err(&dir);
    assert!(
        err.contains("encoder.layer.0.intermediate.dense.weight")
            && err.contains("[64, 32]")
            && err.contains("[80, 32]"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // A tokenizer with more ids than the embedding has rows.
    let dir = copy_folder(&bert, "vocab");
    std::fs::copy(oracle_dir().join("minilm-tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    let hf = HfModel::open(&dir).unwrap();
    let err = hf.load_tokenizer().err().unwrap().to_string();
    assert!(err.contains("vocab_size") && err.contains("120 rows"), "{err}");
    std::fs::write(dir.join("tokenizer.json"), "not json").unwrap();
    let err = HfModel::open(&dir).unwrap().load_tokenizer().err().unwrap().to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();

    // A max length past the position table.
    let hf = HfModel::open(&bert).unwrap();
    let err = task_model(&CpuBackend::new(), &hf, Task::Embed(Pooling::Mean), 25, false, 0).err().unwrap().to_string();
    assert!(err.contains("max_position_embeddings"), "{err}");
}
