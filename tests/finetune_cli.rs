//! `downhill finetune` and `downhill embed` on a tiny BERT folder (hf-tiny-bert with a small
//! WordPiece tokenizer): a two-topic CSV is learnt, the fine-tuned folder is written and
//! loads, and bad input (missing columns, an empty text, labels that are not dense, a label
//! the training set lacks, a tokenizer with more ids than the model) is refused with the
//! reason.

mod common;
#[path = "common/tiny_bert.rs"]
mod tiny_bert;

use common::tmp_dir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn downhill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_downhill")).env("DOWNHILL_DEVICE", "cpu").args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `rows` texts of two topics (animals 0, weather 1), drawn from `seed`, as `text,label` CSV.
fn topics_csv(path: &Path, rows: usize, seed: u64) {
    let animals = ["cat", "dog", "bird", "fish", "cow"];
    let weather = ["sun", "rain", "snow", "wind"];
    let mut rng = common::Rng::new(seed);
    let mut csv = String::from("text,label\n");
    for i in 0..rows {
        let words: &[&str] = if i % 2 == 0 { &animals } else { &weather };
        let n = 3 + rng.below(4) as usize;
        let text: Vec<&str> = (0..n).map(|_| words[rng.below(words.len() as u32) as usize]).collect();
        csv += &format!("the {},{}\n", text.join(" "), i % 2);
    }
    std::fs::write(path, csv).unwrap();
}

fn folder(dir: &Path) -> PathBuf {
    tiny_bert::write(&dir.join("tiny-bert"))
}

#[test]
fn finetune_learns_two_topics_and_writes_a_folder_that_loads() {
    let dir = tmp_dir("finetune-topics");
    let model = folder(&dir);
    let (train, test, out, json) = (dir.join("train.csv"), dir.join("test.csv"), dir.join("out"), dir.join("run.json"));
    topics_csv(&train, 64, 1);
    topics_csv(&test, 32, 2);
    let o = downhill(&[
        "finetune",
        "--from",
        model.to_str().unwrap(),
        "--data",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--epochs",
        "6",
        "--lr",
        "2e-3",
        "--batch-size",
        "8",
        "--max-length",
        "12",
        "--out",
        out.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let epochs = run["summary"]["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 6);
    let last = epochs.last().unwrap();
    assert!(last["test_accuracy"].as_f64().unwrap() >= 0.95, "{}", stderr(&o));
    assert!(last["train_loss"].as_f64().unwrap() < epochs[0]["train_loss"].as_f64().unwrap());
    assert_eq!(run["classes"], serde_json::json!(["0", "1"]));

    // The written folder opens, holds the head, and embeds like the model it came from.
    let hf = downhill::hf::HfModel::open(&out).unwrap();
    assert_eq!(hf.config["downhill_head"]["classes"], 2);
    assert!(out.join("tokenizer.json").is_file());
    let texts = dir.join("texts.txt");
    std::fs::write(&texts, "the cat dog\nthe rain sun\n").unwrap();
    let o = downhill(&["embed", "--from", out.to_str().unwrap(), "--input", texts.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<Vec<f64>> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.len(), 32);
        let norm: f64 = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "L2-normalised: {norm}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn refused(args: &[&str], needles: &[&str]) {
    let o = downhill(args);
    assert!(!o.status.success(), "{args:?} should fail");
    let err = stderr(&o);
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_finetune_input_is_refused_with_the_reason() {
    let dir = tmp_dir("finetune-bad");
    let model = folder(&dir);
    let m = model.to_str().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let good = write("good.csv", "text,label\nthe cat,0\nthe sun,1\n");
    refused(
        &["finetune", "--from", m, "--data", &good, "--text-column", "body"],
        &["no column \"body\"", "--text-column", "[\"text\", \"label\"]"],
    );
    refused(
        &["finetune", "--from", m, "--data", &good, "--label-column", "topic"],
        &["no column \"topic\"", "--label-column"],
    );
    let empty = write("empty.csv", "text,label\nthe cat,0\n   ,1\n");
    refused(&["finetune", "--from", m, "--data", &empty], &["line 3", "empty"]);
    let sparse = write("sparse.csv", "text,label\nthe cat,0\nthe sun,2\n");
    refused(&["finetune", "--from", m, "--data", &sparse], &["not the dense ids 0..1", "1 is missing"]);
    let unseen = write("unseen.csv", "text,label\nthe cat,cats\nthe sun,weather\n");
    let other = write("other.csv", "text,label\nthe dog,dogs\n");
    refused(&["finetune", "--from", m, "--data", &unseen, "--test", &other], &["line 2", "\"dogs\"", "cats"]);
    refused(&["finetune", "--from", m, "--data", &good, "--max-length", "25"], &["max_position_embeddings"]);
    refused(&["finetune", "--from", m, "--data", &good, "--pooling", "max"], &["mean", "first"]);
    refused(&["finetune", "--from", m, "--data", &good, "--warmup", "1"], &["--warmup", "[0, 1)"]);
    refused(&["finetune", "--from", m, "--data", &good, "--lr", "0"], &["--lr", "positive"]);
    refused(&["finetune", "--from", m, "--data", &good, "--weight-decay", "-0.1"], &["--weight-decay", "≥ 0"]);
    refused(&["finetune", "--from", m, "--data", &good, "--clip", "-1"], &["--clip", "≥ 0"]);
    refused(&["finetune", "--from", m, "--data", &good, "--epochs", "0"], &["--epochs"]);
    refused(&["finetune", "--from", m, "--data", &good, "--text", &good], &["--text", "language-model settings"]);
    refused(&["finetune", "--from", m], &["--data", "classification"]);
    // all-MiniLM-L6-v2's tokenizer (30522 ids) on the 120-row model.
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle/minilm-tokenizer.json"),
        model.join("tokenizer.json"),
    )
    .unwrap();
    refused(&["finetune", "--from", m, "--data", &good], &["vocab_size", "120 rows"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Texts past the maximum length are cut and counted.
#[test]
fn truncated_texts_are_counted() {
    let dir = tmp_dir("finetune-trunc");
    let model = folder(&dir);
    let long = "the cat dog bird fish cow cat dog bird fish cow cat dog";
    let data = dir.join("data.csv");
    std::fs::write(&data, format!("text,label\n{long},0\nthe sun,1\n{long},0\nthe rain,1\n")).unwrap();
    let o = downhill(&[
        "finetune",
        "--from",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--epochs",
        "1",
        "--max-length",
        "8",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("note: 2 training and 0 test texts were longer than 8 tokens"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// LoRA trains the adapters and the head alone (and says how many parameters and how much
/// optimizer state), writes PEFT's adapter files; `--freeze` globs leave the head alone to
/// train; bad LoRA and freeze settings are refused.
#[test]
fn lora_and_freeze_train_only_what_they_say() {
    let dir = tmp_dir("finetune-lora");
    let model = folder(&dir);
    let m = model.to_str().unwrap();
    let train = dir.join("train.csv");
    topics_csv(&train, 32, 3);
    let t = train.to_str().unwrap();
    let adapter = dir.join("adapter");
    let o = downhill(&[
        "finetune",
        "--from",
        m,
        "--data",
        t,
        "--epochs",
        "1",
        "--max-length",
        "12",
        "--lora-r",
        "4",
        "--lora-alpha",
        "8",
        "--lora-targets",
        "query,value",
        "--adapter-out",
        adapter.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // 2 layers × 2 targets × (A 4×32 + B 32×4) + the head 2×32 + 2.
    let lora = 2 * 2 * (4 * 32 + 32 * 4) + 2 * 32 + 2;
    assert!(stderr(&o).contains(&format!("trained {lora} of ")), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("optimizer state {:.1} MB", (8 * lora) as f64 / 1e6)), "{}", stderr(&o));
    assert!(adapter.join("adapter_model.safetensors").is_file() && adapter.join("adapter_config.json").is_file());

    let o = downhill(&[
        "finetune",
        "--from",
        m,
        "--data",
        t,
        "--epochs",
        "1",
        "--max-length",
        "12",
        "--freeze",
        "embeddings.*,encoder.*",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("trained {} of ", 2 * 32 + 2)), "{}", stderr(&o));

    refused(&["finetune", "--from", m, "--data", t, "--freeze", "decoder.*"], &["\"decoder.*\" matches no parameter"]);
    refused(&["finetune", "--from", m, "--data", t, "--freeze", "*"], &["nothing would train"]);
    refused(&["finetune", "--from", m, "--data", t, "--lora-r", "0"], &["r must be ≥ 1"]);
    refused(&["finetune", "--from", m, "--data", t, "--lora-r", "4", "--lora-alpha", "-1"], &["alpha must be > 0"]);
    refused(
        &["finetune", "--from", m, "--data", t, "--lora-r", "4", "--lora-targets", "dense"],
        &["\"dense\" matches no module"],
    );
    refused(&["finetune", "--from", m, "--data", t, "--lora-r", "4", "--lora-dropout", "0.1"], &["only 0"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A GPT-2 folder fine-tunes as a language model on a text file: the validation loss falls,
/// and the written folder opens with the same tensors' names as the one read.
#[test]
fn a_gpt2_folder_fine_tunes_on_a_text_file() {
    let dir = tmp_dir("finetune-gpt2");
    let gpt2 = dir.join("tiny-gpt2");
    std::fs::create_dir_all(&gpt2).unwrap();
    let oracle = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle/hf-tiny-gpt2");
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(oracle.join(f), gpt2.join(f)).unwrap();
    }
    // Any tokenizer whose ids fit the 100-row embedding: the tiny WordPiece one (82 ids).
    let tok = tiny_bert::write(&dir.join("tok"));
    std::fs::copy(tok.join("tokenizer.json"), gpt2.join("tokenizer.json")).unwrap();
    let corpus = dir.join("corpus.txt");
    let line = "the cat and the dog. the sun and the rain. ";
    std::fs::write(&corpus, line.repeat(200)).unwrap();
    let (out, json) = (dir.join("out"), dir.join("lm.json"));
    let o = downhill(&[
        "finetune",
        "--from",
        gpt2.to_str().unwrap(),
        "--text",
        corpus.to_str().unwrap(),
        "--max-iters",
        "40",
        "--block-size",
        "16",
        "--batch-size",
        "4",
        "--lr",
        "1e-2",
        "--eval-interval",
        "20",
        "--eval-iters",
        "4",
        "--out",
        out.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let evals = run["evals"].as_array().unwrap();
    assert_eq!(evals.len(), 3);
    let (first, last) = (evals[0]["val_loss"].as_f64().unwrap(), evals[2]["val_loss"].as_f64().unwrap());
    assert!(last < 0.5 * first, "validation loss {first} → {last}");
    let (before, after) = (downhill::hf::HfModel::open(&gpt2).unwrap(), downhill::hf::HfModel::open(&out).unwrap());
    assert_eq!(before.names(), after.names());
    // Classification settings, no --text, and settings out of range are refused with the reason.
    let g = gpt2.to_str().unwrap();
    let c = corpus.to_str().unwrap();
    refused(&["finetune", "--from", g, "--data", "x.csv"], &["--data", "classification settings"]);
    refused(&["finetune", "--from", g, "--text", c, "--lora-r", "4", "--freeze", "x*"], &["--lora-r, --freeze"]);
    refused(&["finetune", "--from", g], &["--text"]);
    refused(&["finetune", "--from", g, "--text", c, "--lr", "-1"], &["--lr", "positive"]);
    refused(&["finetune", "--from", g, "--text", c, "--clip", "-1"], &["--clip", "≥ 0"]);
    refused(&["finetune", "--from", g, "--text", c, "--max-iters", "0"], &["--max-iters"]);
    refused(&["finetune", "--from", g, "--text", c, "--max-iters", "10", "--warmup-iters", "10"], &["--warmup-iters"]);
    refused(&["finetune", "--from", g, "--text", c, "--block-size", "17"], &["max_position_embeddings"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
