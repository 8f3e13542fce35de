//! Launcher for `shaders/matmul.wgsl`.

use crate::backend::gpu::{GpuBackend, GpuTensor};
use crate::backend::Activation;
use crate::error::{Error, Result};
use crate::ops::registry as kernels;
use crate::tensor::MatmulForm;

/// Mirrors `Params` in matmul.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    /// 1: add the product to `out`; 0: replace it.
    accumulate: u32,
    /// Element strides between the batch entries of out, a and b.
    stride_out: u32,
    stride_a: u32,
    stride_b: u32,
    /// `matmul_nt_bias_act`: the activation's shader kind and parameter.
    act_kind: u32,
    act_param: f32,
    pad: [u32; 3],
}

/// Output tile of one workgroup (TILE_M = TILE_N in the shader).
const TILE: usize = 64;

impl GpuBackend {
    pub(crate) fn launch_matmul(
        &self,
        form: MatmulForm,
        out: &mut GpuTensor,
        a: &GpuTensor,
        b: &GpuTensor,
        dims: (usize, usize, usize, usize),
        accumulate: bool,
    ) -> Result<()> {
        let kernel = match form {
            MatmulForm::Nt => &kernels::MATMUL_NT,
            MatmulForm::Nn => &kernels::MATMUL_NN,
            MatmulForm::Tn => &kernels::MATMUL_TN,
        };
        self.launch_tiled(kernel, form.op_name(), &[out.binding(), a.binding(), b.binding()], dims, accumulate, None)
    }

    /// `matmul_nt_bias`: out (M,N) = a·bᵀ + bias.
    pub(crate) fn launch_matmul_bias(
        &self,
        out: &mut GpuTensor,
        a: &GpuTensor,
        b: &GpuTensor,
        bias: &GpuTensor,
        (m, n, k): (usize, usize, usize),
    ) -> Result<()> {
        let bindings = [out.binding(), a.binding(), b.binding(), bias.binding()];
        self.launch_tiled(&kernels::MATMUL_NT_BIAS, "matmul_bias", &bindings, (1, m, n, k), false, None)
    }

    /// `matmul_nt_bias_act`: out (M,N) = a·bᵀ + bias and act_out = act(out).
    #[allow(clippy::too_many_arguments, reason = "the kernel's five bindings, its sizes and the activation")]
    pub(crate) fn launch_matmul_bias_act(
        &self,
        out: &mut GpuTensor,
        act_out: &mut GpuTensor,
        a: &GpuTensor,
        b: &GpuTensor,
        bias: &GpuTensor,
        (m, n, k): (usize, usize, usize),
        act: Activation,
    ) -> Result<()> {
        let bindings = [out.binding(), a.binding(), b.binding(), bias.binding(), act_out.binding()];
        self.launch_tiled(&kernels::MATMUL_NT_BIAS_ACT, "matmul_bias_act", &bindings, (1, m, n, k), false, Some(act))
    }

    /// One dispatch of a tiled product kernel over (batch, m, n, k).
    fn launch_tiled(
        &self,
        kernel: &crate::backend::kernel::Kernel,
        op: &str,
        bindings: &[crate::backend::gpu::Binding<'_>],
        (batch, m, n, k): (usize, usize, usize, usize),
        accumulate: bool,
        act: Option<Activation>,
    ) -> Result<()> {
        let (gx, gy) = (n.div_ceil(TILE).max(1), m.div_ceil(TILE).max(1));
        let max = self.max_workgroups_per_dimension();
        if gx > max || gy > max || batch > max {
            return Err(Error::InvalidArgument {
                what: op.into(),
                detail: format!(
                    "a [{m}, {n}] output needs {gx}x{gy} workgroups; the adapter allows {max} per dimension"
                ),
            });
        }
        let p = Params {
            m: m as u32,
            n: n as u32,
            k: k as u32,
            accumulate: accumulate as u32,
            stride_out: (m * n) as u32,
            stride_a: (m * k) as u32,
            stride_b: (n * k) as u32,
            act_kind: act.map_or(0, |a| a.shader_kind()),
            act_param: act.map_or(0.0, |a| a.parameter()),
            pad: [0; 3],
        };
        self.dispatch(kernel, bytemuck::bytes_of(&p), bindings, (gx as u32, gy as u32, batch as u32))
    }
}
