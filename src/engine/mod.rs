//! The execution model: per host, one explore call, a local diff, and (when something
//! changes and this is not a dry run) one apply call — a constant number of round trips
//! whatever the number of resources. Hosts run in parallel (see `rollout`).

pub mod apply;
pub mod checks;
pub mod explore;
pub mod redact;
pub mod rollout;
pub mod script;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::config::{Connection, HandlerSpec};
use crate::inventory::Host;
use crate::resource::{Change, HostContext, Resource};
use crate::transport::chroot::ChrootTransport;
use crate::transport::local::LocalTransport;
use crate::transport::ssh::{SshTarget, SshTransport};
use crate::transport::Transport;
use apply::{HandlerRun, Outcome};
use redact::Redactor;

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

/// A handler that fired (or, in a plan, would fire).
#[derive(Debug, Clone, Serialize)]
pub struct HandlerReport {
    pub handler: String,
    pub command: String,
    /// `None` in a plan; `ok` or the failure.
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<HandlerReport>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set when a rollout stopped before this host's turn.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_started: bool,
}

impl HostReport {
    pub fn new(host: &str) -> Self {
        HostReport {
            host: host.to_owned(),
            round_trips: 0,
            changes: Vec::new(),
            handlers: Vec::new(),
            facts: BTreeMap::new(),
            error: None,
            not_started: false,
        }
    }

    /// Whether everything planned or applied went through.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && !self.not_started
            && self
                .changes
                .iter()
                .all(|c| matches!(c.outcome, None | Some(Outcome::Ok | Outcome::Unchanged)))
            && self
                .handlers
                .iter()
                .all(|h| matches!(h.outcome, None | Some(Outcome::Ok)))
    }

    fn redact(&mut self, r: &Redactor) {
        for c in &mut self.changes {
            r.redact_in_place(&mut c.change.summary);
            if let Some(d) = &mut c.change.diff {
                r.redact_in_place(d);
            }
            if let Some(o) = &mut c.output {
                r.redact_in_place(o);
            }
            if let Some(Outcome::Failed { reason } | Outcome::Conflict { current: reason }) =
                &mut c.outcome
            {
                r.redact_in_place(reason);
            }
        }
        for h in &mut self.handlers {
            r.redact_in_place(&mut h.command);
            if let Some(o) = &mut h.output {
                r.redact_in_place(o);
            }
        }
        if let Some(e) = &mut self.error {
            r.redact_in_place(e);
        }
    }
}

/// What every host of one run shares.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    pub environment: String,
    pub vars: BTreeMap<String, toml::Value>,
    pub secrets: BTreeMap<String, String>,
    pub handlers: BTreeMap<String, HandlerSpec>,
    /// Trust (and record) the host key of SSH hosts not yet in known_hosts.
    pub accept_new_host_keys: bool,
    /// Extra facts explore reports: (name, shell command printing one line).
    pub fact_commands: Vec<(String, String)>,
}

impl RunContext {
    pub fn redactor(&self) -> Redactor {
        Redactor::new(self.secrets.values())
    }
}

/// A resource with what the executor needs to know besides the resource itself.
#[derive(Debug, Clone)]
pub struct Entry {
    pub roles: Vec<String>,
    pub notify: Vec<String>,
    pub resource: Arc<dyn Resource>,
}

/// Opens the transport for a host. Every connection a run makes goes through here.
pub async fn connect(host: &Host, ctx: &RunContext) -> Result<Transport, String> {
    match host.connection {
        Connection::Local => Ok(Transport::Local(LocalTransport)),
        Connection::Chroot => ChrootTransport::open(&host.address)
            .map(Transport::Chroot)
            .map_err(|e| format!("{}: {e}", host.name)),
        Connection::Ssh => {
            let mut target =
                SshTarget::new(host.name.clone(), host.address.clone(), host.user.clone());
            target.port = host.port;
            target.key = host.key.as_deref().map(expand_home);
            target.known_hosts = host.known_hosts.as_deref().map(expand_home);
            target.accept_new_host_key = ctx.accept_new_host_keys;
            if let Some(jump) = &host.jump {
                target.jump = Some(Box::new(target.jump_host(jump)?));
            }
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

/// Environment variables merged with the host's, which win.
fn host_vars(ctx: &RunContext, host: &Host) -> BTreeMap<String, toml::Value> {
    let mut vars = ctx.vars.clone();
    vars.extend(host.vars.clone());
    vars
}

fn exports_for(ctx: &RunContext, host: &Host) -> String {
    script::exports(&ctx.environment, &host.name, &host_vars(ctx, host))
}

/// Explore, diff and (in apply mode) apply on one host, over an open transport.
pub async fn converge(
    ctx: &RunContext,
    host: &Host,
    transport: &Transport,
    entries: &[Entry],
    mode: Mode,
) -> HostReport {
    let mut report = HostReport::new(&host.name);
    converge_into(ctx, host, transport, entries, mode, &mut report).await;
    report.redact(&ctx.redactor());
    report
}

async fn converge_into(
    ctx: &RunContext,
    host: &Host,
    transport: &Transport,
    entries: &[Entry],
    mode: Mode,
    report: &mut HostReport,
) {
    let exports = exports_for(ctx, host);
    let secrets = script::secret_exports(&ctx.secrets);
    let probes: Vec<_> = entries.iter().map(|e| e.resource.probes()).collect();
    let facts = explore::fact_lines(&ctx.fact_commands);
    let preamble = format!("{exports}{facts}");
    report.round_trips += 1;
    let explored = match transport
        .exec(
            &explore::script(&preamble, &probes),
            secrets.clone().into_bytes(),
        )
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
            return;
        }
    };
    report.facts = explored.facts.clone();
    let vars = host_vars(ctx, host);
    let hctx = HostContext {
        environment: &ctx.environment,
        host,
        facts: &explored.facts,
        vars: &vars,
        secrets: &ctx.secrets,
    };
    let mut changes = Vec::new();
    let mut notifies: Vec<&[String]> = Vec::new();
    for (entry, results) in entries.iter().zip(&explored.results) {
        match entry.resource.diff(results, &hctx) {
            Ok(Some(change)) => {
                changes.push(change);
                notifies.push(&entry.notify);
            }
            Ok(None) => {}
            Err(e) => {
                report.error = Some(e.to_string());
                return;
            }
        }
    }
    let handlers = match handler_runs(ctx, &explored.facts, &notifies) {
        Ok(h) => h,
        Err(e) => {
            report.error = Some(e);
            return;
        }
    };
    report.handlers = handlers
        .iter()
        .map(|h| HandlerReport {
            handler: h.name.clone(),
            command: h.command.clone(),
            outcome: None,
            output: None,
        })
        .collect();
    if mode == Mode::Plan || changes.is_empty() {
        report.changes = changes
            .into_iter()
            .map(|change| ChangeReport {
                change,
                outcome: None,
                output: None,
            })
            .collect();
        return;
    }
    let actions: Vec<_> = changes.iter().map(|c| c.action.clone()).collect();
    let (mut script, payload) = apply::build(&exports, &secrets, &actions, &handlers);
    // The facts again once the changes are made (an `[app]` switch changes them), so that
    // what is stored describes the host as it is now; no extra round trip.
    script.push_str(&facts);
    report.round_trips += 1;
    let applied = match transport.exec(&script, payload).await {
        Ok(out) => apply::parse(&out.stdout, actions.len(), handlers.len()).map_err(|e| {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = if stderr.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", stderr.trim())
            };
            format!("apply: {e} ({}){stderr}", status_text(out.status))
        }),
        Err(e) => Err(format!("apply: {e}")),
    };
    match applied {
        Ok(applied) => {
            report.facts.extend(applied.facts);
            report.changes = changes
                .into_iter()
                .zip(applied.actions)
                .map(|(change, (outcome, output))| ChangeReport {
                    change,
                    outcome: Some(outcome),
                    output: output.map(|o| String::from_utf8_lossy(&o).into_owned()),
                })
                .collect();
            // Handlers that did not fire (nothing notifying them went through) are dropped.
            let mut fired = Vec::new();
            for (mut h, result) in report.handlers.drain(..).zip(applied.handlers) {
                if let Some((result, output)) = result {
                    h.outcome = Some(match result {
                        Ok(()) => Outcome::Ok,
                        Err(reason) => Outcome::Failed { reason },
                    });
                    h.output = Some(String::from_utf8_lossy(&output).into_owned());
                    fired.push(h);
                }
            }
            report.handlers = fired;
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
}

/// The handlers notified by the planned changes (indices into `notifies`), in name order.
fn handler_runs(
    ctx: &RunContext,
    facts: &BTreeMap<String, String>,
    notifies: &[&[String]],
) -> Result<Vec<HandlerRun>, String> {
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, names) in notifies.iter().enumerate() {
        for n in names.iter() {
            by_name.entry(n.as_str()).or_default().push(i);
        }
    }
    by_name
        .into_iter()
        .map(|(name, notified_by)| {
            let spec = ctx.handlers.get(name).ok_or_else(|| format!("no handler is named `{name}`"))?;
            let command = match (&spec.command, &spec.service) {
                (Some(c), _) => c.clone(),
                (None, Some(s)) => crate::resource::service_restart(s, facts)
                    .ok_or_else(|| format!("handler `{name}`: no supported service manager on the host to restart `{s}`"))?,
                (None, None) => return Err(format!("handler `{name}` has neither `command` nor `service`")),
            };
            Ok(HandlerRun { name: name.to_owned(), command, notified_by })
        })
        .collect()
}

fn status_text(status: Option<i32>) -> String {
    match status {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_owned(),
    }
}

/// Facts of one host, from an explore call with no resources.
pub async fn facts(ctx: &RunContext, host: &Host) -> Result<BTreeMap<String, String>, String> {
    let transport = connect(host, ctx).await?;
    let report = converge(ctx, host, &transport, &[], Mode::Plan).await;
    match report.error {
        Some(e) => Err(e),
        None => Ok(report.facts),
    }
}
