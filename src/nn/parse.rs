//! The model-spec language: layers separated by spaces (or commas, or `->`), each a name with
//! optional arguments in parentheses, and containers `residual(...)` / `sequential(...)` that
//! hold a spec of their own:
//!
//! ```text
//! conv2d(32, 3, padding=1) batchnorm2d relu maxpool2d(2)
//! residual(conv2d(32, 3, padding=1) relu) flatten linear(10)
//! ```

use super::args::{Args, Value};
use crate::error::{Error, Result};

/// One parsed item: a layer name with arguments, or a container with its children.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The name as written (lowercase).
    pub name: String,
    /// Arguments (empty for a container).
    pub args: Args,
    /// A container's children.
    pub children: Option<Vec<Item>>,
    /// The item as written, for error messages.
    pub text: String,
}

/// The container names.
pub const CONTAINERS: &[&str] = &["residual", "sequential"];

struct Lexer<'a> {
    src: &'a str,
    chars: Vec<char>,
    pos: usize,
    /// Containers and tuples open at `pos`.
    depth: usize,
}

/// The deepest nesting of containers (and of tuples in arguments) a spec may have: far beyond
/// any real model, well within the stack.
pub const MAX_DEPTH: usize = 64;

fn err(detail: String) -> Error {
    Error::InvalidArgument { what: "model".into(), detail }
}

/// Parses a whole spec.
pub fn parse(src: &str) -> Result<Vec<Item>> {
    let mut lx = Lexer { src, chars: src.chars().collect(), pos: 0, depth: 0 };
    let items = lx.list(None)?;
    if items.is_empty() {
        return Err(err("the spec has no layer".into()));
    }
    Ok(items)
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_separators(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ',' {
                self.pos += 1;
            } else if c == '-' && self.chars.get(self.pos + 1) == Some(&'>') {
                self.pos += 2;
            } else {
                break;
            }
        }
    }

    /// One level deeper (a container or a tuple opens), refused past [`MAX_DEPTH`] so a
    /// runaway nesting is an error instead of a stack overflow.
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(format!(
                "the spec nests more than {MAX_DEPTH} levels deep (at character {}); flatten it (a \
                 sequential(...) inside a sequential(...) adds nothing)",
                self.pos
            )));
        }
        Ok(())
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn here(&self) -> String {
        let rest: String = self.chars[self.pos.min(self.chars.len())..].iter().take(20).collect();
        format!("at character {} ({rest:?}) of {:?}", self.pos + 1, self.src)
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect::<String>().to_ascii_lowercase()
    }

    fn list(&mut self, closing: Option<char>) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            self.skip_separators();
            match (self.peek(), closing) {
                (None, None) => return Ok(items),
                (None, Some(c)) => {
                    return Err(err(format!("a container is missing its closing {c:?} in {:?}", self.src)))
                }
                (Some(c), Some(close)) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => {}
            }
            let start = self.pos;
            let name = self.ident();
            if name.is_empty() {
                return Err(err(format!("expected a layer name {}", self.here())));
            }
            let mut item = Item { name, args: Args::default(), children: None, text: String::new() };
            if CONTAINERS.contains(&item.name.as_str()) {
                self.skip_ws();
                if self.peek() != Some('(') {
                    return Err(err(format!("{} needs its layers in parentheses {}", item.name, self.here())));
                }
                self.pos += 1;
                self.enter()?;
                item.children = Some(self.list(Some(')'))?);
                self.depth -= 1;
            } else if self.peek() == Some('(') {
                self.pos += 1;
                item.args = self.args()?;
            }
            item.text = self.chars[start..self.pos].iter().collect();
            items.push(item);
        }
    }

    fn args(&mut self) -> Result<Args> {
        let mut args = Args::default();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(')') => {
                    self.pos += 1;
                    return Ok(args);
                }
                Some(',') => {
                    self.pos += 1;
                    continue;
                }
                None => return Err(err(format!("missing ')' in {:?}", self.src))),
                _ => {}
            }
            // `name=value` or a positional value.
            let save = self.pos;
            let word = self.ident();
            self.skip_ws();
            if !word.is_empty() && self.peek() == Some('=') {
                self.pos += 1;
                self.skip_ws();
                let v = self.value()?;
                args.named.push((word, v));
            } else {
                if !args.named.is_empty() {
                    return Err(err(format!("a positional argument follows a named one {}", self.here())));
                }
                self.pos = save;
                let v = self.value()?;
                args.positional.push(v);
            }
        }
    }

    fn value(&mut self) -> Result<Value> {
        self.skip_ws();
        match self.peek() {
            Some(open @ ('(' | '[')) => {
                let close = if open == '(' { ')' } else { ']' };
                self.pos += 1;
                self.enter()?;
                let mut vs = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(c) if c == close => {
                            self.pos += 1;
                            self.depth -= 1;
                            return Ok(Value::Tuple(vs));
                        }
                        Some(',') => self.pos += 1,
                        None => return Err(err(format!("missing {close:?} in {:?}", self.src))),
                        _ => vs.push(self.value()?),
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let start = self.pos;
                self.pos += 1;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')) {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                if let Ok(i) = text.parse::<i64>() {
                    return Ok(Value::Int(i));
                }
                text.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .map(Value::Float)
                    .ok_or_else(|| err(format!("{text:?} is not a number {}", self.here())))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let word = self.ident();
                Ok(match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "none" | "null" => Value::Null,
                    _ => Value::Word(word),
                })
            }
            _ => Err(err(format!("expected a value {}", self.here()))),
        }
    }
}
