//! `Trainer`: the gradient-descent loop written once against `Backend`. Full-batch, stochastic
//! (batch 1) and mini-batch descent are settings of the same loop; so are gradient accumulation,
//! clipping, L1/L2 penalties and the learning-rate schedule. Losses accumulate on the device and
//! are read back once per epoch.

use crate::backend::Backend;
use crate::data::{gather_rows, Dataset, Targets};
use crate::error::{Error, Result};
use crate::loss::{LossKind, Target};
use crate::nn::Model;
use crate::optim::{Clip, Optimizer};
use crate::rng::Rng;
use crate::schedule::Schedule;
use crate::tensor::Tensor;

/// How many rows one optimizer step sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchSize {
    /// Every row: full-batch gradient descent.
    Full,
    /// This many rows (1 is stochastic gradient descent); the last batch of an epoch may be
    /// smaller and is kept, as PyTorch's DataLoader with drop_last=False.
    Rows(usize),
}

/// Settings of the loop.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Rows per micro-batch.
    pub batch_size: BatchSize,
    /// Micro-batches whose gradients are averaged into one optimizer step (1: none).
    pub accumulation: usize,
    /// Learning-rate schedule, stepped once per optimizer step.
    pub schedule: Schedule,
    /// Gradient clipping inside the step.
    pub clip: Clip,
    /// L1 penalty λ₁·Σ|w|: adds λ₁·sign(w) to every gradient.
    pub l1: f64,
    /// L2 penalty (λ₂/2)·Σw²: adds λ₂·w to every gradient (for decoupled decay use AdamW).
    pub l2: f64,
    /// Shuffle the rows every epoch (from `seed`).
    pub shuffle: bool,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: BatchSize::Rows(32),
            accumulation: 1,
            schedule: Schedule::Constant,
            clip: Clip::None,
            l1: 0.0,
            l2: 0.0,
            shuffle: true,
            seed: 0,
        }
    }
}

/// What one epoch measured while training.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochStats {
    /// The unweighted mean of the epoch's micro-batch losses.
    pub mean_batch_loss: f64,
    /// Optimizer steps taken in the epoch.
    pub steps: u64,
}

/// A full-set evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss over every row.
    pub loss: f64,
    /// Fraction of rows whose largest output is the label (classification only).
    pub accuracy: Option<f64>,
}

/// Device buffers for one batch size, reused every step.
struct BatchBuffers<B: Backend> {
    rows: usize,
    x: B::Tensor,
    values: Option<B::Tensor>,
    labels: Option<B::Labels>,
}

/// A model, its optimizer and the loop's settings.
pub struct Trainer<B: Backend> {
    /// The model being trained.
    pub model: Model<B>,
    /// Its optimizer.
    pub optimizer: Optimizer<B>,
    /// The loss.
    pub loss: LossKind,
    config: TrainConfig,
    base_lrs: Vec<f64>,
    steps: u64,
    rng: Rng,
    buffers: Vec<BatchBuffers<B>>,
    loss_sum: B::Tensor,
}

impl<B: Backend> Trainer<B> {
    /// A trainer; the optimizer's current learning rates are the schedule's base rates.
    pub fn new(
        be: &B,
        model: Model<B>,
        mut optimizer: Optimizer<B>,
        loss: LossKind,
        config: TrainConfig,
    ) -> Result<Self> {
        config.schedule.validate()?;
        if config.accumulation == 0 || config.batch_size == BatchSize::Rows(0) {
            return Err(Error::InvalidArgument {
                what: "training".into(),
                detail: "batch size and accumulation must be at least 1".into(),
            });
        }
        optimizer.set_clip(config.clip);
        Ok(Self {
            base_lrs: optimizer.lrs(),
            rng: Rng::new(config.seed),
            model,
            optimizer,
            loss,
            config,
            steps: 0,
            buffers: Vec::new(),
            loss_sum: be.zeros(&[1])?,
        })
    }

    /// Optimizer steps taken (the schedule's k).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The order of the next epoch: 0..n, shuffled when the config says so.
    pub fn epoch_order(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        if self.config.shuffle {
            self.rng.shuffle(&mut order);
        }
        order
    }

    fn buffers_for(&mut self, be: &B, data: &Dataset, rows: usize) -> Result<usize> {
        if let Some(i) = self.buffers.iter().position(|b| b.rows == rows) {
            return Ok(i);
        }
        let (values, labels) = match &data.targets {
            Targets::Labels { classes, .. } => (None, Some(be.upload_labels(&vec![0; rows], *classes)?)),
            Targets::Values(t) => (Some(be.zeros(&[rows, t.shape()[1]])?), None),
        };
        self.buffers.push(BatchBuffers { rows, x: be.zeros(&[rows, data.features()])?, values, labels });
        Ok(self.buffers.len() - 1)
    }

    /// Uploads rows `idx` into the reused buffers of that batch size.
    fn load_batch(&mut self, be: &B, data: &Dataset, idx: &[usize]) -> Result<usize> {
        let bi = self.buffers_for(be, data, idx.len())?;
        let buf = &mut self.buffers[bi];
        be.write(&mut buf.x, &gather_rows(&data.x, idx)?)?;
        match &data.targets {
            Targets::Labels { labels, classes } => {
                let batch: Vec<u32> = idx.iter().map(|&i| labels[i]).collect();
                be.write_labels(buf.labels.as_mut().expect("label buffers"), &batch, *classes)?;
            }
            Targets::Values(t) => be.write(buf.values.as_mut().expect("value buffers"), &gather_rows(t, idx)?)?,
        }
        Ok(bi)
    }

    /// Forward and loss on loaded buffers `bi`.
    fn forward_loss(&mut self, be: &B, bi: usize, train: bool) -> Result<()> {
        let buf = &self.buffers[bi];
        self.model.forward(be, &buf.x, train)?;
        let target = match (&buf.labels, &buf.values) {
            (Some(l), _) => Target::Labels(l),
            (None, Some(v)) => Target::Values(v),
            _ => unreachable!("a batch has labels or values"),
        };
        self.model.loss(be, self.loss, &target)
    }

    /// One optimizer step over `micro` (each a list of row indices): forward, loss, backward for
    /// each (gradients summed, then averaged), penalties, schedule, then the fused update.
    pub fn step(&mut self, be: &B, data: &Dataset, micro: &[&[usize]]) -> Result<()> {
        for (j, idx) in micro.iter().enumerate() {
            let bi = self.load_batch(be, data, idx)?;
            self.forward_loss(be, bi, true)?;
            self.model.backward(be, &self.buffers[bi].x, j > 0)?;
            be.axpy(&mut self.loss_sum, 1.0, self.model.loss_tensor()?)?;
        }
        let grads = self.model.grads.flat_mut();
        if micro.len() > 1 {
            be.scale(grads, 1.0 / micro.len() as f32)?;
        }
        if self.config.l2 != 0.0 {
            be.axpy(grads, self.config.l2 as f32, self.model.params.flat())?;
        }
        if self.config.l1 != 0.0 {
            be.add_sign(grads, self.config.l1 as f32, self.model.params.flat())?;
        }
        let k = self.steps;
        let lrs: Vec<f64> = self.base_lrs.iter().map(|&b| self.config.schedule.lr(b, k)).collect();
        self.optimizer.set_lrs(&lrs)?;
        if let Some(m) = self.config.schedule.momentum(k) {
            self.optimizer.set_momentum(m);
        }
        let (params, grads) = (self.model.params.flat_mut(), self.model.grads.flat());
        self.optimizer.step(be, params, grads)?;
        self.steps += 1;
        Ok(())
    }

    /// One epoch over `order` (row indices): consecutive micro-batches of the batch size,
    /// `accumulation` of them per optimizer step. Reads one number back at the end.
    pub fn run_epoch(&mut self, be: &B, data: &Dataset, order: &[usize]) -> Result<EpochStats> {
        let rows = match self.config.batch_size {
            BatchSize::Full => order.len().max(1),
            BatchSize::Rows(r) => r,
        };
        be.fill(&mut self.loss_sum, 0.0)?;
        let batches: Vec<&[usize]> = order.chunks(rows).collect();
        let mut steps = 0;
        for group in batches.chunks(self.config.accumulation) {
            self.step(be, data, group)?;
            steps += 1;
        }
        let total = be.read(&self.loss_sum)?.data()[0] as f64;
        Ok(EpochStats { mean_batch_loss: total / batches.len().max(1) as f64, steps })
    }

    /// Loss (and accuracy for labels) over every row, in chunks of at most 4096 rows.
    pub fn evaluate(&mut self, be: &B, data: &Dataset) -> Result<Evaluation> {
        let n = data.len();
        if n == 0 {
            return Err(Error::InvalidArgument { what: "evaluate".into(), detail: "the data set is empty".into() });
        }
        let (mut loss, mut correct) = (0.0f64, 0usize);
        let all: Vec<usize> = (0..n).collect();
        for chunk in all.chunks(4096) {
            let bi = self.load_batch(be, data, chunk)?;
            self.forward_loss(be, bi, false)?;
            loss += be.read(self.model.loss_tensor()?)?.data()[0] as f64 * chunk.len() as f64;
            if let Targets::Labels { labels, .. } = &data.targets {
                let out = be.read(self.model.output()?)?;
                correct += count_correct(&out, chunk.iter().map(|&i| labels[i]));
            }
        }
        let accuracy = matches!(data.targets, Targets::Labels { .. }).then(|| correct as f64 / n as f64);
        Ok(Evaluation { loss: loss / n as f64, accuracy })
    }
}

/// Rows whose arg-max output (first maximum on ties) equals the label.
pub fn count_correct(out: &Tensor, labels: impl Iterator<Item = u32>) -> usize {
    let cols = out.shape()[1];
    out.data()
        .chunks(cols)
        .zip(labels)
        .filter(|(row, label)| {
            let best = row.iter().enumerate().fold(0, |b, (i, &v)| if v > row[b] { i } else { b });
            best == *label as usize
        })
        .count()
}
