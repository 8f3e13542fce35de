//! The activations, from one table: each line gives the variant, its shader kind (the number
//! `activation.wgsl` and the CPU twins switch on) and its name (PyTorch's functional spelling).
//! The table generates the enum, [`Activation::ALL`], [`Activation::shader_kind`],
//! [`Activation::name`] and the CPU path's dispatch on a kind ([`visit_kind`]). A kind with no
//! formula arm gives NaN on both paths (`default:` in the shader, `_` in the twins), so a
//! forgotten arm fails the parity and gradient checks instead of passing as another activation.

use crate::error::Result;

/// The kind no activation has: what the dispatch passes for a number outside the table.
pub const UNKNOWN_KIND: u32 = u32::MAX;

/// Something run with an activation kind as a compile-time constant (the CPU twins' loops, so
/// each kind's loop holds only its own formula and vectorises).
pub(crate) trait KindVisitor {
    /// What the visit returns.
    type Out;
    /// Runs with kind `K`.
    fn visit<const K: u32>(self) -> Self::Out;
}

macro_rules! activations {
    ($(
        $(#[$doc:meta])*
        $variant:ident $({ $(#[$fdoc:meta])* $field:ident = $default:expr })? => $kind:literal, $name:literal;
    )*) => {
        /// Elementwise activations. The discriminant is the `kind` the shaders switch on.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum Activation {
            $( $(#[$doc])* $variant $({ $(#[$fdoc])* $field: f32 })?, )*
        }

        impl Activation {
            /// How many activations the table holds.
            pub const COUNT: usize = [$($kind),*].len();

            /// Every activation, with PyTorch's default parameters; for tests and listings.
            pub const ALL: [Activation; Self::COUNT] = [$( Activation::$variant $({ $field: $default })?, )*];

            /// The number the shaders switch on (`kind` in `activation.wgsl`).
            pub fn shader_kind(self) -> u32 {
                match self {
                    $( Activation::$variant { .. } => $kind, )*
                }
            }

            /// A short lowercase name, as PyTorch's functional API spells it.
            pub fn name(self) -> &'static str {
                match self {
                    $( Activation::$variant { .. } => $name, )*
                }
            }
        }

        /// Runs `v` with `kind` as a compile-time constant; a number outside the table runs it
        /// with [`UNKNOWN_KIND`] (whose formulas are NaN).
        pub(crate) fn visit_kind<V: KindVisitor>(kind: u32, v: V) -> V::Out {
            match kind {
                $( $kind => v.visit::<$kind>(), )*
                _ => v.visit::<UNKNOWN_KIND>(),
            }
        }
    };
}

activations! {
    /// `max(x, 0)`.
    Relu => 0, "relu";
    /// `x` if positive, else `slope · x` (PyTorch's default slope is 0.01).
    LeakyRelu {
        /// Slope for negative inputs.
        slope = 0.01
    } => 1, "leaky_relu";
    /// `1 / (1 + e^-x)`.
    Sigmoid => 2, "sigmoid";
    /// `tanh(x)`.
    Tanh => 3, "tanh";
    /// `0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))`, PyTorch's `gelu(approximate="tanh")`.
    GeluTanh => 4, "gelu_tanh";
    /// `0.5 x (1 + erf(x/√2))`, PyTorch's default `gelu`.
    GeluErf => 5, "gelu_exact";
    /// `x · sigmoid(x)`, also called swish.
    Silu => 6, "silu";
}

impl Activation {
    /// The activation's one parameter (LeakyReLU's slope), 0 for the others.
    pub fn parameter(self) -> f32 {
        match self {
            Activation::LeakyRelu { slope } => slope,
            _ => 0.0,
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = crate::Error;
    /// Parses the names of [`Activation::name`]; `leaky_relu` takes PyTorch's default slope
    /// (0.01) and `leaky_relu_<slope>` another one.
    fn from_str(s: &str) -> Result<Self> {
        if let Some(slope) = s.strip_prefix("leaky_relu_") {
            if let Ok(slope) = slope.parse::<f32>() {
                return Ok(Activation::LeakyRelu { slope });
            }
        }
        Activation::ALL.iter().copied().find(|a| a.name() == s).ok_or_else(|| crate::Error::InvalidArgument {
            what: "activation".into(),
            detail: format!(
                "unknown {s:?}; expected one of {}",
                Activation::ALL.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
            ),
        })
    }
}
