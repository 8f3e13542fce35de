//! CPU twin of `shaders/augment.wgsl`: the same hashes, so the same transform of every row.

use super::AugmentParams;
use crate::rng::hash32;
use rayon::prelude::*;

/// A draw in [−r, r] from the hash `h`.
fn centred(h: u32, r: u32) -> i32 {
    (h % (2 * r + 1)) as i32 - r as i32
}

/// Row `row`'s transform under `p`: (flipped, dy, dx).
pub fn draw(row: u32, p: &AugmentParams) -> (bool, i32, i32) {
    let h = hash32(hash32(row) ^ p.key);
    let flipped = p.flip == 1 && h & 1 == 1;
    let dy = centred(hash32(h ^ 0x9e37_79b9), p.crop) + centred(hash32(h ^ 0x7f4a_7c15), p.translate);
    let dx = centred(hash32(h ^ 0x85eb_ca6b), p.crop) + centred(hash32(h ^ 0xc2b2_ae35), p.translate);
    (flipped, dy, dx)
}

/// `out = augmented(x)`, row by row (rows in parallel; each element depends on its row only);
/// `fill` ([C, H, W]) is what a position that falls outside the image takes.
pub fn augment(out: &mut [f32], x: &[f32], fill: &[f32], p: &AugmentParams) {
    let (h, w) = (p.height as usize, p.width as usize);
    let plane = h * w;
    let per_row = p.channels as usize * plane;
    if per_row == 0 || fill.len() < per_row {
        return;
    }
    out.par_chunks_mut(per_row).enumerate().for_each(|(row, dst)| {
        let (flipped, dy, dx) = draw(row as u32, p);
        let src = &x[row * per_row..(row + 1) * per_row];
        for c in 0..p.channels as usize {
            for y in 0..h {
                for xx in 0..w {
                    let fx = if flipped { w - 1 - xx } else { xx };
                    let (sy, sx) = (y as i32 + dy, fx as i32 + dx);
                    let inside = (0..h as i32).contains(&sy) && (0..w as i32).contains(&sx);
                    let at = c * plane + y * w + xx;
                    dst[at] = if inside { src[c * plane + sy as usize * w + sx as usize] } else { fill[at] };
                }
            }
        }
    });
}

/// The twin as the op table calls it (params bytes, buffers in binding order).
pub(crate) mod table {
    use crate::backend::kernel::{bad_buffers, params, CpuBuf};
    use crate::error::Result;
    use crate::ops::augment::AugmentParams;

    /// `augment`: (out, x, fill).
    pub fn augment(bytes: &[u8], bufs: &mut [CpuBuf<'_>]) -> Result<()> {
        let p: AugmentParams = params("augment", bytes)?;
        let [CpuBuf::Write(out), CpuBuf::Read(x), CpuBuf::Read(fill)] = bufs else {
            return Err(bad_buffers("augment", bufs));
        };
        super::augment(out, x, fill, &p);
        Ok(())
    }
}
