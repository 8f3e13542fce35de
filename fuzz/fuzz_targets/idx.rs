//! IDX files (MNIST's format), gzipped or raw: decompression, header, element types, and the
//! images / labels views the loader builds from them.
#![no_main]
use downhill::data::idx::{images, labels, maybe_gunzip, parse_idx};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.idx");
    let Ok(bytes) = maybe_gunzip(path, data.to_vec()) else { return };
    let Ok(idx) = parse_idx(path, &bytes) else { return };
    let expected: usize = idx.dims.iter().product();
    assert_eq!(idx.values.len(), expected, "values match the header's dimensions");
    let _ = labels(path, idx.clone());
    if let Ok(t) = images(path, idx) {
        assert!(t.data().iter().all(|v| v.is_finite()), "images are finite");
    }
});
