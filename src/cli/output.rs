//! How results reach the user: text for people, JSON for scripts, progress on stderr.

use serde::Serialize;

use super::args::GlobalArgs;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub verbose: u8,
}

impl Output {
    pub fn new(g: &GlobalArgs) -> Self {
        Output {
            json: g.json,
            quiet: g.quiet,
            verbose: g.verbose,
        }
    }

    /// A progress line on stderr (not in JSON mode's stdout, not with -q).
    pub fn progress(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }

    /// Detail shown with -v.
    pub fn detail(&self, line: impl AsRef<str>) {
        if self.verbose > 0 {
            eprintln!("{}", line.as_ref());
        }
    }

    /// The command's result: `value` as JSON with --json, else `text` (when not empty).
    pub fn result<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        let mut text = if self.json {
            serde_json::to_string_pretty(value).expect("results always serialise; this is a bug")
        } else {
            text()
        };
        if text.is_empty() {
            return;
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        // A closed pipe (`ferry list | head -1`) is no reason to panic: the reader has
        // what it wanted.
        use std::io::Write;
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}
