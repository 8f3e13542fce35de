//! How the GPU path records and submits: many ops go out in one submit, a repeated step builds
//! nothing new, read-back happens only when asked, and dropped tensors release their bind groups.

mod common;

use common::{gpu, own_gpu, Rng};
use downhill::ops::elementwise;
use downhill::ops::matmul;
use downhill::ops::reduce;
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
        matmul::matmul(g, MatmulForm::Nt, z, &x, &w, false).unwrap();
        elementwise::bias_add(g, z, &b).unwrap();
        elementwise::activation_forward(g, Activation::Tanh, a, z).unwrap();
        reduce::sum_squares(g, norm, a).unwrap();
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
    elementwise::fill(&g, &mut keep, 1.0).unwrap();
    g.sync().unwrap();
    let base = g.cache_stats().bind_groups;
    for _ in 0..10 {
        let mut t = g.zeros(&[3]).unwrap();
        elementwise::fill(&g, &mut t, 2.0).unwrap();
        g.sync().unwrap();
    }
    // The last temporary's entry may still be cached until the next op looks at the graveyard.
    elementwise::fill(&g, &mut keep, 1.0).unwrap();
    g.sync().unwrap();
    assert!(g.cache_stats().bind_groups <= base + 1, "bind groups of dropped tensors must be released");
}

#[test]
fn write_replaces_contents_after_recorded_ops_read_the_old_ones() {
    let Some(g) = gpu() else { return };
    let mut src = g.upload(&Tensor::full(&[4], 1.0)).unwrap();
    let mut dst = g.zeros(&[4]).unwrap();
    elementwise::copy(g, &mut dst, &src).unwrap(); // recorded, reads src = 1
    g.write(&mut src, &Tensor::full(&[4], 7.0)).unwrap();
    assert_eq!(g.read(&dst).unwrap().data(), &[1.0; 4]);
    assert_eq!(g.read(&src).unwrap().data(), &[7.0; 4]);
}

#[test]
fn repeated_cnn_training_steps_build_and_allocate_nothing() {
    use downhill::data::{Dataset, Targets};
    use downhill::loss::LossKind;
    use downhill::nn::{Init, Model, ModelSpec};
    use downhill::optim::{Optimizer, OptimizerConfig, SgdConfig};
    use downhill::train::{BatchSize, TrainConfig, Trainer};
    let Some(g) = own_gpu() else { return };
    let mut rng = Rng::new(5);
    let spec = ModelSpec::parse(
        "conv2d(4, 3, padding=1) batchnorm2d relu residual(conv2d(4, 3, padding=1) relu) maxpool2d(2) \
         avgpool2d(2, stride=1) flatten dropout(0.2) linear(10)",
        &[1, 8, 8],
        10,
        Init::TorchDefault,
    )
    .unwrap();
    let model = Model::new(&g, spec.clone(), 0).unwrap();
    let opt = Optimizer::new(
        &g,
        OptimizerConfig::Sgd(SgdConfig { lr: 0.01, ..Default::default() }),
        &spec.layout().unwrap(),
        &[],
    )
    .unwrap();
    // 20 rows at batch 8: two full batches and a last one of 4, which gets its own plan.
    let config = TrainConfig { batch_size: BatchSize::Rows(8), shuffle: false, ..Default::default() };
    let mut trainer = Trainer::new(&g, model, opt, LossKind::CrossEntropy, config).unwrap();
    let labels = (0..20).map(|_| rng.below(10)).collect();
    let data = Dataset::new(
        Tensor::from_vec(&[20, 64], rng.vec_f32(20 * 64, -1.0, 1.0)).unwrap(),
        Targets::Labels { labels, classes: 10 },
    )
    .unwrap();
    let order: Vec<usize> = (0..20).collect();
    // Warm-up: traces both plans and builds every pipeline; the step tables and dropout keys are
    // rings of 8, and the keys meet both plans in turn, so every (plan, key) bind group exists
    // after lcm(3 steps an epoch, 8) = 24 steps.
    for _ in 0..8 {
        trainer.run_epoch(&g, &data, &order).unwrap();
    }
    let (cached, buffers) = (g.cache_stats(), g.storage_buffers_created());
    let (submits, passes, dispatches) = (g.submissions(), g.compute_passes(), g.dispatches());
    for _ in 0..3 {
        trainer.run_epoch(&g, &data, &order).unwrap();
    }
    let (submits, passes, dispatches) =
        (g.submissions() - submits, g.compute_passes() - passes, g.dispatches() - dispatches);
    // 3 epochs of 3 steps. Every submit carries at most one compute pass, whatever the number of
    // dispatches in it, and steps share submits: each epoch ends with one read-back, and the
    // step tables and dropout keys are rings, so no host write forces a submit in between.
    assert!(passes <= submits, "{passes} compute passes for {submits} submits");
    assert!(submits <= 3, "{submits} submits for 3 epochs of 3 steps: steps should share submits");
    assert!(dispatches >= 20 * passes, "{dispatches} dispatches in {passes} passes: they should share passes");
    eprintln!("3 epochs (9 steps): {submits} submits, {passes} compute passes, {dispatches} dispatches");
    assert_eq!(g.cache_stats(), cached, "repeated CNN steps build no pipeline, bind group, uniform or staging buffer");
    assert_eq!(g.storage_buffers_created(), buffers, "repeated CNN steps allocate no device buffer");
}

/// An MLP trainer on the GPU over 16 random rows of 12 features at batch 4 (4 steps an epoch),
/// resident feed, Adam.
fn mlp_trainer(g: &downhill::GpuBackend) -> (downhill::train::Trainer<downhill::GpuBackend>, downhill::data::Dataset) {
    use downhill::data::{Dataset, Targets};
    use downhill::feed::FeedMode;
    use downhill::loss::LossKind;
    use downhill::nn::{Init, Model, ModelSpec};
    use downhill::optim::{AdamConfig, Optimizer, OptimizerConfig};
    use downhill::train::{BatchSize, TrainConfig, Trainer};
    let mut rng = Rng::new(8);
    let spec = ModelSpec::mlp(&[12, 16, 3], Activation::Relu, 0.0, Init::TorchDefault).unwrap();
    let model = Model::new(g, spec.clone(), 0).unwrap();
    let opt = Optimizer::new(g, OptimizerConfig::Adam(AdamConfig::default()), &spec.layout().unwrap(), &[]).unwrap();
    let config =
        TrainConfig { batch_size: BatchSize::Rows(4), shuffle: false, feed: FeedMode::Resident, ..Default::default() };
    let trainer = Trainer::new(g, model, opt, LossKind::CrossEntropy, config).unwrap();
    let labels = (0..16).map(|_| rng.below(3)).collect();
    let x = Tensor::from_vec(&[16, 12], rng.vec_f32(16 * 12, -1.0, 1.0)).unwrap();
    (trainer, Dataset::new(x, Targets::Labels { labels, classes: 3 }).unwrap())
}

#[test]
fn an_mlp_training_step_has_a_known_number_of_dispatches_and_shares_one_submit() {
    let Some(g) = own_gpu() else { return };
    let (mut trainer, data) = mlp_trainer(&g);
    let order: Vec<usize> = (0..16).collect();
    trainer.run_epoch(&g, &data, &order).unwrap(); // warm-up: plans, pipelines, the resident set
    let (submits, dispatches) = (g.submissions(), g.dispatches());
    trainer.run_epoch(&g, &data, &order).unwrap();
    let (submits, dispatches) = (g.submissions() - submits, g.dispatches() - dispatches);
    // Per step of a 2-layer MLP: gather_rows + gather_labels (the batch from the resident set);
    // matmul_nt_bias_act (the first Linear with its bias and ReLU in the epilogue) and
    // matmul_nt_bias (the second); cross_entropy_loss; matmul_tn ×2 + column_sum ×2 +
    // matmul_nn + activation_backward; axpy (the epoch's loss sum); sum_squares (one pass
    // below 65,536 elements) + first_nonfinite (the divergence guard); adam_step. That is 15
    // (18 before the bias and the activation moved into the epilogue), and the epoch adds one
    // fill of its loss sum.
    assert_eq!(dispatches, 4 * 15 + 1, "dispatches in an epoch of 4 MLP steps");
    assert!(submits <= 1, "{submits} submits for 4 steps: the steps should share one");
}

#[test]
fn profiling_times_every_dispatch_by_entry_point() {
    let Some(g) = own_gpu() else { return };
    let (mut trainer, data) = mlp_trainer(&g);
    let order: Vec<usize> = (0..16).collect();
    trainer.run_epoch(&g, &data, &order).unwrap();
    let has_timestamps = g.adapter().features.contains(&"TIMESTAMP_QUERY");
    assert_eq!(
        g.set_profiling(true).unwrap(),
        has_timestamps,
        "profiling is on exactly when the adapter has timestamps"
    );
    let dispatches = g.dispatches();
    trainer.run_epoch(&g, &data, &order).unwrap();
    let profile = g.take_profile().unwrap();
    let dispatches = g.dispatches() - dispatches;
    g.set_profiling(false).unwrap();
    if !has_timestamps {
        assert!(profile.is_empty());
        eprintln!("SKIPPED timing check: {} has no TIMESTAMP_QUERY", g.adapter().name);
        return;
    }
    let timed: u64 = profile.iter().map(|k| k.dispatches).sum();
    assert_eq!(timed, dispatches, "every dispatch of the epoch is timed once");
    let count = |entry: &str| profile.iter().find(|k| k.entry == entry).map_or(0, |k| k.dispatches);
    assert_eq!(count("matmul_nt_bias_act"), 4, "the hidden Linear and its ReLU, once in each of 4 steps");
    assert_eq!(count("matmul_nt_bias"), 4, "the output Linear, once in each of 4 steps");
    assert_eq!(count("bias_add") + count("activation_forward"), 0, "bias and activation run in the epilogue");
    assert!(profile.iter().all(|k| k.ns.is_finite() && k.ns >= 0.0));
    assert!(profile.windows(2).all(|w| w[0].ns >= w[1].ns), "longest first");
}

/// Dispatches in one epoch of 4 steps of `spec` over [1, 6, 6] images (batch 4, Adam).
fn cnn_epoch_dispatches(g: &downhill::GpuBackend, spec: &str) -> u64 {
    use downhill::data::{Dataset, Targets};
    use downhill::feed::FeedMode;
    use downhill::loss::LossKind;
    use downhill::nn::{Init, Model, ModelSpec};
    use downhill::optim::{AdamConfig, Optimizer, OptimizerConfig};
    use downhill::train::{BatchSize, TrainConfig, Trainer};
    let mut rng = Rng::new(9);
    let spec = ModelSpec::parse(spec, &[1, 6, 6], 3, Init::TorchDefault).unwrap();
    let model = Model::new(g, spec.clone(), 0).unwrap();
    let opt = Optimizer::new(g, OptimizerConfig::Adam(AdamConfig::default()), &spec.layout().unwrap(), &[]).unwrap();
    let config =
        TrainConfig { batch_size: BatchSize::Rows(4), shuffle: false, feed: FeedMode::Resident, ..Default::default() };
    let mut trainer = Trainer::new(g, model, opt, LossKind::CrossEntropy, config).unwrap();
    let labels = (0..16).map(|_| rng.below(3)).collect();
    let x = Tensor::from_vec(&[16, 36], rng.vec_f32(16 * 36, -1.0, 1.0)).unwrap();
    let data = Dataset::new(x, Targets::Labels { labels, classes: 3 }).unwrap();
    let order: Vec<usize> = (0..16).collect();
    trainer.run_epoch(g, &data, &order).unwrap(); // warm-up
    let before = g.dispatches();
    trainer.run_epoch(g, &data, &order).unwrap();
    g.dispatches() - before
}

#[test]
fn batch_norm_runs_the_relu_after_it_in_its_own_dispatch() {
    let Some(g) = own_gpu() else { return };
    // The same CNN with and without the ReLU after its batch norm: with the activation fused
    // into batch_norm_forward_act the ReLU costs one dispatch a step (its backward), not two.
    let with = cnn_epoch_dispatches(&g, "conv2d(4, 3, padding=1) batchnorm2d relu maxpool2d(2) flatten linear(3)");
    let without = cnn_epoch_dispatches(&g, "conv2d(4, 3, padding=1) batchnorm2d maxpool2d(2) flatten linear(3)");
    assert_eq!(with - without, 4, "extra dispatches of 4 steps with the ReLU ({with} vs {without})");
}

#[test]
fn a_convolution_costs_two_dispatches_forward_and_five_backward() {
    let Some(g) = own_gpu() else { return };
    // A second convolution (with a bias, its input gradient needed) adds per step: im2col and
    // matmul_nt_conv (the product written as NCHW + bias in its epilogue; a separate
    // conv_output pass made it three); conv_grad_output, matmul_tn, channel_sum, matmul_nn and
    // col2im backward.
    let two = cnn_epoch_dispatches(&g, "conv2d(4, 3, padding=1) conv2d(4, 3, padding=1) flatten linear(3)");
    let one = cnn_epoch_dispatches(&g, "conv2d(4, 3, padding=1) flatten linear(3)");
    assert_eq!(two - one, 4 * 7, "extra dispatches of 4 steps with the second convolution ({two} vs {one})");
}
