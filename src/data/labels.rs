//! Where the number of classes comes from: stated (`classes = N`, or the checkpoint being
//! resumed or evaluated), or the data's own label set, which must then be dense (every class
//! from 0 to the largest label has a row) and no larger than the rows can support. One bad
//! label therefore cannot size the model: it is an error naming its file, row and value.

use crate::error::{Error, Result};

/// Labels read from one file, with a way to name a row of it in an error.
pub struct LabelSource<'a> {
    /// The labels in file order.
    pub labels: &'a [u32],
    /// Where row `i` of `labels` is, e.g. `data.csv: line 12, column 5`.
    pub locate: &'a dyn Fn(usize) -> String,
}

/// A class count stated outside the data, and who stated it (for errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatedClasses {
    /// The number of classes.
    pub count: usize,
    /// Who said so, as an error ends the phrase "the N classes …": "set by `classes`".
    pub source: String,
    /// The original label of each class, when a trained model mapped its labels (CSV text or
    /// 1..K integers): new rows' labels are looked up among them.
    pub names: Option<Vec<String>>,
}

/// The largest class count inferred from data without `classes` being stated. A label set
/// this wide is a tokenizer's vocabulary, not a classification data set by accident.
pub const MAX_INFERRED_CLASSES: usize = 65_536;

/// The number of classes of `sources` taken together. With `stated`, every label must be
/// below it. Without, the count is the largest label + 1, and every class below it must occur
/// (else the largest label is named as the likely culprit), and there must be no more classes
/// than rows.
pub fn class_count(sources: &[LabelSource<'_>], stated: Option<&StatedClasses>) -> Result<usize> {
    let bad = |detail: String| Err(Error::InvalidArgument { what: "class labels".into(), detail });
    if let Some(StatedClasses { count: classes, source: from, .. }) = stated {
        let classes = *classes;
        for s in sources {
            if let Some((i, &l)) = s.labels.iter().enumerate().find(|(_, &l)| l as usize >= classes) {
                return bad(format!(
                    "{}: label {l} is outside the {classes} classes {from} (0..={})",
                    (s.locate)(i),
                    classes - 1
                ));
            }
        }
        return Ok(classes);
    }
    let rows: usize = sources.iter().map(|s| s.labels.len()).sum();
    let Some((src, row, max)) = sources
        .iter()
        .enumerate()
        .flat_map(|(k, s)| s.labels.iter().enumerate().map(move |(i, &l)| (k, i, l)))
        .max_by_key(|&(k, i, l)| (l, std::cmp::Reverse((k, i))))
    else {
        return bad("there are no labelled rows".into());
    };
    let classes = max as usize + 1;
    let place = (sources[src].locate)(row);
    let hint = "if the data really has that many classes, say so with `--classes N` (`classes = N`)";
    if classes > MAX_INFERRED_CLASSES || classes > rows {
        return bad(format!(
            "{place}: label {max} would make a {classes}-class model from {rows} labelled rows; \
             labels must be 0..N-1 for N classes ({hint})"
        ));
    }
    let mut seen = vec![false; classes];
    for s in sources {
        for &l in s.labels {
            seen[l as usize] = true;
        }
    }
    let missing: Vec<usize> = (0..classes).filter(|&c| !seen[c]).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(8).map(|c| c.to_string()).collect();
        let more = if missing.len() > 8 { format!(" and {} more", missing.len() - 8) } else { String::new() };
        return bad(format!(
            "{place}: label {max} implies {classes} classes, but no row has class {}{more}; \
             labels must be 0..N-1 with every class present ({hint})",
            shown.join(", ")
        ));
    }
    Ok(classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(i: usize) -> String {
        format!("row {i}")
    }

    #[test]
    fn dense_labels_give_their_count() {
        let labels = [0, 2, 1, 2, 0];
        assert_eq!(class_count(&[LabelSource { labels: &labels, locate: &at }], None).unwrap(), 3);
    }

    #[test]
    fn one_far_label_is_named_not_trained() {
        let mut labels: Vec<u32> = (0..200).map(|i| i % 10).collect();
        labels[57] = 1_000_000;
        let e = class_count(&[LabelSource { labels: &labels, locate: &at }], None).unwrap_err().to_string();
        assert!(e.contains("row 57") && e.contains("1000000"), "{e}");
        labels[57] = 150;
        let e = class_count(&[LabelSource { labels: &labels, locate: &at }], None).unwrap_err().to_string();
        assert!(e.contains("row 57") && e.contains("label 150") && e.contains("no row has class 10"), "{e}");
    }

    #[test]
    fn a_stated_count_bounds_every_label() {
        let labels = [0, 1, 4];
        let src = [LabelSource { labels: &labels, locate: &at }];
        assert_eq!(
            class_count(&src, Some(&StatedClasses { count: 7, source: "set by --classes".into(), names: None }))
                .unwrap(),
            7
        );
        let e = class_count(&src, Some(&StatedClasses { count: 3, source: "of the checkpoint".into(), names: None }))
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 2: label 4 is outside the 3 classes of the checkpoint"), "{e}");
    }
}
