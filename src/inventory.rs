//! Hosts and their roles: who is in an environment and which resources reach whom.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Connection, EnvironmentFile, HostSpec};

/// The name of the one host of the `local` provider.
pub const LOCAL_HOST: &str = "local";

/// A host as stored in an environment's state: where it is, its roles (resolved) and
/// the facts last explored on it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Host {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<String>,
    pub connection: Connection,
    /// `[user@]address[:port]` of a bastion in front of the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jump: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, toml::Value>,
    /// Facts from the last explore (os, arch, hostname, ...), when known.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
    /// What the last configure/release/run did on this host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRun>,
}

/// The cache of a host's last run, kept in the environment's state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LastRun {
    pub step: String,
    pub at: String,
    pub changes: usize,
    pub round_trips: u32,
    pub ok: bool,
    /// The changed resources, as `id: summary` (redacted like everything shown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LastRun {
    pub fn of(step: &str, report: &crate::engine::HostReport) -> Self {
        LastRun {
            step: step.to_owned(),
            at: crate::state::store::now(),
            changes: report.changes.len(),
            round_trips: report.round_trips,
            ok: report.succeeded(),
            changed: report
                .changes
                .iter()
                .map(|c| format!("{}: {}", c.change.resource, c.change.summary))
                .collect(),
            error: report.error.clone(),
        }
    }
}

impl Host {
    pub fn local() -> Self {
        Host {
            name: LOCAL_HOST.to_owned(),
            address: "localhost".to_owned(),
            port: 0,
            user: String::new(),
            key: None,
            known_hosts: None,
            connection: Connection::Local,
            jump: None,
            roles: Vec::new(),
            vars: BTreeMap::new(),
            facts: BTreeMap::new(),
            last_run: None,
        }
    }

    pub fn from_spec(spec: &HostSpec) -> Self {
        Host {
            name: spec.name.clone(),
            address: spec.address.clone(),
            port: spec.port,
            user: spec.user.clone(),
            key: spec.key.clone(),
            known_hosts: spec.known_hosts.clone(),
            connection: spec.connection,
            jump: spec.jump.clone(),
            roles: spec.roles.clone(),
            vars: spec.vars.clone(),
            facts: BTreeMap::new(),
            last_run: None,
        }
    }

    /// Whether a resource scoped to `roles` applies here (an empty scope means every host).
    pub fn in_scope(&self, roles: &[String]) -> bool {
        roles.is_empty() || roles.iter().any(|r| self.roles.contains(r))
    }
}

pub fn check_host_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the host name is empty".to_owned());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(format!("`{name}` is not a valid host name"));
    }
    Ok(())
}

/// Adds to each host the roles `[roles]` gives it by name or pattern; keeps order stable.
pub fn resolve_roles(file: &EnvironmentFile, hosts: &mut [Host]) {
    for host in hosts.iter_mut() {
        for (role, spec) in &file.roles {
            let member = spec.hosts.iter().any(|h| h == &host.name)
                || spec.patterns.iter().any(|p| wildcard_match(p, &host.name));
            if member && !host.roles.contains(role) {
                host.roles.push(role.clone());
            }
        }
        host.roles.sort();
        host.roles.dedup();
    }
}

/// Shell-style `*` and `?` matching, the whole name.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with backtracking to the last `*`: linear in practice, no recursion.
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("web-*", "web-1"));
        assert!(wildcard_match("web-?", "web-1"));
        assert!(!wildcard_match("web-?", "web-12"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*-db-*", "eu-db-01"));
        assert!(!wildcard_match("db", "db1"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
    }
}
