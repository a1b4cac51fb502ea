//! The environment file's data model, exactly as users write it in TOML.
//! `docs/environment.md` documents every field; keep the two in step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One environment file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentFile {
    /// Free text shown by `ferry status`.
    #[serde(default)]
    pub description: Option<String>,
    pub provider: Provider,
    /// Hosts of the `static` provider.
    #[serde(default)]
    pub hosts: Vec<HostSpec>,
    /// Roles: named groups of hosts, by explicit list or by name pattern.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleSpec>,
    /// Variables available to resources (commands see them as `FERRY_VAR_<NAME>`).
    #[serde(default)]
    pub vars: BTreeMap<String, toml::Value>,
    /// Resources applied by `ferry configure`.
    #[serde(default)]
    pub configure: Vec<ResourceSpec>,
    /// Resources applied by `ferry release`.
    #[serde(default)]
    pub release: Vec<ResourceSpec>,
    /// Resources applied by `ferry run`.
    #[serde(default)]
    pub run: Vec<ResourceSpec>,
    /// Checks run by `ferry test`.
    #[serde(default)]
    pub test: Vec<CheckSpec>,
}

/// Where the hosts come from and how they go away.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Provider {
    /// This machine, reached without SSH.
    Local {
        /// A command `ferry destroy` runs to clean up (optional).
        #[serde(default)]
        destroy: Option<String>,
    },
    /// Existing hosts listed under `[[hosts]]`.
    Static {},
    /// A user command (an OpenTofu apply, a script...) that creates the hosts and prints
    /// an inventory as JSON on stdout; `destroy` removes them.
    Command {
        provision: String,
        #[serde(default)]
        destroy: Option<String>,
        /// Working directory of both commands, relative to the environment file.
        #[serde(default)]
        workdir: Option<String>,
    },
}

impl Provider {
    pub fn kind(&self) -> &'static str {
        match self {
            Provider::Local { .. } => "local",
            Provider::Static {} => "static",
            Provider::Command { .. } => "command",
        }
    }
}

/// How ferry reaches a host.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Connection {
    #[default]
    Ssh,
    /// Run on the machine ferry runs on (useful for tests and single-machine setups).
    Local,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: String,
    pub address: String,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    #[serde(default = "default_user")]
    pub user: String,
    /// Private key file; without one, the SSH agent is asked.
    #[serde(default)]
    pub key: Option<String>,
    /// known_hosts file to verify the host key against (default: ~/.ssh/known_hosts).
    #[serde(default)]
    pub known_hosts: Option<String>,
    #[serde(default)]
    pub connection: Connection,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub vars: BTreeMap<String, toml::Value>,
}

pub fn default_ssh_port() -> u16 {
    22
}

pub fn default_user() -> String {
    "root".to_owned()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Host names in this role.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Name patterns (`*` and `?` wildcards) of hosts in this role.
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// A declared resource. `roles` scopes it to hosts in any of those roles (all hosts when empty).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ResourceSpec {
    File(FileSpec),
    Directory(DirectorySpec),
    Command(CommandSpec),
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    pub content: String,
    /// Octal mode such as "0644"; a new file gets 0644, an existing one keeps its mode.
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DirectorySpec {
    pub path: String,
    /// Octal mode such as "0755"; a new directory gets 0755.
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// A short name for plans and results; defaults to the command itself.
    #[serde(default)]
    pub name: Option<String>,
    pub command: String,
    /// Skip when this path exists on the host.
    #[serde(default)]
    pub creates: Option<String>,
    /// Skip when this command exits 0 on the host.
    #[serde(default)]
    pub unless: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A check run by `ferry test`: passes when the command exits 0 on every host in scope.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub name: String,
    pub command: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

impl ResourceSpec {
    pub fn roles(&self) -> &[String] {
        match self {
            ResourceSpec::File(s) => &s.roles,
            ResourceSpec::Directory(s) => &s.roles,
            ResourceSpec::Command(s) => &s.roles,
        }
    }
}
