//! `type_embedding(type_vocab_size)`: BERT's token-type (segment) embedding added to its
//! input, for single-sentence inputs: every token is of type 0, so row 0 of the `[types, C]`
//! weight is added to every position (Hugging Face's `token_type_ids` left at zeros). The
//! weight keeps all rows so a pretrained table loads and saves whole; rows past 0 get no
//! gradient.

use crate::backend::Backend;
use crate::error::{shape_error, Result};
use crate::nn::args::Bound;
use crate::nn::init::Init;
use crate::nn::layer::{Backward, Forward, Layer, TensorSpec};
use crate::ops::elementwise;
use crate::ops::reduce;
use crate::rng::Rng;

/// The token-type embedding of type-0 tokens, added to the input.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeEmbedding {
    /// Rows of the table (BERT: 2).
    pub types: usize,
    /// The width C (the input's last dimension).
    pub dim: usize,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["type_vocab_size"];

/// Builds the layer for `input` `[batch, T, C]`.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let layer = TypeEmbedding { types: args.size("type_vocab_size", 1, Some(2))?, dim: *input.last().unwrap_or(&0) };
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl TypeEmbedding {
    /// Rows of the input viewed as `[rows, C]`.
    fn rows(&self, shape: &[usize]) -> Result<usize> {
        match shape {
            [b, t, c] if *c == self.dim && *c > 0 => Ok(b * t),
            _ => Err(shape_error("type_embedding", format!("expects [batch, T, {}], got {shape:?}", self.dim))),
        }
    }
}

impl Layer for TypeEmbedding {
    fn spec(&self) -> String {
        format!("type_embedding({})", self.types)
    }

    fn torch(&self) -> String {
        format!("nn.Embedding({}, {})  # token_type_ids = 0", self.types, self.dim)
    }

    fn decoding(&self) -> crate::nn::layer::Decoding {
        crate::nn::layer::Decoding::PositionWise
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.rows(input)?;
        Ok(input.to_vec())
    }

    fn params(&self) -> Vec<TensorSpec> {
        vec![TensorSpec::new("weight", &[self.types, self.dim])]
    }

    fn init_params(&self, _init: Init, rng: &mut Rng) -> Vec<Vec<f32>> {
        vec![(0..self.types * self.dim).map(|_| rng.normal() as f32).collect()]
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let rows = self.rows(be.shape(io.x))?;
        elementwise::copy(be, io.y, io.x)?;
        let mut flat = be.view(io.y, 0, &[rows, self.dim])?;
        elementwise::bias_add(be, &mut flat, &be.view(&io.params[0], 0, &[self.dim])?)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let rows = self.rows(be.shape(io.x))?;
        if let Some(dx) = io.dx {
            elementwise::copy(be, dx, io.dy)?;
        }
        let grad = &mut io.grads[0];
        if !io.accumulate && self.types > 1 {
            elementwise::fill(be, grad, 0.0)?;
        }
        let mut row0 = be.view(grad, 0, &[self.dim])?;
        reduce::column_sum(be, &mut row0, &be.view(io.dy, 0, &[rows, self.dim])?, io.accumulate)
    }
}
