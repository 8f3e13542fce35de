//! Every entry point of the kernel registry (`downhill::kernels::all_kernels`) against its CPU twin: one
//! scenario runs on both paths (a model using every layer kind forward and backward in train
//! and eval mode, an embedding model under each loss, every optimizer under every clipping
//! mode, a trainer epoch through the resident feed with accumulation and L1/L2, and the
//! remaining ops directly), every result is compared, and the test fails if any registered
//! kernel never ran: a new kernel is tested the day it is registered.

mod common;

use common::{assert_close, own_gpu, Rng};
use downhill::data::{Dataset, Targets};
use downhill::kernels::all_kernels;
use downhill::loss::{LossKind, Target};
use downhill::nn::{Init, Model, ModelSpec};
use downhill::ops::augment::{self, Augment};
use downhill::ops::elementwise;
use downhill::ops::reduce;
use downhill::ops::sample;
use downhill::ops::softmax;
use downhill::ops::surface;
use downhill::optim::{Clip, Optimizer, Settings, OPTIMIZERS};
use downhill::train::{BatchSize, TrainConfig, Trainer};
use downhill::{Backend, CpuBackend, Tensor};

/// Every layer kind, every activation, a residual block and both batch norms (with the next
/// activation fused into them, and once without one).
const EVERY_LAYER: &str =
    "conv2d(4, 3, padding=1) batchnorm2d relu residual(conv2d(4, 3, padding=1, groups=4, bias=false) \
     batchnorm2d gelu) batchnorm2d maxpool2d(2) avgpool2d(2, stride=1, count_include_pad=false) avgpool2d(3, stride=1, padding=1) \
     adaptiveavgpool2d(1) flatten layernorm linear(8) batchnorm1d leaky_relu dropout(0.3) linear(8) tanh sigmoid silu \
     gelu_tanh linear(5)";

fn model_results<B: Backend>(be: &B, rng: &mut Rng, out: &mut Vec<(String, Tensor)>) {
    let spec = ModelSpec::parse(EVERY_LAYER, &[2, 8, 8], 5, Init::TorchDefault).unwrap();
    let mut model = Model::new(be, spec, 7).unwrap();
    model.keep_input_grad();
    let x = be.upload(&Tensor::from_vec(&[3, 128], rng.vec_f32(3 * 128, -1.0, 1.0)).unwrap()).unwrap();
    let labels = be.upload_labels(&[4, 0, 2], 5).unwrap();
    out.push(("every-layer output".into(), be.read(model.forward(be, &x, true).unwrap()).unwrap()));
    model.loss(be, LossKind::CrossEntropy, &Target::Labels(&labels)).unwrap();
    model.zero_grad(be).unwrap();
    model.backward(be, &x, false).unwrap();
    out.push(("every-layer loss".into(), be.read(model.loss_tensor().unwrap()).unwrap()));
    out.push(("every-layer input grad".into(), be.read(model.input_grad().unwrap()).unwrap()));
    out.extend(model.grads.read_all(be).unwrap().into_iter().map(|(n, t)| (format!("grad {n}"), t)));
    out.extend(model.read_buffers(be).unwrap().into_iter().map(|(n, t)| (format!("buffer {n}"), t)));
    out.push(("every-layer eval output".into(), be.read(model.forward(be, &x, false).unwrap()).unwrap()));

    // An embedding model under the two losses with value targets.
    let spec =
        ModelSpec::parse("embedding(10, 4, padding_idx=1) flatten linear(3)", &[5], 3, Init::TorchDefault).unwrap();
    let idx: Vec<f32> = (0..4 * 5).map(|_| rng.below(10) as f32).collect();
    let idx = be.upload(&Tensor::from_vec(&[4, 5], idx).unwrap()).unwrap();
    let target = be.upload(&Tensor::from_vec(&[4, 3], rng.vec_f32(12, 0.0, 1.0)).unwrap()).unwrap();
    for loss in [LossKind::Mse, LossKind::BceWithLogits] {
        let mut model = Model::new(be, spec.clone(), 3).unwrap();
        model.forward(be, &idx, true).unwrap();
        model.loss(be, loss, &Target::Values(&target)).unwrap();
        model.zero_grad(be).unwrap();
        model.backward(be, &idx, false).unwrap();
        out.push((format!("embedding {loss:?} loss"), be.read(model.loss_tensor().unwrap()).unwrap()));
        out.extend(model.grads.read_all(be).unwrap().into_iter().map(|(n, t)| (format!("{loss:?} grad {n}"), t)));
    }
}

fn optimizer_results<B: Backend>(be: &B, rng: &mut Rng, out: &mut Vec<(String, Tensor)>) {
    let spec = ModelSpec::parse("linear(6) relu linear(3)", &[4], 3, Init::TorchDefault).unwrap();
    let layout = spec.layout().unwrap();
    let n = layout.total();
    let params0 = Tensor::from_vec(&[n], rng.vec_f32(n, -1.0, 1.0)).unwrap();
    let grads = be.upload(&Tensor::from_vec(&[n], rng.vec_f32(n, -2.0, 2.0)).unwrap()).unwrap();
    let clips = [Clip::None, Clip::L2Norm(0.5), Clip::InfNorm(0.5), Clip::L1Norm(2.0), Clip::Value(0.3)];
    for (k, entry) in OPTIMIZERS.iter().enumerate() {
        let settings = Settings { momentum: Some(0.9), nesterov: entry.name == "sgd", ..Default::default() };
        let takes = |s: &str| entry.takes.contains(&s);
        let settings = Settings { momentum: settings.momentum.filter(|_| takes("momentum")), ..settings };
        let mut opt = Optimizer::new(be, (entry.from_settings)(&settings), &layout, &[]).unwrap();
        // LAMB clips by its own max_grad_norm (timm's formula, clip mode 5).
        if entry.name != "lamb" {
            opt.set_clip(clips[k % clips.len()]).unwrap();
        }
        let mut params = be.upload(&params0).unwrap();
        for _ in 0..3 {
            opt.step(be, &mut params, &grads).unwrap();
        }
        out.push((format!("{} params after 3 steps", entry.name), be.read(&params).unwrap()));
    }
    // Sophia-G's Hessian pass between steps (its steps alone ran above).
    let sophia = downhill::optim::SophiaConfig { lr: 0.01, bs: 8.0, ..Default::default() };
    let mut opt = Optimizer::new(be, downhill::optim::OptimizerConfig::Sophia(sophia), &layout, &[]).unwrap();
    let mut params = be.upload(&params0).unwrap();
    for _ in 0..3 {
        opt.step(be, &mut params, &grads).unwrap();
        opt.update_hessian(be, &mut params, &grads).unwrap();
    }
    out.push(("sophia params after 3 steps".into(), be.read(&params).unwrap()));
    let state = opt.state(be).unwrap();
    out.extend(state.tensors.into_iter().map(|(k, t)| (format!("sophia {k}"), t)));
    // Schedule-free AdamW's switch to the eval-mode weights (its steps ran above).
    let sf =
        downhill::optim::ScheduleFreeConfig { lr: 0.05, weight_decay: 0.01, warmup_steps: 2, ..Default::default() };
    let mut opt = Optimizer::new(be, downhill::optim::OptimizerConfig::ScheduleFree(sf), &layout, &[]).unwrap();
    let mut params = be.upload(&params0).unwrap();
    for _ in 0..3 {
        opt.step(be, &mut params, &grads).unwrap();
    }
    opt.eval_mode(be, &mut params).unwrap();
    out.push(("schedule-free x after 3 steps".into(), be.read(&params).unwrap()));
}

fn trainer_results<B: Backend>(be: &B, rng: &mut Rng, out: &mut Vec<(String, Tensor)>) {
    let spec = ModelSpec::parse("linear(16) relu dropout(0.2) linear(4)", &[6], 4, Init::TorchDefault).unwrap();
    let model = Model::new(be, spec.clone(), 1).unwrap();
    let opt =
        Optimizer::new(be, (OPTIMIZERS[1].from_settings)(&Settings::default()), &spec.layout().unwrap(), &[]).unwrap();
    let config = TrainConfig {
        batch_size: BatchSize::Rows(8),
        accumulation: 2,
        l1: 1e-3,
        l2: 1e-3,
        feed: downhill::feed::FeedMode::Resident,
        // Each row's 6 values as a 1×2×3 image: the training batches are augmented.
        augment: Some((Augment { crop: 1, translate: 1, hflip: true }, [1, 2, 3])),
        ..Default::default()
    };
    let mut trainer = Trainer::new(be, model, opt, LossKind::CrossEntropy, config).unwrap();
    let labels = (0..40).map(|_| rng.below(4)).collect();
    let data = Dataset::new(
        Tensor::from_vec(&[40, 6], rng.vec_f32(240, -1.0, 1.0)).unwrap(),
        Targets::Labels { labels, classes: 4 },
    )
    .unwrap();
    let order = trainer.epoch_order(40);
    let stats = trainer.run_epoch(be, &data, &order).unwrap();
    out.push(("trainer epoch loss".into(), Tensor::from_vec(&[1], vec![stats.mean_batch_loss as f32]).unwrap()));
    out.extend(trainer.model.params.read_all(be).unwrap().into_iter().map(|(n, t)| (format!("trained {n}"), t)));
}

fn direct_results<B: Backend>(be: &B, rng: &mut Rng, out: &mut Vec<(String, Tensor)>) {
    // Augmentation of a batch of 5 RGB 7×6 images, every transform on.
    let x = be.upload(&Tensor::from_vec(&[5, 3 * 7 * 6], rng.vec_f32(5 * 126, -1.0, 1.0)).unwrap()).unwrap();
    let mut augmented = be.zeros(&[5, 126]).unwrap();
    let aug = Augment { crop: 2, translate: 1, hflip: true };
    let fill = be.upload(&Tensor::from_vec(&[126], rng.vec_f32(126, -3.0, -2.0)).unwrap()).unwrap();
    augment::augment(be, &mut augmented, &x, &fill, [3, 7, 6], &aug, downhill::rng::dropout_key(5, 2)).unwrap();
    out.push(("augmented batch".into(), be.read(&augmented).unwrap()));
    let x = be.upload(&Tensor::from_vec(&[4, 7], rng.vec_f32(28, -2.0, 2.0)).unwrap()).unwrap();
    let dy = be.upload(&Tensor::from_vec(&[4, 7], rng.vec_f32(28, -1.0, 1.0)).unwrap()).unwrap();
    let (mut y, mut dx) = (be.zeros(&[4, 7]).unwrap(), be.zeros(&[4, 7]).unwrap());
    softmax::softmax_forward(be, &mut y, &x).unwrap();
    softmax::softmax_backward(be, &mut dx, &y, &dy).unwrap();
    out.push(("softmax".into(), be.read(&y).unwrap()));
    out.push(("softmax backward".into(), be.read(&dx).unwrap()));
    // Above 65,536 elements a reduction takes two passes (reduce_partial, then one workgroup).
    let big = be.upload(&Tensor::from_vec(&[70_000], rng.vec_f32(70_000, -1.0, 1.0)).unwrap()).unwrap();
    let mut r = be.zeros(&[1]).unwrap();
    reduce::sum(be, &mut r, &big).unwrap();
    out.push(("sum of 70,000".into(), be.read(&r).unwrap()));
    reduce::max_abs(be, &mut r, &big).unwrap();
    out.push(("max_abs".into(), be.read(&r).unwrap()));
    // The first pass of a two-pass reduction, launched directly on both paths (the host path
    // reduces in one pass, so only this runs reduce_partial's CPU twin): every reduction kind.
    {
        use downhill::backend::kernel::{Arg, Grid};
        use downhill::ops::{reduce::ReduceParams, registry};
        let (n, chunk) = (70_000, 4_096);
        let groups = n / chunk + 1;
        for op in 0..4 {
            let partials = be.zeros(&[groups]).unwrap();
            let p = ReduceParams { n: n as u32, rows: chunk as u32, cols: 0, accumulate: op };
            let args = &mut [Arg::Write(&partials), Arg::Read(&big)];
            be.launch(&registry::REDUCE_PARTIAL, bytemuck::bytes_of(&p), args, Grid::Fixed(groups as u32, 1, 1))
                .unwrap();
            out.push((format!("reduce_partial op {op}"), be.read(&partials).unwrap()));
        }
    }
    // Causal attention (the mask kernel; the rest is matmul and softmax), forward and backward.
    use downhill::ops::attention::{sdpa_backward, sdpa_forward, AttentionDims, AttentionScratch};
    let [q, k, v, dout] =
        [0; 4].map(|_| be.upload(&Tensor::from_vec(&[1, 2, 5, 4], rng.vec_f32(40, -1.0, 1.0)).unwrap()).unwrap());
    let d = AttentionDims::new(&[1, 2, 5, 4], &[1, 2, 5, 4], &[1, 2, 5, 4]).unwrap();
    let mut tensors: Vec<_> = d.scratch_shapes().iter().map(|s| be.zeros(s).unwrap()).collect();
    let mut scratch = AttentionScratch::new(&mut tensors).unwrap();
    let mut att = be.zeros(&[1, 2, 5, 4]).unwrap();
    sdpa_forward(be, &mut att, &q, &k, &v, true, &mut scratch).unwrap();
    let [mut dq, mut dk, mut dv] = [0; 3].map(|_| be.zeros(&[1, 2, 5, 4]).unwrap());
    sdpa_backward(be, &mut dq, &mut dk, &mut dv, &k, &v, &dout, &mut scratch).unwrap();
    for (n, t) in [("causal attention", &att), ("attention dq", &dq), ("attention dk", &dk), ("attention dv", &dv)] {
        out.push((n.into(), be.read(t).unwrap()));
    }
    // Fused attention: packed q, k, v over two workgroups and two key tiles (T = 70), causal,
    // without and with dropout of the probabilities (the same mask on both paths); then 3
    // queries, the last of 9 keys and values in their own buffer, causal and not, and not
    // causal with a key mask (keys 2, 5 and 8 of the first batch row hidden, every key of the
    // second: its outputs 0).
    use downhill::ops::attention::flash::{
        flash_backward, flash_forward, stats_shape, FlashDropout, FlashLayout, FlashOptions,
    };
    let mask: Vec<f32> = (0..2 * 9).map(|i| if i < 9 && i % 3 != 2 { 1.0 } else { 0.0 }).collect();
    let mask = be.upload(&Tensor::from_vec(&[2, 9], mask).unwrap()).unwrap();
    let keys = [0.5f32, downhill::rng::key_bits(downhill::rng::dropout_key(3, 9))];
    let keys = be.upload(&Tensor::from_vec(&[2], keys.to_vec()).unwrap()).unwrap();
    let cases = [
        (70, 70, FlashLayout::packed_qkv(2, 8, true), 0.0),
        (70, 70, FlashLayout::packed_qkv(2, 8, true), 0.3),
        (3, 9, FlashLayout { heads: 2, q_off: 0, k_off: 0, v_off: 8, causal: true }, 0.0),
        (3, 9, FlashLayout { heads: 2, q_off: 0, k_off: 0, v_off: 8, causal: false }, 0.0),
        (3, 9, FlashLayout { heads: 2, q_off: 0, k_off: 0, v_off: 8, causal: false }, -1.0),
    ];
    for (i, (l, s, layout, drop)) in cases.into_iter().enumerate() {
        // drop < 0 marks the key-mask case.
        let opts = || FlashOptions {
            dropout: (drop > 0.0).then_some(FlashDropout { p: drop, keys: &keys, slot: 1 }),
            key_mask: (drop < 0.0).then_some(&mask),
        };
        let packed = layout.k_off != 0;
        let (qw, kvw) = if packed { (24, 24) } else { (8, 16) };
        let q = be.upload(&Tensor::from_vec(&[2, l, qw], rng.vec_f32(2 * l * qw, -1.0, 1.0)).unwrap()).unwrap();
        let kv = if packed {
            be.view(&q, 0, &[2, s, kvw]).unwrap()
        } else {
            be.upload(&Tensor::from_vec(&[2, s, kvw], rng.vec_f32(2 * s * kvw, -1.0, 1.0)).unwrap()).unwrap()
        };
        let (mut att, mut stats) = (be.zeros(&[2, l, 8]).unwrap(), be.zeros(&stats_shape(2, 2, l)).unwrap());
        flash_forward(be, &mut att, &mut stats, &q, &kv, &layout, opts()).unwrap();
        let dout = be.upload(&Tensor::from_vec(&[2, l, 8], rng.vec_f32(2 * l * 8, -1.0, 1.0)).unwrap()).unwrap();
        let (dq, dkv) = (be.zeros(&[2, l, qw]).unwrap(), be.zeros(&[2, s, kvw]).unwrap());
        out.push((format!("flash attention {i} lse"), be.read(&stats).unwrap()));
        flash_backward(be, &dq, &dkv, &stats, &q, &kv, &att, &dout, &layout, opts()).unwrap();
        for (n, t) in [("out", &att), ("stats", &stats), ("dq", &dq), ("dkv", &dkv)] {
            out.push((format!("flash attention {i} {n}"), be.read(t).unwrap()));
        }
    }
    // The embedding's weight gradient past one workgroup's index chunk (R = 150 > 64 rows) and
    // column block (D = 2100 > 2048), with a padding row, accumulating onto what is there.
    use downhill::ops::embedding::embedding_backward;
    for (v, d, r) in [(7, 130, 150), (3, 2100, 70)] {
        let idx: Vec<f32> = (0..r).map(|_| rng.below(v as u32) as f32).collect();
        let idx = be.upload(&Tensor::from_vec(&[r], idx).unwrap()).unwrap();
        let dy = be.upload(&Tensor::from_vec(&[r, d], rng.vec_f32(r * d, -1.0, 1.0)).unwrap()).unwrap();
        let mut dw = be.upload(&Tensor::from_vec(&[v, d], rng.vec_f32(v * d, -1.0, 1.0)).unwrap()).unwrap();
        embedding_backward(be, &mut dw, &idx, &dy, Some(2), true).unwrap();
        out.push((format!("embedding backward {v}x{d} over {r} rows"), be.read(&dw).unwrap()));
    }
    conv_results(be, rng, out);
    let mut c = be.zeros(&[4, 7]).unwrap();
    elementwise::fill(be, &mut c, 0.25).unwrap();
    elementwise::scale(be, &mut c, 3.0).unwrap();
    // The Linear layers add their bias in the product's epilogue; bias_add stays an op.
    let bias = be.upload(&Tensor::from_vec(&[7], rng.vec_f32(7, -1.0, 1.0)).unwrap()).unwrap();
    elementwise::bias_add(be, &mut c, &bias).unwrap();
    out.push(("fill, scale, bias_add".into(), be.read(&c).unwrap()));
    // A run of 37 elements between unaligned offsets (a KV cache's new row).
    let src = be.upload(&Tensor::from_vec(&[50], rng.vec_f32(50, -1.0, 1.0)).unwrap()).unwrap();
    let mut dst = be.zeros(&[100]).unwrap();
    elementwise::copy_range(be, &mut dst, 41, &src, 7, 37).unwrap();
    out.push(("copy_range".into(), be.read(&dst).unwrap()));
    // Labels sampled from softmax (Sophia-G's Hessian estimate), as 0/1 indicators.
    let logits = be.upload(&Tensor::from_vec(&[6, 5], rng.vec_f32(30, -2.0, 2.0)).unwrap()).unwrap();
    let mut labels = be.upload_labels(&[0; 6], 5).unwrap();
    sample::sample_labels(be, &mut labels, &logits, 77).unwrap();
    let drawn = be.read_u32(&labels).unwrap().iter().map(|&l| l as f32).collect();
    out.push(("sampled labels".into(), Tensor::from_vec(&[6], drawn).unwrap()));
    // The explorer's surfaces: every kind at 5 points 3 elements apart, one traced row.
    use downhill::ops::surface::{SurfaceKind, SurfaceParams};
    let points = be.upload(&Tensor::from_vec(&[15], rng.vec_f32(15, -1.5, 1.5)).unwrap()).unwrap();
    for kind in SurfaceKind::ALL {
        let [mut values, mut grads, mut trace] = [[5], [15], [2 * 5 * 4]].map(|s| be.zeros(&s).unwrap());
        let p = SurfaceParams::new(kind, 5, 3, 4.0, 30.0).traced(1);
        surface::surface(be, &p, &mut values, &mut grads, &points, &mut trace).unwrap();
        for (what, t) in [("value", &values), ("gradient", &grads), ("trace", &trace)] {
            out.push((format!("surface {kind:?} {what}"), be.read(t).unwrap()));
        }
    }
}

/// Both convolution routes launched directly on both paths (a model runs only its own path's
/// route): the direct kernels and im2col + the batched product + the layout kernels, over a
/// strided, dilated, padded, grouped window, a pointwise one, and one sample (the CPU twin's
/// product then threads itself).
fn conv_results<B: Backend>(be: &B, rng: &mut Rng, out: &mut Vec<(String, Tensor)>) {
    use downhill::ops::conv::{self, cols_shape, patch_len, product_shape};
    use downhill::ops::{matmul, Window2d, WindowSpec};
    use downhill::tensor::MatmulForm;
    let cases = [
        ([3, 4, 9, 7], 6, WindowSpec { kernel: [3, 2], stride: [2, 1], padding: [1, 1], dilation: [1, 2] }, 2),
        ([2, 3, 5, 5], 4, WindowSpec { kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1] }, 1),
        ([1, 2, 6, 6], 3, WindowSpec { kernel: [3, 3], stride: [1, 1], padding: [2, 2], dilation: [1, 1] }, 1),
    ];
    for (case, (input, o, spec, groups)) in cases.into_iter().enumerate() {
        let g = Window2d::new("conv2d", &input, &spec, o, groups).unwrap();
        let up = |rng: &mut Rng, shape: &[usize]| {
            let n = shape.iter().product();
            be.upload(&Tensor::from_vec(shape, rng.vec_f32(n, -1.0, 1.0)).unwrap()).unwrap()
        };
        let x = up(rng, &input);
        let w = up(rng, &[o, input[1] / groups, spec.kernel[0], spec.kernel[1]]);
        let bias = up(rng, &[o]);
        let dy = up(rng, &g.output_shape());
        let mut y = be.zeros(&g.output_shape()).unwrap();
        conv::conv2d_forward(be, &mut y, &x, &w, Some(&bias), &g).unwrap();
        out.push((format!("conv2d_forward {case}"), be.read(&y).unwrap()));
        let mut dx = be.zeros(&input).unwrap();
        conv::conv2d_grad_input(be, &mut dx, &dy, &w, &g).unwrap();
        out.push((format!("conv2d_grad_input {case}"), be.read(&dx).unwrap()));
        let mut dw = up(rng, be.shape(&w));
        conv::conv2d_grad_weight(be, &mut dw, &x, &dy, &g, true).unwrap();
        out.push((format!("conv2d_grad_weight {case} (accumulated)"), be.read(&dw).unwrap()));
        // The im2col route.
        let grouped = [groups, o / groups, patch_len(&g)];
        let (mut cols, mut product) = (be.zeros(&cols_shape(&g)).unwrap(), be.zeros(&product_shape(&g)).unwrap());
        conv::im2col(be, &mut cols, &x, &g).unwrap();
        let wg = be.view(&w, 0, &grouped).unwrap();
        conv::conv_gemm_forward(be, &mut y, &cols, &wg, Some(&bias), &g).unwrap();
        out.push((format!("im2col route forward {case}"), be.read(&y).unwrap()));
        conv::conv_gemm_forward(be, &mut y, &cols, &wg, None, &g).unwrap();
        out.push((format!("im2col route forward without bias {case}"), be.read(&y).unwrap()));
        conv::conv_grad_output(be, &mut product, &dy, &g).unwrap();
        matmul::matmul(be, MatmulForm::Nn, &mut cols, &product, &be.view(&w, 0, &grouped).unwrap(), false).unwrap();
        conv::col2im(be, &mut dx, &cols, &g).unwrap();
        out.push((format!("im2col route input gradient {case}"), be.read(&dx).unwrap()));
    }
}

fn scenario<B: Backend>(be: &B) -> Vec<(String, Tensor)> {
    let mut rng = Rng::new(2026);
    let mut out = Vec::new();
    model_results(be, &mut rng, &mut out);
    optimizer_results(be, &mut rng, &mut out);
    trainer_results(be, &mut rng, &mut out);
    direct_results(be, &mut rng, &mut out);
    out
}

#[test]
fn every_registered_kernel_runs_and_matches_its_cpu_twin() {
    let Some(g) = own_gpu() else { return };
    let want = scenario(&CpuBackend::new());
    let got = scenario(&g);
    assert_eq!(want.len(), got.len());
    for ((name, w), (_, gt)) in want.iter().zip(&got) {
        assert_eq!(w.shape(), gt.shape(), "{name}: shape");
        assert_close(name, gt.data(), w.data(), 1e-4, 1e-3);
    }
    let ran = g.dispatched_kernels();
    eprintln!("{} of {} registered kernels ran; {} results compared", ran.len(), all_kernels().count(), want.len());
    let missing: Vec<&str> = all_kernels().map(|k| k.entry).filter(|e| !ran.contains(e)).collect();
    assert!(missing.is_empty(), "registered kernels this parity scenario never ran: {missing:?}");
}
