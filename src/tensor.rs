//! Host tensors (row-major f32 with a shape) shared by both paths, and shape helpers for the ops.

use crate::error::{shape_error, Error, Result, ShapeDisplay};

/// A row-major f32 tensor in host memory. The CPU path computes on it directly;
/// the GPU path uploads from and reads back into it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Tensor {
    /// Wraps `data` as a tensor of `shape`; fails when the element counts differ.
    pub fn from_vec(shape: &[usize], data: Vec<f32>) -> Result<Self> {
        let n = numel(shape);
        if n != data.len() {
            return Err(Error::InvalidArgument {
                what: "Tensor::from_vec".into(),
                detail: format!("shape {} holds {n} elements but {} were given", ShapeDisplay(shape), data.len()),
            });
        }
        Ok(Self { shape: shape.to_vec(), data })
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self { shape: shape.to_vec(), data: vec![0.0; numel(shape)] }
    }

    /// A tensor with every element equal to `value`.
    pub fn full(shape: &[usize], value: f32) -> Self {
        Self { shape: shape.to_vec(), data: vec![value; numel(shape)] }
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The elements in row-major order, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the tensor and returns its elements.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
}

/// Product of the dimensions (1 for a scalar shape `[]`).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Views a shape as a matrix `(rows, cols)`: `[n]` is one row of n, `[r, c]` is itself.
/// Higher ranks are refused: every op of the core works on matrices.
pub fn as_matrix(op: &'static str, shape: &[usize]) -> Result<(usize, usize)> {
    match *shape {
        [n] => Ok((1, n)),
        [r, c] => Ok((r, c)),
        [] => Ok((1, 1)),
        _ => Err(shape_error(op, format!("expected a matrix or vector, got shape {}", ShapeDisplay(shape)))),
    }
}

/// Fails unless `a` and `b` have the same number of elements and the same shape.
pub fn same_shape(op: &'static str, a_name: &str, a: &[usize], b_name: &str, b: &[usize]) -> Result<()> {
    if a != b {
        return Err(shape_error(
            op,
            format!("{a_name} has shape {} but {b_name} has shape {}", ShapeDisplay(a), ShapeDisplay(b)),
        ));
    }
    Ok(())
}

/// The three matrix products a Linear layer needs, named by which operand is transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulForm {
    /// `out[m,n] = a[m,k] · b[n,k]ᵀ`: the forward pass `X·Wᵀ`.
    Nt,
    /// `out[m,n] = a[m,k] · b[k,n]`: the input gradient `dY·W`.
    Nn,
    /// `out[m,n] = a[k,m]ᵀ · b[k,n]`: the weight gradient `dYᵀ·X`.
    Tn,
}

impl MatmulForm {
    /// The op name used in errors and as the shader entry point.
    pub fn op_name(self) -> &'static str {
        match self {
            MatmulForm::Nt => "matmul_nt",
            MatmulForm::Nn => "matmul_nn",
            MatmulForm::Tn => "matmul_tn",
        }
    }

    /// Checks the three shapes and returns `(batch, m, n, k)`. Operands are matrices, or all
    /// three are `[batch, rows, cols]` stacks of as many matrices (one product per batch entry).
    pub fn dims(self, out: &[usize], a: &[usize], b: &[usize]) -> Result<(usize, usize, usize, usize)> {
        let op = self.op_name();
        let batch = match (out.len(), a.len(), b.len()) {
            (2, 2, 2) => 1,
            (3, 3, 3) if out[0] == a[0] && a[0] == b[0] => out[0],
            _ => {
                return Err(shape_error(
                    op,
                    format!(
                        "operands must all be matrices or all [batch, rows, cols] with one batch size, got out {}, a {} and b {}",
                        ShapeDisplay(out),
                        ShapeDisplay(a),
                        ShapeDisplay(b)
                    ),
                ))
            }
        };
        let last2 = |s: &[usize]| (s[s.len() - 2], s[s.len() - 1]);
        let (a0, a1) = last2(a);
        let (b0, b1) = last2(b);
        let (o0, o1) = last2(out);
        let (m, ka, kb, n) = match self {
            MatmulForm::Nt => (a0, a1, b1, b0),
            MatmulForm::Nn => (a0, a1, b0, b1),
            MatmulForm::Tn => (a1, a0, b0, b1),
        };
        let picture = match self {
            MatmulForm::Nt => "a[m,k] · b[n,k]ᵀ",
            MatmulForm::Nn => "a[m,k] · b[k,n]",
            MatmulForm::Tn => "a[k,m]ᵀ · b[k,n]",
        };
        if ka != kb {
            return Err(shape_error(
                op,
                format!("inner dimensions differ for {picture}: a is {} and b is {}", ShapeDisplay(a), ShapeDisplay(b)),
            ));
        }
        if (o0, o1) != (m, n) {
            return Err(shape_error(
                op,
                format!(
                    "out must be [{m}, {n}] for a {} and b {}, got {}",
                    ShapeDisplay(a),
                    ShapeDisplay(b),
                    ShapeDisplay(out)
                ),
            ));
        }
        Ok((batch, m, n, ka))
    }
}
