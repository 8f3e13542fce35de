//! CSV tables (`--data file.csv`): delimiter and header detection, quoting, ragged rows,
//! numeric cells, label columns by index or name, classification and regression targets.
//! The first byte picks the options; the rest is the file.
#![no_main]
#[path = "common.rs"]
mod common;
use downhill::data::csv::{read_csv_with_schema, read_matrix, CsvOptions, LabelColumn, Task};
use downhill::data::label_map::LabelMapMode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else { return };
    let path = common::scratch_file("table.csv", file);
    let header = [None, Some(true), Some(false)][(pick % 3) as usize];
    let label = match (pick / 3) % 3 {
        0 => LabelColumn::Last,
        1 => LabelColumn::Index(0),
        _ => LabelColumn::Name("label".into()),
    };
    let task = if pick & 0x40 != 0 { Task::Regression } else { Task::Classification };
    let label_map = if pick & 0x80 != 0 { LabelMapMode::Sorted } else { LabelMapMode::Auto };
    let opts = CsvOptions { header, label, task, classes: None, label_map };
    // read_matrix (the numbers alone) is the same table reader with no label column: every
    // tenth input, so most of the time goes to the reader with labels.
    if pick % 10 == 9 {
        let _ = read_matrix(&path, header);
    } else if let Ok((set, _schema, _names)) = read_csv_with_schema(&path, &opts) {
        assert!(set.x.data().iter().all(|v| v.is_finite()), "features are finite");
    }
});
