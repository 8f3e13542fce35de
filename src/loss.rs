//! Loss kinds, each computed by one fused kernel (mean reduction, forward and backward).

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::ops::loss;
use std::str::FromStr;

/// Which loss ends the network. All use PyTorch's `reduction="mean"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// Mean squared error over every element (regression).
    Mse,
    /// Softmax cross-entropy with integer class labels, mean over the batch (classification).
    CrossEntropy,
    /// Binary cross-entropy on logits, mean over every element (multi-label).
    BceWithLogits,
}

impl LossKind {
    /// PyTorch's functional name.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Mse => "mse",
            LossKind::CrossEntropy => "cross_entropy",
            LossKind::BceWithLogits => "bce_with_logits",
        }
    }
}

impl FromStr for LossKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mse" => Ok(LossKind::Mse),
            "cross_entropy" | "ce" => Ok(LossKind::CrossEntropy),
            "bce_with_logits" | "bce" => Ok(LossKind::BceWithLogits),
            other => Err(Error::InvalidArgument {
                what: "loss".into(),
                detail: format!("unknown loss {other:?}; expected mse, cross_entropy or bce_with_logits"),
            }),
        }
    }
}

/// What a loss compares the output with.
pub enum Target<'a, B: Backend> {
    /// A tensor of the output's shape (MSE, BCE).
    Values(&'a B::Tensor),
    /// One class label per row (cross-entropy).
    Labels(&'a B::U32Buffer),
}

impl LossKind {
    /// Writes the mean loss into `loss` (one element) and ∂loss/∂output into `grad`.
    pub fn apply<B: Backend>(
        self,
        be: &B,
        loss: &mut B::Tensor,
        grad: &mut B::Tensor,
        output: &B::Tensor,
        target: &Target<'_, B>,
    ) -> Result<()> {
        match (self, target) {
            (LossKind::Mse, Target::Values(t)) => loss::mse_loss(be, loss, grad, output, t),
            (LossKind::BceWithLogits, Target::Values(t)) => loss::bce_with_logits_loss(be, loss, grad, output, t),
            (LossKind::CrossEntropy, Target::Labels(l)) => loss::cross_entropy_loss(be, loss, grad, output, l),
            (kind, _) => Err(Error::InvalidArgument {
                what: kind.name().into(),
                detail: if kind == LossKind::CrossEntropy {
                    "needs class labels as its target".into()
                } else {
                    "needs a target tensor of the output's shape, not labels".into()
                },
            }),
        }
    }
}
