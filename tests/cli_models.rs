//! Models beyond the MLP through the `downhill` binary: `--model` specs, presets and TOML
//! `[[layers]]` train, resume, evaluate and predict; bad specs, parameters, shapes and
//! batches are refused before training with errors that name the layer.

mod common;

use common::{digits_csv, tmp_dir};
use downhill::checkpoint::Checkpoint;
use std::path::PathBuf;
use std::process::Command;

/// A small CNN for the 8x8 digits.
const SMALL_CNN: &str = "conv2d(4, 3, padding=1) batchnorm2d relu maxpool2d(2) flatten linear(16) relu linear(10)";

fn tmp(name: &str) -> PathBuf {
    tmp_dir(&format!("models-{name}"))
}

fn downhill(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_downhill")).env("DOWNHILL_DEVICE", "cpu").args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn ok(args: &[&str]) -> String {
    let (ok, stdout, stderr) = downhill(args);
    assert!(ok, "{args:?} failed: {stderr}");
    stdout
}

/// Expects a clean failure naming every needle, and no output folder left behind.
fn fails(args: &[&str], needles: &[&str]) {
    let (ok, stdout, stderr) = downhill(args);
    assert!(!ok, "{args:?} must fail; stdout: {stdout}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: {stderr:?} should mention {n:?}");
    }
}

fn train_args<'a>(data: &'a str, model: &'a str, out: &'a str) -> Vec<&'a str> {
    // lr 1e-2: Adam's default 1e-3 moves a network this small too slowly for a 2-epoch test;
    // every training row trains (no validation split) for the same reason.
    let common = ["--input-shape", "1,8,8", "--epochs", "2", "--lr", "0.01", "--validation", "0", "--quiet"];
    let mut args = vec!["train", "--data", data, "--model", model, "--out", out];
    args.extend(common);
    args
}

#[test]
fn a_cnn_spec_trains_resumes_evaluates_and_predicts() {
    let dir = tmp("cnn");
    let data = digits_csv();
    let out = dir.join("run");
    ok(&train_args(data.to_str().unwrap(), SMALL_CNN, out.to_str().unwrap()));
    let ckpt = out.join("checkpoint.safetensors");
    let c = Checkpoint::load(&ckpt).unwrap();
    assert_eq!(c.meta.input_shape, vec![1, 8, 8]);
    assert_eq!(c.meta.config.model, SMALL_CNN);
    let names: Vec<&str> = c.params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias", "7.weight", "7.bias"]);
    let buffers: Vec<&str> = c.buffers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(buffers, ["1.num_batches_tracked", "1.running_mean", "1.running_var"]);
    // One training forward per step (no accumulation): the counter is the step count.
    assert!(c.meta.steps > 0);
    assert_eq!(c.buffers[0].1.data(), [c.meta.steps as f32]);
    let eval = ok(&["eval", "--checkpoint", ckpt.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(eval.trim()).unwrap();
    let acc = v["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.8, "a CNN on digits learns in 2 epochs: test accuracy {acc}");

    // Resume for a third epoch: the counter and running stats continue.
    let out3 = dir.join("run3");
    ok(&["train", "--resume", ckpt.to_str().unwrap(), "--epochs", "3", "--out", out3.to_str().unwrap(), "--quiet"]);
    let c3 = Checkpoint::load(&out3.join("checkpoint.safetensors")).unwrap();
    assert_eq!(c3.meta.epoch, 3);
    assert_eq!(c3.meta.steps, c.meta.steps / 2 * 3, "three epochs of the two-epoch run's steps");
    assert_eq!(c3.buffers[0].1.data(), [c3.meta.steps as f32]);

    let input = dir.join("rows.csv");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(std::fs::File::open(&data).unwrap()), &mut text)
        .unwrap();
    std::fs::write(&input, text.lines().take(6).collect::<Vec<_>>().join("\n")).unwrap();
    let pred = ok(&["predict", "--checkpoint", ckpt.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert_eq!(pred.lines().count(), 7, "a header line and one line per input row: {pred}");
    assert!(pred.starts_with("row,prediction"));
}

#[test]
fn a_toml_layers_table_is_the_same_model() {
    let dir = tmp("toml");
    let cfg = dir.join("cnn.toml");
    std::fs::write(
        &cfg,
        "input_shape = [1, 8, 8]\nepochs = 1\n\n[[layers]]\ntype = \"conv2d\"\nout_channels = 4\nkernel_size = 3\npadding = 1\n\n\
         [[layers]]\ntype = \"relu\"\n\n[[layers]]\ntype = \"maxpool2d\"\nkernel_size = 2\n\n[[layers]]\ntype = \"flatten\"\n\n\
         [[layers]]\ntype = \"linear\"\nout_features = 10\n",
    )
    .unwrap();
    let data = digits_csv();
    let out = dir.join("run");
    ok(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let c = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    let shapes: Vec<(&str, &[usize])> = c.params.iter().map(|(n, t)| (n.as_str(), t.shape())).collect();
    assert_eq!(shapes, [("0.weight", &[4, 1, 3, 3][..]), ("0.bias", &[4]), ("4.weight", &[10, 64]), ("4.bias", &[10])]);
}

#[test]
fn item6_bad_specs_are_refused_before_training() {
    let dir = tmp("bad");
    let data = digits_csv();
    let d = data.to_str().unwrap();
    let out = dir.join("never");
    let o = out.to_str().unwrap();
    // A typo, with the nearest layer name; an unknown layer; an unknown argument.
    fails(&train_args(d, "conv2d(4, 3) rellu flatten linear(10)", o), &["layer 2", "rellu", "did you mean relu"]);
    fails(&train_args(d, "conv2d(4, 3) transmogrify linear(10)", o), &["unknown layer", "transmogrify"]);
    fails(&train_args(d, "conv2d(4, 3, paddin=1) flatten linear(10)", o), &["paddin", "did you mean padding"]);
    // Parameters out of range.
    fails(&train_args(d, "conv2d(4, 11) flatten linear(10)", o), &["conv2d(4, 11)", "larger than the padded input"]);
    fails(&train_args(d, "conv2d(0, 3) flatten linear(10)", o), &["out_channels=0", "≥ 1"]);
    fails(&train_args(d, "conv2d(4, 3, groups=3) flatten linear(10)", o), &["groups=3", "must divide"]);
    fails(&train_args(d, "conv2d(4, 3, stride=0) flatten linear(10)", o), &["stride=0"]);
    fails(&train_args(d, "maxpool2d(2, padding=2) flatten linear(10)", o), &["padding", "half the kernel"]);
    // Shapes that do not chain: the layer and both shapes are named.
    fails(&train_args(d, "conv2d(4, 3) linear(10)", o), &["[N, 4, 6, 10]", "losses need [N, outputs]"]);
    fails(
        &train_args(d, "flatten conv2d(4, 3) linear(10)", o),
        &["layer 2", "conv2d(4, 3)", "[N, 64]", "[N, C, H, W]"],
    );
    fails(
        &train_args(d, "residual(conv2d(8, 3, padding=1)) flatten linear(10)", o),
        &["residual", "[N, 1, 8, 8]", "[N, 8, 8, 8]"],
    );
    fails(&train_args(d, "flatten linear(7)", o), &["7 outputs", "needs 10", "linear(10)"]);
    fails(&train_args(d, "flatten relu embedding(10, 4) flatten linear(10)", o), &["embedding(10, 4)", "first layer"]);
    // Data the first layer cannot take: CSV rows are flat unless given a shape.
    fails(
        &["train", "--data", d, "--model", "conv2d(4, 3) flatten linear(10)", "--out", o, "--quiet"],
        &["conv2d", "[N, 64]", "[N, C, H, W]"],
    );
    fails(
        &["train", "--data", d, "--model", "cnn", "--input-shape", "1,8,9", "--out", o],
        &["input_shape", "72 values", "64"],
    );
    fails(
        &["train", "--data", d, "--model", "cnn", "--input-shape", "0,8,8", "--out", o],
        &["input_shape", "each at least 1"],
    );
    // BatchNorm in training mode with one value per channel: PyTorch's error, not a NaN.
    fails(
        &[
            "train",
            "--data",
            d,
            "--model",
            "flatten linear(8) batchnorm1d relu linear(10)",
            "--batch-size",
            "1",
            "--out",
            o,
        ],
        &["batchnorm1d", "one value per channel", "batch_size"],
    );
    // MLP-only settings with another model would be ignored: refused, saying where they go.
    fails(
        &["train", "--data", d, "--model", "cnn", "--input-shape", "1,8,8", "--hidden", "512", "--out", o],
        &["hidden", "mlp model only"],
    );
    fails(
        &["train", "--data", d, "--model", "cnn", "--input-shape", "1,8,8", "--dropout", "0.5", "--out", o],
        &["dropout", "model spec"],
    );
    // Token indices: whole numbers below the vocabulary, checked before training (the GPU path
    // could not check them per step); a standardised input is no index.
    fails(
        &["train", "--data", d, "--model", "embedding(17, 4) flatten linear(10)", "--out", o],
        &["embedding(17, 4)", "normalization"],
    );
    fails(
        &[
            "train",
            "--data",
            d,
            "--model",
            "embedding(10, 4) flatten linear(10)",
            "--normalization",
            "none",
            "--out",
            o,
        ],
        &["embedding(10, 4)", "is not a whole number in 0..10"],
    );
    assert!(!out.exists(), "a refused run writes nothing");
}

#[test]
fn presets_build_with_their_documented_layers() {
    use downhill::nn::{Init, ModelSpec, PRESETS};
    for (name, _) in PRESETS {
        let spec = ModelSpec::parse(name, &[1, 28, 28], 10, Init::TorchDefault).unwrap();
        spec.check_trainable().unwrap();
        assert_eq!(spec.outputs(), 10, "{name}");
        // The text round-trips through the parser to the same model.
        let again = ModelSpec::parse(&spec.text(), &[1, 28, 28], 10, Init::TorchDefault).unwrap();
        assert_eq!(again.param_shapes(), spec.param_shapes(), "{name}");
    }
    let lenet = ModelSpec::parse("lenet5", &[1, 28, 28], 10, Init::TorchDefault).unwrap();
    let count: usize = lenet.param_shapes().iter().map(|(_, s)| s.iter().product::<usize>()).sum();
    assert_eq!(count, 61_706, "LeNet-5 on 28x28 with padding 2 has the classic 61,706 parameters");
}

#[test]
fn format2_checkpoints_from_the_previous_version_still_load() {
    // Written by the previous version (commit 3ebb5fd): an MLP on the digits, optimizer state
    // under its old `fc1.weight`-style names.
    let old = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format2-mlp.safetensors");
    let data = digits_csv();
    let c = Checkpoint::load(&old).unwrap();
    assert!(c.optimizer.iter().any(|(n, _)| n == "0.weight.exp_avg"), "old optimizer names are translated on load");
    // Format 2 recorded a test loss per epoch (read from the raw metadata: today's records
    // hold validation figures only).
    let bytes = std::fs::read(&old).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta: serde_json::Value = serde_json::from_str(&header.metadata().as_ref().unwrap()["downhill"]).unwrap();
    let recorded = meta["history"].as_array().unwrap().last().unwrap()["test_loss"].as_f64().unwrap();
    let eval = ok(&["eval", "--checkpoint", old.to_str().unwrap(), "--data", data.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(eval.trim()).unwrap();
    let got = v["test_loss"].as_f64().unwrap();
    assert!(
        (got - recorded).abs() <= 1e-6 * recorded,
        "eval of the old checkpoint {got} vs the loss it recorded {recorded}"
    );
    let out = tmp("format2").join("resumed");
    ok(&[
        "train",
        "--resume",
        old.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--epochs",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let resumed = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert_eq!(resumed.meta.format, downhill::checkpoint::FORMAT);
    assert_eq!(resumed.meta.epoch, 2);
}

#[test]
fn bench_runs_named_workloads_and_prints_one_json_line_each() {
    // Functionality only: performance lives in BENCHMARKS.md, never in test assertions.
    let out = ok(&["bench", "--device", "cpu", "--only", "matmul_512", "--reps", "1", "--seconds", "0", "--json"]);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["workload"], "matmul_512");
    assert!(lines[0]["gflop_per_s"].as_f64().is_some_and(|v| v > 0.0), "{out}");
    let out = ok(&["bench", "--device", "cpu", "--only", "adamw_update", "--reps", "1", "--seconds", "0", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["workload"], "adamw_update_10m");
    assert!(v["gb_per_s"].as_f64().is_some(), "the optimizer workload reports bandwidth: {out}");
    let out = ok(&["bench", "--device", "cpu", "--only", "gpt_char", "--reps", "1", "--seconds", "0", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["workload"], "gpt_char_b12_t64_adamw");
    assert!(v["tokens_per_s"].as_f64().is_some_and(|r| r > 0.0), "the GPT workload counts tokens: {out}");
    fails(&["bench", "--device", "cpu", "--only", "nonesuch"], &["no workload matches", "matmul_512"]);
    fails(&["bench", "--device", "cpu", "--reps", "0"], &["--reps", "at least 1"]);
    fails(&["bench", "--device", "cpu", "--seconds=-1"], &["--seconds", "≥ 0"]);
    fails(&["bench", "--device", "cpu", "--seconds", "NaN"], &["--seconds", "finite"]);
}

/// Makes the stand-in script at `path` executable.
fn executable(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn bench_against_torch_interleaves_a_served_side_and_runs_alone_without_torch() {
    // A stand-in for `python3 pytorch_reference.py --serve` (the protocol, not the numbers):
    // it says which workloads it has, then answers each request with a fixed rate.
    let dir = std::env::temp_dir().join(format!("downhill-against-torch-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("fake-python");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho '{\"ready\": [\"lenet5_eval_b256\"], \"device\": \"fake torch cpu\", \"cuda\": false}'\n\
         while read name reps seconds; do echo \"{\\\"workload\\\": \\\"$name\\\", \\\"samples_per_s\\\": 1000.0}\"; done\n",
    )
    .unwrap();
    executable(&fake);
    let args = ["bench", "--device", "cpu", "--only", "lenet5_eval", "--reps", "2", "--seconds", "0"];
    let fake_s = fake.to_str().unwrap();
    let out = ok(&[&args[..], &["--json", "--against-torch", fake_s]].concat());
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["workload"], "lenet5_eval_b256", "{out}");
    assert_eq!(v["torch_cpu"], 1000.0, "{out}");
    assert!(v["downhill_cpu"].as_f64().is_some_and(|r| r > 0.0), "{out}");
    assert_eq!(v["cpu_ratio"].as_f64(), v["downhill_cpu"].as_f64().map(|r| r / 1000.0), "{out}");
    assert_eq!(v["rounds"], 2, "{out}");
    let table = ok(&[&args[..], &["--against-torch", fake_s]].concat());
    assert!(table.contains("fake torch cpu") && table.contains("lenet5_eval_b256") && table.contains("×"), "{table}");
    // No torch: the hint, then downhill's side alone.
    let (success, stdout, stderr) =
        downhill(&[&args[..], &["--json", "--against-torch", "/nonexistent/python3"]].concat());
    assert!(success, "{stderr}");
    assert!(stderr.contains("pip install torch") && stderr.contains("downhill's side alone"), "{stderr}");
    assert!(stdout.contains("\"workload\":\"lenet5_eval_b256\""), "{stdout}");
    // A server that stops after its first request: its cells stay empty, said once, and the
    // run ends normally (no write to its closed pipe).
    let dying = dir.join("dying-python");
    std::fs::write(
        &dying,
        "#!/bin/sh\necho '{\"ready\": [\"lenet5_eval_b256\"], \"device\": \"dying\", \"cuda\": false}'\nread line\nexit 1\n",
    )
    .unwrap();
    executable(&dying);
    let (success, stdout, stderr) = downhill(&[&args[..], &["--against-torch", dying.to_str().unwrap()]].concat());
    assert!(success, "{stderr}");
    assert_eq!(stderr.matches("the script stopped").count(), 1, "{stderr}");
    assert!(stdout.contains("lenet5_eval_b256") && stdout.contains("—"), "{stdout}");
    // A workload the interpreter cannot run (transformers missing): its reason said once over
    // both rounds, its cells empty.
    let partial = dir.join("partial-python");
    std::fs::write(
        &partial,
        "#!/bin/sh
echo '{\"ready\": [], \"unavailable\": {\"lenet5_eval_b256\": \"needs transformers\"}, \
         \"device\": \"partial\", \"cuda\": false}'\nwhile read line; do :; done\n",
    )
    .unwrap();
    executable(&partial);
    let (success, stdout, stderr) = downhill(&[&args[..], &["--against-torch", partial.to_str().unwrap()]].concat());
    assert!(success, "{stderr}");
    assert_eq!(stderr.matches("lenet5_eval_b256 on partial: not run: needs transformers").count(), 1, "{stderr}");
    assert!(stdout.contains("lenet5_eval_b256") && stdout.contains("—"), "{stdout}");
    fails(&["bench", "--device", "gpu", "--against-torch", fake_s], &["--against-torch"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn evaluation_chunks_fit_the_device_binding_limit_and_the_memory_budget() {
    use downhill::nn::{Init, ModelSpec};
    use downhill::train::{eval_chunk_rows, EVAL_TENSOR_BUDGET_BYTES};
    // The cnn preset's largest plan tensor is the second convolution's columns: 14·14 positions
    // × 32·3·3 patch values per row. A 1,000-row chunk of them (226 MB) exceeded wgpu's default
    // 128 MiB binding, so GPU evaluation failed before chunks were sized by it.
    let cnn = ModelSpec::parse("cnn", &[1, 28, 28], 10, Init::TorchDefault).unwrap();
    assert_eq!(cnn.largest_tensor_per_row(), 14 * 14 * 32 * 9);
    let per_row = cnn.largest_tensor_per_row();
    assert_eq!(eval_chunk_rows(per_row, 32 << 20), (32 << 20) / 4 / per_row, "a binding limit below the budget");
    // The CPU path has no binding limit: the budget alone sizes a CNN's chunks (it used to take
    // 4096 rows, and the built-in set's 1,000 test rows at once raised peak RSS to 1.1 GB).
    let by_budget = (EVAL_TENSOR_BUDGET_BYTES / 4) as usize / per_row;
    assert_eq!(eval_chunk_rows(per_row, u64::MAX), by_budget);
    assert!(by_budget < 1000 && by_budget > 64, "{by_budget} rows");
    assert_eq!(eval_chunk_rows(784, u64::MAX), 4096, "an MLP keeps 4096-row chunks");
    assert_eq!(eval_chunk_rows(usize::MAX / 2, 1024), 1, "at least one row");
}
