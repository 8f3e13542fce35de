//! `position_embedding(block_size, std=None)`: a learned position embedding added to its input, as a GPT
//! adds `wpe[0..T)` to the token embedding (nanoGPT: `tok_emb + self.transformer.wpe(pos)`).
//! Input and output `[B, T, C]` with T ≤ block_size; the weight is `[block_size, C]`, initialised
//! N(0, 1) as torch.nn.Embedding. Forward: one bias add over the batch (the first T rows of the
//! weight, flat, are a bias of T·C values); backward: the input gradient is the output's, the
//! weight's first T rows get its sum over the batch (the rest none).

use crate::backend::Backend;
use crate::error::{shape_error, Result};
use crate::nn::args::Bound;
use crate::nn::init::Init;
use crate::nn::layer::{Backward, Forward, Layer, TensorSpec};
use crate::ops::elementwise;
use crate::ops::embedding;
use crate::ops::reduce;
use crate::rng::Rng;

/// A learned embedding of each position, added to the input.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionEmbedding {
    /// The most positions a sequence may have.
    pub block_size: usize,
    /// The width C (the input's last dimension).
    pub dim: usize,
    /// Initialise normal(0, std) instead of N(0, 1) (GPT's 0.02).
    pub std: Option<f64>,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["block_size", "std"];

/// Builds the layer for `input` `[batch, T, C]`.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let layer = PositionEmbedding {
        block_size: args.size("block_size", 1, None)?,
        dim: *input.last().unwrap_or(&0),
        std: args.optional_float("std", 0.0..f64::INFINITY)?,
    };
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl PositionEmbedding {
    /// (batch, T) of an input `[B, T, C]`.
    fn dims(&self, shape: &[usize]) -> Result<(usize, usize)> {
        match shape {
            [b, t, c] if *c == self.dim && *t >= 1 && *t <= self.block_size => Ok((*b, *t)),
            [_, t, c] if *c == self.dim => Err(shape_error(
                "position_embedding",
                format!("a sequence of {t} positions does not fit block_size {}", self.block_size),
            )),
            _ => Err(shape_error(
                "position_embedding",
                format!("expects [batch, T, {}] (token embeddings), got {shape:?}", self.dim),
            )),
        }
    }
}

impl Layer for PositionEmbedding {
    fn spec(&self) -> String {
        let std = self.std.map_or(String::new(), |s| format!(", std={s:?}"));
        format!("position_embedding({}{std})", self.block_size)
    }

    fn torch(&self) -> String {
        format!("PositionEmbedding({}, {})", self.block_size, self.dim)
    }

    fn decoding(&self) -> crate::nn::layer::Decoding {
        crate::nn::layer::Decoding::Position { dim: self.dim }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.dims(input)?;
        Ok(input.to_vec())
    }

    fn params(&self) -> Vec<TensorSpec> {
        vec![TensorSpec::new("weight", &[self.block_size, self.dim])]
    }

    fn init_params(&self, _init: Init, rng: &mut Rng) -> Vec<Vec<f32>> {
        let std = self.std.unwrap_or(1.0);
        vec![(0..self.block_size * self.dim).map(|_| (rng.normal() * std) as f32).collect()]
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let (b, t) = self.dims(be.shape(io.x))?;
        elementwise::copy(be, io.y, io.x)?;
        if let Some(p) = io.padding.and_then(|p| p.packed.as_ref()) {
            // A packed batch: each row's own position, gathered.
            let mut rows = be.zeros(&[b * t, self.dim])?;
            embedding::embedding_forward(be, &mut rows, &p.positions, &io.params[0])?;
            let mut y = be.view(io.y, 0, &[b * t, self.dim])?;
            return elementwise::axpy(be, &mut y, 1.0, &rows);
        }
        let mut rows = be.view(io.y, 0, &[b, t * self.dim])?;
        elementwise::bias_add(be, &mut rows, &be.view(&io.params[0], 0, &[t * self.dim])?)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let (b, t) = self.dims(be.shape(io.x))?;
        if let Some(dx) = io.dx {
            elementwise::copy(be, dx, io.dy)?;
        }
        let grad = &mut io.grads[0];
        if let Some(p) = io.padding.and_then(|p| p.packed.as_ref()) {
            let dy = be.view(io.dy, 0, &[b * t, self.dim])?;
            return embedding::embedding_backward(be, grad, &p.positions, &dy, None, io.accumulate);
        }
        if !io.accumulate && t < self.block_size {
            // Positions past T get no gradient this pass.
            elementwise::fill(be, grad, 0.0)?;
        }
        let mut used = be.view(grad, 0, &[t * self.dim])?;
        reduce::column_sum(be, &mut used, &be.view(io.dy, 0, &[b, t * self.dim])?, io.accumulate)
    }
}
