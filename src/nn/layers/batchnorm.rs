//! `batchnorm2d(eps=1e-5, momentum=0.1)` on [N, C, H, W] and `batchnorm1d(...)` on [N, C] or
//! [N, C, L], as torch.nn.BatchNorm2d/1d with affine weights and running stats
//! (num_features inferred). Training uses batch statistics and moves the running stats;
//! eval uses the running stats. Buffers: `running_mean`, `running_var`, `num_batches_tracked`.

use crate::backend::Backend;
use crate::error::{shape_error, Result};
use crate::nn::args::Bound;
use crate::nn::init::Init;
use crate::nn::layer::{store_grad, Backward, Forward, Layer, TensorSpec};
use crate::ops::norm;
use crate::ops::norm::{sums_stride, BatchNormMode};
use crate::rng::Rng;

/// Batch normalisation over channel dim 1.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    /// 2 for BatchNorm2d (4-D input), 1 for BatchNorm1d (2-D or 3-D input).
    pub dims: usize,
    /// Channels.
    pub features: usize,
    /// Added to the variance.
    pub eps: f64,
    /// Running-stat momentum.
    pub momentum: f64,
}

/// Argument names in order (num_features is inferred).
pub const ARGS: &[&str] = &["eps", "momentum"];

fn build(dims: usize, args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let layer = BatchNorm {
        dims,
        features: input.get(1).copied().unwrap_or(0),
        eps: args.float("eps", f64::MIN_POSITIVE..f64::INFINITY, 1e-5)?,
        momentum: args.float("momentum", 0.0..1.0 + f64::EPSILON, 0.1)?,
    };
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

/// Builds `batchnorm2d`.
pub fn build_2d(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    build(2, args, input)
}

/// Builds `batchnorm1d`.
pub fn build_1d(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    build(1, args, input)
}

impl BatchNorm {
    fn mode(&self, train: bool) -> BatchNormMode {
        BatchNormMode { train, momentum: self.momentum as f32, eps: self.eps as f32 }
    }
}

impl Layer for BatchNorm {
    fn spec(&self) -> String {
        let mut parts = Vec::new();
        if self.eps != 1e-5 {
            parts.push(format!("eps={}", self.eps));
        }
        if self.momentum != 0.1 {
            parts.push(format!("momentum={}", self.momentum));
        }
        let args = if parts.is_empty() { String::new() } else { format!("({})", parts.join(", ")) };
        format!("batchnorm{}d{args}", self.dims)
    }

    fn torch(&self) -> String {
        format!("nn.BatchNorm{}d({}, eps={}, momentum={})", self.dims, self.features, self.eps, self.momentum)
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let ok = match self.dims {
            2 => input.len() == 4,
            _ => input.len() == 2 || input.len() == 3,
        };
        let want = if self.dims == 2 { "[N, C, H, W]" } else { "[N, C] or [N, C, L]" };
        if !ok || input[1] != self.features || self.features == 0 {
            return Err(shape_error(
                if self.dims == 2 { "batchnorm2d" } else { "batchnorm1d" },
                format!("expects {want} with C = {}, got {input:?}", self.features),
            ));
        }
        Ok(input.to_vec())
    }

    fn params(&self) -> Vec<TensorSpec> {
        vec![TensorSpec::new("weight", &[self.features]), TensorSpec::new("bias", &[self.features])]
    }

    fn init_params(&self, _init: Init, _rng: &mut Rng) -> Vec<Vec<f32>> {
        vec![vec![1.0; self.features], vec![0.0; self.features]]
    }

    fn buffers(&self) -> Vec<(TensorSpec, f32)> {
        vec![
            (TensorSpec::new("running_mean", &[self.features]), 0.0),
            (TensorSpec::new("running_var", &[self.features]), 1.0),
        ]
    }

    fn tracks_batches(&self) -> bool {
        true
    }

    fn fuses_activation(&self) -> bool {
        true
    }

    fn scratch(&self, input: &[usize], first: bool) -> Result<Vec<Vec<usize>>> {
        let mut s = vec![vec![2, self.features], vec![2, sums_stride(self.features)]];
        if first {
            s.push(input.to_vec()); // the kernel writes dx; the first layer's goes here
        }
        Ok(s)
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let [running_mean, running_var] = io.buffers else { return Err(missing()) };
        let saved = io.scratch.first_mut().ok_or_else(missing)?;
        norm::batch_norm_forward(
            be,
            io.y,
            saved,
            running_mean,
            running_var,
            io.x,
            &io.params[0],
            &io.params[1],
            &self.mode(io.train),
            io.then, // the plan fused the next activation: one pass writes y and act(y)
        )
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let (stats, rest) = io.scratch.split_at_mut(2);
        let [saved, sums] = stats else { return Err(missing()) };
        let dx = match io.dx {
            Some(dx) => dx,
            None => rest.first_mut().ok_or_else(missing)?,
        };
        norm::batch_norm_backward(be, dx, sums, io.x, &io.params[0], saved, io.dy, &self.mode(io.train))?;
        let c = self.features;
        let stride = sums_stride(c);
        store_grad(be, &mut io.grads[0], &be.view(sums, 0, &[c])?, io.accumulate)?;
        store_grad(be, &mut io.grads[1], &be.view(sums, stride, &[c])?, io.accumulate)
    }
}

fn missing() -> crate::Error {
    crate::Error::InvalidArgument { what: "batchnorm".into(), detail: "the step plan did not give its buffers".into() }
}
