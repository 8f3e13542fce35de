//! The same seed gives the same bits whatever the thread count: a CNN and an MLP each train
//! for more than 50 steps through the binary with the CPU path on 1 thread and on 4 (rayon's
//! pool, `RAYON_NUM_THREADS`, which runs the GEMM — the MLP's first-layer products are above
//! the `gemm` crate's threading threshold — and the parallel loops), and every parameter and
//! buffer of the two checkpoints must be bit-identical.

mod common;

use common::{digits_csv, tmp_dir};
use downhill::checkpoint::Checkpoint;
use std::process::Command;

fn train(model: &str, threads: &str, out: &std::path::Path) -> Checkpoint {
    let data = digits_csv();
    let status = Command::new(env!("CARGO_BIN_EXE_downhill"))
        .env("DOWNHILL_DEVICE", "cpu")
        .env("RAYON_NUM_THREADS", threads)
        .args(["train", "--data", data.to_str().unwrap(), "--input-shape", "1,8,8", "--model", model])
        .args(["--epochs", "3", "--lr", "0.01", "--quiet", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap()
}

#[test]
fn training_gives_the_same_bits_with_one_thread_and_with_several() {
    let dir = tmp_dir("determinism");
    for (i, model) in [
        "conv2d(8, 3, padding=1) batchnorm2d relu maxpool2d(2) flatten dropout(0.2) linear(10)",
        "flatten linear(256) relu dropout(0.2) linear(128) relu linear(10)",
    ]
    .iter()
    .enumerate()
    {
        let one = train(model, "1", &dir.join(format!("{i}-one")));
        let many = train(model, "4", &dir.join(format!("{i}-many")));
        assert!(one.meta.steps >= 50, "{} steps: the test wants more than 50", one.meta.steps);
        assert_eq!(one.meta.steps, many.meta.steps);
        for ((name, a), (_, b)) in one.params.iter().chain(&one.buffers).zip(many.params.iter().chain(&many.buffers)) {
            let (a, b): (Vec<u32>, Vec<u32>) =
                (a.data().iter().map(|v| v.to_bits()).collect(), b.data().iter().map(|v| v.to_bits()).collect());
            assert_eq!(a, b, "{model}: {name} differs between 1 and 4 GEMM threads");
        }
    }
}
