//! Text corpora for language models (`--text FILE`): the streaming scan (UTF-8 checked across
//! chunk boundaries, the character vocabulary), the token file written from it, its split and
//! nanoGPT's window draw. The first byte picks characters or bytes.
#![no_main]
#[path = "common.rs"]
mod common;
use downhill::data::text::Vocabulary;
use downhill::data::token_file::{scan, split_point, write, TextSource};
use downhill::rng::Rng;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let bytes = pick & 1 == 1;
    let src = TextSource::Bytes(text, "fuzz.txt");
    let Ok(found) = scan(&src, bytes) else { return };
    let path = common::scratch_file("tokens.bin", b"");
    let file = write(&src, &found.vocabulary, &path).expect("a scanned text encodes");
    let tokens = file.tokens();
    assert_eq!(tokens.len() as u64, found.tokens, "the token file holds the scanned count");
    if let Vocabulary::Chars(_) = &found.vocabulary {
        let text = std::str::from_utf8(text).expect("scan accepted UTF-8");
        let ids = found.vocabulary.encode(text, "fuzz").expect("the text encodes with its own vocabulary");
        assert_eq!(found.vocabulary.decode(&ids), text, "decode ∘ encode is the identity");
    }
    let block = 1 + (pick as usize >> 1) % 8;
    if let Ok(at) = split_point(found.tokens, 0.1, block, "fuzz.txt") {
        let (train, _validation) = tokens.split_at(at as usize);
        if train.len() > block {
            let (x, y) = train.get_batch(&mut Rng::new(1), 2, block).expect("a window draw");
            assert_eq!((x.len(), y.len()), (2 * block, 2 * block));
        }
    }
});
