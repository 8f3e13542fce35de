//! How the GPU path records and submits: many ops go out in one submit, a repeated step builds
//! nothing new, read-back happens only when asked, and dropped tensors release their bind groups.

mod common;

use common::{gpu, own_gpu, Rng};
use downhill::{Activation, Backend, MatmulForm, Tensor};

#[test]
fn a_sequence_of_ops_goes_out_in_one_submit_and_reuses_everything() {
    let Some(g) = own_gpu() else { return };
    let g = &g;
    let mut rng = Rng::new(21);
    let x = g.upload(&Tensor::from_vec(&[9, 5], rng.vec_f32(45, -1.0, 1.0)).unwrap()).unwrap();
    let w = g.upload(&Tensor::from_vec(&[4, 5], rng.vec_f32(20, -1.0, 1.0)).unwrap()).unwrap();
    let b = g.upload(&Tensor::from_vec(&[4], rng.vec_f32(4, -1.0, 1.0)).unwrap()).unwrap();
    let mut z = g.zeros(&[9, 4]).unwrap();
    let mut a = g.zeros(&[9, 4]).unwrap();
    let mut norm = g.zeros(&[1]).unwrap();
    g.sync().unwrap();

    let step = |z: &mut _, a: &mut _, norm: &mut _| {
        g.matmul(MatmulForm::Nt, z, &x, &w, false).unwrap();
        g.bias_add(z, &b).unwrap();
        g.activation_forward(Activation::Tanh, a, z).unwrap();
        g.sum_squares(norm, a).unwrap();
    };

    step(&mut z, &mut a, &mut norm);
    assert_eq!(g.pending_ops(), 4, "ops are recorded, not run one by one");
    let before = g.submissions();
    g.sync().unwrap();
    assert_eq!(g.submissions(), before + 1, "four recorded ops must go out in exactly one submit");
    assert_eq!(g.pending_ops(), 0);

    g.read(&norm).unwrap(); // the first read-back builds the staging buffer
    let cached = g.cache_stats();
    for _ in 0..5 {
        step(&mut z, &mut a, &mut norm);
    }
    let before = g.submissions();
    let host = g.read(&norm).unwrap();
    assert_eq!(g.submissions(), before + 1, "20 recorded ops plus the read-back copy go out in one submit");
    assert_eq!(
        g.cache_stats(),
        cached,
        "a repeated step must build no new pipeline, bind group, uniform or staging buffer"
    );
    assert!(host.data()[0] > 0.0);
}

#[test]
fn dropped_tensors_release_their_cached_bind_groups() {
    let Some(g) = own_gpu() else { return };
    let mut keep = g.zeros(&[3]).unwrap();
    g.fill(&mut keep, 1.0).unwrap();
    g.sync().unwrap();
    let base = g.cache_stats().bind_groups;
    for _ in 0..10 {
        let mut t = g.zeros(&[3]).unwrap();
        g.fill(&mut t, 2.0).unwrap();
        g.sync().unwrap();
    }
    // The last temporary's entry may still be cached until the next op looks at the graveyard.
    g.fill(&mut keep, 1.0).unwrap();
    g.sync().unwrap();
    assert!(g.cache_stats().bind_groups <= base + 1, "bind groups of dropped tensors must be released");
}

#[test]
fn write_replaces_contents_after_recorded_ops_read_the_old_ones() {
    let Some(g) = gpu() else { return };
    let mut src = g.upload(&Tensor::full(&[4], 1.0)).unwrap();
    let mut dst = g.zeros(&[4]).unwrap();
    g.copy(&mut dst, &src).unwrap(); // recorded, reads src = 1
    g.write(&mut src, &Tensor::full(&[4], 7.0)).unwrap();
    assert_eq!(g.read(&dst).unwrap().data(), &[1.0; 4]);
    assert_eq!(g.read(&src).unwrap().data(), &[7.0; 4]);
}
