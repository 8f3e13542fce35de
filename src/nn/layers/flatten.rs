//! `flatten(start_dim=1, end_dim=-1)`: merges dims start..=end in row-major order, as
//! torch.nn.Flatten. The data does not move, so forward and backward are copies.

use crate::backend::Backend;
use crate::error::{shape_error, Result};
use crate::nn::args::Bound;
use crate::nn::layer::{Backward, Forward, Layer};
use crate::ops::elementwise;

/// Flattens a range of dims.
#[derive(Clone, Debug, PartialEq)]
pub struct Flatten {
    /// First merged dim (PyTorch's default 1 keeps the batch).
    pub start: i64,
    /// Last merged dim (−1 = the last).
    pub end: i64,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["start_dim", "end_dim"];

/// Builds the layer for `input`.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let layer =
        Flatten { start: args.int("start_dim", i64::MIN, Some(1))?, end: args.int("end_dim", i64::MIN, Some(-1))? };
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl Layer for Flatten {
    fn spec(&self) -> String {
        if (self.start, self.end) == (1, -1) {
            "flatten".into()
        } else {
            format!("flatten({}, {})", self.start, self.end)
        }
    }

    fn torch(&self) -> String {
        format!("nn.Flatten({}, {})", self.start, self.end)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let rank = input.len() as i64;
        let norm = |d: i64| if d < 0 { d + rank } else { d };
        let (s, e) = (norm(self.start), norm(self.end));
        if s < 1 || e < s || e >= rank {
            return Err(shape_error(
                "flatten",
                format!(
                    "dims {}..={} do not fit an input of {input:?} (dim 0, the batch, stays)",
                    self.start, self.end
                ),
            ));
        }
        let (s, e) = (s as usize, e as usize);
        let mut out = input[..s].to_vec();
        out.push(input[s..=e].iter().product());
        out.extend_from_slice(&input[e + 1..]);
        Ok(out)
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let x = be.view(io.x, 0, be.shape(io.y))?;
        elementwise::copy(be, io.y, &x)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let Some(dx) = io.dx else { return Ok(()) };
        let dy = be.view(io.dy, 0, be.shape(dx))?;
        elementwise::copy(be, dx, &dy)
    }
}
