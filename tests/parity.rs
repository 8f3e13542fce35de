//! GPU vs CPU twin for every kernel, on seeded random data at awkward shapes (1, 7, 33, 65,
//! 129, non-square, batch 1). A failure names the worst element, both values and the tolerance.

mod common;

use common::{assert_close, gpu, Rng};
use downhill::ops::dropout;
use downhill::ops::elementwise;
use downhill::ops::gather;
use downhill::ops::loss;
use downhill::ops::matmul;
use downhill::ops::reduce;
use downhill::ops::softmax;
use downhill::{Activation, Backend, CpuBackend, MatmulForm, Tensor};

fn t(shape: &[usize], data: Vec<f32>) -> Tensor {
    Tensor::from_vec(shape, data).unwrap()
}

fn rand(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    t(shape, rng.vec_f32(shape.iter().product(), lo, hi))
}

/// Runs `op` on both paths and compares every output.
fn compare<F>(what: &str, atol: f32, rtol: f32, op: F)
where
    F: Fn(&dyn Runner) -> Vec<Tensor>,
{
    let Some(g) = gpu() else { return };
    let want = op(&CpuBackend::new());
    let got = op(g);
    assert_eq!(want.len(), got.len());
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(w.shape(), g.shape(), "{what}: output {i} shape");
        assert_close(&format!("{what} (output {i})"), g.data(), w.data(), atol, rtol);
    }
}

/// Object-safe wrapper so one closure drives both backends.
trait Runner {
    fn matmul(&self, form: MatmulForm, a: &Tensor, b: &Tensor, out_shape: &[usize]) -> Tensor;
    fn unary(&self, which: Unary, x: &Tensor) -> Tensor;
    fn binary(&self, which: Binary, a: &Tensor, b: &Tensor) -> Tensor;
    fn loss(&self, which: Loss, input: &Tensor, target: &Tensor, labels: &[u32]) -> Vec<Tensor>;
    fn flat(&self, seed: u64) -> Vec<Tensor>;
}

#[derive(Clone, Copy)]
enum Unary {
    Act(Activation),
    Softmax,
    Sum,
    SumSquares,
    SumAbs,
    MaxAbs,
    Scale(f32),
    Fill(f32),
    Copy,
}

#[derive(Clone, Copy)]
enum Binary {
    ActBackward(Activation),
    SoftmaxBackward,
    BiasAdd,
    ColumnSum,
    Axpy(f32),
    AddSign(f32),
}

#[derive(Clone, Copy)]
enum Loss {
    Mse,
    CrossEntropy,
    Bce,
}

impl<B: Backend> Runner for B {
    fn flat(&self, seed: u64) -> Vec<Tensor> {
        flat_buffer_ops(self, seed)
    }

    fn matmul(&self, form: MatmulForm, a: &Tensor, b: &Tensor, out_shape: &[usize]) -> Tensor {
        let (a, b) = (self.upload(a).unwrap(), self.upload(b).unwrap());
        let mut out = self.zeros(out_shape).unwrap();
        matmul::matmul(self, form, &mut out, &a, &b, false).unwrap();
        self.read(&out).unwrap()
    }

    fn unary(&self, which: Unary, x: &Tensor) -> Tensor {
        let xd = self.upload(x).unwrap();
        let scalar = [1usize];
        let out_shape = match which {
            Unary::Sum | Unary::SumSquares | Unary::SumAbs | Unary::MaxAbs => &scalar[..],
            _ => x.shape(),
        };
        let mut out = self.zeros(out_shape).unwrap();
        match which {
            Unary::Act(a) => elementwise::activation_forward(self, a, &mut out, &xd).unwrap(),
            Unary::Softmax => softmax::softmax_forward(self, &mut out, &xd).unwrap(),
            Unary::Sum => reduce::sum(self, &mut out, &xd).unwrap(),
            Unary::SumSquares => reduce::sum_squares(self, &mut out, &xd).unwrap(),
            Unary::SumAbs => reduce::sum_abs(self, &mut out, &xd).unwrap(),
            Unary::MaxAbs => reduce::max_abs(self, &mut out, &xd).unwrap(),
            Unary::Scale(a) => {
                out = xd;
                elementwise::scale(self, &mut out, a).unwrap()
            }
            Unary::Fill(v) => elementwise::fill(self, &mut out, v).unwrap(),
            Unary::Copy => elementwise::copy(self, &mut out, &xd).unwrap(),
        }
        self.read(&out).unwrap()
    }

    fn binary(&self, which: Binary, a: &Tensor, b: &Tensor) -> Tensor {
        let (ad, bd) = (self.upload(a).unwrap(), self.upload(b).unwrap());
        match which {
            Binary::ActBackward(act) => {
                let mut dx = self.zeros(a.shape()).unwrap();
                elementwise::activation_backward(self, act, &mut dx, &ad, &bd).unwrap();
                self.read(&dx).unwrap()
            }
            Binary::SoftmaxBackward => {
                let mut dx = self.zeros(a.shape()).unwrap();
                softmax::softmax_backward(self, &mut dx, &ad, &bd).unwrap();
                self.read(&dx).unwrap()
            }
            Binary::BiasAdd => {
                let mut x = ad;
                elementwise::bias_add(self, &mut x, &bd).unwrap();
                self.read(&x).unwrap()
            }
            Binary::ColumnSum => {
                let mut out = self.zeros(&[a.shape()[1]]).unwrap();
                reduce::column_sum(self, &mut out, &ad, false).unwrap();
                self.read(&out).unwrap()
            }
            Binary::Axpy(alpha) => {
                let mut y = ad;
                elementwise::axpy(self, &mut y, alpha, &bd).unwrap();
                self.read(&y).unwrap()
            }
            Binary::AddSign(alpha) => {
                let mut y = ad;
                elementwise::add_sign(self, &mut y, alpha, &bd).unwrap();
                self.read(&y).unwrap()
            }
        }
    }

    fn loss(&self, which: Loss, input: &Tensor, target: &Tensor, labels: &[u32]) -> Vec<Tensor> {
        let x = self.upload(input).unwrap();
        let mut loss = self.zeros(&[1]).unwrap();
        let mut grad = self.zeros(input.shape()).unwrap();
        match which {
            Loss::Mse => loss::mse_loss(self, &mut loss, &mut grad, &x, &self.upload(target).unwrap()).unwrap(),
            Loss::Bce => {
                loss::bce_with_logits_loss(self, &mut loss, &mut grad, &x, &self.upload(target).unwrap()).unwrap()
            }
            Loss::CrossEntropy => {
                let l = self.upload_labels(labels, input.shape()[1]).unwrap();
                loss::cross_entropy_loss(self, &mut loss, &mut grad, &x, &l).unwrap()
            }
        }
        vec![self.read(&loss).unwrap(), self.read(&grad).unwrap()]
    }
}

const SHAPES: [[usize; 2]; 8] = [[1, 1], [1, 7], [7, 1], [7, 33], [33, 65], [65, 129], [129, 7], [3, 200]];

#[test]
fn matmul_all_forms_match_at_awkward_sizes() {
    let mut rng = Rng::new(1);
    let sizes = [
        (1, 1, 1),
        (1, 7, 33),
        (7, 33, 65),
        (33, 65, 129),
        (65, 129, 7),
        (129, 1, 33),
        (64, 64, 64),
        (3, 200, 17),
        (130, 66, 1),
    ];
    for (m, n, k) in sizes {
        for form in [MatmulForm::Nt, MatmulForm::Nn, MatmulForm::Tn] {
            let (a_shape, b_shape) = match form {
                MatmulForm::Nt => ([m, k], [n, k]),
                MatmulForm::Nn => ([m, k], [k, n]),
                MatmulForm::Tn => ([k, m], [k, n]),
            };
            let a = rand(&mut rng, &a_shape, -1.0, 1.0);
            let b = rand(&mut rng, &b_shape, -1.0, 1.0);
            compare(&format!("{} m={m} n={n} k={k}", form.op_name()), 1e-5 * k as f32, 1e-4, |r| {
                vec![r.matmul(form, &a, &b, &[m, n])]
            });
        }
    }
}

#[test]
fn activations_forward_and_backward_match() {
    let mut rng = Rng::new(2);
    let extremes = t(&[1, 12], vec![-100.0, -30.0, -12.0, -5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 5.0, 30.0, 100.0]);
    for act in Activation::ALL {
        for shape in SHAPES {
            let x = rand(&mut rng, &shape, -6.0, 6.0);
            let dy = rand(&mut rng, &shape, -1.0, 1.0);
            compare(&format!("{}_forward {shape:?}", act.name()), 1e-6, 1e-5, |r| vec![r.unary(Unary::Act(act), &x)]);
            compare(&format!("{}_backward {shape:?}", act.name()), 1e-6, 1e-5, |r| {
                vec![r.binary(Binary::ActBackward(act), &x, &dy)]
            });
        }
        let ones = Tensor::full(&[1, 12], 1.0);
        compare(&format!("{}_forward at extremes", act.name()), 1e-6, 1e-5, |r| {
            vec![r.unary(Unary::Act(act), &extremes)]
        });
        compare(&format!("{}_backward at extremes", act.name()), 1e-6, 1e-5, |r| {
            vec![r.binary(Binary::ActBackward(act), &extremes, &ones)]
        });
    }
}

#[test]
fn softmax_forward_and_backward_match() {
    let mut rng = Rng::new(3);
    for shape in SHAPES {
        let x = rand(&mut rng, &shape, -20.0, 20.0);
        let dy = rand(&mut rng, &shape, -1.0, 1.0);
        compare(&format!("softmax_forward {shape:?}"), 1e-7, 1e-5, |r| vec![r.unary(Unary::Softmax, &x)]);
        let y = CpuBackend::new().unary(Unary::Softmax, &x);
        compare(&format!("softmax_backward {shape:?}"), 1e-7, 1e-5, |r| {
            vec![r.binary(Binary::SoftmaxBackward, &y, &dy)]
        });
    }
}

#[test]
fn losses_match() {
    let mut rng = Rng::new(4);
    for shape in SHAPES {
        let x = rand(&mut rng, &shape, -8.0, 8.0);
        let target = rand(&mut rng, &shape, -1.0, 1.0);
        let probs = rand(&mut rng, &shape, 0.0, 1.0);
        let labels: Vec<u32> = (0..shape[0]).map(|_| rng.below(shape[1] as u32)).collect();
        compare(&format!("mse_loss {shape:?}"), 1e-7, 1e-5, |r| r.loss(Loss::Mse, &x, &target, &[]));
        compare(&format!("bce_with_logits_loss {shape:?}"), 1e-7, 1e-5, |r| r.loss(Loss::Bce, &x, &probs, &[]));
        compare(&format!("cross_entropy_loss {shape:?}"), 1e-7, 1e-5, |r| {
            r.loss(Loss::CrossEntropy, &x, &target, &labels)
        });
        // A language model's targets: every third position ignored (PyTorch's −1).
        let ignored: Vec<u32> =
            labels.iter().enumerate().map(|(i, &l)| if i % 3 == 1 { loss::IGNORE_LABEL } else { l }).collect();
        compare(&format!("cross_entropy_loss ignoring {shape:?}"), 1e-7, 1e-5, |r| {
            r.loss(Loss::CrossEntropy, &x, &target, &ignored)
        });
    }
}

#[test]
fn bias_and_column_sum_match() {
    let mut rng = Rng::new(5);
    for shape in SHAPES {
        let x = rand(&mut rng, &shape, -1.0, 1.0);
        let bias = rand(&mut rng, &[shape[1]], -1.0, 1.0);
        compare(&format!("bias_add {shape:?}"), 0.0, 0.0, |r| vec![r.binary(Binary::BiasAdd, &x, &bias)]);
        compare(&format!("column_sum {shape:?}"), 1e-6, 1e-6, |r| vec![r.binary(Binary::ColumnSum, &x, &bias)]);
    }
}

#[test]
fn reductions_match_including_empty_and_long() {
    let mut rng = Rng::new(6);
    // Above 65,536 elements the GPU path reduces in two passes (reduce_partial, then sum/max_abs).
    for n in [0usize, 1, 7, 33, 255, 256, 257, 1000, 65_536, 65_537, 300_001] {
        let x = rand(&mut rng, &[n], -1.0, 1.0);
        let positive = rand(&mut rng, &[n], 0.0, 1.0);
        compare(&format!("sum n={n}"), 1e-5, 1e-4, |r| vec![r.unary(Unary::Sum, &positive)]);
        compare(&format!("sum_squares n={n}"), 1e-5, 1e-4, |r| vec![r.unary(Unary::SumSquares, &x)]);
        compare(&format!("sum_abs n={n}"), 1e-5, 1e-4, |r| vec![r.unary(Unary::SumAbs, &x)]);
        compare(&format!("max_abs n={n}"), 0.0, 0.0, |r| vec![r.unary(Unary::MaxAbs, &x)]);
    }
}

#[test]
fn elementwise_utilities_match() {
    let mut rng = Rng::new(7);
    for shape in SHAPES {
        let x = rand(&mut rng, &shape, -3.0, 3.0);
        let y = rand(&mut rng, &shape, -3.0, 3.0);
        compare(&format!("scale {shape:?}"), 0.0, 0.0, |r| vec![r.unary(Unary::Scale(-0.37), &x)]);
        compare(&format!("fill {shape:?}"), 0.0, 0.0, |r| vec![r.unary(Unary::Fill(2.5), &x)]);
        compare(&format!("copy {shape:?}"), 0.0, 0.0, |r| vec![r.unary(Unary::Copy, &x)]);
        compare(&format!("axpy {shape:?}"), 1e-6, 1e-6, |r| vec![r.binary(Binary::Axpy(0.75), &x, &y)]);
        compare(&format!("add_sign {shape:?}"), 0.0, 0.0, |r| vec![r.binary(Binary::AddSign(0.01), &x, &y)]);
    }
}

#[test]
fn elementwise_ops_cover_grids_larger_than_one_dimension() {
    // 65535 workgroups of 256 cover 16.7M elements; past that the grid folds into two dimensions.
    // Kept to a size lavapipe runs in a few seconds: 17M elements (68 MB).
    let Some(g) = gpu() else { return };
    let n = 65_535 * 256 + 1000;
    let mut x = g.zeros(&[n]).unwrap();
    elementwise::fill(g, &mut x, 1.5).unwrap();
    let mut total = g.zeros(&[1]).unwrap();
    reduce::max_abs(g, &mut total, &x).unwrap();
    let host = g.read(&x).unwrap();
    assert!(host.data().iter().all(|&v| v == 1.5), "fill left an element unwritten past the first grid row");
    assert_eq!(g.read(&total).unwrap().data(), &[1.5]);
}

/// Views at 64-element offsets (the largest alignment WebGPU allows) into one flat buffer:
/// products written into views, accumulation into them, and column sums, on both paths.
fn flat_buffer_ops<B: Backend>(be: &B, rng_seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::new(rng_seed);
    let x = be.upload(&rand(&mut rng, &[5, 7], -1.0, 1.0)).unwrap();
    let dy = be.upload(&rand(&mut rng, &[5, 3], -1.0, 1.0)).unwrap();
    let params = be.upload(&rand(&mut rng, &[192], -1.0, 1.0)).unwrap();
    let w = be.view(&params, 0, &[3, 7]).unwrap();
    let b = be.view(&params, 64, &[3]).unwrap();
    let grads = be.zeros(&[192]).unwrap();
    let mut dw = be.view(&grads, 0, &[3, 7]).unwrap();
    let mut db = be.view(&grads, 64, &[3]).unwrap();
    let mut y = be.zeros(&[5, 3]).unwrap();
    matmul::matmul(be, MatmulForm::Nt, &mut y, &x, &w, false).unwrap();
    elementwise::bias_add(be, &mut y, &b).unwrap();
    // Two micro-batches' gradients summed in place: dW += dyᵀ·x twice, db likewise.
    for _ in 0..2 {
        matmul::matmul(be, MatmulForm::Tn, &mut dw, &dy, &x, true).unwrap();
        reduce::column_sum(be, &mut db, &dy, true).unwrap();
    }
    vec![be.read(&y).unwrap(), be.read(&grads).unwrap(), be.read(&dw).unwrap()]
}

#[test]
fn views_of_one_flat_buffer_and_accumulation_match() {
    compare("flat buffer views", 1e-6, 1e-5, |r| r.flat(7));
    // Accumulating twice is twice one product, on the reference path.
    let cpu = CpuBackend::new();
    let out = flat_buffer_ops(&cpu, 7);
    let mut rng = Rng::new(7);
    let x = rand(&mut rng, &[5, 7], -1.0, 1.0);
    let dy = rand(&mut rng, &[5, 3], -1.0, 1.0);
    let once = Runner::matmul(&cpu, MatmulForm::Tn, &dy, &x, &[3, 7]);
    let twice: Vec<f32> = once.data().iter().map(|v| 2.0 * v).collect();
    assert_close("accumulated dW", out[2].data(), &twice, 1e-6, 1e-6);
    assert!(out[1].data()[21..64].iter().all(|&v| v == 0.0), "padding between views must stay untouched");
}

fn dropout_run<B: Backend>(be: &B, x: &Tensor, p: f32, key: u32) -> Vec<Tensor> {
    let xd = be.upload(x).unwrap();
    let mut out = be.zeros(x.shape()).unwrap();
    let mut mask = be.zeros(x.shape()).unwrap();
    // The key sits in slot 1 of three, so the slot is honoured too.
    let keys = Tensor::from_vec(&[3], vec![0.0, downhill::rng::key_bits(key), 1.0]).unwrap();
    dropout::dropout_forward(be, &mut out, &mut mask, &xd, p, &be.upload(&keys).unwrap(), 1).unwrap();
    let mut dx = be.zeros(x.shape()).unwrap();
    dropout::dropout_backward(be, &mut dx, &xd, &mask).unwrap();
    vec![be.read(&out).unwrap(), be.read(&mask).unwrap(), be.read(&dx).unwrap()]
}

#[test]
fn dropout_masks_are_identical_on_both_paths() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(8);
    let x = rand(&mut rng, &[129, 65], -1.0, 1.0);
    for (p, key) in [(0.1f32, 1u32), (0.5, downhill::rng::dropout_key(42, 3)), (0.9, 7)] {
        let want = dropout_run(&CpuBackend::new(), &x, p, key);
        let got = dropout_run(g, &x, p, key);
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(w.data(), g.data(), "dropout p={p} key={key}: the paths must agree bit for bit");
        }
        let dropped = want[1].data().iter().filter(|&&m| m == 0.0).count() as f64 / x.len() as f64;
        assert!((dropped - p as f64).abs() < 0.03, "p={p}: dropped fraction {dropped}");
        let keep_scale = 1.0 / (1.0 - p);
        assert!(want[1].data().iter().all(|&m| m == 0.0 || m == keep_scale), "mask values are 0 or 1/(1-p)");
    }
}

#[test]
fn reduce_partial_twin_composes_to_the_whole_reduction() {
    use downhill::ops::reduce::cpu as reduce;
    let mut rng = Rng::new(9);
    let x: Vec<f32> = rng.vec_f32(100_003, -1.0, 1.0);
    for op in 0..4u32 {
        let chunk = 4096;
        let mut partials = vec![0.0f32; x.len().div_ceil(chunk)];
        reduce::reduce_partial(&mut partials, &x, op, chunk);
        let (two_pass, direct) = match op {
            0 => (reduce::sum(&partials), reduce::sum(&x)),
            1 => (reduce::sum(&partials), reduce::sum_squares(&x)),
            2 => (reduce::sum(&partials), reduce::sum_abs(&x)),
            _ => (reduce::max_abs(&partials), reduce::max_abs(&x)),
        };
        assert_close(&format!("reduce_partial op {op}"), &[two_pass], &[direct], 1e-3, 1e-5);
    }
}

/// gather_rows / gather_labels by a permutation, and the divergence guard over a sequence of
/// finite and non-finite steps.
fn gather_and_guard<B: Backend>(be: &B) -> (Vec<Tensor>, Vec<u32>) {
    let mut rng = Rng::new(10);
    let x = be.upload(&rand(&mut rng, &[37, 9], -1.0, 1.0)).unwrap();
    let perm: Vec<u32> = (0..37).map(|i| (i * 11 + 5) % 37).collect();
    let idx = be.upload_labels(&perm, 37).unwrap();
    let labels = be.upload_labels(&(0..37).map(|i| i % 7).collect::<Vec<_>>(), 7).unwrap();
    let mut rows = be.zeros(&[13, 9]).unwrap();
    gather::gather_rows(be, &mut rows, &x, &idx, 20).unwrap();
    let mut got_labels = be.upload_labels(&[0; 13], 7).unwrap();
    gather::gather_labels(be, &mut got_labels, &labels, &idx, 20).unwrap();

    let mut guard = be.zeros(&[2]).unwrap();
    let mut loss = be.zeros(&[1]).unwrap();
    let mut sumsq = be.zeros(&[1]).unwrap();
    for (l, g) in [(0.5, 1.0), (0.4, 2.0), (0.3, f32::INFINITY), (f32::NAN, 1.0), (0.2, 1.0)] {
        be.write(&mut loss, &Tensor::full(&[1], l)).unwrap();
        be.write(&mut sumsq, &Tensor::full(&[1], g)).unwrap();
        reduce::first_nonfinite(be, &mut guard, &loss, &sumsq).unwrap();
    }
    // Labels come back through a one-hot trick: cross-entropy's gradient marks the label column.
    let mut dl = be.zeros(&[13, 7]).unwrap();
    let mut l = be.zeros(&[1]).unwrap();
    loss::cross_entropy_loss(be, &mut l, &mut dl, &be.zeros(&[13, 7]).unwrap(), &got_labels).unwrap();
    let grads = be.read(&dl).unwrap();
    let read_labels = grads.data().chunks(7).map(|r| r.iter().position(|&v| v < 0.0).unwrap() as u32).collect();
    (vec![be.read(&rows).unwrap(), be.read(&guard).unwrap()], read_labels)
}

#[test]
fn gather_and_divergence_guard_match() {
    let (cpu, cpu_labels) = gather_and_guard(&CpuBackend::new());
    assert_eq!(cpu[1].data(), &[3.0, 5.0], "the first non-finite step is the third of five");
    let want: Vec<u32> = (20..33).map(|r| ((r * 11 + 5) % 37) % 7).collect();
    assert_eq!(cpu_labels, want, "gather_labels follows the permutation");
    let x = rand(&mut Rng::new(10), &[37, 9], -1.0, 1.0);
    let src = ((20 * 11 + 5) % 37) as usize;
    assert_eq!(&cpu[0].data()[..9], &x.data()[src * 9..src * 9 + 9], "gather_rows follows the permutation");
    let Some(g) = gpu() else { return };
    let (gpu_out, gpu_labels) = gather_and_guard(g);
    assert_eq!(gpu_out[0].data(), cpu[0].data(), "gather_rows");
    assert_eq!(gpu_out[1].data(), cpu[1].data(), "first_nonfinite");
    assert_eq!(gpu_labels, cpu_labels, "gather_labels");
}

/// The activation kernels launched with a kind outside the table (what a new activation whose
/// formula arm was forgotten would pass) give NaN everywhere on both paths, so the parity and
/// gradient checks over `Activation::ALL` cannot pass it as another activation.
#[test]
fn an_activation_kind_without_a_formula_is_nan_on_both_paths() {
    use downhill::backend::kernel::{Arg, Grid};
    use downhill::ops::{elementwise::ElementwiseParams, registry};
    fn run<B: Backend>(be: &B) -> Vec<Vec<f32>> {
        let x = be.upload(&t(&[5], vec![-2.0, -0.5, 0.0, 0.5, 2.0])).unwrap();
        let dy = be.upload(&t(&[5], vec![1.0; 5])).unwrap();
        let (y, dx) = (be.zeros(&[5]).unwrap(), be.zeros(&[5]).unwrap());
        let unknown = Activation::ALL.iter().map(|a| a.shader_kind()).max().unwrap() + 1;
        let p = ElementwiseParams::new(5, 0, unknown, 0.0);
        let bytes = bytemuck::bytes_of(&p);
        be.launch(&registry::ACTIVATION_FORWARD, bytes, &mut [Arg::Write(&y), Arg::Read(&x)], Grid::Items(5)).unwrap();
        let args = &mut [Arg::Write(&dx), Arg::Read(&x), Arg::Read(&dy)];
        be.launch(&registry::ACTIVATION_BACKWARD, bytes, args, Grid::Items(5)).unwrap();
        [y, dx].iter().map(|t| be.read(t).unwrap().data().to_vec()).collect()
    }
    let mut outputs = vec![("cpu", run(&CpuBackend::new()))];
    if let Some(g) = gpu() {
        outputs.push(("gpu", run(g)));
    }
    for (path, outs) in outputs {
        for (which, values) in ["forward", "backward"].iter().zip(outs) {
            assert!(values.iter().all(|v| v.is_nan()), "{path} {which} of an unknown kind: {values:?}");
        }
    }
}
