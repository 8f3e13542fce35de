//! `Model`: forward, loss, backward and zero-grad of a layer stack on one backend. Parameters and
//! gradients are views into two flat buffers; activations live in per-batch-size workspaces that
//! are allocated once and reused.

use super::spec::{Layer, ModelSpec};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::loss::{LossKind, Target};
use crate::params::FlatStore;
use crate::rng::dropout_key;
use crate::tensor::{MatmulForm, Tensor};

/// Buffers for one batch size: each layer's output and the gradient with respect to it.
struct Workspace<B: Backend> {
    batch: usize,
    outs: Vec<B::Tensor>,
    grads: Vec<B::Tensor>,
    masks: Vec<Option<B::Tensor>>,
    loss: B::Tensor,
}

/// A model on a backend: the spec, flat parameters and gradients, and workspaces.
pub struct Model<B: Backend> {
    spec: ModelSpec,
    /// Parameters, one flat buffer with a view per tensor.
    pub params: FlatStore<B>,
    /// Gradients, laid out like `params`.
    pub grads: FlatStore<B>,
    workspaces: Vec<Workspace<B>>,
    current: Option<usize>,
    dropout_seed: u64,
    dropout_calls: u64,
}

impl<B: Backend> Model<B> {
    /// A model with parameters initialised from `seed` (dropout masks draw from it too).
    pub fn new(be: &B, spec: ModelSpec, seed: u64) -> Result<Self> {
        spec.validate()?;
        let layout = spec.layout()?;
        let initial = spec.initial_params(seed)?;
        let mut model = Self {
            params: FlatStore::zeros(be, &layout)?,
            grads: FlatStore::zeros(be, &layout)?,
            spec,
            workspaces: Vec::new(),
            current: None,
            dropout_seed: seed ^ 0xD50F_0D50_F0D5_0F0D,
            dropout_calls: 0,
        };
        model.load(be, &initial)?;
        Ok(model)
    }

    /// The model's description.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Overwrites parameters by name; every name must exist with the same shape.
    pub fn load(&mut self, be: &B, params: &[(String, Tensor)]) -> Result<()> {
        for (name, t) in params {
            self.params.load(be, name, t)?;
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

    fn workspace_index(&mut self, be: &B, batch: usize) -> Result<usize> {
        if let Some(i) = self.workspaces.iter().position(|w| w.batch == batch) {
            return Ok(i);
        }
        let widths = self.spec.widths();
        let mut outs = Vec::new();
        let mut grads = Vec::new();
        let mut masks = Vec::new();
        for (layer, &w) in self.spec.layers.iter().zip(&widths) {
            outs.push(be.zeros(&[batch, w])?);
            grads.push(be.zeros(&[batch, w])?);
            masks.push(if matches!(layer, Layer::Dropout(_)) { Some(be.zeros(&[batch, w])?) } else { None });
        }
        self.workspaces.push(Workspace { batch, outs, grads, masks, loss: be.zeros(&[1])? });
        Ok(self.workspaces.len() - 1)
    }

    /// Runs the layers on `x` (batch, inputs); returns the output (batch, outputs). Dropout is
    /// active only when `train` is set.
    pub fn forward(&mut self, be: &B, x: &B::Tensor, train: bool) -> Result<&B::Tensor> {
        let shape = be.shape(x);
        if shape.len() != 2 || shape[1] != self.spec.inputs() {
            return Err(Error::Shape {
                op: "Model::forward",
                detail: format!("input must be [batch, {}], got {shape:?}", self.spec.inputs()),
            });
        }
        let batch = shape[0];
        let wi = self.workspace_index(be, batch)?;
        self.current = Some(wi);
        let ws = &mut self.workspaces[wi];
        let mut k = 0; // Linear layers seen
        for (i, layer) in self.spec.layers.iter().enumerate() {
            let (before, rest) = ws.outs.split_at_mut(i);
            let input = if i == 0 { x } else { &before[i - 1] };
            let out = &mut rest[0];
            match *layer {
                Layer::Linear { .. } => {
                    be.matmul(MatmulForm::Nt, out, input, self.params.view(2 * k), false)?;
                    be.bias_add(out, self.params.view(2 * k + 1))?;
                    k += 1;
                }
                Layer::Act(act) => be.activation_forward(act, out, input)?,
                Layer::Dropout(p) => {
                    if train && p > 0.0 {
                        let key = dropout_key(self.dropout_seed, self.dropout_calls);
                        self.dropout_calls += 1;
                        let mask = ws.masks[i].as_mut().expect("dropout layers have a mask");
                        be.dropout_forward(out, mask, input, p, key)?;
                    } else {
                        be.copy(out, input)?;
                        if let Some(mask) = ws.masks[i].as_mut() {
                            be.fill(mask, 1.0)?; // backward after an eval-mode forward passes gradients through
                        }
                    }
                }
            }
        }
        Ok(ws.outs.last().expect("validated: at least one layer"))
    }

    fn current(&self, op: &'static str) -> Result<usize> {
        self.current.ok_or_else(|| Error::InvalidArgument { what: op.into(), detail: "call forward first".into() })
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> Result<&B::Tensor> {
        let wi = self.current("Model::output")?;
        Ok(self.workspaces[wi].outs.last().expect("validated"))
    }

    /// Computes the loss of the last forward pass against `target` (kept on the device, see
    /// [`Model::loss_tensor`]) and the gradient with respect to the output.
    pub fn loss(&mut self, be: &B, kind: LossKind, target: &Target<'_, B>) -> Result<()> {
        let wi = self.current("Model::loss")?;
        let ws = &mut self.workspaces[wi];
        let last = ws.outs.len() - 1;
        kind.apply(be, &mut ws.loss, &mut ws.grads[last], &ws.outs[last], target)
    }

    /// The one-element loss tensor of the last [`Model::loss`] call (read it only when needed).
    pub fn loss_tensor(&self) -> Result<&B::Tensor> {
        Ok(&self.workspaces[self.current("Model::loss_tensor")?].loss)
    }

    /// Back-propagates the output gradient of the last [`Model::loss`] to every parameter's
    /// gradient; with `accumulate`, adds to the gradients instead of replacing them.
    pub fn backward(&mut self, be: &B, x: &B::Tensor, accumulate: bool) -> Result<()> {
        let wi = self.current("Model::backward")?;
        let ws = &mut self.workspaces[wi];
        let mut k = self.spec.layers.iter().filter(|l| matches!(l, Layer::Linear { .. })).count();
        for i in (0..self.spec.layers.len()).rev() {
            let input = if i == 0 { x } else { &ws.outs[i - 1] };
            let (before, rest) = ws.grads.split_at_mut(i);
            let grad_out = &rest[0];
            match self.spec.layers[i] {
                Layer::Linear { .. } => {
                    k -= 1;
                    be.matmul(MatmulForm::Tn, self.grads.view_mut(2 * k), grad_out, input, accumulate)?;
                    be.column_sum(self.grads.view_mut(2 * k + 1), grad_out, accumulate)?;
                    if i > 0 {
                        be.matmul(MatmulForm::Nn, &mut before[i - 1], grad_out, self.params.view(2 * k), false)?;
                    }
                }
                Layer::Act(act) => {
                    if i > 0 {
                        be.activation_backward(act, &mut before[i - 1], input, grad_out)?;
                    }
                }
                Layer::Dropout(_) => {
                    if i > 0 {
                        let mask = ws.masks[i].as_ref().expect("dropout layers have a mask");
                        be.dropout_backward(&mut before[i - 1], grad_out, mask)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Sets every gradient to zero (one fill over the flat buffer).
    pub fn zero_grad(&mut self, be: &B) -> Result<()> {
        be.fill(self.grads.flat_mut(), 0.0)
    }
}
