//! The Python interpreter with NumPy that the Python-side tests run: `DOWNHILL_PYTHON`, else
//! the venv `target/pyvenv` (`.ci/run` makes it), else `python3`. Without NumPy those tests
//! FAIL, saying how to install it: a skip printed into captured output would read as a pass.
//! `DOWNHILL_REQUIRE_PYTHON=0` skips them on purpose.

use std::path::Path;
use std::process::Command;

/// What to do about a Python-side test, given whether the interpreter imports NumPy and the
/// value of `DOWNHILL_REQUIRE_PYTHON`.
#[derive(Debug, PartialEq)]
pub enum Plan {
    Run,
    Skip,
    Fail(String),
}

pub fn plan(py: &str, has_numpy: bool, require: Option<&str>) -> Plan {
    match (has_numpy, require) {
        (true, _) => Plan::Run,
        (false, Some("0")) => Plan::Skip,
        (false, _) => Plan::Fail(format!(
            "{py} cannot import numpy; install it with \
             `python3 -m venv target/pyvenv && target/pyvenv/bin/pip install numpy` (found without further \
             settings), point DOWNHILL_PYTHON at an interpreter that has it, or skip this test on purpose with \
             DOWNHILL_REQUIRE_PYTHON=0"
        )),
    }
}

/// The interpreter to run, or None when skipping was asked for (a missing NumPy panics).
pub fn python() -> Option<String> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyvenv/bin/python");
    let py = std::env::var("DOWNHILL_PYTHON").unwrap_or_else(|_| {
        if venv.is_file() {
            venv.display().to_string()
        } else {
            "python3".into()
        }
    });
    let has_numpy = Command::new(&py).args(["-c", "import numpy"]).output().is_ok_and(|o| o.status.success());
    match plan(&py, has_numpy, std::env::var("DOWNHILL_REQUIRE_PYTHON").ok().as_deref()) {
        Plan::Run => Some(py),
        Plan::Skip => {
            eprintln!("SKIPPED (DOWNHILL_REQUIRE_PYTHON=0): {py} cannot import numpy");
            None
        }
        Plan::Fail(why) => panic!("{why}"),
    }
}
