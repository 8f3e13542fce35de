//! A Linear → act → … → Linear stack written once against `Backend`, from the core's ops only:
//! the forward pass, a fused loss, and the backward pass (PyTorch conventions: weight (out,in)).

use downhill::{Activation, Backend, MatmulForm, Tensor};

/// Which loss ends the network.
#[derive(Clone, Copy, Debug)]
pub enum LossKind {
    Mse,
    CrossEntropy,
    BceWithLogits,
}

/// The loss target: a tensor like the output, or class labels.
pub enum Target<'a> {
    Values(&'a Tensor),
    Labels(&'a [u32]),
}

/// Output, loss and the gradient of every parameter, read back to the host.
pub struct MlpResult {
    pub output: Tensor,
    pub loss: f32,
    /// (weight grad, bias grad) per layer, first layer first.
    pub grads: Vec<(Tensor, Tensor)>,
}

/// Runs forward, loss and backward for layers `params` = [(W, b), ...] on input `x`, applying
/// `act` after every layer but the last.
pub fn forward_backward<B: Backend>(
    be: &B,
    params: &[(Tensor, Tensor)],
    x: &Tensor,
    act: Activation,
    loss_kind: LossKind,
    target: Target<'_>,
) -> MlpResult {
    let batch = x.shape()[0];
    let layers: Vec<(B::Tensor, B::Tensor)> =
        params.iter().map(|(w, b)| (be.upload(w).unwrap(), be.upload(b).unwrap())).collect();
    let last = layers.len() - 1;

    // Forward: keep each layer's input (for dW) and pre-activation z (for act').
    let mut inputs = vec![be.upload(x).unwrap()];
    let mut pre = Vec::new();
    for (l, (w, b)) in layers.iter().enumerate() {
        let out_features = be.shape(w)[0];
        let mut z = be.zeros(&[batch, out_features]).unwrap();
        be.matmul(MatmulForm::Nt, &mut z, &inputs[l], w, false).unwrap();
        be.bias_add(&mut z, b).unwrap();
        if l < last {
            let mut a = be.zeros(&[batch, out_features]).unwrap();
            be.activation_forward(act, &mut a, &z).unwrap();
            inputs.push(a);
        }
        pre.push(z);
    }
    let output = &pre[last];
    let mut loss = be.zeros(&[1]).unwrap();
    let mut grad = be.zeros(be.shape(output)).unwrap();
    match (loss_kind, target) {
        (LossKind::Mse, Target::Values(t)) => {
            be.mse_loss(&mut loss, &mut grad, output, &be.upload(t).unwrap()).unwrap()
        }
        (LossKind::BceWithLogits, Target::Values(t)) => {
            be.bce_with_logits_loss(&mut loss, &mut grad, output, &be.upload(t).unwrap()).unwrap()
        }
        (LossKind::CrossEntropy, Target::Labels(l)) => {
            let labels = be.upload_labels(l, be.shape(output)[1]).unwrap();
            be.cross_entropy_loss(&mut loss, &mut grad, output, &labels).unwrap()
        }
        (k, _) => panic!("target kind does not fit loss {k:?}"),
    }

    // Backward: grad holds dL/dz of the current layer.
    let mut grads = Vec::new();
    for l in (0..layers.len()).rev() {
        let (w, b) = &layers[l];
        let mut dw = be.zeros(be.shape(w)).unwrap();
        be.matmul(MatmulForm::Tn, &mut dw, &grad, &inputs[l], false).unwrap();
        let mut db = be.zeros(be.shape(b)).unwrap();
        be.column_sum(&mut db, &grad, false).unwrap();
        grads.push((be.read(&dw).unwrap(), be.read(&db).unwrap()));
        if l > 0 {
            let mut da = be.zeros(be.shape(&inputs[l])).unwrap();
            be.matmul(MatmulForm::Nn, &mut da, &grad, w, false).unwrap();
            let mut dz = be.zeros(be.shape(&da)).unwrap();
            be.activation_backward(act, &mut dz, &pre[l - 1], &da).unwrap();
            grad = dz;
        }
    }
    grads.reverse();
    MlpResult { output: be.read(output).unwrap(), loss: be.read(&loss).unwrap().data()[0], grads }
}
