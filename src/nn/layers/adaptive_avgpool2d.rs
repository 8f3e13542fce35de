//! `adaptiveavgpool2d(1)`: the global average pool of torch.nn.AdaptiveAvgPool2d((1, 1)),
//! average pooling with the whole plane as the window.

use super::pool::pool_error;
use crate::backend::Backend;
use crate::error::Result;
use crate::nn::args::Bound;
use crate::nn::layer::{Backward, Forward, Layer};
use crate::ops::pool;
use crate::ops::{Window2d, WindowSpec};

/// Global average pooling to 1×1.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveAvgPool2d;

/// Argument names in order.
pub const ARGS: &[&str] = &["output_size"];

/// Builds the layer; only output size 1 (or (1, 1)) is supported.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    if args.pair("output_size", 1, Some([1, 1]))? != [1, 1] {
        return Err(pool_error(
            "adaptiveavgpool2d",
            "only output_size=1 (the global average pool) is supported".into(),
        ));
    }
    AdaptiveAvgPool2d.output_shape(input)?;
    Ok(Box::new(AdaptiveAvgPool2d))
}

impl AdaptiveAvgPool2d {
    fn geometry(&self, input: &[usize]) -> Result<Window2d> {
        let (h, w) = if input.len() == 4 { (input[2].max(1), input[3].max(1)) } else { (1, 1) };
        let spec = WindowSpec { kernel: [h, w], stride: [1, 1], padding: [0, 0], dilation: [1, 1] };
        Window2d::new("adaptiveavgpool2d", input, &spec, input.get(1).copied().unwrap_or(0), 1)
    }
}

impl Layer for AdaptiveAvgPool2d {
    fn spec(&self) -> String {
        "adaptiveavgpool2d(1)".into()
    }

    fn torch(&self) -> String {
        "nn.AdaptiveAvgPool2d((1, 1))".into()
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
