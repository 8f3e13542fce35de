//! Sampling labels from softmax (`ops::sample`, Sophia-G's Hessian estimate): the frequencies
//! follow the probabilities, another key draws other labels, and both paths draw the same
//! labels for the same key.

mod common;

use common::{gpu, Rng};
use downhill::ops::sample;
use downhill::{Backend, CpuBackend, Tensor};

fn draw<B: Backend>(be: &B, logits: &Tensor, key: u32) -> Vec<u32> {
    let rows = logits.shape()[0];
    let mut labels = be.upload_labels(&vec![0; rows], logits.shape()[1]).unwrap();
    sample::sample_labels(be, &mut labels, &be.upload(logits).unwrap(), key).unwrap();
    be.read_u32(&labels).unwrap()
}

#[test]
fn frequencies_follow_the_softmax() {
    let rows = 30_000;
    let row = [0.0f32, 2f32.ln(), 3f32.ln(), -40.0];
    let logits = Tensor::from_vec(&[rows, 4], row.iter().copied().cycle().take(rows * 4).collect()).unwrap();
    let labels = draw(&CpuBackend::new(), &logits, 7);
    let mut counts = [0usize; 4];
    for l in &labels {
        counts[*l as usize] += 1;
    }
    for (k, want) in [1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0, 0.0].iter().enumerate() {
        let got = counts[k] as f64 / rows as f64;
        assert!((got - want).abs() < 0.01, "class {k}: frequency {got}, probability {want}");
    }
    let other = draw(&CpuBackend::new(), &logits, 8);
    let same = labels.iter().zip(&other).filter(|(a, b)| a == b).count();
    assert!(same < rows * 2 / 3, "another key draws other labels ({same} of {rows} equal)");
}

#[test]
fn both_paths_draw_the_same_labels() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(3);
    let logits = Tensor::from_vec(&[3000, 10], rng.vec_f32(30_000, -3.0, 3.0)).unwrap();
    for key in [1u32, downhill::rng::dropout_key(5, 9)] {
        let (want, got) = (draw(&CpuBackend::new(), &logits, key), draw(g, &logits, key));
        let differ: Vec<usize> = (0..3000).filter(|&i| want[i] != got[i]).collect();
        assert!(differ.is_empty(), "key {key}: rows {differ:?} drew different labels");
    }
}

#[test]
fn one_label_per_row_is_checked() {
    let be = CpuBackend::new();
    let mut labels = be.upload_labels(&[0; 3], 4).unwrap();
    let logits = be.zeros(&[4, 4]).unwrap();
    let err = sample::sample_labels(&be, &mut labels, &logits, 1).unwrap_err().to_string();
    assert!(err.contains("3 labels"), "{err}");
}
