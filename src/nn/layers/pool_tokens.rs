//! `pool_tokens(mode="mean")`: one vector per sequence from `[B, T, C]` to `[B, C]` —
//! `mean` averages the real tokens (sentence-transformers' mean pooling over the attention
//! mask), `first` takes the first token (BERT's `[CLS]`). Both are one product with a
//! `[B, B·T]` pooling matrix built from the batch's padding ([`crate::nn::Padding`]), so the
//! backward is its transpose.

use crate::backend::Backend;
use crate::error::{shape_error, Error, Result};
use crate::nn::args::{Bound, Value};
use crate::nn::layer::{Backward, Forward, Layer};
use crate::ops::matmul;
use crate::tensor::MatmulForm;

/// How a sequence becomes one vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// The mean over the real tokens.
    Mean,
    /// The first token.
    First,
}

impl Pooling {
    /// Its name in the spec language and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::First => "first",
        }
    }

    /// The pooling named `text` (`mean` or `first`).
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "mean" => Ok(Pooling::Mean),
            "first" | "cls" => Ok(Pooling::First),
            other => Err(Error::InvalidArgument {
                what: "pooling".into(),
                detail: format!("{other:?} is not a pooling: use mean (over the attention mask) or first ([CLS])"),
            }),
        }
    }
}

/// Token pooling.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolTokens {
    /// The mode.
    pub mode: Pooling,
}

/// Argument names in order.
pub const ARGS: &[&str] = &["mode"];

/// Builds the layer for `input` `[batch, T, C]`.
pub fn build(args: Bound, input: &[usize]) -> Result<Box<dyn Layer>> {
    let mode = match args.get("mode") {
        None => Pooling::Mean,
        Some(Value::Word(s)) => Pooling::parse(s)?,
        Some(other) => Pooling::parse(&other.to_string())?,
    };
    let layer = PoolTokens { mode };
    layer.output_shape(input)?;
    Ok(Box::new(layer))
}

impl PoolTokens {
    /// (B, T, C) of an input.
    fn dims(shape: &[usize]) -> Result<(usize, usize, usize)> {
        match shape {
            [b, t, c] if *t > 0 && *c > 0 => Ok((*b, *t, *c)),
            _ => {
                Err(shape_error("pool_tokens", format!("expects [batch, T, C] (a sequence of vectors), got {shape:?}")))
            }
        }
    }

    /// The pooling matrix for this batch.
    fn matrix<'a, B: Backend>(
        &self,
        padding: Option<&'a crate::nn::Padding<B>>,
        b: usize,
        t: usize,
    ) -> Result<&'a B::Tensor> {
        match padding {
            Some(p) if p.dims == (b, t) => Ok(match self.mode {
                Pooling::Mean => &p.mean,
                Pooling::First => &p.first,
            }),
            _ => Err(shape_error("pool_tokens", format!("no padding of shape [{b}, {t}] was given for the batch"))),
        }
    }
}

impl Layer for PoolTokens {
    fn spec(&self) -> String {
        match self.mode {
            Pooling::Mean => "pool_tokens".into(),
            Pooling::First => "pool_tokens(first)".into(),
        }
    }

    fn torch(&self) -> String {
        match self.mode {
            Pooling::Mean => "MeanPooling()  # sum(h * mask) / clamp(sum(mask), 1e-9)".into(),
            Pooling::First => "FirstTokenPooling()  # h[:, 0]".into(),
        }
    }

    fn reads_padding(&self) -> bool {
        true
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let (b, _, c) = Self::dims(input)?;
        Ok(vec![b, c])
    }

    fn forward<B: Backend>(&self, be: &B, io: Forward<'_, B>) -> Result<()> {
        let (b, t, c) = Self::dims(be.shape(io.x))?;
        let pool = self.matrix(io.padding, b, t)?;
        let x = be.view(io.x, 0, &[b * t, c])?;
        matmul::matmul(be, MatmulForm::Nn, io.y, pool, &x, false)
    }

    fn backward<B: Backend>(&self, be: &B, io: Backward<'_, B>) -> Result<()> {
        let (b, t, c) = Self::dims(be.shape(io.x))?;
        let pool = self.matrix(io.padding, b, t)?;
        if let Some(dx) = io.dx {
            let mut dx = be.view(dx, 0, &[b * t, c])?;
            matmul::matmul(be, MatmulForm::Tn, &mut dx, pool, io.dy, false)?;
        }
        Ok(())
    }
}
