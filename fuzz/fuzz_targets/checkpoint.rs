//! Checkpoints (`--resume`, `predict`, `export`): the safetensors header, the tensor table and
//! the JSON metadata (config, model spec, optimizer state, counters). A checkpoint that loads
//! must also answer its accessors and save again to bytes that load the same.
#![no_main]
use downhill::checkpoint::Checkpoint;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    let Ok(ckpt) = Checkpoint::from_bytes(path, data) else { return };
    let _ = ckpt.check_finite(path);
    let _ = ckpt.meta.layer_sizes();
    let _ = ckpt.meta.sample_shape();
    let _ = ckpt.optimizer_state();
    if let Ok(bytes) = ckpt.to_bytes() {
        let again = Checkpoint::from_bytes(path, &bytes).expect("a saved checkpoint loads");
        assert_eq!(again.to_bytes().expect("saves again"), bytes, "save ∘ load is the identity");
    }
});
