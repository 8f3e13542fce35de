//! `downhill bench`: the standard workloads, timed on one backend. Names match
//! `benches/pytorch_reference.py`, which runs the same workloads in PyTorch, so both can be
//! compared in one run. Each workload runs once to warm up (pipelines, plans, caches), then
//! `reps` timed repetitions of at least `min_seconds` each; the median rate is reported. GPU
//! repetitions end with a waited submit (`Backend::sync`), so they time the device's work.

use crate::backend::Backend;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::feed::FeedMode;
use crate::hf::bert::BertConfig;
use crate::loss::{LossKind, Target};
use crate::nn::{Init, Model, ModelSpec};
use crate::ops::matmul;
use crate::optim::{registry, AdamConfig, Clip, Optimizer, OptimizerConfig, ParamGroup, Settings};
use crate::rng::Rng;
use crate::tensor::{MatmulForm, Tensor};
use crate::train::{BatchSize, TrainConfig, Trainer};
use std::time::Instant;

/// What a workload's rate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Floating-point operations (matmul), reported as GFLOP/s.
    Flops,
    /// Training rows.
    Samples,
    /// Training tokens (the GPT workload: batch × block per step).
    Tokens,
    /// Parameters updated (the optimizer workload; 28 bytes of traffic each for AdamW).
    Params,
    /// Explorer start points advanced one step (surface kernel + fused update).
    StartSteps,
}

impl Unit {
    /// The JSON key of the rate.
    pub fn key(self) -> &'static str {
        match self {
            Unit::Flops => "gflop_per_s",
            Unit::Samples => "samples_per_s",
            Unit::Tokens => "tokens_per_s",
            Unit::Params => "params_per_s",
            Unit::StartSteps => "start_steps_per_s",
        }
    }
}

/// One standard workload.
#[derive(Clone, Debug, PartialEq)]
pub enum Workload {
    /// `out = a·bᵀ` of n×n matrices.
    Matmul(usize),
    /// Training steps of an MLP (layer sizes) at a batch size with AdamW.
    Mlp(Vec<usize>, usize),
    /// Training steps of a convolutional preset (`cnn`, `lenet5`) on 28×28 images at a batch
    /// size with AdamW.
    Conv(&'static str, usize),
    /// Inference with a convolutional preset: the forward pass in eval mode (and the loss) over
    /// eight batches of this size.
    ConvEval(&'static str, usize),
    /// Training steps of nanoGPT's character-level CPU recipe, `gpt(n_layer=4, n_head=4,
    /// n_embd=128, block_size=64)` over a 65-token vocabulary, at a batch size (windows of 64
    /// tokens) with AdamW and gradient clipping at 1.
    Gpt(usize),
    /// Fine-tuning steps of a sentence classifier on an encoder of all-MiniLM-L6-v2's shape
    /// (BERT, 6 layers, width 384, 12 heads, dropout 0.1), mean pooling and a 4-class head, at
    /// a batch size of full sequences of this many tokens, AdamW, clipping at 1. The weights
    /// are random: the step's work does not depend on them, and the bench needs no download.
    Finetune(usize, usize),
    /// One fused AdamW update over this many parameters.
    AdamW(usize),
    /// One epoch of the built-in MNIST subset with the default MLP through a feed mode.
    Epoch(FeedMode),
    /// An explorer basin map: n×n starts, this many steps of momentum SGD on the six-hump
    /// camel, in one batch.
    BasinMap(usize, usize),
}

impl Workload {
    /// The standard list (issue 9).
    pub fn standard() -> Vec<Workload> {
        vec![
            Workload::Matmul(512),
            Workload::Matmul(1024),
            Workload::Matmul(2048),
            Workload::Mlp(vec![784, 512, 512, 10], 128),
            Workload::Mlp(vec![784, 1024, 1024, 10], 256),
            Workload::Mlp(vec![784, 128, 10], 64),
            Workload::Conv("cnn", 64),
            Workload::Conv("cnn", 256),
            Workload::Conv("lenet5", 64),
            Workload::Conv("lenet5", 256),
            Workload::ConvEval("cnn", 256),
            Workload::ConvEval("lenet5", 256),
            Workload::Gpt(12),
            Workload::Finetune(32, 64),
            Workload::AdamW(10_000_000),
            Workload::Epoch(FeedMode::Resident),
            Workload::Epoch(FeedMode::Streaming),
            Workload::BasinMap(512, 100),
        ]
    }

    /// The name shared with `benches/pytorch_reference.py`, e.g. `mlp_784-512-512-10_b128_adamw`.
    pub fn name(&self) -> String {
        match self {
            Workload::Matmul(n) => format!("matmul_{n}"),
            Workload::Mlp(sizes, b) => {
                let s: Vec<String> = sizes.iter().map(|v| v.to_string()).collect();
                format!("mlp_{}_b{b}_adamw", s.join("-"))
            }
            Workload::Conv(preset, b) => format!("{preset}_b{b}_adamw"),
            Workload::ConvEval(preset, b) => format!("{preset}_eval_b{b}"),
            Workload::Gpt(b) => format!("gpt_char_b{b}_t{GPT_BLOCK}_adamw"),
            Workload::Finetune(b, t) => format!("minilm_finetune_b{b}_t{t}_adamw"),
            Workload::AdamW(n) => format!("adamw_update_{}m", n / 1_000_000),
            Workload::Epoch(FeedMode::Streaming) => "epoch_builtin_streaming".into(),
            Workload::Epoch(_) => "epoch_builtin_resident".into(),
            Workload::BasinMap(n, k) => format!("basin_map_{n}x{n}_k{k}"),
        }
    }

    /// What its rate counts.
    pub fn unit(&self) -> Unit {
        match self {
            Workload::Matmul(_) => Unit::Flops,
            Workload::AdamW(_) => Unit::Params,
            Workload::Gpt(_) => Unit::Tokens,
            Workload::BasinMap(..) => Unit::StartSteps,
            _ => Unit::Samples,
        }
    }

    /// True for workloads too large for a software adapter (lavapipe runs them ~100× slower
    /// than the CPU path; 2048³ alone would take about a minute).
    pub fn heavy(&self) -> bool {
        matches!(self, Workload::Matmul(n) if *n >= 1024)
            || matches!(self, Workload::Mlp(s, _) if s.iter().any(|&v| v >= 1024))
            || matches!(self, Workload::AdamW(_) | Workload::Gpt(_) | Workload::Finetune(..))
            || matches!(self, Workload::Conv(_, b) | Workload::ConvEval(_, b) if *b >= 256)
    }
}

/// A measured workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// The workload's name.
    pub workload: String,
    /// What the rate counts.
    pub unit: Unit,
    /// Median rate over the repetitions (GFLOP/s, samples/s or params/s).
    pub rate: f64,
    /// Every repetition's rate.
    pub reps: Vec<f64>,
    /// The work one iteration does, in the rate's unit (GFLOP, samples, parameters).
    pub work_per_iteration: f64,
    /// Iterations run in all (the warm-up and, for training steps on a recording path, the
    /// epoch that measures [`StepCost`] included).
    pub iterations: usize,
    /// On a recording path (the GPU), what one training step costs the host.
    pub step_cost: Option<StepCost>,
}

/// The host's side of one training step on a recording path, averaged over one more epoch of
/// the workload after the timed repetitions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepCost {
    /// Kernel dispatches per step.
    pub dispatches: f64,
    /// `queue.submit` calls per step.
    pub submits: f64,
    /// Host µs per step spent recording dispatches and submitting them.
    pub host_us: f64,
}

impl Measurement {
    /// The rate in bytes per second where that means something (AdamW: 28 bytes per parameter:
    /// read p, g, m, v and write p, m, v, f32 each).
    pub fn gb_per_s(&self) -> Option<f64> {
        (self.unit == Unit::Params).then(|| self.rate * 28.0 / 1e9)
    }
}

/// How long to measure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Timed repetitions (the median is reported).
    pub reps: usize,
    /// Each repetition runs the workload until at least this long has passed.
    pub min_seconds: f64,
}

impl Default for Timing {
    fn default() -> Self {
        Self { reps: 3, min_seconds: 0.5 }
    }
}

/// The rates of the repetitions, the work of one iteration and the iterations run.
type Rates = (Vec<f64>, f64, usize);

/// Runs `iteration` (which returns the units of work it did) repeatedly: once to warm up, then
/// `t.reps` repetitions of at least `t.min_seconds`; `sync` waits for the device after each.
fn measure(t: &Timing, mut iteration: impl FnMut() -> Result<f64>, sync: impl Fn() -> Result<()>) -> Result<Rates> {
    let work_per_iteration = iteration()?;
    sync()?;
    let mut iterations = 1;
    let mut rates = Vec::with_capacity(t.reps);
    for _ in 0..t.reps.max(1) {
        let started = Instant::now();
        let mut work = 0.0;
        loop {
            work += iteration()?;
            sync()?;
            iterations += 1;
            if started.elapsed().as_secs_f64() >= t.min_seconds {
                break;
            }
        }
        rates.push(work / started.elapsed().as_secs_f64());
    }
    Ok((rates, work_per_iteration, iterations))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn random_rows(rng: &mut Rng, rows: usize, features: usize, classes: usize) -> Result<Dataset> {
    let x = (0..rows * features).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
    let labels = (0..rows).map(|_| rng.below(classes as u64) as u32).collect();
    Dataset::new(Tensor::from_vec(&[rows, features], x)?, Targets::Labels { labels, classes })
}

fn adamw<B: Backend>(be: &B, spec: &ModelSpec) -> Result<Optimizer<B>> {
    let entry = registry::find("adamw")?;
    Optimizer::new(be, (entry.from_settings)(&Settings::default()), &spec.layout()?, &[])
}

/// Batches of random data a training-step workload cycles through: one iteration is one epoch
/// of them.
const STEP_BATCHES: usize = 8;

/// Steps of `spec` at `batch` rows on random data (resident feed); returns the rates and, on a
/// recording path, the host's cost per step.
fn train_steps<B: Backend>(be: &B, spec: ModelSpec, batch: usize, t: &Timing) -> Result<(Rates, Option<StepCost>)> {
    let mut rng = Rng::new(7);
    let data = random_rows(&mut rng, STEP_BATCHES * batch, spec.inputs(), spec.outputs())?;
    let model = Model::new(be, spec.clone(), 0)?;
    let config = TrainConfig {
        batch_size: BatchSize::Rows(batch),
        shuffle: false,
        feed: FeedMode::Resident,
        ..Default::default()
    };
    let mut trainer = Trainer::new(be, model, adamw(be, &spec)?, LossKind::CrossEntropy, config)?;
    let order: Vec<usize> = (0..data.len()).collect();
    let rates = measure(t, || trainer.run_epoch(be, &data, &order).map(|_| data.len() as f64), || be.sync())?;
    let Some(before) = be.recording_stats() else {
        return Ok((rates, None));
    };
    // One more epoch, counted: its dispatches, submits and host time per step.
    let rates = (rates.0, rates.1, rates.2 + 1);
    trainer.run_epoch(be, &data, &order)?;
    be.sync()?;
    let after = be.recording_stats().unwrap_or(before);
    let steps = STEP_BATCHES as f64;
    let cost = StepCost {
        dispatches: (after.dispatches - before.dispatches) as f64 / steps,
        submits: (after.submits - before.submits) as f64 / steps,
        host_us: (after.host_ns - before.host_ns) as f64 / 1e3 / steps,
    };
    Ok((rates, Some(cost)))
}

/// Inference of `spec` over STEP_BATCHES batches of `batch` random rows: the forward pass in
/// eval mode and the loss, as `Trainer::evaluate` runs it, without reading the outputs back.
fn eval_steps<B: Backend>(be: &B, spec: ModelSpec, batch: usize, t: &Timing) -> Result<Rates> {
    let mut rng = Rng::new(11);
    let data = random_rows(&mut rng, STEP_BATCHES * batch, spec.inputs(), spec.outputs())?;
    let model = Model::new(be, spec.clone(), 0)?;
    let config = TrainConfig { batch_size: BatchSize::Rows(batch), feed: FeedMode::Resident, ..Default::default() };
    let mut trainer = Trainer::new(be, model, adamw(be, &spec)?, LossKind::CrossEntropy, config)?;
    let order: Vec<usize> = (0..data.len()).collect();
    let batches: Vec<&[usize]> = order.chunks(batch).collect();
    measure(
        t,
        || {
            for rows in &batches {
                trainer.forward_rows(be, &data, rows)?;
            }
            Ok(data.len() as f64)
        },
        || be.sync(),
    )
}

/// The GPT workload's model (nanoGPT's CPU recipe for tiny-shakespeare) and its window.
const GPT_MODEL: &str = "gpt(n_layer=4, n_head=4, n_embd=128, block_size=64)";
const GPT_BLOCK: usize = 64;
/// tiny-shakespeare's character vocabulary.
const GPT_VOCAB: usize = 65;

/// all-MiniLM-L6-v2's config.json, the fields the encoder reads.
const MINILM_CONFIG: &str = r#"{"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 30522,
    "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536,
    "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}"#;
/// The fine-tuning workload's classes.
const FINETUNE_CLASSES: usize = 4;

/// The batches a sequence workload trains on.
struct SequenceBatches {
    /// Steps one iteration takes (one batch each).
    steps: usize,
    /// Sequences per batch.
    batch: usize,
    /// Token ids are drawn below this.
    vocab: usize,
    /// Labels per sequence (one per token for a language model, one for a classifier).
    targets: usize,
    /// Labels are drawn below this.
    classes: usize,
    /// What one step counts in the workload's unit (tokens or sequences).
    work_per_step: f64,
}

/// Training steps of a sequence model: `spec` on `d.steps` batches of random token sequences;
/// AdamW (weight decay on tensors of two or more dims only, as nanoGPT and Hugging Face group
/// them) with gradient clipping at 1. One iteration is the `d.steps` steps.
fn sequence_steps<B: Backend>(be: &B, spec: ModelSpec, d: &SequenceBatches, t: &Timing) -> Result<Rates> {
    let len = spec.inputs();
    let mut rng = Rng::new(13);
    let mut batches = Vec::with_capacity(d.steps);
    for _ in 0..d.steps {
        let ids: Vec<f32> = (0..d.batch * len).map(|_| rng.below(d.vocab as u64) as f32).collect();
        let labels: Vec<u32> = (0..d.batch * d.targets).map(|_| rng.below(d.classes as u64) as u32).collect();
        let x = be.upload(&Tensor::from_vec(&[d.batch, len], ids)?)?;
        batches.push((x, be.upload_labels(&labels, d.classes)?));
    }
    let layout = spec.layout()?;
    let no_decay: Vec<String> = layout.views().iter().filter(|v| v.shape.len() < 2).map(|v| v.name.clone()).collect();
    let group = ParamGroup { params: no_decay, lr: None, weight_decay: Some(0.0) };
    let mut opt = Optimizer::new(be, OptimizerConfig::Adam(AdamConfig::adamw()), &layout, &[group])?;
    opt.set_clip(Clip::L2Norm(1.0))?;
    let mut model = Model::new(be, spec, 0)?;
    measure(
        t,
        || {
            for (x, y) in &batches {
                model.forward(be, x, true)?;
                model.loss(be, LossKind::CrossEntropy, &Target::Labels(y))?;
                model.backward(be, x, false)?;
                opt.step(be, model.params.flat_mut(), model.grads.flat())?;
            }
            Ok(d.work_per_step * d.steps as f64)
        },
        || be.sync(),
    )
}

/// Runs one workload on `be`.
pub fn run<B: Backend>(be: &B, w: &Workload, t: &Timing) -> Result<Measurement> {
    let mut step_cost = None;
    let rates = match w {
        Workload::Matmul(n) => {
            let n = *n;
            let mut rng = Rng::new(1);
            let mut rand = |len: usize| -> Result<B::Tensor> {
                be.upload(&Tensor::from_vec(&[n, n], (0..len).map(|_| rng.uniform(-1.0, 1.0) as f32).collect())?)
            };
            let (a, b) = (rand(n * n)?, rand(n * n)?);
            let mut out = be.zeros(&[n, n])?;
            let flops = 2.0 * (n as f64).powi(3);
            measure(
                t,
                || matmul::matmul(be, MatmulForm::Nt, &mut out, &a, &b, false).map(|_| flops / 1e9),
                || be.sync(),
            )?
        }
        Workload::Mlp(sizes, batch) => {
            let spec = ModelSpec::mlp(sizes, crate::Activation::Relu, 0.0, Init::TorchDefault)?;
            let (rates, cost) = train_steps(be, spec, *batch, t)?;
            step_cost = cost;
            rates
        }
        Workload::Conv(preset, batch) => {
            let spec = ModelSpec::parse(preset, &[1, 28, 28], 10, Init::TorchDefault)?;
            let (rates, cost) = train_steps(be, spec, *batch, t)?;
            step_cost = cost;
            rates
        }
        Workload::ConvEval(preset, batch) => {
            let spec = ModelSpec::parse(preset, &[1, 28, 28], 10, Init::TorchDefault)?;
            eval_steps(be, spec, *batch, t)?
        }
        Workload::Gpt(batch) => {
            let spec = ModelSpec::parse(GPT_MODEL, &[GPT_BLOCK], GPT_VOCAB, Init::TorchDefault)?;
            let work_per_step = (batch * GPT_BLOCK) as f64;
            let d = SequenceBatches {
                steps: STEP_BATCHES,
                batch: *batch,
                vocab: GPT_VOCAB,
                targets: GPT_BLOCK,
                classes: GPT_VOCAB,
                work_per_step,
            };
            sequence_steps(be, spec, &d, t)?
        }
        Workload::Finetune(batch, len) => {
            let config: serde_json::Value = serde_json::from_str(MINILM_CONFIG).map_err(|e| {
                Error::InvalidArgument { what: "bench".into(), detail: format!("the MiniLM config: {e}") }
            })?;
            let bert = BertConfig::from_json(&config)?;
            let text = format!("{} pool_tokens(mean) linear({FINETUNE_CLASSES})", bert.encoder_spec(true));
            let spec = ModelSpec::parse(&text, &[*len], FINETUNE_CLASSES, Init::TorchDefault)?;
            // Two steps an iteration: one takes about a second on this machine's CPU.
            let d = SequenceBatches {
                steps: 2,
                batch: *batch,
                vocab: bert.vocab,
                targets: 1,
                classes: FINETUNE_CLASSES,
                work_per_step: *batch as f64,
            };
            sequence_steps(be, spec, &d, t)?
        }
        Workload::AdamW(n) => {
            // A layout of about n parameters: one Linear(n/1000 → 1000) (its 1,000 biases on top).
            let spec = ModelSpec::mlp(&[*n / 1000, 1000], crate::Activation::Relu, 0.0, Init::Zeros)?;
            let layout = spec.layout()?;
            let mut opt = adamw(be, &spec)?;
            let mut params = be.zeros(&[layout.total()])?;
            let mut rng = Rng::new(3);
            let g: Vec<f32> = (0..layout.total()).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
            let grads = be.upload(&Tensor::from_vec(&[layout.total()], g)?)?;
            let count = layout.parameter_count() as f64;
            measure(t, || opt.step(be, &mut params, &grads).map(|_| count), || be.sync())?
        }
        Workload::BasinMap(n, steps) => {
            let optimizer =
                registry::build("sgd", &Settings { lr: Some(0.01), momentum: Some(0.9), ..Default::default() })?;
            let spec = crate::explore::RunSpec {
                surface: crate::explore::Surface::new("camel", None, None)?,
                optimizer,
                schedule: crate::schedule::Schedule::Constant,
                steps: *steps,
            };
            let work = (n * n * steps) as f64;
            // basin_map reads its result back, so each iteration ends with the device idle.
            measure(t, || crate::explore::basin_map(be, &spec, *n).map(|_| work), || Ok(()))?
        }
        Workload::Epoch(mode) => {
            // Raw pixels in [0, 1] (no normalisation): the rate, not the accuracy, is measured.
            let data = crate::data::mnist::builtin(None)?;
            let spec = ModelSpec::mlp(&[784, 256, 128, 10], crate::Activation::Relu, 0.2, Init::TorchDefault)?;
            let model = Model::new(be, spec.clone(), 0)?;
            let config = TrainConfig { batch_size: BatchSize::Rows(64), feed: *mode, ..Default::default() };
            let opt = Optimizer::new(
                be,
                (registry::find("adam")?.from_settings)(&Settings::default()),
                &spec.layout()?,
                &[],
            )?;
            let mut trainer = Trainer::new(be, model, opt, LossKind::CrossEntropy, config)?;
            let rows = data.train.len();
            measure(
                t,
                || {
                    let order = trainer.epoch_order(rows);
                    trainer.run_epoch(be, &data.train, &order).map(|_| rows as f64)
                },
                || be.sync(),
            )?
        }
    };
    let (reps, work_per_iteration, iterations) = rates;
    let rate = median(&reps);
    Ok(Measurement { workload: w.name(), unit: w.unit(), rate, reps, work_per_iteration, iterations, step_cost })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_finetune_workload_builds_minilms_encoder_with_a_head() {
        // Its steps take seconds in a debug build, so the test builds the model only; the
        // GPT workload runs in tests/cli_models.rs.
        let config: serde_json::Value = serde_json::from_str(MINILM_CONFIG).unwrap();
        let bert = BertConfig::from_json(&config).unwrap();
        let text = format!("{} pool_tokens(mean) linear({FINETUNE_CLASSES})", bert.encoder_spec(true));
        let spec = ModelSpec::parse(&text, &[64], FINETUNE_CLASSES, Init::TorchDefault).unwrap();
        // By hand: the embeddings (30522 + 512 + 2 rows of 384, a LayerNorm), six layers (four
        // 384×384 projections, 384→1536→384, two LayerNorms) and the head; all-MiniLM-L6-v2's
        // file holds 22,713,216 with the pooler (384·384 + 384) this model leaves out.
        let embeddings = (30522 + 512 + 2) * 384 + 2 * 384;
        let layer = 4 * (384 * 384 + 384) + (384 * 1536 + 1536) + (1536 * 384 + 384) + 2 * 2 * 384;
        assert_eq!(embeddings + 6 * layer + 384 * 384 + 384, 22_713_216);
        assert_eq!(spec.layout().unwrap().parameter_count(), embeddings + 6 * layer + 384 * 4 + 4);
        assert_eq!(spec.outputs(), FINETUNE_CLASSES);
    }
}
