//! `downhill summary` against hand counts: parameters, output shapes, forward FLOPs (2 per
//! multiply-add of the matrix products, convolutions and attention, as PyTorch's
//! `torch.utils.flop_counter` counts) and activation bytes of the mlp, cnn, lenet5 and gpt
//! presets, the tied head counted once, optimizer state per optimizer, and the CLI's JSON.

use downhill::nn::{Init, ModelSpec};
use downhill::summary::{summarize, Trainable};

fn preset(name: &str, input: &[usize], classes: usize) -> ModelSpec {
    let text = downhill::nn::preset(name, classes).unwrap_or_else(|| name.to_string());
    ModelSpec::parse(&text, input, classes, Init::TorchDefault).unwrap()
}

#[test]
fn an_mlp_counts_as_by_hand() {
    let spec = ModelSpec::mlp(&[784, 256, 128, 10], "relu".parse().unwrap(), 0.0, Init::TorchDefault).unwrap();
    let s = summarize(&spec, 64).unwrap();
    assert_eq!(s.params, 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    assert_eq!(s.trainable, s.params);
    assert_eq!(s.flops, 2 * 64 * (784 * 256 + 256 * 128 + 128 * 10));
    let linear: Vec<_> = s.rows.iter().filter(|r| r.params > 0).collect();
    assert_eq!(
        linear.iter().map(|r| r.output.clone()).collect::<Vec<_>>(),
        [vec![64, 256], vec![64, 128], vec![64, 10]]
    );
    assert_eq!(linear[0].activation_bytes, 4 * 64 * 256);
    assert!(s.rows.iter().all(|r| (r.params > 0) == (r.trainable == Trainable::Yes)));
    // Adam keeps two slots of the flat trainable buffer (each tensor padded to 64 elements).
    let padded =
        [784 * 256, 256, 256 * 128, 128, 128 * 10, 10].iter().map(|n: &usize| n.next_multiple_of(64)).sum::<usize>();
    assert_eq!(s.flat_bytes, 4 * padded as u64);
    let state = |name| s.optimizer_state.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(state("adam"), 2 * 4 * padded as u64);
    assert_eq!(state("sgd"), 0, "plain SGD keeps nothing");
}

#[test]
fn the_cnn_and_lenet5_presets_count_as_by_hand() {
    let s = summarize(&preset("cnn", &[1, 28, 28], 10), 64).unwrap();
    let conv1 = 2 * 64 * 32 * 28 * 28 * 9;
    let conv2 = 2 * 64 * 64 * 14 * 14 * (32 * 9);
    let fc = 2 * 64 * (64 * 7 * 7 * 128 + 128 * 10);
    assert_eq!(s.flops, (conv1 + conv2 + fc) as u64);
    assert_eq!(s.params, (32 * 9 + 32) + 64 + (64 * 32 * 9 + 64) + 128 + (3136 * 128 + 128) + (128 * 10 + 10));
    assert_eq!(s.rows[0].output, [64, 32, 28, 28]);
    assert_eq!(s.rows[0].activation_bytes, 4 * 64 * 32 * 28 * 28);

    let s = summarize(&preset("lenet5", &[1, 28, 28], 10), 1).unwrap();
    let flops = 2 * (6 * 28 * 28 * 25 + 16 * 10 * 10 * (6 * 25) + 400 * 120 + 120 * 84 + 84 * 10);
    assert_eq!(s.flops, flops as u64);
    assert_eq!(s.params, 61_706, "LeNet-5's classic count on 28×28 with padding 2");
}

#[test]
fn a_gpt_counts_its_attention_and_its_tied_head_once() {
    let (b, t, c, v, layers) = (4u64, 16u64, 32u64, 65u64, 2u64);
    let spec =
        ModelSpec::parse("gpt(n_layer=2, n_head=2, n_embd=32, block_size=16)", &[16], 65, Init::TorchDefault).unwrap();
    let s = summarize(&spec, b as usize).unwrap();
    let attention = 2 * b * t * c * 3 * c + 2 * b * t * c * c + 2 * 2 * b * t * t * c;
    let mlp = 2 * (2 * b * t * c * 4 * c);
    let head = 2 * b * t * c * v;
    assert_eq!(s.flops, layers * (attention + mlp) + head);
    let per_block = (2 * c) + (3 * c * c + 3 * c) + (c * c + c) + (2 * c) + (4 * c * c + 4 * c) + (4 * c * c + c);
    assert_eq!(s.params as u64, v * c + t * c + layers * per_block + 2 * c, "wte, wpe, blocks, ln_f; lm_head is wte");
    let head_row = s.rows.last().unwrap();
    assert_eq!((head_row.params, head_row.tied as u64), (0, v * c));
    assert_eq!(head_row.output, [b as usize, t as usize, v as usize]);
}

#[test]
fn the_cli_prints_the_table_and_the_same_numbers_as_json() {
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_downhill")).args(args).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (ok, out, err) = run(&["summary", "--model", "lenet5", "--batch-size", "1", "--json"]);
    assert!(ok, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["params"], 61_706);
    assert_eq!(j["input_shape"], serde_json::json!([1, 1, 28, 28]));
    assert_eq!(j["layers"][0]["name"], "0");
    assert_eq!(j["layers"][0]["output_shape"], serde_json::json!([1, 6, 28, 28]));
    let (ok, out, err) = run(&["summary", "--model", "lenet5"]);
    assert!(ok, "{err}");
    assert!(out.contains("total: 61,706 parameters") && out.contains("conv2d(6, 5, padding=2)"), "{out}");
    let (ok, _, err) = run(&["summary", "--model", "flatten linear(5)", "--input-shape", "3,4", "--outputs", "0"]);
    assert!(!ok && err.contains("--outputs") && err.contains("at least 1"), "{err}");
    let (ok, _, err) = run(&["summary", "--model", "cnn", "--batch-size", "0"]);
    assert!(!ok && err.contains("--batch-size"), "{err}");
    // The model a checkpoint holds, with its own settings.
    let out_dir = std::env::temp_dir().join(format!("downhill-summary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let o = out_dir.to_str().unwrap();
    let (ok, _, err) = run(&["train", "--hidden", "16", "--epochs", "1", "--quiet", "--device", "cpu", "--out", o]);
    assert!(ok, "{err}");
    let ckpt = out_dir.join("checkpoint.safetensors");
    let (ok, out, err) = run(&["summary", "--checkpoint", ckpt.to_str().unwrap(), "--batch-size", "2", "--json"]);
    assert!(ok, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["params"], 784 * 16 + 16 + 16 * 10 + 10);
    assert_eq!(j["flops"], 2 * 2 * (784 * 16 + 16 * 10));
    let (ok, _, err) = run(&["summary", "--checkpoint", ckpt.to_str().unwrap(), "--model", "cnn"]);
    assert!(!ok && err.contains("drop --model"), "{err}");
    let _ = std::fs::remove_dir_all(&out_dir);
    // A shape without data: the model alone, for --outputs.
    let (ok, out, err) =
        run(&["summary", "--model", "flatten linear(5)", "--input-shape", "3,4", "--outputs", "5", "--json"]);
    assert!(ok, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((j["params"].as_u64(), j["flops"].as_u64()), (Some(12 * 5 + 5), Some(2 * 64 * 12 * 5)));
    let (ok, _, err) = run(&["summary", "--model", "flatten linear(7)", "--input-shape", "3,4"]);
    assert!(
        !ok && err.contains("7 outputs") && err.contains("needs 10"),
        "a model that does not end in --outputs: {err}"
    );
}
