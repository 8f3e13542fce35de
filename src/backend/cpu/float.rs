//! The float type the CPU twins are generic over: f32 for the path itself, f64 for gradient checks.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

/// The arithmetic the CPU twins need, for f32 and f64.
pub trait Float:
    Copy
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + PartialOrd
    + Neg<Output = Self>
    + AddAssign
    + Debug
    + Send
    + Sync
{
    /// 0.
    fn zero() -> Self {
        Self::c(0.0)
    }
    /// 1.
    fn one() -> Self {
        Self::c(1.0)
    }
    /// Converts a constant.
    fn c(v: f64) -> Self;
    /// e^self.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + self), accurate near 0.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// The error function.
    fn erf(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Cosine (radians).
    fn cos(self) -> Self;
    /// Sine (radians).
    fn sin(self) -> Self;
    /// Converts to f64 (for accumulation and reports).
    fn to_f64(self) -> f64;
    /// The larger of two values (NaN-propagating as `f32::max` is not; fine for finite inputs).
    fn max(self, other: Self) -> Self {
        if other > self {
            other
        } else {
            self
        }
    }
}

macro_rules! impl_float {
    ($t:ty, $erf:path) => {
        impl Float for $t {
            fn c(v: f64) -> Self {
                v as $t
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn erf(self) -> Self {
                $erf(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    };
}

impl_float!(f32, libm::erff);
impl_float!(f64, libm::erf);
