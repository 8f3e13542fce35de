//! `--config run.toml`: TOML syntax, unknown keys (with their suggestion), the `[[layers]]`
//! table, and every setting's validation. A config that validates prints as TOML that reads
//! back to the same config.
#![no_main]
use downhill::config::RunConfig;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.toml");
    let Ok(config) = RunConfig::from_toml(path, text) else { return };
    if config.validate().is_ok() {
        let again = RunConfig::from_toml(path, &config.to_toml()).expect("a printed config reads back");
        assert_eq!(again, config, "parse(print(config)) == config");
    }
});
