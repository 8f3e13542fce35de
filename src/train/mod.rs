//! `Trainer`: the gradient-descent loop written once against `Backend`. Full-batch, stochastic
//! (batch 1) and mini-batch descent are settings of the same loop; so are gradient accumulation,
//! clipping, L1/L2 penalties and the learning-rate schedule. Losses accumulate on the device and
//! are read back once per epoch. Data parallelism (the gradient all-reduce, in buckets or
//! whole) is in `train/sync.rs`.

pub mod augment;
mod sync;

use crate::ops::elementwise;
use crate::ops::reduce;
use crate::ops::sample;
pub use sync::AllReduceStats;
use sync::GradSync;

/// Mixed into the seed for augmentation keys, so they differ from dropout's.
const AUGMENT_SALT: u64 = 0xA46_3E47;

use crate::backend::Backend;
use crate::data::{gather_rows, Dataset, Targets};
use crate::distributed::{eval_rows, ReduceOp};
use crate::error::{Error, Result};
use crate::feed::{choose_mode, start_stream, Feed, FeedMode, Load, RESIDENT_BUDGET_BYTES};
use crate::loss::LossKind;
use crate::metrics::ValueSums;
use crate::nn::Model;
use crate::optim::{Clip, Optimizer};
use crate::params::ALIGN;
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
    /// Where training batches come from (resident on the device or streamed).
    pub feed: FeedMode,
    /// Steps between loss read-backs for progress reports and the divergence check (the epoch
    /// end always reads).
    pub report_every: u64,
    /// Data parallelism: all-reduce the gradient in buckets of about this many bytes while the
    /// backward pass runs (DDP's bucketing); 0 all-reduces the whole flat buffer once after it.
    pub bucket_bytes: usize,
    /// Augmentation of training batches of these [C, H, W] images (None: none).
    pub augment: Option<(augment::Augment, [usize; 3])>,
    /// A black pixel at each position of those images in the model's input units (the
    /// normalisation of 0), what padding fills in; None: 0 (data that is not normalised).
    pub augment_fill: Option<Vec<f32>>,
}

impl TrainConfig {
    /// Rows per micro-batch for an epoch of `rows` rows: a batch larger than the epoch is the
    /// epoch (what memory and plans are sized by).
    pub fn batch_rows(&self, rows: usize) -> usize {
        match self.batch_size {
            BatchSize::Full => rows.max(1),
            BatchSize::Rows(r) => r.min(rows.max(1)),
        }
    }

    /// Optimizer steps an epoch of `rows` rows takes.
    pub fn steps_in_epoch(&self, rows: usize) -> u64 {
        rows.div_ceil(self.batch_rows(rows)).div_ceil(self.accumulation.max(1)) as u64
    }
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
            feed: FeedMode::Auto,
            report_every: 50,
            bucket_bytes: 0,
            augment: None,
            augment_fill: None,
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

/// What a run of steps measured: the summed micro-batch losses and their count.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanStats {
    /// Sum of the micro-batch losses.
    pub loss_sum: f64,
    /// Micro-batches run.
    pub micro_batches: usize,
    /// Optimizer steps taken.
    pub steps: u64,
}

/// A full-set evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss over every row.
    pub loss: f64,
    /// Fraction of rows whose largest output is the label (classification only).
    pub accuracy: Option<f64>,
    /// `confusion[true][predicted]` counts (classification only).
    pub confusion: Option<Vec<Vec<u64>>>,
    /// Error and target sums for MAE, RMSE and R², in the units the model trains in
    /// (regression under `mse` only).
    pub values: Option<ValueSums>,
}

/// What a step callback sees.
#[derive(Clone, Debug, PartialEq)]
pub struct StepInfo {
    /// Optimizer steps taken since training began.
    pub step: u64,
    /// Steps taken in this epoch.
    pub epoch_step: u64,
    /// Steps this epoch will take.
    pub epoch_steps: u64,
    /// Rows processed in this epoch.
    pub rows: usize,
    /// Mean micro-batch loss of the epoch so far, when this step read it back (every
    /// `report_every` steps).
    pub mean_loss: Option<f64>,
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
    /// This step's learning rates (reused: no allocation per step).
    lrs: Vec<f64>,
    steps: u64,
    rng: Rng,
    feed: Feed<B>,
    /// The numbers the host reads back, in one buffer so one read gets them all: the guard at
    /// element 0 and the loss sum at element ALIGN (views `guard` and `loss_sum`).
    monitor: B::Tensor,
    loss_sum: B::Tensor,
    grad_sumsq: B::Tensor,
    /// [first non-finite step since `guard_base`, steps counted] on the device.
    guard: B::Tensor,
    guard_base: u64,
    /// The feed batch of the last micro-step (Sophia-G's Hessian estimate reuses it).
    last_batch: usize,
    /// Where a training batch is augmented before it is copied back over the feed's buffer,
    /// and the padding's fill (uploaded with it).
    augmented: Option<(B::Tensor, B::Tensor)>,
    /// Sophia-G: labels sampled from the model, one buffer per batch row count seen.
    sampled: Vec<(usize, B::U32Buffer)>,
    /// Data parallelism: the replicas' group and the host copy of the flat gradient.
    sync: Option<GradSync<B>>,
}

/// Salt of the keys Sophia-G's label sampling draws from (apart from the dropout keys).
const SAMPLING_SALT: u64 = 0x5301_F1A6_5A3B_1E00;

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
        optimizer.set_clip(config.clip)?;
        if optimizer.config().rule().auxiliary_interval().is_some() && loss != LossKind::CrossEntropy {
            return Err(Error::InvalidArgument {
                what: format!("{:?}", optimizer.config().kind()).to_lowercase(),
                detail: format!(
                    "its Hessian estimate samples class labels from the model (Gauss-Newton-Bartlett), so it needs \
                     the cross-entropy loss, not {loss:?}"
                ),
            });
        }
        let monitor = be.zeros(&[2 * ALIGN])?;
        Ok(Self {
            base_lrs: optimizer.lrs(),
            lrs: optimizer.lrs(),
            rng: Rng::new(config.seed),
            model,
            optimizer,
            loss,
            config,
            steps: 0,
            feed: Feed::new(),
            loss_sum: be.view(&monitor, ALIGN, &[1])?,
            guard: be.view(&monitor, 0, &[2])?,
            monitor,
            grad_sumsq: be.zeros(&[1])?,
            guard_base: 0,
            last_batch: 0,
            augmented: None,
            sampled: Vec::new(),
            sync: None,
        })
    }

    /// The feed mode the last epoch used.
    pub fn last_feed_mode(&self) -> Option<FeedMode> {
        self.feed.last_mode
    }

    /// Restores the loop's position: steps taken and the shuffle generator's state (from a
    /// checkpoint).
    pub fn restore_position(&mut self, be: &B, steps: u64, rng_state: u64) -> Result<()> {
        self.steps = steps;
        self.rng = Rng::new(rng_state);
        elementwise::fill(be, &mut self.guard, 0.0)?;
        self.guard_base = steps;
        Ok(())
    }

    /// Replaces the learning-rate schedule and the rates it starts from (one per parameter
    /// group); the learning-rate finder sets a constant rate before each of its steps.
    pub fn set_schedule(&mut self, schedule: Schedule, base_lrs: &[f64]) -> Result<()> {
        if base_lrs.len() != self.base_lrs.len() || base_lrs.iter().any(|lr| !lr.is_finite() || *lr < 0.0) {
            return Err(Error::InvalidArgument {
                what: "learning rates".into(),
                detail: format!("{base_lrs:?}: need {} finite rates ≥ 0, one per group", self.base_lrs.len()),
            });
        }
        self.config.schedule = schedule;
        self.base_lrs = base_lrs.to_vec();
        Ok(())
    }

    /// The schedule and the rates it starts from.
    pub fn schedule(&self) -> (Schedule, Vec<f64>) {
        (self.config.schedule.clone(), self.base_lrs.clone())
    }

    /// The shuffle generator's state (for checkpoints).
    pub fn rng_state(&self) -> u64 {
        self.rng.state()
    }

    /// Fails with [`Error::Diverged`] if a step since the last check had a non-finite loss or
    /// gradient (one read-back).
    pub fn check_divergence(&self, be: &B) -> Result<()> {
        self.read_monitor(be).map(|_| ())
    }

    /// One read-back of the monitor: fails on divergence, else returns the loss sum so far
    /// (with replicas: the mean over them of their sums, and a divergence on any is on all).
    fn read_monitor(&self, be: &B) -> Result<f64> {
        let m = be.read(&self.monitor)?;
        let (mut flag, mut loss_sum) = (m.data()[0] as f64, m.data()[ALIGN] as f64);
        if let Some(sync) = &self.sync {
            let step = self.steps;
            let mut f = [flag];
            sync.comm.all_reduce_f64(&format!("the divergence check after step {step}"), &mut f, ReduceOp::Max)?;
            let mut l = [loss_sum];
            sync.comm.all_reduce_f64(&format!("the loss sum after step {step}"), &mut l, ReduceOp::Sum)?;
            (flag, loss_sum) = (f[0], l[0] / sync.comm.size() as f64);
        }
        if flag != 0.0 {
            let step = self.guard_base + flag as u64;
            let lrs = self.optimizer.lrs();
            return Err(Error::Diverged(format!(
                "training diverged at step {step}: the loss or the gradients became NaN or infinite at learning rate {lrs:?}"
            )));
        }
        Ok(loss_sum)
    }

    /// The loss sum of the steps run since the current span began (one read-back): what an
    /// interrupted span had accumulated. Fails on divergence, as every monitor read does.
    pub fn span_loss(&self, be: &B) -> Result<f64> {
        self.read_monitor(be)
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

    /// Forward and loss on loaded buffers `bi`.
    fn forward_loss(&mut self, be: &B, bi: usize, train: bool) -> Result<()> {
        let (x, target) = self.feed.batch(bi)?;
        self.model.forward(be, x, train)?;
        self.model.loss(be, self.loss, &target)
    }

    /// Forward, loss and backward of micro-batch `j` of a step (gradients summed after the
    /// first); `last` marks the step's last micro-batch, whose backward pass starts the
    /// bucketed all-reduce when there is one.
    fn micro_step(&mut self, be: &B, bi: usize, j: usize, last: bool) -> Result<()> {
        if j == 0 {
            // Schedule-free AdamW takes its gradient at the train-mode weights y (a no-op for
            // every other optimizer, and when they are already in place).
            self.optimizer.train_mode(be, self.model.params.flat_mut())?;
        }
        self.last_batch = bi;
        self.augment_batch(be, bi, j)?;
        self.forward_loss(be, bi, true)?;
        if last && self.bucketed() {
            self.backward_bucketed(be, bi, j > 0)?;
        } else {
            self.model.backward(be, self.feed.batch(bi)?.0, j > 0)?;
        }
        elementwise::axpy(be, &mut self.loss_sum, 1.0, self.model.loss_tensor()?)
    }

    /// Augments training micro-batch `j` of this step in the feed's buffer `bi` (when the
    /// config asks): the key comes from the seed, the step and `j`, so a run and its resume,
    /// and both paths, draw the same transforms.
    fn augment_batch(&mut self, be: &B, bi: usize, j: usize) -> Result<()> {
        let Some((aug, image)) = self.config.augment.filter(|(a, _)| !a.is_identity()) else { return Ok(()) };
        let counter = self.steps.wrapping_mul(self.config.accumulation.max(1) as u64).wrapping_add(j as u64);
        let key = crate::rng::dropout_key(self.config.seed ^ AUGMENT_SALT, counter);
        let x = self.feed.input_mut(bi)?;
        let shape = be.shape(x).to_vec();
        let (out, fill) = match &mut self.augmented {
            Some((t, fill)) if be.shape(t) == shape.as_slice() => (t, &*fill),
            slot => {
                let per_image = image.iter().product();
                let fill = match &self.config.augment_fill {
                    Some(f) => be.upload(&Tensor::from_vec(&[f.len()], f.clone())?)?,
                    None => be.zeros(&[per_image])?,
                };
                let (t, fill) = slot.insert((be.zeros(&shape)?, fill));
                (t, &*fill)
            }
        };
        crate::ops::augment::augment(be, out, x, fill, image, &aug, key)?;
        elementwise::copy(be, x, out)
    }

    /// After `micro` micro-batches: average, penalties, divergence guard, schedule, the update.
    fn finish_step(&mut self, be: &B, micro: usize) -> Result<()> {
        if self.bucketed() {
            self.finish_buckets(be)?; // the replicas' mean of the summed micro-batch gradients
        }
        let grads = self.model.grads.flat_mut();
        if micro > 1 {
            elementwise::scale(be, grads, 1.0 / micro as f32)?;
        }
        if self.sync.is_some() && !self.bucketed() {
            let what = format!("the gradient all-reduce of step {}", self.steps + 1);
            self.all_reduce_grads(be, &what)?;
        }
        let grads = self.model.grads.flat_mut();
        if self.config.l2 != 0.0 {
            elementwise::axpy(be, grads, self.config.l2 as f32, self.model.params.flat())?;
        }
        if self.config.l1 != 0.0 {
            elementwise::add_sign(be, grads, self.config.l1 as f32, self.model.params.flat())?;
        }
        reduce::sum_squares(be, &mut self.grad_sumsq, self.model.grads.flat())?;
        reduce::first_nonfinite(be, &mut self.guard, self.model.loss_tensor()?, &self.grad_sumsq)?;
        self.optimizer.apply_schedule(&self.config.schedule, &self.base_lrs, &mut self.lrs, self.steps)?;
        let (params, grads) = (self.model.params.flat_mut(), self.model.grads.flat());
        self.optimizer.step_with_sum_squares(be, params, grads, &self.grad_sumsq)?;
        self.steps += 1;
        if let Some(k) = self.optimizer.config().rule().auxiliary_interval() {
            if self.steps.is_multiple_of(k) {
                self.hessian_estimate(be)?;
            }
        }
        Ok(())
    }

    /// Sophia-G's Gauss-Newton-Bartlett estimate, as the official training script does every k
    /// steps: a training forward of the step's last micro-batch, labels sampled from the
    /// model's own softmax (on the device, keyed by the seed and the step), the cross-entropy
    /// against them backward, and ĝ into the optimizer's Hessian EMA. Nothing is read back.
    fn hessian_estimate(&mut self, be: &B) -> Result<()> {
        let bi = self.last_batch;
        let x = self.feed.batch(bi)?.0;
        self.model.forward(be, x, true)?;
        let shape = be.shape(self.model.output()?);
        let (rows, classes) = (shape[0], shape[1..].iter().product::<usize>());
        if !self.sampled.iter().any(|(r, _)| *r == rows) {
            self.sampled.push((rows, be.upload_labels(&vec![0; rows], classes)?));
        }
        let labels = &mut self.sampled.iter_mut().find(|(r, _)| *r == rows).expect("added above").1;
        let stream = self.sync.as_ref().map_or(0, |s| s.comm.rank() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let key = crate::rng::dropout_key(self.config.seed ^ SAMPLING_SALT ^ stream, self.steps);
        sample::sample_labels(be, labels, self.model.output()?, key)?;
        self.model.loss(be, LossKind::CrossEntropy, &crate::loss::Target::Labels(labels))?;
        let x = self.feed.batch(bi)?.0;
        self.model.backward(be, x, false)?;
        if self.sync.is_some() {
            let what = format!("the Hessian-estimate all-reduce after step {}", self.steps);
            self.all_reduce_grads(be, &what)?;
        }
        let (params, grads) = (self.model.params.flat_mut(), self.model.grads.flat());
        self.optimizer.update_hessian(be, params, grads)
    }

    /// One optimizer step over `micro` (each a list of row indices of `data`, uploaded from the
    /// host): forward, loss, backward for each (gradients averaged), penalties, schedule, update.
    pub fn step(&mut self, be: &B, data: &Dataset, micro: &[&[usize]]) -> Result<()> {
        for (j, idx) in micro.iter().enumerate() {
            let (bi, _) = self.feed.load(be, data, Load::Rows(idx))?;
            self.micro_step(be, bi, j, j + 1 == micro.len())?;
        }
        self.finish_step(be, micro.len())
    }

    /// One epoch over `order` (row indices): consecutive micro-batches of the batch size,
    /// `accumulation` of them per optimizer step.
    pub fn run_epoch(&mut self, be: &B, data: &Dataset, order: &[usize]) -> Result<EpochStats> {
        self.run_epoch_with(be, data, order, &mut |_| Ok(()))
    }

    /// [`Trainer::run_epoch`] with a callback after every optimizer step. The loss is read
    /// back (and divergence checked) every `report_every` steps and at the end.
    pub fn run_epoch_with(
        &mut self,
        be: &B,
        data: &Dataset,
        order: &[usize],
        on_step: &mut dyn FnMut(&StepInfo) -> Result<()>,
    ) -> Result<EpochStats> {
        let steps = self.steps_in_epoch(order.len());
        let span = self.run_steps(be, data, order, 0..steps, on_step)?;
        Ok(EpochStats { mean_batch_loss: span.loss_sum / span.micro_batches.max(1) as f64, steps })
    }

    /// Optimizer steps an epoch of `rows` rows takes.
    pub fn steps_in_epoch(&self, rows: usize) -> u64 {
        self.config.steps_in_epoch(rows)
    }

    /// Runs steps `steps` (0-based within the epoch) of the epoch whose row order is `order`:
    /// how an epoch is split around mid-epoch checkpoints, and resumed from one.
    pub fn run_steps(
        &mut self,
        be: &B,
        data: &Dataset,
        order: &[usize],
        steps: std::ops::Range<u64>,
        on_step: &mut dyn FnMut(&StepInfo) -> Result<()>,
    ) -> Result<SpanStats> {
        if order.is_empty() {
            return Err(Error::InvalidArgument { what: "training".into(), detail: "no rows to train on".into() });
        }
        if let Some(&bad) = order.iter().find(|&&i| i >= data.len()) {
            return Err(Error::InvalidArgument {
                what: "training".into(),
                detail: format!("row {bad} is past the {} rows of the data", data.len()),
            });
        }
        let rows = self.config.batch_rows(order.len());
        let mode = match self.config.feed {
            FeedMode::Auto if be.host_memory() => FeedMode::Streaming,
            FeedMode::Auto => choose_mode(data, be.max_binding_bytes(), RESIDENT_BUDGET_BYTES),
            m => m,
        };
        self.feed.last_mode = Some(mode);
        elementwise::fill(be, &mut self.loss_sum, 0.0)?;
        let acc = self.config.accumulation;
        let all: Vec<&[usize]> = order.chunks(rows).collect();
        let epoch_steps = self.config.steps_in_epoch(order.len());
        let (first, last) = (steps.start.min(epoch_steps) as usize, steps.end.min(epoch_steps) as usize);
        let groups: Vec<&[&[usize]]> = all.chunks(acc).skip(first).take(last - first).collect();
        let micro: Vec<&[usize]> = groups.iter().flat_map(|g| g.iter().copied()).collect();
        let done_rows: usize = all.chunks(acc).take(first).flatten().map(|b| b.len()).sum();
        let mut progress = Progress { epoch_steps, epoch_step: first as u64, rows: done_rows, micro_done: 0 };
        match mode {
            FeedMode::Resident | FeedMode::Auto => {
                self.feed.prepare_resident(be, data, order)?;
                let mut offset = done_rows;
                for group in &groups {
                    for (j, b) in group.iter().enumerate() {
                        let (bi, _) = self.feed.load(be, data, Load::Resident { offset, rows: b.len() })?;
                        self.micro_step(be, bi, j, j + 1 == group.len())?;
                        offset += b.len();
                    }
                    self.after_step(be, group, &mut progress, on_step)?;
                }
            }
            FeedMode::Streaming => {
                std::thread::scope(|scope| -> Result<()> {
                    let stream = start_stream(scope, data, micro.clone());
                    for group in &groups {
                        for j in 0..group.len() {
                            let staged = stream.full.recv().map_err(|_| Error::InvalidArgument {
                                what: "streaming".into(),
                                detail: "the batch producer stopped early".into(),
                            })?;
                            let (bi, back) = self.feed.load(be, data, Load::Staged(staged))?;
                            if let Some(b) = back {
                                let _ = stream.free.send(b);
                            }
                            self.micro_step(be, bi, j, j + 1 == group.len())?;
                        }
                        self.after_step(be, group, &mut progress, on_step)?;
                    }
                    Ok(())
                })?;
            }
        }
        let loss_sum = self.read_monitor(be)?;
        Ok(SpanStats { loss_sum, micro_batches: micro.len(), steps: groups.len() as u64 })
    }

    fn after_step(
        &mut self,
        be: &B,
        group: &[&[usize]],
        p: &mut Progress,
        on_step: &mut dyn FnMut(&StepInfo) -> Result<()>,
    ) -> Result<()> {
        self.finish_step(be, group.len())?;
        p.epoch_step += 1;
        p.micro_done += group.len();
        p.rows += group.iter().map(|b| b.len()).sum::<usize>();
        let report = self.config.report_every > 0 && p.epoch_step.is_multiple_of(self.config.report_every);
        let mean_loss = if report { Some(self.read_monitor(be)? / p.micro_done as f64) } else { None };
        on_step(&StepInfo {
            step: self.steps,
            epoch_step: p.epoch_step,
            epoch_steps: p.epoch_steps,
            rows: p.rows,
            mean_loss,
        })
    }

    /// Loss (and accuracy and confusion matrix for labels) over every row, in chunks of at most
    /// 4096 rows (fewer where the memory budget or the device's binding limit asks; see
    /// [`eval_chunk_rows`]). With replicas, each evaluates every `size`-th row and the sums are
    /// all-reduced, so every replica returns the same numbers.
    pub fn evaluate(&mut self, be: &B, data: &Dataset) -> Result<Evaluation> {
        // Schedule-free AdamW evaluates its average x; the next training step switches back.
        self.optimizer.eval_mode(be, self.model.params.flat_mut())?;
        let n = data.len();
        if n == 0 {
            return Err(Error::InvalidArgument { what: "evaluate".into(), detail: "the data set is empty".into() });
        }
        let classes = data.classes();
        let mut confusion = classes.map(|c| vec![vec![0u64; c]; c]);
        let mut values = match (&data.targets, self.loss) {
            (Targets::Values(t), LossKind::Mse) => Some(ValueSums::new(t.shape()[1])),
            _ => None,
        };
        let mut loss = 0.0f64;
        let rows = match &self.sync {
            Some(s) => eval_rows(n, s.comm.rank(), s.comm.size()),
            None => (0..n).collect(),
        };
        for chunk in rows.chunks(self.eval_rows(be)) {
            let (bi, _) = self.feed.load(be, data, Load::Rows(chunk))?;
            self.forward_loss(be, bi, false)?;
            loss += be.read(self.model.loss_tensor()?)?.data()[0] as f64 * chunk.len() as f64;
            if let (Targets::Labels { labels, .. }, Some(m)) = (&data.targets, confusion.as_mut()) {
                let out = be.read(self.model.output()?)?;
                for (row, &i) in out.data().chunks(out.shape()[1]).zip(chunk) {
                    m[labels[i] as usize][argmax(row)] += 1;
                }
            }
            if let (Targets::Values(t), Some(sums)) = (&data.targets, values.as_mut()) {
                let out = be.read(self.model.output()?)?;
                sums.add(out.data(), gather_rows(t, chunk)?.data());
            }
        }
        if let Some(sync) = &self.sync {
            let mut sums: Vec<f64> =
                std::iter::once(loss).chain(confusion.iter().flatten().flatten().map(|&c| c as f64)).collect();
            sync.comm.all_reduce_f64(&format!("the evaluation after step {}", self.steps), &mut sums, ReduceOp::Sum)?;
            loss = sums[0];
            for (c, s) in confusion.iter_mut().flatten().flatten().zip(&sums[1..]) {
                *c = *s as u64;
            }
            if let Some(v) = values.as_mut() {
                let mut flat = v.to_vec();
                sync.comm.all_reduce_f64("the regression metrics", &mut flat, ReduceOp::Sum)?;
                *v = ValueSums::from_vec(&flat, v.abs_err.len());
            }
        }
        if !loss.is_finite() {
            return Err(Error::Diverged(format!("the evaluation loss is {loss}: the model's outputs are not finite")));
        }
        let accuracy = confusion.as_ref().map(|m| (0..m.len()).map(|c| m[c][c]).sum::<u64>() as f64 / n as f64);
        Ok(Evaluation { loss: loss / n as f64, accuracy, confusion, values })
    }

    /// The forward pass in eval mode and the loss on `rows` of `data`, left on the device
    /// (what [`Trainer::evaluate`] runs per chunk, without reading anything back): inference
    /// for benchmarks.
    pub fn forward_rows(&mut self, be: &B, data: &Dataset, rows: &[usize]) -> Result<()> {
        let (bi, _) = self.feed.load(be, data, Load::Rows(rows))?;
        self.forward_loss(be, bi, false)
    }

    /// Rows per evaluation or prediction chunk: 4096, or fewer when a step plan's largest
    /// tensor (a convolution's columns, say) would exceed the memory budget or the device's
    /// storage-binding limit (see [`eval_chunk_rows`]).
    fn eval_rows(&self, be: &B) -> usize {
        eval_chunk_rows(self.model.spec().largest_tensor_per_row(), be.max_binding_bytes())
    }

    /// The model's outputs for every row of `x` (rows, features), in chunks of at most 4096.
    pub fn predict(&mut self, be: &B, x: &Tensor) -> Result<Tensor> {
        let n = x.shape()[0];
        let mut out = Vec::new();
        let all: Vec<usize> = (0..n).collect();
        for chunk in all.chunks(self.eval_rows(be)) {
            let xb = be.upload(&gather_rows(x, chunk)?)?;
            out.extend_from_slice(be.read(self.model.forward(be, &xb, false)?)?.data());
        }
        Tensor::from_vec(&[n, self.model.spec().outputs()], out)
    }
}

/// The most bytes an evaluation chunk's largest plan tensor may take. Every row of a chunk has
/// its activations held at once (a CNN's are ~1 MB a row), so chunks are sized by memory, not
/// only by rows: 4096 rows of the `cnn` preset would hold over 3 GB.
pub const EVAL_TENSOR_BUDGET_BYTES: u64 = 64 << 20;

/// Rows per evaluation chunk for a model whose largest plan tensor holds `per_row` f32s per
/// row: that tensor within [`EVAL_TENSOR_BUDGET_BYTES`] and the storage-binding limit
/// `max_binding_bytes`; at most 4096 rows, at least 1.
pub fn eval_chunk_rows(per_row: usize, max_binding_bytes: u64) -> usize {
    let fit = max_binding_bytes.min(EVAL_TENSOR_BUDGET_BYTES) / 4 / per_row.max(1) as u64;
    fit.clamp(1, 4096) as usize
}

/// Counters of the epoch in progress.
struct Progress {
    epoch_steps: u64,
    epoch_step: u64,
    rows: usize,
    micro_done: usize,
}

/// Index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().fold(0, |b, (i, &v)| if v > row[b] { i } else { b })
}
