//! Reading and writing safetensors files of float tensors by name.

use crate::error::{file_error, Error, Result};
use crate::tensor::Tensor;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// The float tensors of a safetensors file by name, as f32 (f16 and bf16 widened); integer
/// tensors (position-id buffers) are left out.
pub fn read_floats(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, format!("cannot read: {e}")))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| file_error(path, format!("not a readable safetensors file (truncated or corrupt): {e}")))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => data.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
            Dtype::BF16 => {
                data.chunks_exact(2).map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)).collect()
            }
            Dtype::I64 | Dtype::I32 | Dtype::U8 | Dtype::BOOL => continue,
            other => {
                return Err(file_error(path, format!("tensor {name:?} has dtype {other:?}; f32, f16 or bf16 expected")))
            }
        };
        let tensor =
            Tensor::from_vec(view.shape(), values).map_err(|e| file_error(path, format!("tensor {name:?}: {e}")))?;
        out.push((name, tensor));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// IEEE half to single.
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: value = f · 2⁻²⁴.
            let v = f as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// Writes `tensors` (f32) with `metadata` to `path` atomically.
pub fn write_floats(path: &Path, tensors: &[(String, Tensor)], metadata: HashMap<String, String>) -> Result<()> {
    let views = tensors
        .iter()
        .map(|(n, t)| {
            TensorView::new(Dtype::F32, t.shape().to_vec(), bytemuck::cast_slice(t.data()))
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::InvalidArgument { what: format!("tensor {n}"), detail: e.to_string() })
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::tensor::serialize(views, Some(metadata))
        .map_err(|e| Error::InvalidArgument { what: "safetensors".into(), detail: e.to_string() })?;
    crate::checkpoint::write_atomically(path, &bytes)
}

/// `t` `[r, c]` transposed to `[c, r]`.
pub fn transpose(t: &Tensor) -> Result<Tensor> {
    let [r, c] = t.shape() else {
        return Err(Error::InvalidArgument {
            what: "transpose".into(),
            detail: format!("{:?} is not a matrix", t.shape()),
        });
    };
    let (r, c) = (*r, *c);
    let d = t.data();
    let mut out = vec![0.0f32; r * c];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = d[i * c + j];
        }
    }
    Tensor::from_vec(&[c, r], out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_widen_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn transpose_turns_a_matrix() {
        let t = Tensor::from_vec(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(transpose(&t).unwrap().data(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
