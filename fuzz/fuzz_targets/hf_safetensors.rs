//! Hugging Face `model.safetensors` weights (`--from DIR`): the header, dtypes (F32, F16 and
//! BF16 read, integers skipped, others refused), shapes and offsets, read into f32 tensors.
#![no_main]
#[path = "common.rs"]
mod common;
use downhill::hf::safetensors_io::read_floats;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file("model.safetensors", data);
    if let Ok(tensors) = read_floats(&path) {
        for (_, t) in &tensors {
            assert_eq!(t.data().len(), t.shape().iter().product::<usize>(), "data matches shape");
        }
    }
});
