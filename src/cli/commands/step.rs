//! The lifecycle steps: provision, configure, release, run and destroy. Each takes the
//! environment's lock, checks the transition, does its work, and records the new state
//! (or `<step>_failed` with the error) and a history line.

use std::time::Instant;

use serde::Serialize;

use super::{config_dir, entries, render_reports, rollout_outcome, run_context, Session};
use crate::cli::args::{ReleaseArgs, RolloutArgs, StepArgs};
use crate::cli::error::{CliError, EXIT_USAGE};
use crate::config::{EnvironmentFile, ResourceSpec};
use crate::engine::rollout::{self, BatchReport, Rollout, RolloutReport};
use crate::engine::{HostReport, Mode};
use crate::inventory::{Host, LastRun};
use crate::provider;
use crate::state::lifecycle;
use crate::state::store::{now, HistoryEntry};
use crate::state::{Failure, Record, State, Step};

#[derive(Serialize)]
struct StepResult<'a> {
    environment: &'a str,
    step: &'static str,
    dry_run: bool,
    from: String,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    hosts: Vec<HostReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    batches: Vec<BatchReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<String>,
}

pub fn section(file: &EnvironmentFile, step: Step) -> &[ResourceSpec] {
    match step {
        Step::Configure => &file.configure,
        Step::Release => &file.release,
        Step::Run => &file.run,
        _ => &[],
    }
}

pub fn rollout_of(args: &RolloutArgs) -> Rollout {
    Rollout {
        parallel: args.parallel,
        fail_fast: args.fail_fast,
        canary: args.canary,
        batch: args.batch,
    }
}

/// What one step did, before it is recorded.
struct Done {
    hosts: Option<Vec<Host>>,
    rollout: Option<RolloutReport>,
    outcome: Result<(), String>,
}

pub async fn run(s: &Session, step: Step, args: &StepArgs) -> Result<(), CliError> {
    run_with(s, step, args, None).await
}

/// A step, with the `[app]` release `ferry release --version` asks for.
pub async fn run_with(
    s: &Session,
    step: Step,
    args: &StepArgs,
    app: Option<&ReleaseArgs>,
) -> Result<(), CliError> {
    let _lock = s.lock(&args.env, step)?;
    let (mut record, file) = s.open(&args.env)?;
    if let Err(refusal) = lifecycle::check(&record.state, step) {
        let first = refusal
            .first
            .map(|f| format!("run `ferry {} {}` first", f.name(), args.env))
            .unwrap_or_default();
        return Err(CliError::new(format!(
            "cannot {} environment `{}`: it is {}",
            step.name(),
            args.env,
            refusal.state
        ))
        .help(first)
        .code(EXIT_USAGE));
    }
    let from = record.state.name();
    let ctx = run_context(s, &record, &file)?;
    let started = Instant::now();
    let mode = if args.dry_run {
        Mode::Plan
    } else {
        Mode::Apply
    };
    s.out.progress(format!(
        "{} `{}`{}...",
        step_verb(step),
        args.env,
        if args.dry_run { " (dry run)" } else { "" }
    ));

    let done = match step {
        Step::Provision | Step::Destroy if args.dry_run => Done {
            hosts: None,
            rollout: None,
            outcome: Ok(()),
        },
        Step::Provision => match provider::provision(&file, &ctx, &config_dir(&record)).await {
            Ok(hosts) => Done {
                hosts: Some(hosts),
                rollout: None,
                outcome: Ok(()),
            },
            Err(e) => Done {
                hosts: None,
                rollout: None,
                outcome: Err(ctx.redactor().redact(&with_help(e.to_string(), e.help()))),
            },
        },
        Step::Destroy => match provider::destroy(&file, &ctx, &config_dir(&record)).await {
            Ok(()) => Done {
                hosts: Some(Vec::new()),
                rollout: None,
                outcome: Ok(()),
            },
            Err(e) => Done {
                hosts: None,
                rollout: None,
                outcome: Err(ctx.redactor().redact(&e.to_string())),
            },
        },
        _ => {
            let mut entries = entries(section(&file, step), &record)?;
            let app_version = app.and_then(|a| a.version.as_deref());
            if let Some(version) = app_version {
                // The app switch goes first, so the step's resources can refer to the new release.
                let manifest = app.and_then(|a| a.manifest.as_deref());
                entries.insert(
                    0,
                    super::release::app_entry(s, &record, &file, version, manifest).await?,
                );
            } else if step == Step::Release && file.app.is_some() {
                s.out
                    .progress("note: no --version given, so the [app] release was left as it is");
            }
            let mut report = rollout::run(
                &ctx,
                &record.hosts,
                &entries,
                mode,
                &rollout_of(&args.rollout),
                &file.test,
            )
            .await;
            let failed = rollout_outcome(&report).is_err();
            if failed
                && mode == Mode::Apply
                && app_version.is_some()
                && app.is_some_and(|a| a.auto_rollback)
            {
                let back = super::release::auto_rollback(s, &ctx, &record, &file, &report).await?;
                let why = report
                    .stopped
                    .take()
                    .unwrap_or_else(|| "a host failed".into());
                report.stopped = Some(format!(
                    "{why}; --auto-rollback switched {} back",
                    if back.is_empty() {
                        "no host".to_owned()
                    } else {
                        back.join(", ")
                    }
                ));
            }
            // The state advances only when every host succeeded.
            let outcome = rollout_outcome(&report);
            Done {
                hosts: None,
                rollout: Some(report),
                outcome,
            }
        }
    };
    let Done {
        hosts,
        rollout,
        outcome,
    } = done;
    let (reports, batches, stopped) = match rollout {
        Some(r) => (r.hosts, r.batches, r.stopped),
        None => (Vec::new(), Vec::new(), None),
    };

    if args.dry_run {
        let result = StepResult {
            environment: &args.env,
            step: step.name(),
            dry_run: true,
            from: from.clone(),
            state: from,
            error: outcome.clone().err(),
            hosts: reports,
            batches,
            stopped,
        };
        s.out.result(&result, || {
            dry_run_text(step, &record, &file, &result.hosts)
        });
        return match outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(CliError::new(e).reported_if(s.out.json)),
        };
    }

    // What this run saw and did replaces the stored cache, so `status` shows the last run.
    for report in &reports {
        if let Some(h) = record.hosts.iter_mut().find(|h| h.name == report.host) {
            if !report.facts.is_empty() {
                h.facts = report.facts.clone();
            }
            if !report.not_started {
                h.last_run = Some(LastRun::of(step.name(), report));
            }
        }
    }
    if let Some(hosts) = hosts {
        record.hosts = hosts;
    }
    record.state = match &outcome {
        Ok(()) => State::Settled {
            phase: step.target(),
        },
        Err(e) => State::Failed(Failure {
            step,
            from: record.state.phase(),
            error: e.clone(),
            at: now(),
        }),
    };
    record.updated_at = now();
    save(s, &record, step, &from, &outcome, started)?;

    let result = StepResult {
        environment: &args.env,
        step: step.name(),
        dry_run: false,
        from,
        state: record.state.name(),
        error: outcome.clone().err(),
        hosts: reports,
        batches,
        stopped,
    };
    s.out.result(&result, || {
        let mut text = render_reports(&result.hosts);
        for (b, batch) in result.batches.iter().enumerate() {
            for c in &batch.checks {
                let failing: Vec<&str> = c.checks.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect();
                let verdict = match (&c.error, failing.is_empty()) {
                    (Some(e), _) => format!("error: {e}"),
                    (None, true) => "checks passed".to_owned(),
                    (None, false) => format!("checks FAILED: {}", failing.join(", ")),
                };
                text.push_str(&format!("batch {} {}: {verdict}\n", b + 1, c.host));
            }
        }
        if let Some(why) = &result.stopped {
            text.push_str(&format!("rollout stopped: {why}\n"));
        }
        if matches!(step, Step::Configure | Step::Release | Step::Run) {
            let count = |f: &dyn Fn(&HostReport) -> bool| result.hosts.iter().filter(|h| f(h)).count();
            let changed = count(&|h| h.succeeded() && !h.changes.is_empty());
            let unchanged = count(&|h| h.succeeded() && h.changes.is_empty());
            let failed = count(&|h| !h.succeeded() && !h.not_started);
            let skipped = count(&|h| h.not_started);
            let total: usize = result.hosts.iter().map(|h| h.changes.len()).sum();
            text.push_str(&format!("{total} change{}: {changed} host{} changed, {unchanged} unchanged, {failed} failed", plural(total), plural(changed)));
            if skipped > 0 {
                text.push_str(&format!(", {skipped} not started"));
            }
            text.push_str("; ");
        }
        text.push_str(&format!("environment `{}` is {}", args.env, result.state));
        if outcome.is_ok() {
            if let Some(next) = next_step(step).filter(|_| !s.chained.get() && !s.out.quiet) {
                text.push_str(&format!("\nnext: ferry {} {}", next.name(), args.env));
            }
        }
        text
    });
    match outcome {
        Ok(()) => Ok(()),
        Err(e) => Err(CliError::new(format!("{} failed: {e}", step.name()))
            .help(format!(
                "fix the cause, then run `ferry {} {}` again to retry",
                step.name(),
                args.env
            ))
            .reported_if(s.out.json)),
    }
}

fn with_help(message: String, help: Option<String>) -> String {
    match help {
        Some(h) => format!("{message} ({h})"),
        None => message,
    }
}

fn save(
    s: &Session,
    record: &Record,
    step: Step,
    from: &str,
    outcome: &Result<(), String>,
    started: Instant,
) -> Result<(), CliError> {
    s.store.save(record)?;
    s.store.append_history(
        &record.name,
        &HistoryEntry {
            command: step.name().to_owned(),
            from: from.to_owned(),
            to: record.state.name(),
            at: now(),
            outcome: if outcome.is_ok() { "ok" } else { "failed" }.to_owned(),
            duration_ms: started.elapsed().as_millis() as u64,
            error: outcome.clone().err(),
        },
    )?;
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn step_verb(step: Step) -> &'static str {
    match step {
        Step::Create => "creating",
        Step::Provision => "provisioning",
        Step::Configure => "configuring",
        Step::Release => "releasing",
        Step::Run => "running",
        Step::Destroy => "destroying",
    }
}

fn next_step(step: Step) -> Option<Step> {
    match step {
        Step::Provision => Some(Step::Configure),
        Step::Configure => Some(Step::Release),
        Step::Release => Some(Step::Run),
        _ => None,
    }
}

fn dry_run_text(
    step: Step,
    record: &Record,
    file: &EnvironmentFile,
    reports: &[HostReport],
) -> String {
    match step {
        Step::Provision => match &file.provider {
            crate::config::Provider::Local { .. } => {
                "would use this machine as host `local`".to_owned()
            }
            crate::config::Provider::Static {} => {
                let names: Vec<_> = file
                    .hosts
                    .iter()
                    .map(|h| format!("{} ({}:{})", h.name, h.address, h.port))
                    .collect();
                format!(
                    "would check and record {} host(s): {}",
                    names.len(),
                    names.join(", ")
                )
            }
            crate::config::Provider::Command { provision, .. } => {
                format!("would run the provision command: {provision}")
            }
        },
        Step::Destroy => match &file.provider {
            crate::config::Provider::Local { destroy: Some(c) }
            | crate::config::Provider::Command {
                destroy: Some(c), ..
            } => {
                format!(
                    "would run the destroy command: {c}\nand mark `{}` destroyed",
                    record.name
                )
            }
            _ => format!(
                "would mark `{}` destroyed (nothing to remove for the {} provider)",
                record.name, record.provider
            ),
        },
        _ => {
            let mut text = render_reports(reports);
            let n: usize = reports.iter().map(|r| r.changes.len()).sum();
            text.push_str(&format!(
                "dry run: {n} change{} would be made; nothing was changed",
                plural(n)
            ));
            text
        }
    }
}

impl CliError {
    /// In JSON mode the result object already carries the error; don't print it twice.
    fn reported_if(self, json: bool) -> Self {
        if json {
            self.reported()
        } else {
            self
        }
    }
}
