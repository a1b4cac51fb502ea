//! A configuration problem, located: file, line, column, the field, what is wrong and
//! how to fix it, rendered with the offending line underneath like a compiler error.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no place in the file (e.g. a missing table).
    pub line: usize,
    pub column: usize,
    /// Dotted path of the field, e.g. `configure[1].mode`; empty for syntax errors.
    pub field: String,
    pub message: String,
    pub help: Option<String>,
    /// The source line the problem is on, and the columns to underline.
    #[serde(skip)]
    snippet: Option<(String, Range<usize>)>,
}

impl Diagnostic {
    pub fn new(
        file: PathBuf,
        source: &str,
        span: Option<Range<usize>>,
        field: String,
        message: String,
    ) -> Self {
        let (line, column, snippet) = match span {
            Some(span) => {
                let (line, column) = line_column(source, span.start);
                let text = source.lines().nth(line - 1).unwrap_or("").to_owned();
                // Underline at most to the end of this line, at least one character.
                let start = column - 1;
                let len = span
                    .len()
                    .max(1)
                    .min(text.chars().count().saturating_sub(start).max(1));
                (line, column, Some((text, start..start + len)))
            }
            None => (0, 0, None),
        };
        Diagnostic {
            file,
            line,
            column,
            field,
            message,
            help: None,
            snippet,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match (self.line, self.field.is_empty()) {
            (0, true) => write!(f, "{file}: {}", self.message)?,
            (0, false) => write!(f, "{file}: `{}`: {}", self.field, self.message)?,
            (_, true) => write!(f, "{file}:{}:{}: {}", self.line, self.column, self.message)?,
            (_, false) => write!(
                f,
                "{file}:{}:{}: `{}`: {}",
                self.line, self.column, self.field, self.message
            )?,
        }
        if let Some((text, cols)) = &self.snippet {
            let gutter = self.line.to_string().len();
            write!(
                f,
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {}{}",
                "",
                self.line,
                text,
                "",
                " ".repeat(cols.start),
                "^".repeat(cols.len())
            )?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}
