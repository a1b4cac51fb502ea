//! The execution model: per host, one explore call, a local diff, and (when something
//! changes and this is not a dry run) one apply call — a constant number of round trips
//! whatever the number of resources. Hosts run in parallel.

pub mod apply;
pub mod explore;
pub mod script;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::config::{CheckSpec, Connection};
use crate::inventory::Host;
use crate::resource::{Change, Resource};
use crate::transport::local::LocalTransport;
use crate::transport::ssh::{SshTarget, SshTransport};
use crate::transport::Transport;
use apply::Outcome;

/// What the run is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Explore and diff only (`ferry plan`, `--dry-run`).
    Plan,
    Apply,
}

/// One change, and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeReport {
    #[serde(flatten)]
    pub change: Change,
    /// `None` in a plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// Everything that happened on one host.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub host: String,
    pub round_trips: u32,
    pub changes: Vec<ChangeReport>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl HostReport {
    fn new(host: &str) -> Self {
        HostReport {
            host: host.to_owned(),
            round_trips: 0,
            changes: Vec::new(),
            facts: BTreeMap::new(),
            error: None,
        }
    }

    /// Whether everything planned or applied went through.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && self
                .changes
                .iter()
                .all(|c| matches!(c.outcome, None | Some(Outcome::Ok | Outcome::Unchanged)))
    }
}

/// What every host of one run shares.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub environment: String,
    pub vars: BTreeMap<String, toml::Value>,
}

/// Opens the transport for a host. Every connection a run makes goes through here.
pub async fn connect(host: &Host) -> Result<Transport, String> {
    match host.connection {
        Connection::Local => Ok(Transport::Local(LocalTransport)),
        Connection::Ssh => {
            let mut target =
                SshTarget::new(host.name.clone(), host.address.clone(), host.user.clone());
            target.port = host.port;
            target.key = host.key.as_deref().map(expand_home);
            target.known_hosts = host.known_hosts.as_deref().map(expand_home);
            SshTransport::connect(&target)
                .await
                .map(Transport::Ssh)
                .map_err(|e| e.to_string())
        }
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

fn exports_for(ctx: &RunContext, host: &Host) -> String {
    let mut vars = ctx.vars.clone();
    vars.extend(host.vars.clone());
    script::exports(&ctx.environment, &host.name, &vars)
}

/// Converges every host (in parallel) to the resources in its scope.
pub async fn converge_all(
    ctx: &RunContext,
    hosts: &[Host],
    resources: Vec<(Vec<String>, Arc<dyn Resource>)>,
    mode: Mode,
) -> Vec<HostReport> {
    let mut set = tokio::task::JoinSet::new();
    for (i, host) in hosts.iter().enumerate() {
        let scoped: Vec<Arc<dyn Resource>> = resources
            .iter()
            .filter(|(roles, _)| host.in_scope(roles))
            .map(|(_, r)| r.clone())
            .collect();
        let (ctx, host) = (ctx.clone(), host.clone());
        set.spawn(async move { (i, converge(&ctx, &host, &scoped, mode).await) });
    }
    collect(set, hosts.len()).await
}

async fn collect<T: 'static>(mut set: tokio::task::JoinSet<(usize, T)>, n: usize) -> Vec<T> {
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (i, report) = joined.expect("a host task panicked; this is a bug");
        slots[i] = Some(report);
    }
    slots
        .into_iter()
        .map(|s| s.expect("every host reports; this is a bug"))
        .collect()
}

/// Explore, diff and (in apply mode) apply on one host.
pub async fn converge(
    ctx: &RunContext,
    host: &Host,
    resources: &[Arc<dyn Resource>],
    mode: Mode,
) -> HostReport {
    let mut report = HostReport::new(&host.name);
    let transport = match connect(host).await {
        Ok(t) => t,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let exports = exports_for(ctx, host);
    let probes: Vec<_> = resources.iter().map(|r| r.probes()).collect();
    report.round_trips += 1;
    let explored = match transport
        .exec(&explore::script(&exports, &probes), Vec::new())
        .await
    {
        Ok(out) if out.success() => explore::parse(&out.stdout, &probes),
        Ok(out) => Err(format!(
            "the explore script failed ({}): {}",
            status_text(out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(e.to_string()),
    };
    let explored = match explored {
        Ok(e) => e,
        Err(e) => {
            report.error = Some(format!("explore: {e}"));
            return report;
        }
    };
    report.facts = explored.facts.clone();
    let mut changes = Vec::new();
    for (resource, results) in resources.iter().zip(&explored.results) {
        match resource.diff(results) {
            Ok(Some(change)) => changes.push(change),
            Ok(None) => {}
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        }
    }
    if mode == Mode::Plan || changes.is_empty() {
        report.changes = changes
            .into_iter()
            .map(|change| ChangeReport {
                change,
                outcome: None,
                output: None,
            })
            .collect();
        return report;
    }
    let actions: Vec<_> = changes.iter().map(|c| c.action.clone()).collect();
    let (script, payload) = apply::build(&exports, &actions);
    report.round_trips += 1;
    let results = match transport.exec(&script, payload).await {
        Ok(out) => apply::parse(&out.stdout, actions.len()).map_err(|e| {
            let stderr = String::from_utf8_lossy(&out.stderr);
            format!(
                "apply: {e} ({}){}",
                status_text(out.status),
                if stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", stderr.trim())
                }
            )
        }),
        Err(e) => Err(format!("apply: {e}")),
    };
    match results {
        Ok(results) => {
            report.changes = changes
                .into_iter()
                .zip(results)
                .map(|(change, (outcome, output))| ChangeReport {
                    change,
                    outcome: Some(outcome),
                    output: output.map(|o| String::from_utf8_lossy(&o).into_owned()),
                })
                .collect();
        }
        Err(e) => {
            report.changes = changes
                .into_iter()
                .map(|change| ChangeReport {
                    change,
                    outcome: None,
                    output: None,
                })
                .collect();
            report.error = Some(e);
        }
    }
    report
}

fn status_text(status: Option<i32>) -> String {
    match status {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_owned(),
    }
}

/// Facts of one host, from an explore call with no resources.
pub async fn facts(ctx: &RunContext, host: &Host) -> Result<BTreeMap<String, String>, String> {
    let report = converge(ctx, host, &[], Mode::Plan).await;
    match report.error {
        Some(e) => Err(e),
        None => Ok(report.facts),
    }
}

/// The result of one check on one host.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub status: Option<i32>,
    pub output: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub host: String,
    pub round_trips: u32,
    pub checks: Vec<CheckResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.checks.iter().all(|c| c.passed)
    }
}

/// Runs every check in scope on every host: one round trip per host.
pub async fn check_all(ctx: &RunContext, hosts: &[Host], checks: &[CheckSpec]) -> Vec<CheckReport> {
    let mut set = tokio::task::JoinSet::new();
    for (i, host) in hosts.iter().enumerate() {
        let scoped: Vec<CheckSpec> = checks
            .iter()
            .filter(|c| host.in_scope(&c.roles))
            .cloned()
            .collect();
        let (ctx, host) = (ctx.clone(), host.clone());
        set.spawn(async move { (i, check_host(&ctx, &host, &scoped).await) });
    }
    collect(set, hosts.len()).await
}

async fn check_host(ctx: &RunContext, host: &Host, checks: &[CheckSpec]) -> CheckReport {
    let mut report = CheckReport {
        host: host.name.clone(),
        round_trips: 0,
        checks: Vec::new(),
        error: None,
    };
    if checks.is_empty() {
        return report;
    }
    let transport = match connect(host).await {
        Ok(t) => t,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let mut s = String::from(script::PRELUDE);
    s.push_str(&exports_for(ctx, host));
    s.push_str(
        "_out=$(mktemp \"${TMPDIR:-/tmp}/ferry.XXXXXX\") || exit 90\ntrap 'rm -f \"$_out\"' EXIT\n",
    );
    for (i, check) in checks.iter().enumerate() {
        s.push_str(&format!(
            "if ( {}\n) </dev/null >\"$_out\" 2>&1; then _rc=0; else _rc=$?; fi\n_blob \"T {i} $_rc\" \"$_out\"\n",
            check.command
        ));
    }
    report.round_trips += 1;
    let out = match transport.exec(&s, Vec::new()).await {
        Ok(out) => out,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let mut results: Vec<Option<(i32, String)>> = vec![None; checks.len()];
    let mut rest = &out.stdout[..];
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        let parts: Vec<&str> = line.split(' ').collect();
        if let ["T", i, rc, len] = parts[..] {
            let (Ok(i), Ok(rc), Ok(len)) =
                (i.parse::<usize>(), rc.parse::<i32>(), len.parse::<usize>())
            else {
                break;
            };
            if rest.len() < len + 1 || i >= results.len() {
                break;
            }
            results[i] = Some((rc, String::from_utf8_lossy(&rest[..len]).into_owned()));
            rest = &rest[len + 1..];
        }
    }
    for (check, result) in checks.iter().zip(results) {
        match result {
            Some((rc, output)) => report.checks.push(CheckResult {
                name: check.name.clone(),
                passed: rc == 0,
                status: Some(rc),
                output,
            }),
            None => {
                report.error = Some(format!(
                    "the check script stopped before `{}` ({})",
                    check.name,
                    status_text(out.status)
                ));
                break;
            }
        }
    }
    report
}
