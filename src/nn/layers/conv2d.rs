//! `conv2d(out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=true)` on
//! NCHW input, as torch.nn.Conv2d (in_channels inferred). The CPU path runs the direct kernels
//! (per-sample unfold + GEMM), the GPU path im2col + the batched tiled matmul; both routes are
//! drawn in `ops/conv/mod.rs`.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::nn::args::Bound;
use crate::nn::init::Init;
use crate::nn::layer::{scratch_n, Backward, Forward, Layer, TensorSpec};
use crate::ops::conv;
use crate::ops::conv::{cols_shape, patch_len, product_shape};
use crate::ops::matmul;
use crate::ops::{Window2d, WindowSpec};
use crate::rng::Rng;
use crate::tensor::MatmulForm;

/// A 2-D convolution.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel, stride, padding and dilation.
    pub window: WindowSpec,
    /// Channel groups (in_channels = groups makes it depthwise).
    pub groups: usize,
    /// Whether a bias is added.
    pub bias: bool,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"];

/// Builds the layer for `input` [N, C, H, W] from its spec arguments.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let bad = |detail: String| Error::InvalidArgument { what: "model: conv2d".into(), detail };
    if input.len() != 4 {
        return Err(bad(format!("expects an [N, C, H, W] input, got {input:?}")));
    }
    let layer = Conv2d {
        in_channels: input[1],
        out_channels: args.size("out_channels", 1, None)?,
        window: WindowSpec {
            kernel: args.pair("kernel_size", 1, None)?,
            stride: args.pair("stride", 1, Some([1, 1]))?,
            padding: args.pair("padding", 0, Some([0, 0]))?,
            dilation: args.pair("dilation", 1, Some([1, 1]))?,
        },
        groups: args.size("groups", 1, Some(1))?,
        bias: args.flag("bias", true)?,
    };
    if layer.in_channels == 0 {
        return Err(bad("the input has zero channels".into()));
    }
    if !layer.in_channels.is_multiple_of(layer.groups) || !layer.out_channels.is_multiple_of(layer.groups) {
        return Err(bad(format!(
            "groups={} must divide both in_channels ({}) and out_channels ({})",
            layer.groups, layer.in_channels, layer.out_channels
        )));
    }
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl Conv2d {
    fn geometry(&self, input: &[usize]) -> Result<Window2d> {
        Window2d::new("conv2d", input, &self.window, self.out_channels, self.groups).and_then(|g| {
            if input[1] != self.in_channels {
                return Err(crate::error::shape_error(
                    "conv2d",
                    format!("expects {} input channels, got an input of {input:?}", self.in_channels),
                ));
            }
            Ok(g)
        })
    }

    fn fan_in(&self) -> usize {
        self.in_channels / self.groups * self.window.kernel[0] * self.window.kernel[1]
    }
}

/// `(a, b)` as PyTorch prints a pair.
fn pair(p: [usize; 2]) -> String {
    format!("({}, {})", p[0], p[1])
}

/// `name=value` for a pair that differs from `default`.
fn pair_arg(name: &str, p: [usize; 2], default: [usize; 2]) -> Option<String> {
    (p != default)
        .then(|| if p[0] == p[1] { format!("{name}={}", p[0]) } else { format!("{name}=({}, {})", p[0], p[1]) })
}

impl Layer for Conv2d {
    fn flops(&self, input: &[usize]) -> u64 {
        let Ok(out) = self.output_shape(input) else { return 0 };
        let [kh, kw] = self.window.kernel;
        let taps = (self.in_channels / self.groups) * kh * kw;
        2 * (out.iter().product::<usize>() * taps) as u64
    }

    fn spec(&self) -> String {
        let w = &self.window;
        let kernel = if w.kernel[0] == w.kernel[1] { w.kernel[0].to_string() } else { pair(w.kernel) };
        let mut parts = vec![self.out_channels.to_string(), kernel];
        parts.extend(pair_arg("stride", w.stride, [1, 1]));
        parts.extend(pair_arg("padding", w.padding, [0, 0]));
        parts.extend(pair_arg("dilation", w.dilation, [1, 1]));
        if self.groups != 1 {
            parts.push(format!("groups={}", self.groups));
        }
        if !self.bias {
            parts.push("bias=false".into());
        }
        format!("conv2d({})", parts.join(", "))
    }

    fn torch(&self) -> String {
        let w = &self.window;
        format!(
            "nn.Conv2d({}, {}, kernel_size={}, stride={}, padding={}, dilation={}, groups={}, bias={})",
            self.in_channels,
            self.out_channels,
            pair(w.kernel),
            pair(w.stride),
            pair(w.padding),
            pair(w.dilation),
            self.groups,
            if self.bias { "True" } else { "False" }
        )
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(self.geometry(input)?.output_shape().to_vec())
    }

    fn params(&self) -> Vec<TensorSpec> {
        let [kh, kw] = self.window.kernel;
        let mut p = vec![TensorSpec::new("weight", &[self.out_channels, self.in_channels / self.groups, kh, kw])];
        if self.bias {
            p.push(TensorSpec::new("bias", &[self.out_channels]));
        }
        p
    }

    fn init_params(&self, init: Init, rng: &mut Rng) -> Vec<Vec<f32>> {
        let receptive = self.window.kernel[0] * self.window.kernel[1];
        let n = self.out_channels * self.fan_in();
        let mut p = vec![init.fill(rng, n, self.fan_in(), self.out_channels * receptive)];
        if self.bias {
            p.push(init.bias(rng, self.fan_in(), self.out_channels));
        }
        p
    }

    fn scratch(&self, input: &[usize], _first: bool) -> Result<Vec<Vec<usize>>> {
        let g = self.geometry(input)?;
        Ok(vec![cols_shape(&g).to_vec(), product_shape(&g).to_vec()])
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let g = self.geometry(be.shape(io.x))?;
        if be.host_memory() {
            return conv::conv2d_forward(be, io.y, io.x, &io.params[0], io.params.get(1), &g);
        }
        let [cols, _] = scratch_n::<_, 2>(io.scratch, "conv2d")?;
        conv::im2col(be, cols, io.x, &g)?;
        let w = be.view(&io.params[0], 0, &[self.groups, self.out_channels / self.groups, patch_len(&g)])?;
        conv::conv_gemm_forward(be, io.y, cols, &w, io.params.get(1), &g)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let g = self.geometry(be.shape(io.x))?;
        if be.host_memory() {
            conv::conv2d_grad_weight(be, &mut io.grads[0], io.x, io.dy, &g, io.accumulate)?;
            if self.bias {
                conv::channel_sum(be, &mut io.grads[1], io.dy, io.accumulate)?;
            }
            return match io.dx {
                Some(dx) => conv::conv2d_grad_input(be, dx, io.dy, &io.params[0], &g),
                None => Ok(()),
            };
        }
        let [cols, gy] = scratch_n::<_, 2>(io.scratch, "conv2d")?;
        let grouped = [self.groups, self.out_channels / self.groups, patch_len(&g)];
        conv::conv_grad_output(be, gy, io.dy, &g)?;
        let mut dw = be.view(&io.grads[0], 0, &grouped)?;
        matmul::matmul(be, MatmulForm::Tn, &mut dw, gy, cols, io.accumulate)?;
        if self.bias {
            conv::channel_sum(be, &mut io.grads[1], io.dy, io.accumulate)?;
        }
        if let Some(dx) = io.dx {
            // The columns are no longer needed: they take the column gradient.
            let w = be.view(&io.params[0], 0, &grouped)?;
            matmul::matmul(be, MatmulForm::Nn, cols, gy, &w, false)?;
            conv::col2im(be, dx, cols, &g)?;
        }
        Ok(())
    }
}
