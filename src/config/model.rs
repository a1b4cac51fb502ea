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
    /// Handlers resources can `notify`, by name.
    #[serde(default)]
    pub handlers: BTreeMap<String, HandlerSpec>,
    /// Secret variables: available like `vars`, never shown.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSpec>,
    /// A versioned application: `ferry release --version` installs releases of it.
    #[serde(default)]
    pub app: Option<AppSpec>,
}

/// An application deployed as versioned releases: `<root>/releases/<version>/`, with
/// `<root>/current` switched atomically and the last `keep` releases kept on disk.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// Where releases live on the hosts.
    pub root: String,
    /// Releases kept on each host (the current and previous ones always are).
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// Directories under `<root>/shared/` linked into every release (logs, data, config).
    #[serde(default)]
    pub shared: Vec<String>,
    /// Where a release's dist-manifest.json is: a path (relative to the environment file)
    /// or an http:// URL; `{version}` is replaced by the version.
    #[serde(default)]
    pub manifest: Option<String>,
    /// The variant of the artifacts to deploy (`complete` or `minimal`, as in the manifest).
    #[serde(default = "default_variant")]
    pub variant: String,
    /// The minisign public key artifacts must be signed with (the base64 line, `RW...`).
    #[serde(default)]
    pub public_key: Option<String>,
    /// Or: a minisign public key file, relative to the environment file.
    #[serde(default)]
    pub public_key_file: Option<String>,
    /// Handlers to run on a host after its `current` release was switched (release or rollback).
    #[serde(default)]
    pub notify: Vec<String>,
    /// Roles whose hosts get the app (every host when empty).
    #[serde(default)]
    pub roles: Vec<String>,
}

fn default_keep() -> usize {
    5
}

fn default_variant() -> String {
    "complete".to_owned()
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
    /// Run inside the root filesystem at `address` on this machine, with `chroot`.
    Chroot,
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
    /// A bastion to reach this host through, as `[user@]address[:port]` (like OpenSSH's
    /// ProxyJump); it is logged in to with this host's key and known_hosts.
    #[serde(default)]
    pub jump: Option<String>,
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

pub use super::resources::*;

/// A check run by `ferry test` (and by canary rollouts) on every host in scope.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub name: String,
    /// `command` (default), `http` or `tcp`.
    #[serde(default, rename = "type")]
    pub kind: CheckKind,
    /// `command`: passes when it exits 0 (and prints `contains`, if given).
    #[serde(default)]
    pub command: Option<String>,
    /// `http`: the URL to GET; `{host}` and `{address}` are replaced by the host's name and address.
    #[serde(default)]
    pub url: Option<String>,
    /// `http`: the expected status code (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// `http` and `command`: text the body or output must contain.
    #[serde(default)]
    pub contains: Option<String>,
    /// `tcp`: the port that must accept connections.
    #[serde(default)]
    pub port: Option<u16>,
    /// Where the check runs: `host` (default for `command`) or `controller` (default for `http`/`tcp`).
    #[serde(default)]
    pub from: Option<CheckFrom>,
    /// Seconds before the check counts as failed (default 10).
    #[serde(default)]
    pub timeout: Option<u64>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    #[default]
    Command,
    Http,
    Tcp,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CheckFrom {
    Host,
    Controller,
}

impl CheckSpec {
    pub fn runs_on_host(&self) -> bool {
        match self.from {
            Some(from) => from == CheckFrom::Host,
            None => self.kind == CheckKind::Command,
        }
    }
}

/// A handler: runs once per host after the step's resources, only when a resource that
/// `notify`s it changed.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HandlerSpec {
    /// A command to run.
    #[serde(default)]
    pub command: Option<String>,
    /// A service to restart (systemd or FreeBSD rc, chosen from the host's facts).
    #[serde(default)]
    pub service: Option<String>,
}

/// Where a secret's value comes from. Values never appear in the environment file,
/// and are redacted from plans, diffs, output, errors and the stored state.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    /// Read from this environment variable of the ferry process.
    #[serde(default)]
    pub env: Option<String>,
    /// Read from this file (relative to the environment file); one trailing newline is dropped.
    #[serde(default)]
    pub file: Option<String>,
}
