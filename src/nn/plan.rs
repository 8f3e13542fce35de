//! The step plan: the model tree traced once per input shape into a flat list of steps over
//! numbered buffers. Every activation, gradient and scratch tensor is allocated here, once, and
//! reused by every forward and backward pass of that shape (the last, smaller batch of an
//! epoch gets its own plan).
//!
//! Buffer ids: 0 is the model's input (not owned); every layer output gets the next id, and a
//! residual block adds a gradient-only id where its body's input gradient collects before the
//! skip connection's gradient is added:
//!
//! ```text
//! residual(body) on x:   Fork(x)  body steps (first dx → temp)  Join(out = body_out + x)
//! backward, in reverse:  Join: d body_out = d out;   body;   Fork: dx = d temp + d out
//! ```

use super::layer::Layer;
use super::spec::{Leaf, Node};
use crate::backend::Backend;
use crate::error::{Error, Result};

/// What one step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepKind {
    /// Leaf number `i` of the model.
    Leaf(usize),
    /// A residual block starts; in backward it sums the body's and the skip's input gradients.
    Fork {
        /// Where the body's first step writes its input gradient (None when none is needed).
        temp: Option<usize>,
        /// The block's output (its gradient flows through the skip connection).
        join: usize,
    },
    /// A residual block ends: `output = input + skip`.
    Join {
        /// The block's input.
        skip: usize,
    },
}

/// One step of the plan.
pub(crate) struct Step<B: Backend> {
    pub(crate) kind: StepKind,
    /// Buffer read.
    pub(crate) input: usize,
    /// Buffer written.
    pub(crate) output: usize,
    /// Where the gradient with respect to `input` goes (None when no one needs it).
    pub(crate) dx: Option<usize>,
    /// The leaf's scratch tensors.
    pub(crate) scratch: Vec<B::Tensor>,
    /// An activation whose forward the step before computes in its epilogue (a Linear
    /// followed by it): forward skips this step; backward runs it as usual.
    pub(crate) fused: bool,
}

/// A traced model for one input shape.
pub(crate) struct Plan<B: Backend> {
    /// The full input shape (batch first) this plan was traced for.
    pub(crate) input_shape: Vec<usize>,
    /// Activations by id (None for id 0, the input, and for gradient-only ids).
    pub(crate) acts: Vec<Option<B::Tensor>>,
    /// Gradients by id (None for id 0).
    pub(crate) grads: Vec<Option<B::Tensor>>,
    /// The steps in forward order.
    pub(crate) steps: Vec<Step<B>>,
    /// The id of the model's output.
    pub(crate) output: usize,
    /// The one-element loss.
    pub(crate) loss: B::Tensor,
}

/// Where a plan's tensors come from: fresh zeroed tensors, or views into a model's shared
/// arena (see `Model::share_plan_memory`).
pub(crate) type Alloc<'a, B> = &'a mut dyn FnMut(&[usize]) -> Result<<B as Backend>::Tensor>;

struct Tracer<'a, B: Backend> {
    alloc: Alloc<'a, B>,
    leaves: &'a [Leaf],
    next_leaf: usize,
    shapes: Vec<Option<Vec<usize>>>,
    grad_shapes: Vec<Option<Vec<usize>>>,
    steps: Vec<Step<B>>,
}

impl<B: Backend> Tracer<'_, B> {
    fn new_id(&mut self, act: Option<Vec<usize>>, grad: Option<Vec<usize>>) -> usize {
        self.shapes.push(act);
        self.grad_shapes.push(grad);
        self.shapes.len() - 1
    }

    fn shape(&self, id: usize) -> &[usize] {
        self.shapes[id].as_deref().unwrap_or(&[])
    }

    fn lower(&mut self, nodes: &[Node], mut cur: usize, mut dx: Option<usize>) -> Result<usize> {
        for node in nodes {
            match node {
                Node::Layer(_) => {
                    let leaf = self.next_leaf;
                    self.next_leaf += 1;
                    let layer: &dyn Layer = &*self.leaves[leaf].layer;
                    let input = self.shape(cur).to_vec();
                    let out = layer.output_shape(&input)?;
                    let scratch =
                        layer.scratch(&input, dx.is_none())?.iter().map(|s| (self.alloc)(s)).collect::<Result<_>>()?;
                    let output = self.new_id(Some(out.clone()), Some(out));
                    let dx_here = if layer.has_input_grad() { dx } else { None };
                    self.steps.push(Step {
                        kind: StepKind::Leaf(leaf),
                        input: cur,
                        output,
                        dx: dx_here,
                        scratch,
                        fused: false,
                    });
                    cur = output;
                    dx = Some(output);
                }
                Node::Sequential(children) => {
                    cur = self.lower(children, cur, dx)?;
                    dx = Some(cur);
                }
                Node::Residual(body) => {
                    let skip = cur;
                    let shape = self.shape(skip).to_vec();
                    let temp = dx.map(|_| self.new_id(None, Some(shape.clone())));
                    let fork = self.steps.len();
                    self.steps.push(Step {
                        kind: StepKind::Fork { temp, join: 0 },
                        input: skip,
                        output: skip,
                        dx,
                        scratch: Vec::new(),
                        fused: false,
                    });
                    let body_out = self.lower(body, skip, temp)?;
                    let output = self.new_id(Some(shape.clone()), Some(shape));
                    self.steps.push(Step {
                        kind: StepKind::Join { skip },
                        input: body_out,
                        output,
                        dx: Some(body_out),
                        scratch: Vec::new(),
                        fused: false,
                    });
                    self.steps[fork].kind = StepKind::Fork { temp, join: output };
                    cur = output;
                    dx = Some(output);
                }
            }
        }
        Ok(cur)
    }
}

/// Marks each activation step that reads the output of the step just before it, when that
/// step's layer [`Layer::fuses_activation`] (a Linear): its forward then runs in the Linear's
/// epilogue (on the GPU one dispatch and one pass over the activations instead of two).
fn fuse_activations<B: Backend>(steps: &mut [Step<B>], leaves: &[Leaf]) {
    for i in 1..steps.len() {
        let (before, this) = (&steps[i - 1], &steps[i]);
        if let (StepKind::Leaf(a), StepKind::Leaf(b)) = (before.kind, this.kind) {
            let fusable = leaves[a].layer.fuses_activation() && leaves[b].layer.activation().is_some();
            if fusable && this.input == before.output {
                steps[i].fused = true;
            }
        }
    }
}

impl<B: Backend> Plan<B> {
    /// Traces `nodes` (whose leaves, in order, are `leaves`) for an input of `input_shape`;
    /// with `input_grad` the gradient with respect to the input is computed too (buffer 0).
    pub(crate) fn trace(
        alloc: Alloc<'_, B>,
        nodes: &[Node],
        leaves: &[Leaf],
        input_shape: &[usize],
        input_grad: bool,
    ) -> Result<Self> {
        let mut t = Tracer {
            alloc,
            leaves,
            next_leaf: 0,
            shapes: vec![Some(input_shape.to_vec())],
            grad_shapes: vec![input_grad.then(|| input_shape.to_vec())],
            steps: Vec::new(),
        };
        let output = t.lower(nodes, 0, input_grad.then_some(0))?;
        if output == 0 {
            return Err(Error::InvalidArgument { what: "model".into(), detail: "the model has no layer".into() });
        }
        fuse_activations(&mut t.steps, leaves);
        let mut all = |shapes: &[Option<Vec<usize>>], skip_first: bool| -> Result<Vec<Option<B::Tensor>>> {
            shapes
                .iter()
                .enumerate()
                .map(|(i, s)| match s {
                    Some(s) if !(skip_first && i == 0) => (t.alloc)(s).map(Some),
                    _ => Ok(None),
                })
                .collect()
        };
        let acts = all(&t.shapes, true)?;
        let grads = all(&t.grad_shapes, false)?;
        let loss = (t.alloc)(&[1])?;
        Ok(Self { input_shape: input_shape.to_vec(), acts, grads, steps: t.steps, output, loss })
    }

    /// Elements this plan holds (activations, gradients, scratch), for memory estimates.
    pub(crate) fn elements(&self, be: &B) -> usize {
        let count = |t: &Option<B::Tensor>| t.as_ref().map_or(0, |t| be.shape(t).iter().product::<usize>());
        self.acts.iter().map(count).sum::<usize>()
            + self.grads.iter().map(count).sum::<usize>()
            + self.steps.iter().flat_map(|s| &s.scratch).map(|t| be.shape(t).iter().product::<usize>()).sum::<usize>()
    }
}

/// The activation `id` (0 is the model's input `x`).
pub(crate) fn act<'a, B: Backend>(acts: &'a [Option<B::Tensor>], x: &'a B::Tensor, id: usize) -> Result<&'a B::Tensor> {
    if id == 0 {
        return Ok(x);
    }
    acts[id].as_ref().ok_or_else(|| missing("activation", id))
}

/// The error for a buffer the plan should hold but does not (a bug, reported rather than a panic).
pub(crate) fn missing(what: &str, id: usize) -> Error {
    Error::InvalidArgument { what: "step plan".into(), detail: format!("{what} buffer {id} is missing") }
}

/// Borrows plan buffers for one step: `reads` shared and `writes` mutable, all at once and
/// without taking them out of the plan. A step with several inputs (a join, attention's
/// q, k, v) or several outputs (a fused epilogue) asks for them in one call. Id 0 in `reads` is
/// the model's input `x` when it is given (activations: the input is never in the plan's
/// buffers; gradients: id 0 is the input's gradient, a buffer); an id written twice, or both read and
/// written, is refused: a kernel may not read the buffer it writes.
pub(crate) fn io<'a, T, const R: usize, const W: usize>(
    bufs: &'a mut [Option<T>],
    x: Option<&'a T>,
    what: &str,
    reads: [usize; R],
    writes: [usize; W],
) -> Result<([&'a T; R], [&'a mut T; W])> {
    let mut read: [Option<&'a T>; R] = [None; R];
    let mut write: [Option<&'a mut T>; W] = std::array::from_fn(|_| None);
    for (k, &id) in reads.iter().enumerate() {
        if id == 0 && x.is_some() {
            read[k] = x;
        }
    }
    for (id, buf) in bufs.iter_mut().enumerate() {
        let Some(slot) = writes.iter().position(|&w| w == id) else {
            // Read-only here: one shared borrow, copied to each read of this id.
            if reads.contains(&id) && !(id == 0 && x.is_some()) {
                let shared: Option<&'a T> = buf.as_ref();
                for (k, _) in reads.iter().enumerate().filter(|(_, &r)| r == id) {
                    read[k] = shared;
                }
            }
            continue;
        };
        if reads.contains(&id) || writes[slot + 1..].contains(&id) {
            return Err(Error::InvalidArgument {
                what: "step plan".into(),
                detail: format!("{what} buffer {id} is both written and read (or written twice) by one step"),
            });
        }
        write[slot] = buf.as_mut();
    }
    if let Some(k) = read.iter().position(Option::is_none) {
        return Err(missing(what, reads[k]));
    }
    if let Some(k) = write.iter().position(Option::is_none) {
        return Err(missing(what, writes[k]));
    }
    Ok((read.map(|r| r.expect("checked above")), write.map(|w| w.expect("checked above"))))
}
