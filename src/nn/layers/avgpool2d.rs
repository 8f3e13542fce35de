//! `avgpool2d(kernel_size, stride=kernel_size, padding=0, count_include_pad=true)` on NCHW
//! input, as torch.nn.AvgPool2d (ceil_mode=False, no divisor_override).

use super::pool::{pair, spec_args, window};
use crate::backend::Backend;
use crate::error::Result;
use crate::nn::args::Bound;
use crate::nn::layer::{Backward, Forward, Layer};
use crate::ops::pool;
use crate::ops::{Window2d, WindowSpec};

/// Average pooling.
#[derive(Clone, Debug, PartialEq)]
pub struct AvgPool2d {
    /// Kernel, stride, padding (no dilation).
    pub window: WindowSpec,
    /// The padding counts in each window's divisor.
    pub count_include_pad: bool,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["kernel_size", "stride", "padding", "count_include_pad"];

/// Builds the layer for `input`.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let layer = AvgPool2d {
        window: window("avgpool2d", &args, false)?,
        count_include_pad: args.flag("count_include_pad", true)?,
    };
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl AvgPool2d {
    fn geometry(&self, input: &[usize]) -> Result<Window2d> {
        let c = input.get(1).copied().unwrap_or(0);
        Ok(Window2d::new("avgpool2d", input, &self.window, c, 1)?.with_flag(self.count_include_pad))
    }
}

impl Layer for AvgPool2d {
    fn spec(&self) -> String {
        let mut parts = spec_args(&self.window);
        if !self.count_include_pad {
            parts.push("count_include_pad=false".into());
        }
        format!("avgpool2d({})", parts.join(", "))
    }

    fn torch(&self) -> String {
        let w = &self.window;
        format!(
            "nn.AvgPool2d(kernel_size={}, stride={}, padding={}, count_include_pad={})",
            pair(w.kernel),
            pair(w.stride),
            pair(w.padding),
            if self.count_include_pad { "True" } else { "False" }
        )
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(self.geometry(input)?.output_shape().to_vec())
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let g = self.geometry(be.shape(io.x))?;
        pool::avg_pool_forward(be, io.y, io.x, &g)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let Some(dx) = io.dx else { return Ok(()) };
        let g = self.geometry(be.shape(io.x))?;
        pool::avg_pool_backward(be, dx, io.dy, &g)
    }
}
