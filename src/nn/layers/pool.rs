//! Pooling layers on NCHW input: `maxpool2d(kernel_size, stride=kernel_size, padding=0,
//! dilation=1)`, `avgpool2d(kernel_size, stride=kernel_size, padding=0, count_include_pad=true)`
//! and `adaptiveavgpool2d(1)` (the global average pool), as torch.nn (ceil_mode=False).

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::nn::args::Bound;
use crate::nn::layer::{scratch_n, Backward, Forward, Layer};
use crate::ops::{Window2d, WindowSpec};

/// Which pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// Max over the window (first maximum wins ties).
    Max,
    /// Average over the window.
    Avg {
        /// Padding counts in the divisor.
        count_include_pad: bool,
    },
    /// Average over the whole plane to 1×1.
    AdaptiveAvg,
}

/// A pooling layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool2d {
    /// Max, average or global average.
    pub kind: PoolKind,
    /// Kernel, stride, padding, dilation (unused by the global average).
    pub window: WindowSpec,
}

/// `maxpool2d` argument names in order.
pub const MAX_ARGS: &[&str] = &["kernel_size", "stride", "padding", "dilation"];
/// `avgpool2d` argument names in order.
pub const AVG_ARGS: &[&str] = &["kernel_size", "stride", "padding", "count_include_pad"];
/// `adaptiveavgpool2d` argument names.
pub const ADAPTIVE_ARGS: &[&str] = &["output_size"];

fn bad(layer: &str, detail: String) -> Error {
    Error::InvalidArgument { what: format!("model: {layer}"), detail }
}

fn window(args: &Bound, dilation: bool) -> Result<WindowSpec> {
    let kernel = args.pair("kernel_size", 1, None)?;
    Ok(WindowSpec {
        kernel,
        stride: args.pair("stride", 1, Some(kernel))?,
        padding: args.pair("padding", 0, Some([0, 0]))?,
        dilation: if dilation { args.pair("dilation", 1, Some([1, 1]))? } else { [1, 1] },
    })
}

fn finish(layer: Pool2d, name: &str, input: &[usize]) -> Result<Box<dyn Layer>> {
    let w = &layer.window;
    for d in 0..2 {
        // PyTorch: "pad should be at most half of effective kernel size".
        if w.padding[d] * 2 > w.dilation[d] * (w.kernel[d] - 1) + 1 {
            return Err(bad(
                name,
                format!("padding {:?} must be at most half the kernel size {:?}", w.padding, w.kernel),
            ));
        }
    }
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

/// Builds `maxpool2d`.
pub fn build_max(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    finish(Pool2d { kind: PoolKind::Max, window: window(&args, true)? }, "maxpool2d", input)
}

/// Builds `avgpool2d`.
pub fn build_avg(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let kind = PoolKind::Avg { count_include_pad: args.flag("count_include_pad", true)? };
    finish(Pool2d { kind, window: window(&args, false)? }, "avgpool2d", input)
}

/// Builds `adaptiveavgpool2d(1)`.
pub fn build_adaptive(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    if args.pair("output_size", 1, Some([1, 1]))? != [1, 1] {
        return Err(bad("adaptiveavgpool2d", "only output_size=1 (the global average pool) is supported".into()));
    }
    let layer = Pool2d {
        kind: PoolKind::AdaptiveAvg,
        window: WindowSpec { kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1] },
    };
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl Pool2d {
    fn name(&self) -> &'static str {
        match self.kind {
            PoolKind::Max => "maxpool2d",
            PoolKind::Avg { .. } => "avgpool2d",
            PoolKind::AdaptiveAvg => "adaptiveavgpool2d",
        }
    }

    fn geometry(&self, input: &[usize]) -> Result<Window2d> {
        let spec = match self.kind {
            PoolKind::AdaptiveAvg if input.len() == 4 => {
                WindowSpec { kernel: [input[2].max(1), input[3].max(1)], ..self.window }
            }
            _ => self.window,
        };
        let c = input.get(1).copied().unwrap_or(0);
        let g = Window2d::new(self.name(), input, &spec, c, 1)?;
        Ok(g.with_flag(matches!(self.kind, PoolKind::Avg { count_include_pad: true })))
    }
}

impl Layer for Pool2d {
    fn spec(&self) -> String {
        let w = &self.window;
        let k = |p: [usize; 2]| if p[0] == p[1] { p[0].to_string() } else { format!("({}, {})", p[0], p[1]) };
        let mut parts = vec![k(w.kernel)];
        if w.stride != w.kernel {
            parts.push(format!("stride={}", k(w.stride)));
        }
        if w.padding != [0, 0] {
            parts.push(format!("padding={}", k(w.padding)));
        }
        if w.dilation != [1, 1] {
            parts.push(format!("dilation={}", k(w.dilation)));
        }
        match self.kind {
            PoolKind::Max => format!("maxpool2d({})", parts.join(", ")),
            PoolKind::Avg { count_include_pad } => {
                if !count_include_pad {
                    parts.push("count_include_pad=false".into());
                }
                format!("avgpool2d({})", parts.join(", "))
            }
            PoolKind::AdaptiveAvg => "adaptiveavgpool2d(1)".into(),
        }
    }

    fn torch(&self) -> String {
        let w = &self.window;
        let p = |p: [usize; 2]| format!("({}, {})", p[0], p[1]);
        match self.kind {
            PoolKind::Max => format!(
                "nn.MaxPool2d(kernel_size={}, stride={}, padding={}, dilation={})",
                p(w.kernel),
                p(w.stride),
                p(w.padding),
                p(w.dilation)
            ),
            PoolKind::Avg { count_include_pad } => format!(
                "nn.AvgPool2d(kernel_size={}, stride={}, padding={}, count_include_pad={})",
                p(w.kernel),
                p(w.stride),
                p(w.padding),
                if count_include_pad { "True" } else { "False" }
            ),
            PoolKind::AdaptiveAvg => "nn.AdaptiveAvgPool2d((1, 1))".into(),
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(self.geometry(input)?.output_shape().to_vec())
    }

    fn scratch(&self, input: &[usize], _first: bool) -> Result<Vec<Vec<usize>>> {
        Ok(match self.kind {
            PoolKind::Max => vec![self.output_shape(input)?],
            _ => Vec::new(),
        })
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let g = self.geometry(be.shape(io.x))?;
        match self.kind {
            PoolKind::Max => {
                let [indices] = scratch_n::<_, 1>(io.scratch, "maxpool2d")?;
                be.max_pool_forward(io.y, indices, io.x, &g)
            }
            _ => be.avg_pool_forward(io.y, io.x, &g),
        }
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let Some(dx) = io.dx else { return Ok(()) };
        let g = self.geometry(be.shape(io.x))?;
        match self.kind {
            PoolKind::Max => {
                let [indices] = scratch_n::<_, 1>(io.scratch, "maxpool2d")?;
                be.max_pool_backward(dx, io.dy, indices, &g)
            }
            _ => be.avg_pool_backward(dx, io.dy, &g),
        }
    }
}
