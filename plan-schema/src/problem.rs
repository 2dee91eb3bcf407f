//! A located problem in a plan: which layer found it, where (JSON pointer, line), and what.

use std::fmt;

/// Which layer found a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Schema,
    Semantic,
}

/// One problem in a plan, located by JSON pointer (and line when read from a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub layer: Layer,
    /// JSON pointer into the plan, e.g. `/steps/3/depends_on/0`; empty for the whole plan.
    pub pointer: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        let at = if self.pointer.is_empty() {
            "(plan)"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

impl Problem {
    /// A semantic problem at a JSON pointer (its line is filled in by the reader).
    pub fn semantic(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            layer: Layer::Semantic,
            pointer: pointer.into(),
            line: None,
            message: message.into(),
        }
    }
}
