//! Kernel families, one folder each: `mod.rs` holds the ops as free functions over any
//! [`crate::Backend`] (the params struct mirroring the WGSL `Params` byte for byte, the shape
//! checks both paths share, the grid, the launches) and `cpu.rs` the CPU twins (plain index
//! loops shaped like the shader, generic over f32/f64 for gradient checks) with, in
//! `cpu::table`, the adapters the op table calls. The kernels are in `shaders/<family>.wgsl`;
//! the table that joins each entry point to its twin is [`registry`]. `backend/checks.rs`
//! keeps the shape checks every family shares.

pub mod attention;
pub mod augment;
pub mod conv;
pub mod dropout;
pub mod elementwise;
pub mod embedding;
pub mod gather;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod registry;
pub mod sample;
pub mod segment_norm;
pub mod softmax;
pub mod surface;

use crate::error::{shape_error, Result, ShapeDisplay};

/// The geometry of a sliding 2-D window over NCHW images (convolution and pooling), in the
/// layout of the `Window` uniform of conv.wgsl and pool.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Window2d {
    /// Batch size N.
    pub n: u32,
    /// Input channels C.
    pub c: u32,
    /// Input height.
    pub h: u32,
    /// Input width.
    pub w: u32,
    /// Output channels (convolution; equal to `c` for pooling).
    pub o: u32,
    /// Channel groups (convolution; 1 for pooling).
    pub groups: u32,
    /// Kernel height.
    pub kh: u32,
    /// Kernel width.
    pub kw: u32,
    /// Stride along the height.
    pub sh: u32,
    /// Stride along the width.
    pub sw: u32,
    /// Zero (or −∞ for max pooling) rows added above and below.
    pub ph: u32,
    /// Columns added left and right.
    pub pw: u32,
    /// Dilation along the height.
    pub dh: u32,
    /// Dilation along the width.
    pub dw: u32,
    /// Output height.
    pub oh: u32,
    /// Output width.
    pub ow: u32,
    /// Bit 0: a bias is added (convolution) or padding counts in the divisor (average pooling).
    pub flags: u32,
    /// Padding to a multiple of 16 bytes.
    pub pad: [u32; 3],
}

/// A 2-D window's settings, as PyTorch spells them: pairs are (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// Kernel size.
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Padding.
    pub padding: [usize; 2],
    /// Dilation.
    pub dilation: [usize; 2],
}

/// PyTorch's output size of a window along one dimension (ceil_mode = False):
/// `floor((in + 2·pad − dil·(k−1) − 1) / stride) + 1`, or None when the window does not fit.
pub fn window_out(input: usize, kernel: usize, stride: usize, pad: usize, dilation: usize) -> Option<usize> {
    let span = dilation * (kernel - 1) + 1;
    let padded = input + 2 * pad;
    if stride == 0 || kernel == 0 || span > padded {
        return None;
    }
    Some((padded - span) / stride + 1)
}

impl Window2d {
    /// The geometry of `spec` over an NCHW input `shape`, with `out_channels` and `groups`
    /// (pooling passes C and 1). Fails, naming `op` and the shapes, when the window does not fit.
    pub fn new(
        op: &'static str,
        shape: &[usize],
        spec: &WindowSpec,
        out_channels: usize,
        groups: usize,
    ) -> Result<Self> {
        let [n, c, h, w] = *shape else {
            return Err(shape_error(op, format!("expects an [N, C, H, W] input, got {}", ShapeDisplay(shape))));
        };
        let oh = window_out(h, spec.kernel[0], spec.stride[0], spec.padding[0], spec.dilation[0]);
        let ow = window_out(w, spec.kernel[1], spec.stride[1], spec.padding[1], spec.dilation[1]);
        let (Some(oh), Some(ow)) = (oh, ow) else {
            return Err(shape_error(
                op,
                format!(
                    "kernel {}x{} (dilation {}x{}) is larger than the padded input {}x{} of shape {}",
                    spec.kernel[0],
                    spec.kernel[1],
                    spec.dilation[0],
                    spec.dilation[1],
                    h + 2 * spec.padding[0],
                    w + 2 * spec.padding[1],
                    ShapeDisplay(shape)
                ),
            ));
        };
        let u = |v: usize| v as u32;
        Ok(Self {
            n: u(n),
            c: u(c),
            h: u(h),
            w: u(w),
            o: u(out_channels),
            groups: u(groups),
            kh: u(spec.kernel[0]),
            kw: u(spec.kernel[1]),
            sh: u(spec.stride[0]),
            sw: u(spec.stride[1]),
            ph: u(spec.padding[0]),
            pw: u(spec.padding[1]),
            dh: u(spec.dilation[0]),
            dw: u(spec.dilation[1]),
            oh: u(oh),
            ow: u(ow),
            flags: 0,
            pad: [0; 3],
        })
    }

    /// With flag bit 0 set to `on`.
    pub fn with_flag(mut self, on: bool) -> Self {
        self.flags = on as u32;
        self
    }

    /// Output positions per image plane (OH·OW).
    pub fn out_plane(&self) -> usize {
        (self.oh * self.ow) as usize
    }

    /// Input positions per image plane (H·W).
    pub fn in_plane(&self) -> usize {
        (self.h * self.w) as usize
    }

    /// The input shape [N, C, H, W].
    pub fn input_shape(&self) -> [usize; 4] {
        [self.n as usize, self.c as usize, self.h as usize, self.w as usize]
    }

    /// The output shape [N, O, OH, OW].
    pub fn output_shape(&self) -> [usize; 4] {
        [self.n as usize, self.o as usize, self.oh as usize, self.ow as usize]
    }
}

/// Fails unless `shape` is exactly `want`, naming the op and the operand.
pub(crate) fn expect_shape(op: &'static str, name: &str, shape: &[usize], want: &[usize]) -> Result<()> {
    if shape != want {
        return Err(shape_error(
            op,
            format!("{name} must have shape {} but has {}", ShapeDisplay(want), ShapeDisplay(shape)),
        ));
    }
    Ok(())
}
