//! What the pooling layers share (`maxpool2d.rs`, `avgpool2d.rs`, `adaptive_avgpool2d.rs`):
//! their window arguments, PyTorch's padding rule, and how a window prints.

use crate::error::{Error, Result};
use crate::nn::args::Bound;
use crate::ops::WindowSpec;

/// An error naming the pooling layer.
pub(crate) fn pool_error(layer: &str, detail: String) -> Error {
    Error::InvalidArgument { what: format!("model: {layer}"), detail }
}

/// The window of `kernel_size`, `stride` (default: the kernel), `padding` and, when the layer
/// has it, `dilation`. PyTorch's rule: padding at most half the effective kernel.
pub(crate) fn window(layer: &str, args: &Bound, dilation: bool) -> Result<WindowSpec> {
    let kernel = args.pair("kernel_size", 1, None)?;
    let w = WindowSpec {
        kernel,
        stride: args.pair("stride", 1, Some(kernel))?,
        padding: args.pair("padding", 0, Some([0, 0]))?,
        dilation: if dilation { args.pair("dilation", 1, Some([1, 1]))? } else { [1, 1] },
    };
    for d in 0..2 {
        if w.padding[d] * 2 > w.dilation[d] * (w.kernel[d] - 1) + 1 {
            return Err(pool_error(
                layer,
                format!("padding {:?} must be at most half the kernel size {:?}", w.padding, w.kernel),
            ));
        }
    }
    Ok(w)
}

/// `3` or `(3, 5)`.
fn short(p: [usize; 2]) -> String {
    if p[0] == p[1] {
        p[0].to_string()
    } else {
        format!("({}, {})", p[0], p[1])
    }
}

/// The window's spec arguments that differ from their defaults.
pub(crate) fn spec_args(w: &WindowSpec) -> Vec<String> {
    let mut parts = vec![short(w.kernel)];
    if w.stride != w.kernel {
        parts.push(format!("stride={}", short(w.stride)));
    }
    if w.padding != [0, 0] {
        parts.push(format!("padding={}", short(w.padding)));
    }
    if w.dilation != [1, 1] {
        parts.push(format!("dilation={}", short(w.dilation)));
    }
    parts
}

/// `(a, b)` as PyTorch prints a pair.
pub(crate) fn pair(p: [usize; 2]) -> String {
    format!("({}, {})", p[0], p[1])
}
