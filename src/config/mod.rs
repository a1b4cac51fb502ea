//! The environment file: parsing it, and checking it before anything is stored.
//! Every problem found is reported with its file, line, column, field and a fix.

mod diagnostic;
mod locate;
mod model;
mod resources;
mod validate;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use diagnostic::Diagnostic;
pub use locate::{render as render_path, Seg};
pub use model::*;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the environment file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more located problems; all of them are reported at once.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render_all(diags: &[Diagnostic]) -> String {
    let mut out = diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n\n");
    if diags.len() > 1 {
        out.push_str(&format!(
            "\n\n{} problems in the environment file",
            diags.len()
        ));
    }
    out
}

/// Reads and checks an environment file.
pub fn load(path: &Path) -> Result<EnvironmentFile, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &source)
}

/// Parses and checks the text of an environment file; `path` is only used in messages.
pub fn parse(path: &Path, source: &str) -> Result<EnvironmentFile, ConfigError> {
    let locator = locate::Locator::new(source);
    let file: EnvironmentFile = toml::from_str(source).map_err(|e| {
        ConfigError::Invalid(vec![validate::from_serde(path, source, &locator, &e)])
    })?;
    let problems = validate::check(&file);
    if problems.is_empty() {
        return Ok(file);
    }
    let mut diagnostics: Vec<Diagnostic> = problems
        .into_iter()
        .map(|p| {
            let span = if p.at_key {
                locator
                    .key_span_of(&p.path)
                    .or_else(|| locator.span_of(&p.path))
            } else {
                locator.span_of(&p.path)
            };
            let d = Diagnostic::new(
                path.to_owned(),
                source,
                span,
                render_path(&p.path),
                p.message,
            );
            match p.help {
                Some(h) => d.with_help(h),
                None => d,
            }
        })
        .collect();
    diagnostics.sort_by_key(|d| (d.line, d.column));
    Err(ConfigError::Invalid(diagnostics))
}
