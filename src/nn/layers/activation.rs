//! Elementwise activations as layers: `relu`, `leaky_relu(negative_slope=0.01)`, `sigmoid`,
//! `tanh`, `gelu` (exact erf form), `gelu_tanh`, `silu`, on tensors of any rank.

use crate::backend::Backend;
use crate::error::Result;
use crate::nn::args::Bound;
use crate::nn::layer::{Backward, Forward, Layer};
use crate::ops::elementwise;
use crate::ops::elementwise::Activation;

/// An activation layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Act(pub Activation);

/// `leaky_relu`'s argument names.
pub const LEAKY_ARGS: &[&str] = &["negative_slope"];

/// Builds an activation without arguments.
pub fn build_fixed(act: Activation) -> impl Fn(Bound, &[usize]) -> Result<Box<dyn Layer>> {
    move |_args, _input| Ok(Box::new(Act(act)))
}

/// Builds `leaky_relu(negative_slope)`.
pub fn build_leaky(args: Bound, _input: &[usize]) -> Result<Box<dyn Layer>> {
    let slope = args.float("negative_slope", f64::MIN..f64::MAX, 0.01)? as f32;
    Ok(Box::new(Act(Activation::LeakyRelu { slope })))
}

impl Layer for Act {
    fn decoding(&self) -> crate::nn::layer::Decoding {
        crate::nn::layer::Decoding::PositionWise
    }

    fn activation(&self) -> Option<Activation> {
        Some(self.0)
    }

    fn spec(&self) -> String {
        match self.0 {
            Activation::LeakyRelu { slope } if slope != 0.01 => format!("leaky_relu({slope})"),
            Activation::GeluErf => "gelu".into(),
            a => a.name().into(),
        }
    }

    fn torch(&self) -> String {
        match self.0 {
            Activation::Relu => "nn.ReLU()".into(),
            Activation::LeakyRelu { slope } => format!("nn.LeakyReLU({slope})"),
            Activation::Sigmoid => "nn.Sigmoid()".into(),
            Activation::Tanh => "nn.Tanh()".into(),
            Activation::GeluTanh => "nn.GELU(approximate='tanh')".into(),
            Activation::GeluErf => "nn.GELU()".into(),
            Activation::Silu => "nn.SiLU()".into(),
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        elementwise::activation_forward(be, self.0, io.y, io.x)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        match io.dx {
            Some(dx) => elementwise::activation_backward(be, self.0, dx, io.x, io.dy),
            None => Ok(()),
        }
    }
}
