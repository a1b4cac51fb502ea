//! Providers: where an environment's hosts come from (`provision`) and how they go away
//! (`destroy`).
//!
//! - `local`: this machine, one host named `local`.
//! - `static`: existing hosts from `[[hosts]]`; provisioning checks each one answers.
//! - `command`: a user command creates the hosts and prints an inventory on stdout:
//!   `{"hosts": [{"name": "web-1", "address": "10.0.0.5", "roles": ["web"]}, ...]}`
//!   (each host takes the fields of a `[[hosts]]` table).

use std::path::Path;
use std::process::Stdio;

use serde::Deserialize;
use thiserror::Error;

use crate::config::{EnvironmentFile, HostSpec, Provider};
use crate::engine::{self, RunContext};
use crate::inventory::{self, Host};

#[derive(Debug, Error)]
pub enum ProviderError {
    #[error("cannot start the {which} command `{command}`: {source}")]
    Spawn {
        which: &'static str,
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the {which} command `{command}` failed ({status}){stderr}")]
    Failed {
        which: &'static str,
        command: String,
        status: String,
        stderr: String,
    },
    #[error("the provision command printed an inventory ferry cannot read: {0}")]
    Inventory(String),
    #[error("host `{host}` is not reachable: {reason}")]
    Unreachable { host: String, reason: String },
}

impl ProviderError {
    pub fn help(&self) -> Option<String> {
        match self {
            ProviderError::Inventory(_) => Some(
                "print JSON like {\"hosts\": [{\"name\": \"web-1\", \"address\": \"10.0.0.5\"}]} on stdout, and everything else on stderr".into(),
            ),
            ProviderError::Unreachable { .. } => Some("check the host's address, port, user and key in the environment file, then run the command again".into()),
            _ => None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inventory {
    hosts: Vec<HostSpec>,
}

/// Creates or finds the hosts, and explores each one's facts.
pub async fn provision(
    file: &EnvironmentFile,
    ctx: &RunContext,
    config_dir: &Path,
) -> Result<Vec<Host>, ProviderError> {
    let mut hosts = match &file.provider {
        Provider::Local { .. } => vec![Host::local()],
        Provider::Static {} => file.hosts.iter().map(Host::from_spec).collect(),
        Provider::Command {
            provision, workdir, ..
        } => {
            let stdout = run_command(
                "provision",
                provision,
                &workdir_of(config_dir, workdir.as_deref()),
                ctx,
            )
            .await?;
            parse_inventory(&stdout)?
        }
    };
    inventory::resolve_roles(file, &mut hosts);
    let mut set = tokio::task::JoinSet::new();
    for (i, host) in hosts.iter().enumerate() {
        let (ctx, host) = (ctx.clone(), host.clone());
        set.spawn(async move { (i, engine::facts(&ctx, &host).await) });
    }
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        let (i, facts) = joined.expect("a provisioning task panicked; this is a bug");
        match facts {
            Ok(f) => hosts[i].facts = f,
            Err(reason) => {
                first_error.get_or_insert(ProviderError::Unreachable {
                    host: hosts[i].name.clone(),
                    reason,
                });
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(hosts),
    }
}

/// Removes what provisioning created (nothing for `static`).
pub async fn destroy(
    file: &EnvironmentFile,
    ctx: &RunContext,
    config_dir: &Path,
) -> Result<(), ProviderError> {
    let (command, workdir) = match &file.provider {
        Provider::Local { destroy } => (destroy.as_deref(), None),
        Provider::Static {} => (None, None),
        Provider::Command {
            destroy, workdir, ..
        } => (destroy.as_deref(), workdir.as_deref()),
    };
    if let Some(command) = command {
        run_command("destroy", command, &workdir_of(config_dir, workdir), ctx).await?;
    }
    Ok(())
}

fn workdir_of(config_dir: &Path, workdir: Option<&str>) -> std::path::PathBuf {
    match workdir {
        Some(w) => config_dir.join(w),
        None => config_dir.to_owned(),
    }
}

fn parse_inventory(stdout: &[u8]) -> Result<Vec<Host>, ProviderError> {
    let inv: Inventory =
        serde_json::from_slice(stdout).map_err(|e| ProviderError::Inventory(e.to_string()))?;
    let mut names = std::collections::BTreeSet::new();
    for h in &inv.hosts {
        inventory::check_host_name(&h.name).map_err(ProviderError::Inventory)?;
        if !names.insert(h.name.as_str()) {
            return Err(ProviderError::Inventory(format!(
                "host `{}` is listed twice",
                h.name
            )));
        }
    }
    Ok(inv.hosts.iter().map(Host::from_spec).collect())
}

/// Runs a provider command with `sh -c`; its stderr goes to the user, its stdout is returned.
async fn run_command(
    which: &'static str,
    command: &str,
    workdir: &Path,
    ctx: &RunContext,
) -> Result<Vec<u8>, ProviderError> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(workdir)
        .env("FERRY_ENV", &ctx.environment);
    for (name, value) in &ctx.vars {
        let text = match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        cmd.env(format!("FERRY_VAR_{}", name.to_ascii_uppercase()), text);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ProviderError::Spawn {
            which,
            command: command.to_owned(),
            source,
        })?;
    // Pass stderr through as it comes (an OpenTofu apply talks for minutes), keeping the
    // tail for the error message.
    let stderr = child
        .stderr
        .take()
        .expect("stderr was requested as piped; this is a bug");
    let tee = tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let mut tail = std::collections::VecDeque::new();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("  | {line}");
            if tail.len() == 20 {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        Vec::from(tail).join("\n")
    });
    let out = child
        .wait_with_output()
        .await
        .map_err(|source| ProviderError::Spawn {
            which,
            command: command.to_owned(),
            source,
        })?;
    let stderr = tee.await.unwrap_or_default();
    if !out.status.success() {
        let status = match out.status.code() {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_owned(),
        };
        let stderr = if stderr.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", stderr.trim())
        };
        return Err(ProviderError::Failed {
            which,
            command: command.to_owned(),
            status,
            stderr,
        });
    }
    Ok(out.stdout)
}
