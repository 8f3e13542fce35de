//! `layernorm(normalized_shape=last dim, eps=1e-5)`: normalises over the last one or more dims
//! with an affine weight and bias of that shape, as torch.nn.LayerNorm. `normalized_shape` is
//! a number (the last dim) or a tuple (the last dims).

use crate::backend::Backend;
use crate::error::{shape_error, Error, Result};
use crate::nn::args::{Bound, Value};
use crate::nn::init::Init;
use crate::nn::layer::{store_grad, Backward, Forward, Layer, TensorSpec};
use crate::ops::norm;
use crate::ops::norm::{layer_norm_dims, sums_stride};
use crate::rng::Rng;

/// Layer normalisation.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorm {
    /// The normalised trailing dims.
    pub shape: Vec<usize>,
    /// Added to the variance inside the square root.
    pub eps: f64,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["normalized_shape", "eps"];

/// Builds the layer for `input`.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let bad = |detail: String| Error::InvalidArgument { what: "model: layernorm".into(), detail };
    let shape = match args.get("normalized_shape") {
        None => vec![*input.last().unwrap_or(&0)],
        Some(Value::Int(n)) if *n > 0 => vec![*n as usize],
        Some(Value::Tuple(vs)) if !vs.is_empty() => vs
            .iter()
            .map(|v| match v {
                Value::Int(n) if *n > 0 => Ok(*n as usize),
                other => Err(bad(format!("normalized_shape entries must be whole numbers ≥ 1, got {other}"))),
            })
            .collect::<Result<_>>()?,
        Some(other) => return Err(bad(format!("normalized_shape={other} must be a number or a tuple"))),
    };
    let layer = LayerNorm { shape, eps: args.float("eps", f64::MIN_POSITIVE..f64::INFINITY, 1e-5)? };
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl LayerNorm {
    fn rows(&self, input: &[usize]) -> Result<usize> {
        Ok(layer_norm_dims(input, &self.shape)?.0)
    }
    fn m(&self) -> usize {
        self.shape.iter().product()
    }
}

impl Layer for LayerNorm {
    fn spec(&self) -> String {
        let shape = if self.shape.len() == 1 {
            self.shape[0].to_string()
        } else {
            format!("({})", self.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
        };
        if self.eps != 1e-5 {
            format!("layernorm({shape}, eps={})", self.eps)
        } else {
            format!("layernorm({shape})")
        }
    }

    fn torch(&self) -> String {
        format!("nn.LayerNorm({:?}, eps={})", self.shape, self.eps)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.len() <= self.shape.len() {
            return Err(shape_error("layernorm", format!("expects [batch, …, {:?}], got {input:?}", self.shape)));
        }
        layer_norm_dims(input, &self.shape)?;
        Ok(input.to_vec())
    }

    fn params(&self) -> Vec<TensorSpec> {
        vec![TensorSpec::new("weight", &self.shape), TensorSpec::new("bias", &self.shape)]
    }

    fn init_params(&self, _init: Init, _rng: &mut Rng) -> Vec<Vec<f32>> {
        vec![vec![1.0; self.m()], vec![0.0; self.m()]]
    }

    fn scratch(&self, input: &[usize], _first: bool) -> Result<Vec<Vec<usize>>> {
        Ok(vec![vec![2, self.rows(input)?], vec![2, sums_stride(self.m())]])
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let saved = io.scratch.first_mut().ok_or_else(missing)?;
        norm::layer_norm_forward(be, io.y, saved, io.x, &io.params[0], &io.params[1], self.eps as f32)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let [saved, sums] = io.scratch else { return Err(missing()) };
        norm::layer_norm_param_grad(be, sums, io.x, saved, io.dy)?;
        let stride = sums_stride(self.m());
        store_grad(be, &mut io.grads[0], &be.view(sums, 0, &self.shape)?, io.accumulate)?;
        store_grad(be, &mut io.grads[1], &be.view(sums, stride, &self.shape)?, io.accumulate)?;
        if let Some(dx) = io.dx {
            norm::layer_norm_backward(be, dx, io.x, &io.params[0], saved, io.dy)?;
        }
        Ok(())
    }
}

fn missing() -> Error {
    Error::InvalidArgument { what: "layernorm".into(), detail: "the step plan did not give its scratch tensors".into() }
}
