//! Resources: what an environment file declares, and how each type finds its way from
//! the explored state to the change that converges it.
//!
//! A resource asks for [`Probe`]s (run by the explore script), then `diff` decides —
//! purely, with no I/O — whether a [`Change`] is needed. An empty diff means converged.
//! Adding a type is one module here plus one line in [`from_spec`].

mod command;
mod directory;
mod file;

use serde::Serialize;
use thiserror::Error;

pub use command::Command;
pub use directory::Directory;
pub use file::File;

use crate::config::ResourceSpec;
use crate::engine::apply::Action;
use crate::engine::explore::{Probe, ProbeResult};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ResourceError {
    #[error("{id}: {path} exists but is a {found}, not a {wanted}")]
    WrongKind {
        id: String,
        path: String,
        found: String,
        wanted: &'static str,
    },
    #[error("{id}: the explore output did not answer its probes; this is a bug")]
    MissingProbe { id: String },
}

/// What applying a resource would change on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The resource, as `type:identity` (e.g. `file:/etc/app.conf`).
    pub resource: String,
    /// One line for people, e.g. "create (mode 0644, 12 bytes)".
    pub summary: String,
    /// A unified diff of the content, when there is one to show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(skip)]
    pub action: Action,
}

pub trait Resource: Send + Sync + std::fmt::Debug {
    /// `type:identity`; two declarations with the same id are the same object.
    fn id(&self) -> String;
    /// What the explore script must find out for [`Resource::diff`].
    fn probes(&self) -> Vec<Probe>;
    /// The change needed given the probes' results (same order as `probes`), if any.
    fn diff(&self, results: &[ProbeResult]) -> Result<Option<Change>, ResourceError>;
}

pub fn from_spec(spec: &ResourceSpec) -> Box<dyn Resource> {
    match spec {
        ResourceSpec::File(s) => Box::new(File::new(s)),
        ResourceSpec::Directory(s) => Box::new(Directory::new(s)),
        ResourceSpec::Command(s) => Box::new(Command::new(s)),
    }
}

/// Parses an octal mode written as text ("0644", "755"); `None` when it is not one.
pub fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.trim();
    if digits.is_empty() || digits.len() > 5 || !digits.chars().all(|c| ('0'..='7').contains(&c)) {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}

fn missing(id: String) -> ResourceError {
    ResourceError::MissingProbe { id }
}

#[cfg(test)]
mod tests {
    use super::parse_mode;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0644"), Some(0o644));
        assert_eq!(parse_mode("755"), Some(0o755));
        assert_eq!(parse_mode("4755"), Some(0o4755));
        assert_eq!(parse_mode("0999"), None);
        assert_eq!(parse_mode("rw-r--r--"), None);
        assert_eq!(parse_mode(""), None);
        assert_eq!(parse_mode("17777"), None);
    }
}
