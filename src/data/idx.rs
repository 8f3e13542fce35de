//! IDX files (MNIST, Fashion-MNIST, …), raw or gzipped: u8 or f32 images with u8 labels.
//! Every malformed input is an error naming the file and what was wrong.

use crate::error::{file_error, Result};
use crate::tensor::Tensor;
use std::io::Read;
use std::path::Path;

/// The element type code of an IDX file (third byte of the magic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxType {
    /// 0x08.
    U8,
    /// 0x0D.
    F32,
}

/// A decoded IDX file: dimensions and elements.
#[derive(Clone, Debug, PartialEq)]
pub struct Idx {
    /// Dimensions, outermost first (e.g. [60000, 28, 28]).
    pub dims: Vec<usize>,
    /// Element type on disk.
    pub kind: IdxType,
    /// Elements as f32 (u8 values kept as 0..255).
    pub values: Vec<f32>,
}

/// Decompresses `bytes` when they start with the gzip magic; `path` names errors.
pub fn maybe_gunzip(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| file_error(path, format!("corrupt or truncated gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Reads an IDX file from disk (gzipped or raw).
pub fn read_idx_file(path: &Path) -> Result<Idx> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, format!("cannot read: {e}")))?;
    parse_idx(path, &maybe_gunzip(path, bytes)?)
}

/// Parses IDX bytes (already decompressed). `path` only names errors.
pub fn parse_idx(path: &Path, b: &[u8]) -> Result<Idx> {
    if b.len() < 4 {
        return Err(file_error(path, format!("{} bytes is too short for an IDX header (4-byte magic)", b.len())));
    }
    if b[0] != 0 || b[1] != 0 {
        return Err(file_error(
            path,
            format!(
                "wrong IDX magic {:02x} {:02x} {:02x} {:02x}: expected 00 00 <type> <dims>",
                b[0], b[1], b[2], b[3]
            ),
        ));
    }
    let (kind, size) = match b[2] {
        0x08 => (IdxType::U8, 1),
        0x0D => (IdxType::F32, 4),
        t => {
            return Err(file_error(
                path,
                format!("IDX element type 0x{t:02x} is not supported (expected 0x08 u8 or 0x0d f32)"),
            ))
        }
    };
    let ndims = b[3] as usize;
    if ndims == 0 || ndims > 4 {
        return Err(file_error(path, format!("IDX dimension count {ndims} is not supported (expected 1 to 4)")));
    }
    let header = 4 + 4 * ndims;
    if b.len() < header {
        return Err(file_error(
            path,
            format!("truncated IDX header: {ndims} dimensions need {header} bytes, file has {}", b.len()),
        ));
    }
    let dims: Vec<usize> =
        (0..ndims).map(|i| u32::from_be_bytes(b[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize).collect();
    let too_large = || file_error(path, format!("IDX dimensions {dims:?} are too large (their product overflows)"));
    let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(too_large)?;
    let need = count.checked_mul(size).and_then(|b| b.checked_add(header)).ok_or_else(too_large)?;
    if b.len() != need {
        return Err(file_error(
            path,
            format!("IDX dimensions {dims:?} need {need} bytes but the file has {} (truncated or padded)", b.len()),
        ));
    }
    let body = &b[header..];
    let values = match kind {
        IdxType::U8 => body.iter().map(|&v| v as f32).collect(),
        IdxType::F32 => body.chunks_exact(4).map(|c| f32::from_be_bytes(c.try_into().expect("4 bytes"))).collect(),
    };
    Ok(Idx { dims, kind, values })
}

/// Images as a (count, pixels) tensor: u8 pixels are scaled to [0, 1], f32 kept as they are.
pub fn images(path: &Path, idx: Idx) -> Result<Tensor> {
    if idx.dims.len() < 2 {
        return Err(file_error(path, format!("images need at least 2 dimensions (count, …), got {:?}", idx.dims)));
    }
    let count = idx.dims[0];
    // With no images the product of the others is not bounded by the file's size.
    let pixels = idx.dims[1..].iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| {
        file_error(path, format!("IDX dimensions {:?} are too large (their product overflows)", idx.dims))
    })?;
    let values = match idx.kind {
        IdxType::U8 => idx.values.into_iter().map(|v| v / 255.0).collect(),
        IdxType::F32 => idx.values,
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(file_error(path, format!("value {} at element {i} is not finite", values[i])));
    }
    Tensor::from_vec(&[count, pixels], values)
}

/// Labels from a 1-dimensional u8 IDX file.
pub fn labels(path: &Path, idx: Idx) -> Result<Vec<u32>> {
    if idx.dims.len() != 1 || idx.kind != IdxType::U8 {
        return Err(file_error(
            path,
            format!(
                "labels must be a 1-dimensional u8 IDX file, got {:?} with {} dimensions",
                idx.kind,
                idx.dims.len()
            ),
        ));
    }
    Ok(idx.values.into_iter().map(|v| v as u32).collect())
}
