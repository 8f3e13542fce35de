//! The one layer trait. A leaf layer says, in one file: its parameters and buffers (PyTorch's
//! state_dict names, shapes, initialisation), its output shape for an input shape, the scratch
//! tensors it keeps from forward to backward, and its forward and backward against [`Backend`].
//! Containers (Sequential, Residual) are not layers: they are the model's tree
//! ([`super::Node`]), which the step plan (`nn/plan.rs`) flattens.

use super::init::Init;
use super::padding::Padding;
use crate::backend::cpu::CpuBackend;
use crate::backend::gpu::GpuBackend;
use crate::backend::{Backend, PerPath};
use crate::error::Result;
use crate::ops::elementwise;
use crate::ops::elementwise::Activation;
use crate::rng::Rng;
use std::fmt::Debug;

/// A parameter or buffer a layer declares: its local state_dict name and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// The local name (`weight`, `bias`, `running_mean`, …); the model prefixes the layer's path.
    pub name: &'static str,
    /// The shape, as PyTorch has it.
    pub shape: Vec<usize>,
}

impl TensorSpec {
    /// A spec of `name` with `shape`.
    pub fn new(name: &'static str, shape: &[usize]) -> Self {
        Self { name, shape: shape.to_vec() }
    }
}

/// What a layer's forward pass reads and writes.
pub struct Forward<'a, B: Backend> {
    /// The input.
    pub x: &'a B::Tensor,
    /// The output, of [`Layer::output_shape`].
    pub y: &'a mut B::Tensor,
    /// The layer's parameters, in [`Layer::params`] order.
    pub params: &'a [B::Tensor],
    /// The layer's buffers, in [`Layer::buffers`] order (training may update them).
    pub buffers: &'a mut [B::Tensor],
    /// The layer's scratch tensors, in [`Layer::scratch`] order.
    pub scratch: &'a mut [B::Tensor],
    /// Training mode (dropout active, batch statistics).
    pub train: bool,
    /// This forward pass's random keys ([`crate::rng::key_bits`]), one per layer that
    /// [`Layer::uses_rng`] in it.
    pub keys: &'a B::Tensor,
    /// Which of `keys` is this layer's (when it uses one).
    pub slot: usize,
    /// The activation of the next layer and its output, when the plan fused it into this
    /// layer (only for layers that [`Layer::fuses_activation`]): `y` stays this layer's output
    /// and the tensor gets `act(y)`.
    pub then: Option<(Activation, &'a mut B::Tensor)>,
    /// The batch's padding (token sequences shorter than T), for layers that
    /// [`Layer::reads_padding`]; None when the model has no such layer.
    pub padding: Option<&'a Padding<B>>,
}

/// What a layer's backward pass reads and writes.
pub struct Backward<'a, B: Backend> {
    /// The forward pass's input.
    pub x: &'a B::Tensor,
    /// The forward pass's output.
    pub y: &'a B::Tensor,
    /// The gradient with respect to the output.
    pub dy: &'a B::Tensor,
    /// Where the gradient with respect to the input goes (overwritten); None for the model's
    /// first layer, whose input needs none.
    pub dx: Option<&'a mut B::Tensor>,
    /// The layer's parameters.
    pub params: &'a [B::Tensor],
    /// The parameters' gradients, in the same order.
    pub grads: &'a mut [B::Tensor],
    /// The layer's buffers.
    pub buffers: &'a [B::Tensor],
    /// The layer's scratch tensors, as the forward pass left them.
    pub scratch: &'a mut [B::Tensor],
    /// Whether the forward pass ran in training mode.
    pub train: bool,
    /// Add to the parameter gradients instead of replacing them (gradient accumulation).
    pub accumulate: bool,
    /// The forward pass's padding ([`Forward::padding`]).
    pub padding: Option<&'a Padding<B>>,
}

/// How a layer runs when a language model decodes one new position at a time with a KV cache
/// (`nn/decode.rs`).
#[derive(Clone, Debug)]
pub enum Decoding {
    /// It cannot (a convolution, a pooling, a batch norm): decoding re-runs the whole context.
    Unsupported,
    /// Each position on its own (Linear, LayerNorm, activations, dropout, the token
    /// embedding): its ordinary forward on the new position alone.
    PositionWise,
    /// Adds the learned embedding of the new position (`position_embedding`).
    Position {
        /// The width C.
        dim: usize,
    },
    /// Attends from the new position to every cached one (`causal_self_attention`).
    Attention(super::layers::causal_self_attention::CausalSelfAttention),
}

/// A leaf layer. Implementors write `forward` and `backward` once, generic over the backend;
/// [`RunOn`] makes them callable through `dyn Layer` on either path.
pub trait Layer: Debug + Send + Sync + OnBackends {
    /// The layer in the model-spec language, e.g. `conv2d(32, 3, padding=1)` (every setting
    /// that differs from its default).
    fn spec(&self) -> String;
    /// The equivalent PyTorch module, e.g. `nn.Conv2d(1, 32, kernel_size=(3, 3), padding=(1, 1))`.
    fn torch(&self) -> String;
    /// The output shape for an input shape (batch first). Errors say what the layer expected.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>>;
    /// Forward FLOPs for a batch of this input shape, counted as PyTorch's
    /// `torch.utils.flop_counter` counts them: 2 per multiply-add of the matrix products,
    /// convolutions and attention, nothing for elementwise work, norms, pooling or lookups.
    fn flops(&self, _input: &[usize]) -> u64 {
        0
    }
    /// Trained parameters, in PyTorch's `parameters()` order.
    fn params(&self) -> Vec<TensorSpec> {
        Vec::new()
    }
    /// Initial parameter values (one Vec per [`Layer::params`] entry), drawn from `rng` with
    /// PyTorch's default initialisation, or `init` where the layer lets it choose.
    fn init_params(&self, _init: Init, _rng: &mut Rng) -> Vec<Vec<f32>> {
        Vec::new()
    }
    /// How it runs in cached decoding ([`Decoding`]); unsupported unless it says otherwise.
    fn decoding(&self) -> Decoding {
        Decoding::Unsupported
    }
    /// Parameters that are another layer's: (local name, the owner's full name, e.g.
    /// `0.weight`). They share its storage and its gradient sums both uses (weight tying).
    fn tied_params(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// State that is saved but not trained (BatchNorm's running stats) with its initial value.
    fn buffers(&self) -> Vec<(TensorSpec, f32)> {
        Vec::new()
    }
    /// True when the layer has PyTorch's integer `num_batches_tracked` buffer (BatchNorm).
    fn tracks_batches(&self) -> bool {
        false
    }
    /// Shapes of the scratch tensors kept from forward to backward for an input shape; `first`
    /// says the layer is the model's first (its input gradient is not needed).
    fn scratch(&self, _input: &[usize], _first: bool) -> Result<Vec<Vec<usize>>> {
        Ok(Vec::new())
    }
    /// The LoRA adapters the layer carries (`self_attention`'s), for merging and export.
    fn lora(&self) -> Option<&crate::nn::layers::self_attention::Lora> {
        None
    }
    /// True when the layer needs the batch's padding ([`Forward::padding`]): attention over
    /// padded sequences, pooling over their tokens.
    fn reads_padding(&self) -> bool {
        false
    }
    /// True when this forward call draws random numbers (dropout in training).
    fn uses_rng(&self, _train: bool) -> bool {
        false
    }
    /// Checks the values the model is given when this is its first layer (Embedding: whole
    /// indices in range), before training; the GPU path cannot check them per step.
    fn check_input(&self, _values: &[f32]) -> Result<()> {
        Ok(())
    }
    /// False for layers whose input has no gradient (Embedding's integer indices): such a layer
    /// must come first.
    fn has_input_grad(&self) -> bool {
        true
    }
    /// The elementwise activation this layer is, if it is one (it may then run in the epilogue
    /// of a layer before it that [`Layer::fuses_activation`]).
    fn activation(&self) -> Option<Activation> {
        None
    }
    /// True when the forward pass can also compute a following activation layer's output
    /// ([`Forward::then`]); the plan then skips that layer's own forward.
    fn fuses_activation(&self) -> bool {
        false
    }
    /// The forward pass.
    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()>
    where
        Self: Sized;
    /// The backward pass: `dx` (when asked) and the parameter gradients.
    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()>
    where
        Self: Sized;
}

/// A layer's passes on one backend, callable through `dyn Layer`.
pub trait RunOn<B: Backend> {
    /// [`Layer::forward`].
    fn run_forward(&self, be: &B, io: Forward<'_, B>) -> Result<()>;
    /// [`Layer::backward`].
    fn run_backward(&self, be: &B, io: Backward<'_, B>) -> Result<()>;
}

impl<B: Backend, L: Layer> RunOn<B> for L {
    fn run_forward(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        self.forward(be, io)
    }
    fn run_backward(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        self.backward(be, io)
    }
}

/// The passes of a `dyn Layer` on each path (implemented for every layer; [`Backend::pick`]
/// chooses through [`PerPath`]).
pub trait OnBackends {
    /// The passes on the CPU path.
    fn on_cpu(&self) -> &(dyn RunOn<CpuBackend> + 'static);
    /// The passes on the GPU path.
    fn on_gpu(&self) -> &(dyn RunOn<GpuBackend> + 'static);
}

impl<L: Layer + 'static> OnBackends for L {
    fn on_cpu(&self) -> &(dyn RunOn<CpuBackend> + 'static) {
        self
    }
    fn on_gpu(&self) -> &(dyn RunOn<GpuBackend> + 'static) {
        self
    }
}

impl PerPath for dyn Layer {
    type On<B: Backend> = dyn RunOn<B>;
    fn on_cpu(&self) -> &(dyn RunOn<CpuBackend> + 'static) {
        OnBackends::on_cpu(self)
    }
    fn on_gpu(&self) -> &(dyn RunOn<GpuBackend> + 'static) {
        OnBackends::on_gpu(self)
    }
}

/// Writes `src` into a parameter gradient, or adds it when accumulating.
pub(crate) fn store_grad<B: Backend>(be: &B, grad: &mut B::Tensor, src: &B::Tensor, accumulate: bool) -> Result<()> {
    if accumulate {
        elementwise::axpy(be, grad, 1.0, src)
    } else {
        elementwise::copy(be, grad, src)
    }
}

/// Writes `scale · src` into a parameter gradient, or adds it when accumulating (LoRA's
/// adapters, whose gradients carry the alpha/r scale).
pub(crate) fn store_scaled_grad<B: Backend>(
    be: &B,
    grad: &mut B::Tensor,
    src: &B::Tensor,
    scale: f32,
    accumulate: bool,
) -> Result<()> {
    if accumulate {
        return elementwise::axpy(be, grad, scale, src);
    }
    elementwise::copy(be, grad, src)?;
    elementwise::scale(be, grad, scale)
}

/// The layer's `N` scratch tensors (the plan allocates what [`Layer::scratch`] declared).
pub(crate) fn scratch_n<'a, T, const N: usize>(scratch: &'a mut [T], layer: &'static str) -> Result<&'a mut [T; N]> {
    let len = scratch.len();
    scratch.try_into().map_err(|_| crate::error::Error::InvalidArgument {
        what: layer.into(),
        detail: format!("expected {N} scratch tensors, the plan gave {len}"),
    })
}
