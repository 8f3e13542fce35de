//! `linear(out_features, bias=true, tie=None)`: `y = x·Wᵀ + b` on the last dimension, as
//! torch.nn.Linear (in_features inferred from the input, as nn.LazyLinear). `tie=K` shares the
//! weight of top-level layer K (GPT's `lm_head.weight = transformer.wte.weight`).

use crate::backend::Backend;
use crate::error::{shape_error, Result};
use crate::nn::args::Bound;
use crate::nn::init::Init;
use crate::nn::layer::{Backward, Forward, Layer, TensorSpec};
use crate::ops::elementwise;
use crate::ops::elementwise::Activation;
use crate::ops::matmul;
use crate::ops::reduce;
use crate::rng::Rng;
use crate::tensor::MatmulForm;

/// A fully connected layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// Input features (the input's last dimension).
    pub inputs: usize,
    /// Output features.
    pub outputs: usize,
    /// Whether a bias is added.
    pub bias: bool,
    /// Its weight is the weight of top-level layer `tie` (weight tying: GPT's head shares the
    /// token embedding, `[V, C]` both); None for a weight of its own.
    pub tie: Option<usize>,
    /// Initialise the weight normal(0, std) and the bias zero (GPT's init), whatever the
    /// model's init; None follows the model's.
    pub std: Option<f64>,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["out_features", "bias", "tie", "std"];

/// Builds the layer for `input` from its spec arguments.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let outputs = args.size("out_features", 1, None)?;
    let inputs = *input.last().unwrap_or(&0);
    let tie = args.optional_size("tie")?;
    let std = args.optional_float("std", 0.0..f64::INFINITY)?;
    Ok(Box::new(Linear { inputs, outputs, bias: args.flag("bias", true)?, tie, std }))
}

impl Linear {
    /// The input and output viewed as matrices [rows, features].
    fn rows(&self, shape: &[usize]) -> usize {
        shape[..shape.len() - 1].iter().product()
    }

    /// `y = x·Wᵀ (+ b)` on matrices, and `then`'s activation of y: one op with the bias and
    /// the activation in the product's epilogue.
    fn product<B: Backend>(
        &self,
        be: &B,
        y: &mut B::Tensor,
        x: &B::Tensor,
        params: &[B::Tensor],
        then: Option<(Activation, &mut B::Tensor)>,
    ) -> Result<()> {
        match (self.bias, then) {
            (true, Some((act, z))) => matmul::matmul_bias_act(be, y, z, x, &params[0], &params[1], act),
            (true, None) => matmul::matmul_bias(be, y, x, &params[0], &params[1]),
            (false, then) => {
                matmul::matmul(be, MatmulForm::Nt, y, x, &params[0], false)?;
                match then {
                    Some((act, z)) => elementwise::activation_forward(be, act, z, y),
                    None => Ok(()),
                }
            }
        }
    }
}

impl Layer for Linear {
    fn flops(&self, input: &[usize]) -> u64 {
        let rows: usize = input[..input.len().saturating_sub(1)].iter().product();
        2 * (rows * self.inputs * self.outputs) as u64
    }

    fn fuses_activation(&self) -> bool {
        true
    }

    fn spec(&self) -> String {
        let bias = if self.bias { "" } else { ", bias=false" };
        let tie = self.tie.map_or(String::new(), |k| format!(", tie={k}"));
        let std = self.std.map_or(String::new(), |s| format!(", std={s:?}"));
        format!("linear({}{bias}{tie}{std})", self.outputs)
    }

    fn decoding(&self) -> crate::nn::layer::Decoding {
        crate::nn::layer::Decoding::PositionWise
    }

    fn tied_params(&self) -> Vec<(&'static str, String)> {
        self.tie.map(|k| vec![("weight", format!("{k}.weight"))]).unwrap_or_default()
    }

    fn torch(&self) -> String {
        format!("nn.Linear({}, {}{})", self.inputs, self.outputs, if self.bias { "" } else { ", bias=False" })
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.len() < 2 || input.last() != Some(&self.inputs) || self.inputs == 0 {
            return Err(shape_error("linear", format!("expects [batch, …, {}], got {input:?}", self.inputs)));
        }
        let mut out = input.to_vec();
        *out.last_mut().expect("checked") = self.outputs;
        Ok(out)
    }

    fn params(&self) -> Vec<TensorSpec> {
        let mut p = vec![TensorSpec::new("weight", &[self.outputs, self.inputs])];
        if self.bias {
            p.push(TensorSpec::new("bias", &[self.outputs]));
        }
        p
    }

    fn init_params(&self, init: Init, rng: &mut Rng) -> Vec<Vec<f32>> {
        let init = self.std.map_or(init, |std| Init::Normal { std });
        let mut p = vec![init.weight(rng, self.inputs, self.outputs)];
        if self.bias {
            p.push(init.bias(rng, self.inputs, self.outputs));
        }
        p
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let shape = be.shape(io.x).to_vec();
        if shape.len() == 2 {
            return self.product(be, io.y, io.x, io.params, io.then);
        }
        let rows = self.rows(&shape);
        let x = be.view(io.x, 0, &[rows, self.inputs])?;
        let mut y = be.view(io.y, 0, &[rows, self.outputs])?;
        match io.then {
            Some((act, z)) => {
                let mut z = be.view(z, 0, &[rows, self.outputs])?;
                self.product(be, &mut y, &x, io.params, Some((act, &mut z)))
            }
            None => self.product(be, &mut y, &x, io.params, None),
        }
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let shape = be.shape(io.x).to_vec();
        // N-d inputs are viewed as matrices [rows, features]; 2-D ones are used as they are.
        let views;
        let (x, dy) = if shape.len() == 2 {
            (io.x, io.dy)
        } else {
            let rows = self.rows(&shape);
            views = (be.view(io.x, 0, &[rows, self.inputs])?, be.view(io.dy, 0, &[rows, self.outputs])?);
            (&views.0, &views.1)
        };
        let (w_grad, rest) = io.grads.split_at_mut(1);
        matmul::matmul(be, MatmulForm::Tn, &mut w_grad[0], dy, x, io.accumulate)?;
        if self.bias {
            reduce::column_sum(be, &mut rest[0], dy, io.accumulate)?;
        }
        if let Some(dx) = io.dx {
            if shape.len() == 2 {
                matmul::matmul(be, MatmulForm::Nn, dx, dy, &io.params[0], false)?;
            } else {
                let mut dx = be.view(dx, 0, &[self.rows(&shape), self.inputs])?;
                matmul::matmul(be, MatmulForm::Nn, &mut dx, dy, &io.params[0], false)?;
            }
        }
        Ok(())
    }
}
