//! `Model`: forward, loss, backward and zero-grad of a model tree on one backend. Parameters
//! and gradients are views into two flat buffers; buffers (BatchNorm's running stats) are
//! tensors of their own; activations live in step plans traced once per input shape.

use super::plan::{act, io, missing, Plan, StepKind};
use super::spec::{Leaf, ModelSpec};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::loss::{LossKind, Target};
use crate::nn::layer::{Backward, Forward};
use crate::ops::elementwise;
use crate::params::FlatStore;
use crate::rng::{dropout_key, key_bits};
use crate::tensor::Tensor;
use std::ops::Range;

/// A leaf with where its parameters and buffers sit.
struct Placed {
    leaf: Leaf,
    /// Its own parameters' views (those not tied to another layer's), in layout order.
    params: Range<usize>,
    /// The layout index of each of its parameters in [`Layer::params`] order: `params` itself
    /// unless one is tied (then that one is the index of the tensor it shares).
    indices: Vec<usize>,
    buffers: Range<usize>,
}

impl Placed {
    /// True when its parameters are exactly its own contiguous views.
    fn untied(&self) -> bool {
        self.indices.iter().copied().eq(self.params.clone())
    }
}

/// A leaf's parameter and gradient views in its own order, when one of them is tied.
type TiedViews<B> = (Vec<<B as Backend>::Tensor>, Vec<<B as Backend>::Tensor>);

/// A model on a backend: the spec, flat parameters and gradients, buffers and step plans.
pub struct Model<B: Backend> {
    spec: ModelSpec,
    placed: Vec<Placed>,
    /// Parameters, one flat buffer with a view per tensor.
    pub params: FlatStore<B>,
    /// Gradients, laid out like `params`.
    pub grads: FlatStore<B>,
    buffers: Vec<B::Tensor>,
    buffer_names: Vec<String>,
    /// The model has BatchNorm layers, whose `num_batches_tracked` is `batches_tracked`.
    tracks_batches: bool,
    batches_tracked: u64,
    plans: Vec<Plan<B>>,
    /// For each leaf with a tied parameter: views of its parameters and gradients in its own
    /// order (the tied one's into the shared tensor); None for the others, which take slices.
    tied_views: Vec<Option<TiedViews<B>>>,
    input_grad: bool,
    current: Option<usize>,
    last_train: bool,
    dropout_seed: u64,
    dropout_calls: u64,
    /// The keys of one forward pass's dropout layers, written before each training forward; a
    /// ring (forward t uses buffer t mod KEY_RING), so the write rarely forces a submit.
    keys: Vec<B::Tensor>,
    /// Training forwards that drew keys, the ring's position.
    key_writes: usize,
    /// The host copy of `keys`, reused.
    host_keys: Tensor,
    /// The padding layers that read one see ([`Model::set_padding`]); replaced by "no padding"
    /// when an input of another shape comes.
    padding: Option<crate::nn::Padding<B>>,
    /// Some leaf reads the padding.
    reads_padding: bool,
    /// With [`Model::share_plan_memory`]: the buffers every step plan's tensors are views of.
    arena: Option<Arena<B>>,
    /// Per leaf: it has a parameter that is not frozen.
    trains: Vec<bool>,
}

/// The memory step plans share: one buffer per allocation of a plan.
struct Arena<B: Backend> {
    buffers: Vec<B::Tensor>,
    /// Elements in each buffer.
    capacities: Vec<usize>,
}

impl<B: Backend> Model<B> {
    /// A model with parameters initialised from `seed` (dropout masks draw from it too).
    pub fn new(be: &B, spec: ModelSpec, seed: u64) -> Result<Self> {
        spec.validate()?;
        let layout = spec.layout()?;
        let initial = spec.initial_params(seed)?;
        let (mut p, mut b) = (0, 0);
        let placed: Vec<Placed> = spec
            .leaves()
            .into_iter()
            .map(|leaf| {
                let tied = leaf.layer.tied_params();
                let (np, nb) = (leaf.layer.params().len() - tied.len(), leaf.layer.buffers().len());
                let indices = leaf
                    .layer
                    .params()
                    .iter()
                    .map(|t| layout.index(&format!("{}.{}", leaf.path, t.name)))
                    .collect::<Result<Vec<_>>>()?;
                let placed = Placed { leaf, params: p..p + np, indices, buffers: b..b + nb };
                p += np;
                b += nb;
                Ok(placed)
            })
            .collect::<Result<_>>()?;
        let aliases: Vec<&str> = layout.aliases().iter().map(|(a, _)| a.as_str()).collect();
        // A tied parameter starts as the tensor it shares was initialised.
        let initial: Vec<(String, Tensor)> =
            initial.into_iter().filter(|(n, _)| !aliases.contains(&n.as_str())).collect();
        let specs = spec.buffer_specs();
        let random_layers = placed_random_layers(&spec).max(1);
        let buffers = specs.iter().map(|(_, shape, v)| be.upload(&Tensor::full(shape, *v))).collect::<Result<_>>()?;
        let (params, grads) = (FlatStore::zeros(be, &layout)?, FlatStore::zeros(be, &layout)?);
        let views_of = |store: &FlatStore<B>, indices: &[usize]| -> Result<Vec<B::Tensor>> {
            indices.iter().map(|&i| be.view(store.flat(), layout.views()[i].offset, &layout.views()[i].shape)).collect()
        };
        let tied_views = placed
            .iter()
            .map(|p| match p.untied() {
                true => Ok(None),
                false => Ok(Some((views_of(&params, &p.indices)?, views_of(&grads, &p.indices)?))),
            })
            .collect::<Result<_>>()?;
        let reads_padding = spec.leaves().iter().any(|l| l.layer.reads_padding());
        let trains = spec
            .leaves()
            .iter()
            .map(|l| l.layer.params().iter().any(|t| !spec.frozen.contains(&format!("{}.{}", l.path, t.name))))
            .collect();
        let mut model = Self {
            params,
            grads,
            tied_views,
            placed,
            buffers,
            buffer_names: specs.into_iter().map(|(n, _, _)| n).collect(),
            tracks_batches: !spec.batch_counters().is_empty(),
            batches_tracked: 0,
            spec,
            plans: Vec::new(),
            input_grad: false,
            current: None,
            last_train: false,
            dropout_seed: seed ^ 0xD50F_0D50_F0D5_0F0D,
            dropout_calls: 0,
            keys: (0..KEY_RING).map(|_| be.zeros(&[random_layers])).collect::<Result<_>>()?,
            key_writes: 0,
            host_keys: Tensor::zeros(&[random_layers]),
            padding: None,
            reads_padding,
            arena: None,
            trains,
        };
        model.load(be, &initial)?;
        Ok(model)
    }

    /// The model's description.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Leaf `li`'s parameters (a tied one's view into the shared tensor) and buffers.
    pub(crate) fn leaf_state(&mut self, li: usize) -> (&[B::Tensor], &mut [B::Tensor]) {
        let placed = &self.placed[li];
        let params = match &self.tied_views[li] {
            Some((p, _)) => &p[..],
            None => &self.params.views()[placed.params.clone()],
        };
        (params, &mut self.buffers[placed.buffers.clone()])
    }

    /// Gives this model its own dropout stream: replica `stream` of a data-parallel run draws
    /// masks no other replica draws (stream 0 keeps the single-replica masks).
    pub fn set_dropout_stream(&mut self, stream: u64) {
        self.dropout_seed ^= stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    /// Overwrites parameters by name; every name must exist with the same shape.
    pub fn load(&mut self, be: &B, params: &[(String, Tensor)]) -> Result<()> {
        for (name, t) in params {
            self.params.load(be, name, t)?;
        }
        Ok(())
    }

    /// Buffers by name: the float ones, then each `num_batches_tracked` (a scalar count).
    pub fn read_buffers(&self, be: &B) -> Result<Vec<(String, Tensor)>> {
        let mut out: Vec<(String, Tensor)> = self
            .buffer_names
            .iter()
            .zip(&self.buffers)
            .map(|(n, t)| Ok((n.clone(), be.read(t)?)))
            .collect::<Result<_>>()?;
        for name in self.spec.batch_counters() {
            out.push((name, Tensor::from_vec(&[], vec![self.batches_tracked as f32])?));
        }
        Ok(out)
    }

    /// Overwrites buffers by name (every float buffer must be given; counters are optional).
    pub fn load_buffers(&mut self, be: &B, buffers: &[(String, Tensor)]) -> Result<()> {
        for (name, t) in buffers {
            if name.ends_with(".num_batches_tracked") && self.spec.batch_counters().contains(name) {
                self.batches_tracked = t.data().first().copied().unwrap_or(0.0) as u64;
                continue;
            }
            let i = self.buffer_names.iter().position(|n| n == name).ok_or_else(|| Error::InvalidArgument {
                what: "buffer name".into(),
                detail: format!("no {name:?}; the model has {:?}", self.buffer_names),
            })?;
            be.write(&mut self.buffers[i], t)?;
        }
        Ok(())
    }

    /// Makes the step plans share their memory (the k-th tensor of each plan a view of one
    /// buffer, as large as the largest of them) instead of each holding its own: for inputs of
    /// many shapes (packed text batches), memory is about one plan's, not the sum of all. A plan's activations then
    /// last until a forward pass of another shape: call backward before it, as training does.
    /// Plans traced before are dropped.
    pub fn share_plan_memory(&mut self) {
        self.plans.clear();
        self.current = None;
        self.arena = Some(Arena { buffers: Vec::new(), capacities: Vec::new() });
    }

    /// Sets the padding of the next inputs (`mask` `[B, T]`: 1 token, 0 padding, Hugging
    /// Face's `attention_mask`) for the layers that read it; None: every position is a token.
    /// It applies to inputs of its shape; another shape runs unpadded.
    pub fn set_padding(&mut self, be: &B, mask: Option<&Tensor>) -> Result<()> {
        self.padding = match mask {
            Some(m) => Some(crate::nn::Padding::new(be, m)?),
            None => None,
        };
        Ok(())
    }

    /// Packs the padded batch `ids` `[B, T]` with its `mask` (real tokens first in each row):
    /// returns the packed ids `[B, T_pack]` (T_pack a multiple of `multiple`) to give
    /// [`Model::forward`] and [`Model::backward`]; every position-wise layer then runs on the
    /// real tokens only, attention in the padded layout, pooling over the packed rows.
    pub fn set_packed_batch(&mut self, be: &B, ids: &Tensor, mask: &Tensor, multiple: usize) -> Result<Tensor> {
        if ids.shape() != mask.shape() {
            return Err(Error::Shape {
                op: "Model::set_packed_batch",
                detail: format!("ids {:?} and mask {:?} differ", ids.shape(), mask.shape()),
            });
        }
        let packing = crate::nn::padding::Packing::new(mask, multiple)?;
        self.padding = Some(crate::nn::Padding::packed(be, mask, &packing)?);
        packing.pack(ids, 0.0)
    }

    /// Makes the padding fit input `x` `[B, T, …]` (no padding when the one set is for
    /// another shape), when a layer reads it.
    fn fit_padding(&mut self, be: &B, x: &B::Tensor) -> Result<()> {
        if !self.reads_padding {
            return Ok(());
        }
        let shape = be.shape(x);
        let dims = (shape[0], shape.get(1).copied().unwrap_or(1));
        if self.padding.as_ref().is_none_or(|p| p.dims != dims) {
            self.padding = Some(crate::nn::Padding::none(be, dims.0, dims.1)?);
        }
        Ok(())
    }

    /// How many dropout masks have been drawn (part of a checkpoint's RNG state).
    pub fn dropout_calls(&self) -> u64 {
        self.dropout_calls
    }

    /// Continues the dropout mask sequence from `calls` (restoring a checkpoint).
    pub fn set_dropout_calls(&mut self, calls: u64) {
        self.dropout_calls = calls;
    }

    /// Elements held by the step plans traced so far (activations, gradients, scratch).
    pub fn plan_elements(&self, be: &B) -> usize {
        self.plans.iter().map(|p| p.elements(be)).sum()
    }

    /// The plan for `shape`, traced on first use.
    fn plan_index(&mut self, be: &B, shape: &[usize]) -> Result<usize> {
        if let Some(i) = self.plans.iter().position(|p| p.input_shape == shape) {
            return Ok(i);
        }
        let leaves: Vec<Leaf> = self.placed.iter().map(|p| p.leaf.clone()).collect();
        let Some(arena) = &mut self.arena else {
            let plan = Plan::trace(&mut |s: &[usize]| be.zeros(s), &self.spec.nodes, &leaves, shape, self.input_grad)?;
            self.plans.push(plan);
            return Ok(self.plans.len() - 1);
        };
        // Shared memory: the k-th tensor of every plan is a view of the arena's k-th buffer
        // (plans of one model allocate the same sequence, only the sizes differ), as large as
        // the largest k-th tensor so far. Within a plan every tensor has a buffer of its own,
        // as ops require. When one grows, the plans holding the old buffers are dropped (they
        // are traced again when their shape comes back).
        let mut sizes = Vec::new();
        Plan::<B>::trace(
            &mut |s: &[usize]| {
                sizes.push(crate::tensor::numel(s));
                be.zeros(&[1])
            },
            &self.spec.nodes,
            &leaves,
            shape,
            self.input_grad,
        )?;
        if sizes.len() != arena.buffers.len() || sizes.iter().zip(&arena.capacities).any(|(n, c)| n > c) {
            self.plans.clear();
            self.current = None;
            arena.capacities.resize(sizes.len(), 0);
            arena.buffers.truncate(sizes.len());
            for (k, &n) in sizes.iter().enumerate() {
                if k >= arena.buffers.len() || n > arena.capacities[k] {
                    let buffer = be.zeros(&[n.max(1)])?;
                    if k < arena.buffers.len() {
                        arena.buffers[k] = buffer;
                    } else {
                        arena.buffers.push(buffer);
                    }
                    arena.capacities[k] = n.max(1);
                }
            }
        }
        let buffers = &arena.buffers;
        let mut k = 0usize;
        let plan = Plan::trace(
            &mut |s: &[usize]| {
                k += 1;
                be.view(&buffers[k - 1], 0, s)
            },
            &self.spec.nodes,
            &leaves,
            shape,
            self.input_grad,
        )?;
        self.plans.push(plan);
        Ok(self.plans.len() - 1)
    }

    /// `x` as the model takes it: rows of features [batch, inputs] viewed as [batch, …input].
    fn shaped_input(&self, be: &B, x: &B::Tensor) -> Result<Option<B::Tensor>> {
        let shape = be.shape(x);
        if shape[1..] == self.spec.input[..] {
            return Ok(None);
        }
        // Token ids of any length up to the one built for (a language model's prompt): the
        // layers check it (position_embedding refuses more than block_size).
        let tokens = self.placed.first().is_some_and(|p| !p.leaf.layer.has_input_grad());
        if tokens
            && shape.len() == self.spec.input.len() + 1
            && shape[1..].iter().zip(&self.spec.input).all(|(a, b)| a <= b)
        {
            return Ok(None);
        }
        if shape.len() != 2 || shape[1] != self.spec.inputs() {
            return Err(Error::Shape {
                op: "Model::forward",
                detail: format!(
                    "input must be [batch, {}] or [batch, {:?}], got {shape:?}",
                    self.spec.inputs(),
                    self.spec.input
                ),
            });
        }
        let mut full = vec![shape[0]];
        full.extend_from_slice(&self.spec.input);
        be.view(x, 0, &full).map(Some)
    }

    /// Runs the model on `x` ([batch, inputs] or [batch, …input shape]); returns the output
    /// [batch, outputs]. Dropout and batch statistics are active only when `train` is set.
    pub fn forward(&mut self, be: &B, x: &B::Tensor, train: bool) -> Result<&B::Tensor> {
        let shaped = self.shaped_input(be, x)?;
        let x = shaped.as_ref().unwrap_or(x);
        let pi = self.plan_index(be, be.shape(x))?;
        self.fit_padding(be, x)?;
        self.current = Some(pi);
        self.last_train = train;
        // This pass's dropout keys, in layer order, continuing the call counter.
        let mut slots = 0;
        for placed in &self.placed {
            if placed.leaf.layer.uses_rng(train) {
                let key = dropout_key(self.dropout_seed, self.dropout_calls);
                self.host_keys.data_mut()[slots] = key_bits(key);
                self.dropout_calls += 1;
                slots += 1;
            }
        }
        let ring = self.key_writes % KEY_RING;
        if slots > 0 {
            be.write(&mut self.keys[ring], &self.host_keys)?;
            self.key_writes += 1;
        }
        let plan = &mut self.plans[pi];
        let params = self.params.views();
        let mut slot = 0;
        for si in 0..plan.steps.len() {
            // The activation after this step, when the plan fused it into this one's epilogue.
            let fused_next = match plan.steps.get(si + 1) {
                Some(next) if next.fused => match next.kind {
                    StepKind::Leaf(lj) => self.placed[lj].leaf.layer.activation().map(|a| (a, next.output)),
                    _ => None,
                },
                _ => None,
            };
            let step = &mut plan.steps[si];
            if step.fused {
                continue; // computed by the step before
            }
            match step.kind {
                StepKind::Leaf(li) => {
                    let placed = &self.placed[li];
                    let layer = &*placed.leaf.layer;
                    let this_slot = slot;
                    if layer.uses_rng(train) {
                        slot += 1;
                    }
                    let acts = &mut plan.acts;
                    let (x, y, then) = match fused_next {
                        Some((a, id)) => {
                            let ([x], [y, z]) = io(acts, Some(x), "activation", [step.input], [step.output, id])?;
                            (x, y, Some((a, z)))
                        }
                        None => {
                            let ([x], [y]) = io(acts, Some(x), "activation", [step.input], [step.output])?;
                            (x, y, None)
                        }
                    };
                    let io = Forward {
                        x,
                        y,
                        params: match &self.tied_views[li] {
                            Some((p, _)) => p,
                            None => &params[placed.params.clone()],
                        },
                        buffers: &mut self.buffers[placed.buffers.clone()],
                        scratch: &mut step.scratch,
                        train,
                        keys: &self.keys[ring],
                        slot: this_slot,
                        then,
                        padding: self.padding.as_ref(),
                    };
                    B::pick(layer).run_forward(be, io)?;
                }
                StepKind::Fork { .. } => {}
                StepKind::Join { skip } => {
                    let ([body, skip], [y]) =
                        io(&mut plan.acts, Some(x), "activation", [step.input, skip], [step.output])?;
                    elementwise::copy(be, y, body)?;
                    elementwise::axpy(be, y, 1.0, skip)?;
                }
            }
        }
        if train && self.tracks_batches {
            self.batches_tracked += 1;
        }
        let plan = &self.plans[pi];
        plan.acts[plan.output].as_ref().ok_or_else(|| missing("output", plan.output))
    }

    fn current(&self, op: &'static str) -> Result<usize> {
        self.current.ok_or_else(|| Error::InvalidArgument { what: op.into(), detail: "call forward first".into() })
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> Result<&B::Tensor> {
        let plan = &self.plans[self.current("Model::output")?];
        plan.acts[plan.output].as_ref().ok_or_else(|| missing("output", plan.output))
    }

    /// Computes the loss of the last forward pass against `target` (kept on the device, see
    /// [`Model::loss_tensor`]) and the gradient with respect to the output.
    pub fn loss(&mut self, be: &B, kind: LossKind, target: &Target<'_, B>) -> Result<()> {
        let pi = self.current("Model::loss")?;
        let plan = &mut self.plans[pi];
        let out = plan.output;
        let (Some(pred), Some(grad)) = (plan.acts[out].as_ref(), plan.grads[out].as_mut()) else {
            return Err(missing("output", out));
        };
        kind.apply(be, &mut plan.loss, grad, pred, target)
    }

    /// The one-element loss tensor of the last [`Model::loss`] call (read it only when needed).
    pub fn loss_tensor(&self) -> Result<&B::Tensor> {
        Ok(&self.plans[self.current("Model::loss_tensor")?].loss)
    }

    /// Back-propagates the output gradient of the last [`Model::loss`] to every parameter's
    /// gradient; with `accumulate`, adds to the gradients instead of replacing them. `x` is the
    /// input of the last forward pass.
    pub fn backward(&mut self, be: &B, x: &B::Tensor, accumulate: bool) -> Result<()> {
        self.backward_with(be, x, accumulate, &mut |_| Ok(()))
    }

    /// [`Model::backward`] that calls `ready` with the parameter tensors (indices in layout
    /// order) of each layer as soon as their gradients are final, last layer first: what a
    /// data-parallel step uses to start all-reducing those gradients while the backward pass
    /// goes on (see `distributed::buckets`).
    pub fn backward_with(
        &mut self,
        be: &B,
        x: &B::Tensor,
        accumulate: bool,
        ready: &mut dyn FnMut(Range<usize>) -> Result<()>,
    ) -> Result<()> {
        let shaped = self.shaped_input(be, x)?;
        let x = shaped.as_ref().unwrap_or(x);
        let pi = self.current("Model::backward")?;
        let train = self.last_train;
        let plan = &mut self.plans[pi];
        let params = self.params.views();
        let grads = self.grads.views_mut();
        // With tied parameters: which tensors' gradients this pass has written, so the second
        // use of a shared tensor adds to the first (PyTorch sums both uses' gradients).
        let tied = self.tied_views.iter().any(Option::is_some);
        // Steps before the first leaf with a trainable parameter need no backward when no
        // input gradient is asked: everything there is frozen (a frozen encoder under a head).
        let stop = match self.input_grad {
            true => 0,
            false => plan
                .steps
                .iter()
                .position(|st| matches!(st.kind, StepKind::Leaf(li) if self.trains[li]))
                .unwrap_or(plan.steps.len()),
        };
        let mut written = vec![false; if tied { grads.len() } else { 0 }];
        for step in plan.steps.iter_mut().skip(stop).rev() {
            let grads_of = &mut plan.grads;
            match step.kind {
                StepKind::Leaf(li) => {
                    let placed = &self.placed[li];
                    let mut accumulate = accumulate;
                    if tied && placed.indices.iter().any(|&i| written[i]) && !accumulate {
                        // This layer adds to a shared gradient: its other gradients start at 0.
                        for &i in placed.indices.iter().filter(|&&i| !written[i]) {
                            elementwise::fill(be, &mut grads[i], 0.0)?;
                        }
                        accumulate = true;
                    }
                    for &i in placed.indices.iter().filter(|_| tied) {
                        written[i] = true;
                    }
                    let (tied_params, tied_grads) = match &mut self.tied_views[li] {
                        Some((p, g)) => (Some(&p[..]), Some(&mut g[..])),
                        None => (None, None),
                    };
                    let (dy, dx) = match step.dx {
                        Some(d) => {
                            let ([dy], [dx]) = io(grads_of, None, "gradient", [step.output], [d])?;
                            (dy, Some(dx))
                        }
                        None => (io(grads_of, None, "gradient", [step.output], [])?.0[0], None),
                    };
                    let io = Backward {
                        x: act::<B>(&plan.acts, x, step.input)?,
                        y: act::<B>(&plan.acts, x, step.output)?,
                        dy,
                        dx,
                        params: tied_params.unwrap_or(&params[placed.params.clone()]),
                        grads: match tied_grads {
                            Some(g) => g,
                            None => &mut grads[placed.params.clone()],
                        },
                        buffers: &self.buffers[placed.buffers.clone()],
                        scratch: &mut step.scratch,
                        train,
                        accumulate,
                        padding: self.padding.as_ref(),
                    };
                    B::pick(&*placed.leaf.layer).run_backward(be, io)?;
                    if !placed.params.is_empty() {
                        ready(placed.params.clone())?;
                    }
                }
                StepKind::Join { .. } => {
                    if let Some(d) = step.dx {
                        let ([dy], [dx]) = io(grads_of, None, "gradient", [step.output], [d])?;
                        elementwise::copy(be, dx, dy)?;
                    }
                }
                StepKind::Fork { temp, join } => {
                    if let (Some(d), Some(t)) = (step.dx, temp) {
                        let ([body, skip], [dx]) = io(grads_of, None, "gradient", [t, join], [d])?;
                        elementwise::copy(be, dx, body)?;
                        elementwise::axpy(be, dx, 1.0, skip)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Also computes the gradient with respect to the model's input from now on (for tests and
    /// saliency; training does not need it). Plans traced before are dropped.
    pub fn keep_input_grad(&mut self) {
        if !self.input_grad {
            self.input_grad = true;
            self.plans.clear();
            self.current = None;
        }
    }

    /// The gradient with respect to the input of the last backward pass (after
    /// [`Model::keep_input_grad`]), shaped like the input as the model takes it.
    pub fn input_grad(&self) -> Result<&B::Tensor> {
        let plan = &self.plans[self.current("Model::input_grad")?];
        plan.grads[0].as_ref().ok_or_else(|| Error::InvalidArgument {
            what: "Model::input_grad".into(),
            detail: "call keep_input_grad before the forward pass".into(),
        })
    }

    /// The gradient with respect to the output of the last forward pass, to set it directly
    /// instead of through [`Model::loss`] (a custom loss, or a test's upstream gradient).
    pub fn output_grad_mut(&mut self) -> Result<&mut B::Tensor> {
        let pi = self.current("Model::output_grad_mut")?;
        let plan = &mut self.plans[pi];
        let out = plan.output;
        plan.grads[out].as_mut().ok_or_else(|| missing("gradient", out))
    }

    /// Sets every gradient to zero (one fill over the flat buffer).
    pub fn zero_grad(&mut self, be: &B) -> Result<()> {
        elementwise::fill(be, self.grads.flat_mut(), 0.0)
    }
}

/// Leaves that may draw random numbers in training (dropout): the key slots a forward pass needs.
fn placed_random_layers(spec: &ModelSpec) -> usize {
    spec.leaves().iter().filter(|l| l.layer.uses_rng(true)).count()
}

/// Dropout key buffers in the ring (see `Model::keys`).
const KEY_RING: usize = 8;
