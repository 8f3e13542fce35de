//! `dropout(p=0.5)`: inverted dropout in training (masks from a hash of the element index and
//! a per-call key, identical on both paths), identity in eval, on tensors of any rank.

use crate::backend::Backend;
use crate::error::Result;
use crate::nn::args::Bound;
use crate::nn::layer::{scratch_n, Backward, Forward, Layer};
use crate::ops::dropout;
use crate::ops::elementwise;

/// A dropout layer with drop probability `p` in [0, 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Dropout(pub f32);

/// Argument names in order.
pub const ARGS: &[&str] = &["p"];

/// Builds the layer.
pub fn build(args: Bound, _input: &[usize]) -> Result<Box<dyn Layer>> {
    Ok(Box::new(Dropout(args.float("p", 0.0..1.0, 0.5)? as f32)))
}

impl Layer for Dropout {
    fn decoding(&self) -> crate::nn::layer::Decoding {
        crate::nn::layer::Decoding::PositionWise
    }

    fn spec(&self) -> String {
        format!("dropout({})", self.0)
    }

    fn torch(&self) -> String {
        format!("nn.Dropout({})", self.0)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    fn scratch(&self, input: &[usize], _first: bool) -> Result<Vec<Vec<usize>>> {
        Ok(vec![input.to_vec()])
    }

    fn uses_rng(&self, train: bool) -> bool {
        train && self.0 > 0.0
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let [mask] = scratch_n::<_, 1>(io.scratch, "dropout")?;
        if self.uses_rng(io.train) {
            dropout::dropout_forward(be, io.y, mask, io.x, self.0, io.keys, io.slot)
        } else {
            elementwise::copy(be, io.y, io.x)?;
            elementwise::fill(be, mask, 1.0) // a backward after an eval-mode forward passes gradients through
        }
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let Some(dx) = io.dx else { return Ok(()) };
        let [mask] = scratch_n::<_, 1>(io.scratch, "dropout")?;
        dropout::dropout_backward(be, dx, io.dy, mask)
    }
}
