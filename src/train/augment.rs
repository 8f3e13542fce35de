//! The `augment` setting: `"crop(4) hflip translate(2)"` into an [`Augment`], each op at most
//! once, arguments in range, an unknown op answered with the nearest known one. Applied by the
//! trainer to training batches only ([`crate::ops::augment`]).

use crate::error::{Error, Result};
pub use crate::ops::augment::Augment;

/// The ops `augment` takes.
pub const OPS: [&str; 3] = ["crop", "hflip", "translate"];

/// The largest crop padding or translation, in pixels.
pub const MAX_SHIFT: u32 = 64;

/// Parses an augmentation spec: space-separated `crop(P)`, `hflip`, `translate(T)`.
pub fn parse(text: &str) -> Result<Augment> {
    let bad = |detail: String| Error::InvalidArgument { what: "augment".into(), detail };
    let mut aug = Augment::default();
    let mut seen = Vec::new();
    for item in text.split_whitespace() {
        let (name, arg) = match item.split_once('(') {
            Some((n, rest)) => {
                let Some(arg) = rest.strip_suffix(')') else {
                    return Err(bad(format!("{item:?}: a missing ')'")));
                };
                (n, Some(arg.trim()))
            }
            None => (item, None),
        };
        if seen.contains(&name) {
            return Err(bad(format!("{name} appears twice in {text:?}")));
        }
        let shift = |what: &str| -> Result<u32> {
            let Some(arg) = arg else { return Err(bad(format!("{what} needs pixels: {what}(4)"))) };
            match arg.parse::<u32>() {
                Ok(v) if (1..=MAX_SHIFT).contains(&v) => Ok(v),
                _ => Err(bad(format!("{what}({arg}): pixels must be a whole number from 1 to {MAX_SHIFT}"))),
            }
        };
        match name {
            "crop" => aug.crop = shift("crop")?,
            "translate" => aug.translate = shift("translate")?,
            "hflip" if arg.is_none() || arg == Some("") => aug.hflip = true,
            "hflip" => return Err(bad(format!("hflip takes no argument (it flips half of the images), got {item:?}"))),
            other => {
                let nearest = OPS.iter().min_by_key(|k| strsim::damerau_levenshtein(other, k)).expect("ops");
                return Err(bad(format!(
                    "unknown op {other:?}: did you mean {nearest}? ({} are known)",
                    OPS.join(", ")
                )));
            }
        }
        seen.push(name);
    }
    Ok(aug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_why() {
        assert_eq!(parse("crop(4) hflip").unwrap(), Augment { crop: 4, translate: 0, hflip: true });
        assert_eq!(parse(" translate(2) ").unwrap(), Augment { crop: 0, translate: 2, hflip: false });
        assert!(parse("").unwrap().is_identity());
        for (text, needle) in [
            ("hflp", "did you mean hflip"),
            ("crop(0)", "from 1 to 64"),
            ("crop(65)", "from 1 to 64"),
            ("crop(-1)", "from 1 to 64"),
            ("crop", "crop needs pixels"),
            ("crop(4", "missing ')'"),
            ("hflip(0.3)", "takes no argument"),
            ("crop(2) crop(3)", "appears twice"),
            ("rotate(10)", "did you mean"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
