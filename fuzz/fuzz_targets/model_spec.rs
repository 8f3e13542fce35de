//! The model spec language (`--model "conv2d(32, 3) relu …"`, presets, `gpt(…)`): the parser,
//! the shape inference of every layer, and the printer. A spec that builds prints as text
//! that builds the same spec. The first byte picks the input shape.
#![no_main]
use downhill::nn::{Init, ModelSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let inputs: [&[usize]; 4] = [&[784], &[1, 28, 28], &[3, 8, 8], &[16]];
    let input = inputs[(pick % 4) as usize];
    let Ok(spec) = ModelSpec::parse(text, input, 10, Init::TorchDefault) else { return };
    let _ = spec.param_shapes();
    let _ = spec.layout();
    let _ = spec.output_shape(3);
    let again = ModelSpec::parse(&spec.text(), input, 10, Init::TorchDefault).expect("a printed spec builds");
    assert_eq!(again, spec, "parse(print(spec)) == spec");
});
