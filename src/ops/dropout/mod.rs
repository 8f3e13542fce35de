//! Inverted dropout with a counter-based hash mask, identical on both paths. Kernel:
//! `shaders/dropout.wgsl`.

pub mod cpu;
mod gpu;

use crate::error::{shape_error, Result};

/// A dropout probability in [0, 1).
pub fn dropout_p(p: f32) -> Result<()> {
    if !(0.0..1.0).contains(&p) {
        return Err(crate::error::Error::InvalidArgument {
            what: "dropout".into(),
            detail: format!("probability must be in [0, 1), got {p}"),
        });
    }
    Ok(())
}

/// A dropout key slot inside the keys tensor.
pub fn key_slot(keys: usize, slot: usize) -> Result<()> {
    if slot >= keys {
        return Err(shape_error("dropout_forward", format!("key slot {slot} is outside the {keys} keys")));
    }
    Ok(())
}
