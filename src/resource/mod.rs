//! Resources: what an environment file declares, and how each type finds its way from
//! the explored state to the change that converges it.
//!
//! A resource asks for [`Probe`]s (run by the explore script), then `diff` decides —
//! purely, with no I/O — whether a [`Change`] is needed. An empty diff means converged.
//! Adding a type is one module here plus one line in [`from_spec`].

mod account;
pub mod app;
mod attrs;
mod command;
mod directory;
mod file;
mod package;
mod service;
mod symlink;
pub mod template;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use thiserror::Error;

use crate::config::ResourceSpec;
use crate::engine::apply::Action;
use crate::engine::explore::{Probe, ProbeResult};
use crate::inventory::Host;

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
    #[error("{id}: cannot read {path}: {reason}")]
    Source {
        id: String,
        path: String,
        reason: String,
    },
    #[error("{id}: {message}")]
    Template { id: String, message: String },
    #[error("{id}: {what} `{name}` does not exist on the host")]
    NoSuchAccount {
        id: String,
        what: &'static str,
        name: String,
    },
    #[error("{id}: {message}")]
    Unsupported { id: String, message: String },
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

/// What a diff may look at besides its probes: the host, its facts and the variables.
pub struct HostContext<'a> {
    pub environment: &'a str,
    pub host: &'a Host,
    pub facts: &'a BTreeMap<String, String>,
    /// Environment variables, then the host's (which win).
    pub vars: &'a BTreeMap<String, toml::Value>,
    pub secrets: &'a BTreeMap<String, String>,
}

pub trait Resource: Send + Sync + std::fmt::Debug {
    /// `type:identity`; two declarations with the same id are the same object.
    fn id(&self) -> String;
    /// What the explore script must find out for [`Resource::diff`].
    fn probes(&self) -> Vec<Probe>;
    /// The change needed given the probes' results (same order as `probes`), if any.
    fn diff(
        &self,
        results: &[ProbeResult],
        ctx: &HostContext,
    ) -> Result<Option<Change>, ResourceError>;
}

/// Builds the resource a declaration describes. `base` is the environment file's
/// directory, against which `source` paths resolve.
pub fn from_spec(spec: &ResourceSpec, base: &Path) -> Result<Box<dyn Resource>, ResourceError> {
    Ok(match spec {
        ResourceSpec::File(s) => Box::new(file::File::from_file_spec(s, base)?),
        ResourceSpec::Template(s) => Box::new(file::File::from_template_spec(s, base)?),
        ResourceSpec::Directory(s) => Box::new(directory::Directory::new(s)),
        ResourceSpec::Symlink(s) => Box::new(symlink::Symlink::new(s)),
        ResourceSpec::Command(s) => Box::new(command::Command::new(s)),
        ResourceSpec::Package(s) => Box::new(package::Package::new(s)),
        ResourceSpec::Service(s) => Box::new(service::Service::new(s)),
        ResourceSpec::User(s) => Box::new(account::User::new(s)),
        ResourceSpec::Group(s) => Box::new(account::Group::new(s)),
    })
}

/// The command that restarts service `name` on a host with these facts, if it has a
/// service manager ferry knows.
pub fn service_restart(name: &str, facts: &BTreeMap<String, String>) -> Option<String> {
    service::restart(name, facts)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    file::hex(&sha2::Sha256::digest(bytes))
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

pub(crate) fn kind_name(kind: &str) -> String {
    match kind {
        "dir" => "directory".to_owned(),
        "link" => "symbolic link".to_owned(),
        "other" => "special file".to_owned(),
        k => k.to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn with_ctx<T>(facts: &[(&str, &str)], f: impl FnOnce(&HostContext) -> T) -> T {
        let host = Host::local();
        let facts: BTreeMap<String, String> = facts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let vars = BTreeMap::from([("port".to_owned(), toml::Value::Integer(8080))]);
        let secrets = BTreeMap::new();
        f(&HostContext {
            environment: "test",
            host: &host,
            facts: &facts,
            vars: &vars,
            secrets: &secrets,
        })
    }
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
