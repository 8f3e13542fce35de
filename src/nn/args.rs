//! Arguments of one layer in the model-spec language: `conv2d(32, 3, padding=1)`. Positional
//! arguments bind to the layer's parameter names in order (PyTorch's constructor order, less
//! the inferred input size), named ones by name; typos get a did-you-mean.

use crate::error::{Error, Result};
use std::collections::HashMap;

/// One argument value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A whole number.
    Int(i64),
    /// A number with a point or exponent.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `None` / `null`.
    Null,
    /// `(a, b)` or `[a, b]`.
    Tuple(Vec<Value>),
    /// A bare word (e.g. `same`).
    Word(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v:?}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Null => write!(f, "None"),
            Value::Word(w) => write!(f, "{w}"),
            Value::Tuple(vs) => {
                let parts: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
                write!(f, "({})", parts.join(", "))
            }
        }
    }
}

/// Arguments as written: positional, then named.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args {
    /// Positional values in order.
    pub positional: Vec<Value>,
    /// `name=value` pairs in order.
    pub named: Vec<(String, Value)>,
}

/// Arguments bound to a layer's parameter names.
#[derive(Debug)]
pub struct Bound {
    layer: &'static str,
    values: HashMap<&'static str, Value>,
}

fn bad(layer: &str, detail: String) -> Error {
    Error::InvalidArgument { what: format!("model: {layer}"), detail }
}

impl Args {
    /// Binds the arguments to `names`: positional ones in order, named ones by name. Fails on
    /// too many positional values, an unknown or repeated name (with the nearest known one).
    pub fn bind(self, layer: &'static str, names: &[&'static str]) -> Result<Bound> {
        if self.positional.len() > names.len() {
            return Err(bad(
                layer,
                format!(
                    "takes at most {} positional arguments ({}), got {}",
                    names.len(),
                    names.join(", "),
                    self.positional.len()
                ),
            ));
        }
        let mut values: HashMap<&'static str, Value> = HashMap::new();
        for (name, v) in names.iter().zip(self.positional) {
            values.insert(name, v);
        }
        for (name, v) in self.named {
            let Some(&known) = names.iter().find(|n| **n == name) else {
                let near = names
                    .iter()
                    .min_by_key(|n| strsim::levenshtein(n, &name))
                    .filter(|n| strsim::levenshtein(n, &name) <= 3);
                let hint = near.map(|n| format!("; did you mean {n}?")).unwrap_or_default();
                let list = if names.is_empty() { "none".to_string() } else { names.join(", ") };
                return Err(bad(layer, format!("unknown argument {name:?}{hint} (it takes: {list})")));
            };
            if values.insert(known, v).is_some() {
                return Err(bad(layer, format!("argument {known} is given twice")));
            }
        }
        Ok(Bound { layer, values })
    }
}

impl Bound {
    fn err(&self, name: &str, v: &Value, want: &str) -> Error {
        bad(self.layer, format!("{name}={v} is out of range: {want}"))
    }

    /// A whole number ≥ `min`, or `default` when absent. A number written with a point or an
    /// exponent (`1e3`) is not a whole number, and one beyond 64 bits is too large: each is
    /// said as such rather than as out of range.
    pub fn int(&self, name: &str, min: i64, default: Option<i64>) -> Result<i64> {
        match self.values.get(name) {
            Some(Value::Int(v)) if *v >= min => Ok(*v),
            Some(Value::Float(v)) if v.fract() == 0.0 && v.abs() >= i64::MAX as f64 => {
                Err(bad(self.layer, format!("{name}={} is too large (max {})", Value::Float(*v), i64::MAX)))
            }
            Some(v @ Value::Float(x)) => {
                let hint = if x.fract() == 0.0 { format!(" (write {})", *x as i64) } else { String::new() };
                Err(bad(self.layer, format!("{name}={v} is not a whole number{hint}")))
            }
            Some(v) => Err(self.err(name, v, &format!("a whole number ≥ {min}"))),
            None => default.ok_or_else(|| bad(self.layer, format!("needs {name}"))),
        }
    }

    /// A whole number ≥ `min` as usize.
    pub fn size(&self, name: &str, min: usize, default: Option<usize>) -> Result<usize> {
        Ok(self.int(name, min as i64, default.map(|d| d as i64))? as usize)
    }

    /// A pair (height, width): one number for both, or `(h, w)`; each ≥ `min`.
    pub fn pair(&self, name: &str, min: usize, default: Option<[usize; 2]>) -> Result<[usize; 2]> {
        let one = |v: &Value| match v {
            Value::Int(x) if *x >= min as i64 => Some(*x as usize),
            _ => None,
        };
        match self.values.get(name) {
            None => default.ok_or_else(|| bad(self.layer, format!("needs {name}"))),
            Some(Value::Tuple(vs)) if vs.len() == 2 => match (one(&vs[0]), one(&vs[1])) {
                (Some(h), Some(w)) => Ok([h, w]),
                _ => Err(self.err(name, &Value::Tuple(vs.clone()), &format!("whole numbers ≥ {min}"))),
            },
            Some(v) => one(v)
                .map(|x| [x, x])
                .ok_or_else(|| self.err(name, v, &format!("a whole number ≥ {min} or a pair (h, w)"))),
        }
    }

    /// An optional finite number in `range` (None when absent).
    pub fn optional_float(&self, name: &str, range: std::ops::Range<f64>) -> Result<Option<f64>> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.float(name, range, 0.0).map(Some),
        }
    }

    /// A finite number in `range`, or `default`.
    pub fn float(&self, name: &str, range: std::ops::Range<f64>, default: f64) -> Result<f64> {
        match self.values.get(name) {
            None => Ok(default),
            Some(Value::Int(v)) if range.contains(&(*v as f64)) => Ok(*v as f64),
            Some(Value::Float(v)) if range.contains(v) => Ok(*v),
            Some(v) => Err(self.err(name, v, &format!("a number in [{}, {})", range.start, range.end))),
        }
    }

    /// `true` / `false`, or `default`.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool> {
        match self.values.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.err(name, v, "true or false")),
        }
    }

    /// A whole number ≥ 0, `None`, or absent (None).
    pub fn optional_size(&self, name: &str) -> Result<Option<usize>> {
        match self.values.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Int(v)) if *v >= 0 => Ok(Some(*v as usize)),
            Some(v) => Err(self.err(name, v, "a whole number ≥ 0 or None")),
        }
    }

    /// The raw value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }
}
