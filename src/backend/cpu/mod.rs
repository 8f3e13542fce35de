//! The CPU path: ndarray twins of every WGSL kernel. It is the numerical reference and the
//! fallback when no GPU exists. Ops run at once; `sync` has nothing to wait for.

pub mod elementwise;
pub mod float;
pub mod loss;
pub mod matmul;
pub mod reduce;
pub mod softmax;

use super::{checks, Activation, Backend};
use crate::error::{Error, Result};
use crate::tensor::{same_shape, MatmulForm, Tensor};

/// Runs every op on the host with the twins in this module.
#[derive(Clone, Debug, Default)]
pub struct CpuBackend;

impl CpuBackend {
    /// The CPU path. It needs no setup.
    pub fn new() -> Self {
        CpuBackend
    }
}

/// Checks that every label is below `classes`, naming the first one that is not.
pub(crate) fn check_labels(labels: &[u32], classes: usize) -> Result<()> {
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= classes) {
        return Err(Error::InvalidArgument {
            what: "labels".into(),
            detail: format!("label {l} at index {i} is outside the {classes} classes (expected 0..{})", classes),
        });
    }
    Ok(())
}

impl Backend for CpuBackend {
    type Tensor = Tensor;
    type Labels = Vec<u32>;

    fn describe(&self) -> String {
        "cpu (ndarray)".into()
    }

    fn upload(&self, host: &Tensor) -> Result<Tensor> {
        Ok(host.clone())
    }

    fn zeros(&self, shape: &[usize]) -> Result<Tensor> {
        Ok(Tensor::zeros(shape))
    }

    fn upload_labels(&self, labels: &[u32], classes: usize) -> Result<Vec<u32>> {
        check_labels(labels, classes)?;
        Ok(labels.to_vec())
    }

    fn write(&self, dst: &mut Tensor, host: &Tensor) -> Result<()> {
        same_shape("write", "destination", dst.shape(), "source", host.shape())?;
        dst.data_mut().copy_from_slice(host.data());
        Ok(())
    }

    fn read(&self, t: &Tensor) -> Result<Tensor> {
        Ok(t.clone())
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn shape<'a>(&self, t: &'a Tensor) -> &'a [usize] {
        t.shape()
    }

    fn matmul(&self, form: MatmulForm, out: &mut Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
        let (m, n, k) = form.dims(out.shape(), a.shape(), b.shape())?;
        let f = match form {
            MatmulForm::Nt => matmul::matmul_nt::<f32>,
            MatmulForm::Nn => matmul::matmul_nn::<f32>,
            MatmulForm::Tn => matmul::matmul_tn::<f32>,
        };
        f(out.data_mut(), a.data(), b.data(), m, n, k);
        Ok(())
    }

    fn bias_add(&self, x: &mut Tensor, bias: &Tensor) -> Result<()> {
        let (_, cols) = checks::bias_add(x.shape(), bias.shape())?;
        elementwise::bias_add(x.data_mut(), bias.data(), cols);
        Ok(())
    }

    fn column_sum(&self, out: &mut Tensor, x: &Tensor) -> Result<()> {
        let (rows, cols) = checks::column_sum(out.shape(), x.shape())?;
        reduce::column_sum(out.data_mut(), x.data(), rows, cols);
        Ok(())
    }

    fn activation_forward(&self, act: Activation, out: &mut Tensor, x: &Tensor) -> Result<()> {
        checks::elementwise("activation_forward", &[("out", out.shape()), ("x", x.shape())])?;
        elementwise::activation_forward(act, out.data_mut(), x.data());
        Ok(())
    }

    fn activation_backward(&self, act: Activation, dx: &mut Tensor, x: &Tensor, dy: &Tensor) -> Result<()> {
        checks::elementwise("activation_backward", &[("dx", dx.shape()), ("x", x.shape()), ("dy", dy.shape())])?;
        elementwise::activation_backward(act, dx.data_mut(), x.data(), dy.data());
        Ok(())
    }

    fn softmax_forward(&self, out: &mut Tensor, x: &Tensor) -> Result<()> {
        let (r, c) = checks::rows("softmax_forward", &[("out", out.shape()), ("x", x.shape())])?;
        softmax::softmax_forward(out.data_mut(), x.data(), r, c);
        Ok(())
    }

    fn softmax_backward(&self, dx: &mut Tensor, y: &Tensor, dy: &Tensor) -> Result<()> {
        let (r, c) = checks::rows("softmax_backward", &[("dx", dx.shape()), ("y", y.shape()), ("dy", dy.shape())])?;
        softmax::softmax_backward(dx.data_mut(), y.data(), dy.data(), r, c);
        Ok(())
    }

    fn mse_loss(&self, loss: &mut Tensor, dpred: &mut Tensor, pred: &Tensor, target: &Tensor) -> Result<()> {
        checks::loss_with_target("mse_loss", loss.shape(), dpred.shape(), pred.shape(), target.shape())?;
        loss.data_mut()[0] = loss::mse_loss(dpred.data_mut(), pred.data(), target.data());
        Ok(())
    }

    fn cross_entropy_loss(
        &self,
        loss: &mut Tensor,
        dlogits: &mut Tensor,
        logits: &Tensor,
        labels: &Vec<u32>,
    ) -> Result<()> {
        let (b, c) = checks::cross_entropy(loss.shape(), logits.shape(), dlogits.shape(), labels.len())?;
        check_labels(labels, c)?;
        loss.data_mut()[0] = loss::cross_entropy_loss(dlogits.data_mut(), logits.data(), labels, b, c);
        Ok(())
    }

    fn bce_with_logits_loss(
        &self,
        loss: &mut Tensor,
        dlogits: &mut Tensor,
        logits: &Tensor,
        target: &Tensor,
    ) -> Result<()> {
        checks::loss_with_target(
            "bce_with_logits_loss",
            loss.shape(),
            dlogits.shape(),
            logits.shape(),
            target.shape(),
        )?;
        loss.data_mut()[0] = loss::bce_with_logits_loss(dlogits.data_mut(), logits.data(), target.data());
        Ok(())
    }

    fn sum(&self, out: &mut Tensor, x: &Tensor) -> Result<()> {
        checks::scalar_out("sum", out.shape())?;
        out.data_mut()[0] = reduce::sum(x.data());
        Ok(())
    }

    fn sum_squares(&self, out: &mut Tensor, x: &Tensor) -> Result<()> {
        checks::scalar_out("sum_squares", out.shape())?;
        out.data_mut()[0] = reduce::sum_squares(x.data());
        Ok(())
    }

    fn max_abs(&self, out: &mut Tensor, x: &Tensor) -> Result<()> {
        checks::scalar_out("max_abs", out.shape())?;
        out.data_mut()[0] = reduce::max_abs(x.data());
        Ok(())
    }

    fn scale(&self, x: &mut Tensor, alpha: f32) -> Result<()> {
        elementwise::scale(x.data_mut(), alpha);
        Ok(())
    }

    fn axpy(&self, y: &mut Tensor, alpha: f32, x: &Tensor) -> Result<()> {
        checks::elementwise("axpy", &[("y", y.shape()), ("x", x.shape())])?;
        elementwise::axpy(y.data_mut(), alpha, x.data());
        Ok(())
    }

    fn fill(&self, x: &mut Tensor, value: f32) -> Result<()> {
        elementwise::fill(x.data_mut(), value);
        Ok(())
    }

    fn copy(&self, dst: &mut Tensor, src: &Tensor) -> Result<()> {
        checks::elementwise("copy", &[("dst", dst.shape()), ("src", src.shape())])?;
        elementwise::copy(dst.data_mut(), src.data());
        Ok(())
    }
}
