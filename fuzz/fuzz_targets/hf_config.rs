//! Hugging Face `config.json` (`--from DIR`): BERT's and GPT-2's fields, their checks, and the
//! model spec each builds (shape inference only; no weights are allocated).
#![no_main]
use downhill::hf::bert::BertConfig;
use downhill::hf::gpt2::Gpt2Config;
use downhill::nn::{Init, ModelSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(bert) = BertConfig::from_json(&config) {
        let spec = bert.encoder_spec(false);
        if let Ok(built) = ModelSpec::parse(&spec, &[8], 2, Init::TorchDefault) {
            let _ = built.param_shapes();
        }
        for name in bert.names() {
            let _ = bert.shape_of(&name);
        }
    }
    if let Ok(gpt2) = Gpt2Config::from_json(&config) {
        let spec = gpt2.spec(false);
        if let Ok(built) = ModelSpec::parse(&spec, &[8], 2, Init::TorchDefault) {
            let _ = built.param_shapes();
        }
        for name in gpt2.names() {
            let _ = gpt2.shape_of(&name);
        }
    }
});
