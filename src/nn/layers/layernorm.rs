//! `layernorm(normalized_shape=last dim, eps=1e-5, bias=true)`: normalises over the last one or more dims
//! with an affine weight and bias of that shape, as torch.nn.LayerNorm. `normalized_shape` is
//! a number (the last dim) or a tuple (the last dims).

use crate::backend::Backend;
use crate::error::{shape_error, Error, Result};
use crate::nn::args::{Bound, Value};
use crate::nn::init::Init;
use crate::nn::layer::{store_grad, Backward, Forward, Layer, TensorSpec};
use crate::ops::elementwise;
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
    /// Whether it has a bias (PyTorch's `bias=False` leaves only the weight: nanoGPT's
    /// `LayerNorm(ndim, bias=False)`).
    pub bias: bool,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["normalized_shape", "eps", "bias"];

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
    let eps = args.float("eps", f64::MIN_POSITIVE..f64::INFINITY, 1e-5)?;
    let layer = LayerNorm { shape, eps, bias: args.flag("bias", true)? };
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
        let eps = if self.eps != 1e-5 { format!(", eps={}", self.eps) } else { String::new() };
        let bias = if self.bias { "" } else { ", bias=false" };
        format!("layernorm({shape}{eps}{bias})")
    }

    fn torch(&self) -> String {
        let bias = if self.bias { "" } else { ", bias=False" };
        format!("nn.LayerNorm({:?}, eps={}{bias})", self.shape, self.eps)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.len() <= self.shape.len() {
            return Err(shape_error("layernorm", format!("expects [batch, …, {:?}], got {input:?}", self.shape)));
        }
        layer_norm_dims(input, &self.shape)?;
        Ok(input.to_vec())
    }

    fn decoding(&self) -> crate::nn::layer::Decoding {
        crate::nn::layer::Decoding::PositionWise
    }

    fn params(&self) -> Vec<TensorSpec> {
        let mut p = vec![TensorSpec::new("weight", &self.shape)];
        if self.bias {
            p.push(TensorSpec::new("bias", &self.shape));
        }
        p
    }

    fn init_params(&self, _init: Init, _rng: &mut Rng) -> Vec<Vec<f32>> {
        let mut p = vec![vec![1.0; self.m()]];
        if self.bias {
            p.push(vec![0.0; self.m()]);
        }
        p
    }

    /// The saved statistics, the parameter-gradient sums, and without a bias a zero one for
    /// the kernel (which always adds one).
    fn scratch(&self, input: &[usize], _first: bool) -> Result<Vec<Vec<usize>>> {
        let mut s = vec![vec![2, self.rows(input)?], vec![2, sums_stride(self.m())]];
        if !self.bias {
            s.push(self.shape.clone());
        }
        Ok(s)
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let eps = self.eps as f32;
        match (self.bias, io.scratch) {
            (true, [saved, ..]) => norm::layer_norm_forward(be, io.y, saved, io.x, &io.params[0], &io.params[1], eps),
            (false, [saved, _, zero]) => {
                elementwise::fill(be, zero, 0.0)?;
                norm::layer_norm_forward(be, io.y, saved, io.x, &io.params[0], zero, eps)
            }
            _ => Err(missing()),
        }
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let [saved, sums, ..] = io.scratch else { return Err(missing()) };
        norm::layer_norm_param_grad(be, sums, io.x, saved, io.dy)?;
        let stride = sums_stride(self.m());
        store_grad(be, &mut io.grads[0], &be.view(sums, 0, &self.shape)?, io.accumulate)?;
        if self.bias {
            store_grad(be, &mut io.grads[1], &be.view(sums, stride, &self.shape)?, io.accumulate)?;
        }
        if let Some(dx) = io.dx {
            norm::layer_norm_backward(be, dx, io.x, &io.params[0], saved, io.dy)?;
        }
        Ok(())
    }
}

fn missing() -> Error {
    Error::InvalidArgument { what: "layernorm".into(), detail: "the step plan did not give its scratch tensors".into() }
}
