//! `maxpool2d(kernel_size, stride=kernel_size, padding=0, dilation=1)` on NCHW input, as
//! torch.nn.MaxPool2d (ceil_mode=False): the first maximum of each window wins ties.

use super::pool::{pair, spec_args, window};
use crate::backend::Backend;
use crate::error::Result;
use crate::nn::args::Bound;
use crate::nn::layer::{scratch_n, Backward, Forward, Layer};
use crate::ops::pool;
use crate::ops::{Window2d, WindowSpec};

/// Max pooling; the chosen indices are its scratch, for the backward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct MaxPool2d {
    /// Kernel, stride, padding, dilation.
    pub window: WindowSpec,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["kernel_size", "stride", "padding", "dilation"];

/// Builds the layer for `input`.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let layer = MaxPool2d { window: window("maxpool2d", &args, true)? };
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl MaxPool2d {
    fn geometry(&self, input: &[usize]) -> Result<Window2d> {
        Window2d::new("maxpool2d", input, &self.window, input.get(1).copied().unwrap_or(0), 1)
    }
}

impl Layer for MaxPool2d {
    fn spec(&self) -> String {
        format!("maxpool2d({})", spec_args(&self.window).join(", "))
    }

    fn torch(&self) -> String {
        let w = &self.window;
        format!(
            "nn.MaxPool2d(kernel_size={}, stride={}, padding={}, dilation={})",
            pair(w.kernel),
            pair(w.stride),
            pair(w.padding),
            pair(w.dilation)
        )
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(self.geometry(input)?.output_shape().to_vec())
    }

    fn scratch(&self, input: &[usize], _first: bool) -> Result<Vec<Vec<usize>>> {
        Ok(vec![self.output_shape(input)?])
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let g = self.geometry(be.shape(io.x))?;
        let [indices] = scratch_n::<_, 1>(io.scratch, "maxpool2d")?;
        pool::max_pool_forward(be, io.y, indices, io.x, &g)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let Some(dx) = io.dx else { return Ok(()) };
        let g = self.geometry(be.shape(io.x))?;
        let [indices] = scratch_n::<_, 1>(io.scratch, "maxpool2d")?;
        pool::max_pool_backward(be, dx, io.dy, indices, &g)
    }
}
