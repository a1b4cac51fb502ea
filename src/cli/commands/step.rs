//! The lifecycle steps: provision, configure, release, run and destroy. Each takes the
//! environment's lock, checks the transition, does its work, and records the new state
//! (or `<step>_failed` with the error) and a history line.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{config_dir, failure_summary, render_reports, run_context, Session};
use crate::cli::args::StepArgs;
use crate::cli::error::{CliError, EXIT_USAGE};
use crate::config::{EnvironmentFile, ResourceSpec};
use crate::engine::{self, HostReport, Mode};
use crate::inventory::Host;
use crate::provider;
use crate::resource;
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
}

pub fn section(file: &EnvironmentFile, step: Step) -> &[ResourceSpec] {
    match step {
        Step::Configure => &file.configure,
        Step::Release => &file.release,
        Step::Run => &file.run,
        _ => &[],
    }
}

pub fn resources(specs: &[ResourceSpec]) -> Vec<(Vec<String>, Arc<dyn resource::Resource>)> {
    specs
        .iter()
        .map(|s| (s.roles().to_vec(), Arc::from(resource::from_spec(s))))
        .collect()
}

pub async fn run(s: &Session, step: Step, args: &StepArgs) -> Result<(), CliError> {
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
    let ctx = run_context(&args.env, &file);
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

    let (hosts, reports, outcome): (Option<Vec<Host>>, Vec<HostReport>, Result<(), String>) =
        match step {
            Step::Provision if args.dry_run => (None, Vec::new(), Ok(())),
            Step::Provision => match provider::provision(&file, &ctx, &config_dir(&record)).await {
                Ok(hosts) => (Some(hosts), Vec::new(), Ok(())),
                Err(e) => (None, Vec::new(), Err(with_help(e.to_string(), e.help()))),
            },
            Step::Destroy if args.dry_run => (None, Vec::new(), Ok(())),
            Step::Destroy => match provider::destroy(&file, &ctx, &config_dir(&record)).await {
                Ok(()) => (Some(Vec::new()), Vec::new(), Ok(())),
                Err(e) => (None, Vec::new(), Err(e.to_string())),
            },
            _ => {
                let reports = engine::converge_all(
                    &ctx,
                    &record.hosts,
                    resources(section(&file, step)),
                    mode,
                )
                .await;
                let outcome = match failure_summary(&reports) {
                    Some(why) => Err(why),
                    None => Ok(()),
                };
                (None, reports, outcome)
            }
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
        };
        s.out.result(&result, || {
            dry_run_text(step, &record, &file, &result.hosts)
        });
        return match outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(CliError::new(e).reported_if(s.out.json)),
        };
    }

    // Facts from this run replace the stored ones, so `status` shows what was last seen.
    for report in &reports {
        if let Some(h) = record.hosts.iter_mut().find(|h| h.name == report.host) {
            if !report.facts.is_empty() {
                h.facts = report.facts.clone();
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
    };
    s.out.result(&result, || {
        let mut text = render_reports(&result.hosts);
        match &outcome {
            Ok(()) => {
                let changed: usize = result.hosts.iter().map(|h| h.changes.len()).sum();
                if matches!(step, Step::Configure | Step::Release | Step::Run) {
                    text.push_str(&format!(
                        "{} change{} on {} host{}; ",
                        changed,
                        plural(changed),
                        result.hosts.len(),
                        plural(result.hosts.len())
                    ));
                }
                text.push_str(&format!("environment `{}` is {}", args.env, result.state));
                if let Some(next) = next_step(step).filter(|_| !s.chained.get()) {
                    text.push_str(&format!("\nnext: ferry {} {}", next.name(), args.env));
                }
            }
            Err(_) => text.push_str(&format!("environment `{}` is {}", args.env, result.state)),
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
