//! `embedding(num_embeddings, embedding_dim, padding_idx=None)`: looks up rows of a
//! [V, D] weight for integer indices (stored as f32), as torch.nn.Embedding. Its input has no
//! gradient, so it must be the model's first layer. Weight init: N(0, 1), the padding row zero.

use crate::backend::Backend;
use crate::error::{shape_error, Error, Result};
use crate::nn::args::Bound;
use crate::nn::init::Init;
use crate::nn::layer::{Backward, Forward, Layer, TensorSpec};
use crate::ops::embedding;
use crate::rng::Rng;

/// A lookup table.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// Rows V.
    pub vocab: usize,
    /// Width D.
    pub dim: usize,
    /// The row that gets no gradient (and starts at zero).
    pub padding_idx: Option<usize>,
    /// Initialise normal(0, std) instead of N(0, 1) (GPT's 0.02).
    pub std: Option<f64>,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["num_embeddings", "embedding_dim", "padding_idx", "std"];

/// Builds the layer.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let layer = Embedding {
        vocab: args.size("num_embeddings", 1, None)?,
        dim: args.size("embedding_dim", 1, None)?,
        padding_idx: args.optional_size("padding_idx")?,
        std: args.optional_float("std", 0.0..f64::INFINITY)?,
    };
    if let Some(p) = layer.padding_idx.filter(|&p| p >= layer.vocab) {
        return Err(Error::InvalidArgument {
            what: "model: embedding".into(),
            detail: format!("padding_idx={p} must be below num_embeddings={}", layer.vocab),
        });
    }
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl Layer for Embedding {
    fn spec(&self) -> String {
        let padding = self.padding_idx.map_or(String::new(), |p| format!(", padding_idx={p}"));
        let std = self.std.map_or(String::new(), |s| format!(", std={s:?}"));
        format!("embedding({}, {}{padding}{std})", self.vocab, self.dim)
    }

    fn torch(&self) -> String {
        match self.padding_idx {
            Some(p) => format!("nn.Embedding({}, {}, padding_idx={p})", self.vocab, self.dim),
            None => format!("nn.Embedding({}, {})", self.vocab, self.dim),
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.is_empty() {
            return Err(shape_error("embedding", "expects [batch, …] indices, got a scalar"));
        }
        let mut out = input.to_vec();
        out.push(self.dim);
        Ok(out)
    }

    fn decoding(&self) -> crate::nn::layer::Decoding {
        crate::nn::layer::Decoding::PositionWise
    }

    fn params(&self) -> Vec<TensorSpec> {
        vec![TensorSpec::new("weight", &[self.vocab, self.dim])]
    }

    fn init_params(&self, _init: Init, rng: &mut Rng) -> Vec<Vec<f32>> {
        let std = self.std.unwrap_or(1.0);
        let mut w: Vec<f32> = (0..self.vocab * self.dim).map(|_| (rng.normal() * std) as f32).collect();
        if let Some(p) = self.padding_idx {
            w[p * self.dim..(p + 1) * self.dim].fill(0.0);
        }
        vec![w]
    }

    fn check_input(&self, values: &[f32]) -> Result<()> {
        crate::ops::embedding::check_indices("embedding", values, self.vocab).map_err(|e| Error::InvalidArgument {
            what: "data".into(),
            detail: format!("{} takes token indices: {e} (index data needs normalization = \"none\")", self.spec()),
        })
    }

    fn has_input_grad(&self) -> bool {
        false
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        embedding::embedding_forward(be, io.y, io.x, &io.params[0])
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        embedding::embedding_backward(be, &mut io.grads[0], io.x, io.dy, self.padding_idx, io.accumulate)
    }
}
