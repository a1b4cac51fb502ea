//! One module per command; this one holds what they share: opening an environment
//! under its lock and turning engine reports into text.

pub mod check;
pub mod create;
#[cfg(feature = "complete")]
pub mod docs;
pub mod plan;
pub mod release;
pub mod status;
pub mod step;
pub mod test;
pub mod up;

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::GlobalArgs;
use super::error::CliError;
use super::output::Output;
use crate::config::{self, EnvironmentFile, ResourceSpec};
use crate::engine::{Entry, HostReport, RunContext};
use crate::state::{Record, StateError, Step, Store};

/// What every command gets.
pub struct Session {
    pub store: Store,
    pub out: Output,
    pub lock_timeout: Duration,
    /// Set by `ferry up`, which runs the next step itself: no "next: ..." hints then.
    pub chained: std::cell::Cell<bool>,
    pub accept_new_host_keys: bool,
}

impl Session {
    pub fn new(g: &GlobalArgs) -> Self {
        Session {
            store: Store::new(&g.state_dir),
            out: Output::new(g),
            lock_timeout: Duration::from_secs(g.lock_timeout),
            chained: std::cell::Cell::new(false),
            accept_new_host_keys: g.accept_new_host_keys,
        }
    }

    pub fn lock(&self, env: &str, step: Step) -> Result<crate::state::store::EnvLock, StateError> {
        let out = self.out;
        self.store.lock(env, step, self.lock_timeout, |holder| {
            out.progress(format!(
                "waiting for environment `{env}`: locked by {holder}"
            ))
        })
    }

    /// The record and its validated environment file.
    pub fn open(&self, env: &str) -> Result<(Record, EnvironmentFile), CliError> {
        let record = self.store.load(env)?;
        let source = self.store.read_config(env)?;
        let file = config::parse(&self.store.config_path(env), &source).map_err(|e| {
            CliError::from(e).help(format!(
                "the stored copy of the environment file no longer validates; fix {} and run `ferry create {env} --config {} --update`",
                record.config_file.display(),
                record.config_file.display()
            ))
        })?;
        Ok((record, file))
    }
}

/// What a run on this environment's hosts needs: variables, resolved secrets, handlers.
pub fn run_context(
    s: &Session,
    record: &Record,
    file: &EnvironmentFile,
) -> Result<RunContext, CliError> {
    let base = config_dir(record);
    let mut secrets = std::collections::BTreeMap::new();
    for (name, spec) in &file.secrets {
        let value = match (&spec.env, &spec.file) {
            (Some(var), _) => std::env::var(var).map_err(|_| {
                CliError::new(format!(
                    "secret `{name}` comes from the environment variable {var}, which is not set"
                ))
                .help(format!(
                    "export {var}=... before running ferry (its value is never shown)"
                ))
            })?,
            (None, Some(f)) => {
                let path = base.join(f);
                let mut v = std::fs::read_to_string(&path).map_err(|e| {
                    CliError::new(format!(
                        "secret `{name}` comes from {}, which cannot be read: {}",
                        path.display(),
                        e.kind()
                    ))
                    .help("create the file (readable only by you), or point `file` at it")
                })?;
                if v.ends_with('\n') {
                    v.pop();
                }
                v
            }
            (None, None) => unreachable!("validation requires `env` or `file`; this is a bug"),
        };
        secrets.insert(name.clone(), value);
    }
    Ok(RunContext {
        environment: record.name.clone(),
        vars: file.vars.clone(),
        secrets,
        handlers: file.handlers.clone(),
        accept_new_host_keys: s.accept_new_host_keys,
        fact_commands: match &file.app {
            Some(app) => {
                let [current, releases, history] = crate::resource::app::probe_commands(&app.root);
                vec![
                    ("app_current".into(), current),
                    ("app_releases".into(), releases),
                    ("app_history".into(), history),
                ]
            }
            None => Vec::new(),
        },
    })
}

/// The resources of one step, ordered (declaration order plus `after`), duplicates merged.
pub fn entries(specs: &[ResourceSpec], record: &Record) -> Result<Vec<Entry>, CliError> {
    let order = crate::plan::order(specs).map_err(|e| CliError::new(e.to_string()))?;
    let base = config_dir(record);
    order
        .into_iter()
        .map(|i| {
            let spec = &specs[i];
            let resource = crate::resource::from_spec(spec, &base)
                .map_err(|e| CliError::new(e.to_string()))?;
            let common = spec.common();
            Ok(Entry {
                roles: common.roles.to_vec(),
                notify: common.notify.to_vec(),
                resource: std::sync::Arc::from(resource),
            })
        })
        .collect()
}

/// Where provider commands run: the environment file's directory (the current one for
/// the built-in example, or when that directory is gone).
pub fn config_dir(record: &Record) -> PathBuf {
    record
        .config_file
        .parent()
        .filter(|d| d.is_dir())
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Text for host reports, plan or apply alike.
pub fn render_reports(reports: &[HostReport]) -> String {
    let mut s = String::new();
    for r in reports {
        if r.not_started {
            s.push_str(&format!(
                "{}: not started (the rollout stopped before it)\n",
                r.host
            ));
            continue;
        }
        let n = r.changes.len();
        s.push_str(&format!(
            "{}: {} change{} ({} round trip{})\n",
            r.host,
            n,
            if n == 1 { "" } else { "s" },
            r.round_trips,
            if r.round_trips == 1 { "" } else { "s" }
        ));
        for c in &r.changes {
            let mark = match c.change.summary.split(' ').next() {
                Some("create") => '+',
                Some("run") => '!',
                _ => '~',
            };
            let outcome = match &c.outcome {
                None => String::new(),
                Some(o) => format!("  [{}]", outcome_text(o)),
            };
            s.push_str(&format!(
                "  {mark} {}  {}{outcome}\n",
                c.change.resource, c.change.summary
            ));
            if let Some(diff) = &c.change.diff {
                for line in diff.lines() {
                    s.push_str(&format!("      {line}\n"));
                }
            }
            if let Some(output) = c.output.as_deref().filter(|o| !o.trim().is_empty()) {
                for line in output.lines() {
                    s.push_str(&format!("      | {line}\n"));
                }
            }
        }
        for h in &r.handlers {
            let outcome = match &h.outcome {
                None => "  (would run)".to_owned(),
                Some(o) => format!("  [{}]", outcome_text(o)),
            };
            s.push_str(&format!(
                "  * handler {}  `{}`{outcome}\n",
                h.handler, h.command
            ));
            if let Some(output) = h.output.as_deref().filter(|o| !o.trim().is_empty()) {
                for line in output.lines() {
                    s.push_str(&format!("      | {line}\n"));
                }
            }
        }
        if let Some(e) = &r.error {
            s.push_str(&format!("  error: {e}\n"));
        }
    }
    s
}

fn outcome_text(o: &crate::engine::apply::Outcome) -> String {
    use crate::engine::apply::Outcome;
    match o {
        Outcome::Ok => "ok".into(),
        Outcome::Unchanged => "already done".into(),
        Outcome::Skipped => "skipped: an earlier change failed".into(),
        Outcome::Conflict { current } => format!(
            "conflict: changed on the host since it was explored (now: {current}); nothing written"
        ),
        Outcome::Failed { reason } => format!("failed: {reason}"),
    }
}

/// Refuses commands that talk to hosts when the environment has none (yet, or any more).
pub fn require_hosts(record: &Record) -> Result<(), CliError> {
    if record.hosts.is_empty() || record.state.phase() == crate::state::Phase::Destroyed {
        return Err(CliError::new(format!(
            "environment `{}` has no hosts yet (it is {})",
            record.name,
            record.state.name()
        ))
        .help(format!("run `ferry provision {}` first", record.name))
        .code(super::error::EXIT_USAGE));
    }
    Ok(())
}

/// A rollout's outcome: why it stopped, or why a host failed; Ok when every host succeeded.
pub fn rollout_outcome(report: &crate::engine::rollout::RolloutReport) -> Result<(), String> {
    match (&report.stopped, failure_summary(&report.hosts)) {
        (Some(why), _) => Err(why.clone()),
        (None, Some(why)) => Err(why),
        (None, None) => Ok(()),
    }
}

/// A one-line summary of why a converge run failed, for the state's failure record.
pub fn failure_summary(reports: &[HostReport]) -> Option<String> {
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.succeeded())
        .map(|r| {
            let why = r.error.clone().or_else(|| {
                r.changes.iter().find_map(|c| match &c.outcome {
                    Some(
                        o @ (crate::engine::apply::Outcome::Failed { .. }
                        | crate::engine::apply::Outcome::Conflict { .. }),
                    ) => Some(format!("{}: {}", c.change.resource, outcome_text(o))),
                    _ => None,
                })
            });
            let why = why.or_else(|| {
                r.handlers.iter().find_map(|h| match &h.outcome {
                    Some(o @ crate::engine::apply::Outcome::Failed { .. }) => {
                        Some(format!("handler {}: {}", h.handler, outcome_text(o)))
                    }
                    _ => None,
                })
            });
            let why = if r.not_started {
                Some("not started".to_owned())
            } else {
                why
            };
            format!("{}: {}", r.host, why.unwrap_or_else(|| "failed".into()))
        })
        .collect();
    (!failed.is_empty()).then(|| failed.join("; "))
}
