//! `ferry release --version` (install and switch an `[app]` release) and `ferry rollback`
//! (switch back to a release already on the hosts, then check them).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::step::{rollout_of, run_with};
use super::{config_dir, render_reports, rollout_outcome, run_context, Session};
use crate::app;
use crate::cli::args::{ReleaseArgs, RollbackArgs};
use crate::cli::error::{CliError, EXIT_CHECKS, EXIT_USAGE};
use crate::config::{AppSpec, EnvironmentFile};
use crate::engine::checks;
use crate::engine::rollout::{self, Rollout, RolloutReport};
use crate::engine::{apply::Outcome, Entry, Mode, RunContext};
use crate::inventory::LastRun;
use crate::resource::app::{App, Goal};
use crate::state::store::{now, HistoryEntry};
use crate::state::{Phase, Record, Step};

pub async fn release(s: &Session, args: &ReleaseArgs) -> Result<(), CliError> {
    run_with(s, Step::Release, &args.step, Some(args)).await
}

fn app_of<'a>(file: &'a EnvironmentFile, env: &str) -> Result<&'a AppSpec, CliError> {
    file.app.as_ref().ok_or_else(|| {
        CliError::new(format!("environment `{env}` declares no [app]"))
            .help("add an [app] table (root, manifest, public_key) to the environment file; see docs/environment.md")
            .code(EXIT_USAGE)
    })
}

/// The app switch for `version`: every host's artifact fetched and verified first, so a bad
/// artifact stops the release before any host changes.
pub async fn app_entry(
    s: &Session,
    record: &Record,
    file: &EnvironmentFile,
    version: &str,
    manifest: Option<&str>,
) -> Result<Entry, CliError> {
    let spec = app_of(file, &record.name)?;
    let location = manifest.or(spec.manifest.as_deref()).ok_or_else(|| {
        CliError::new("no release manifest to install from").help("pass --manifest <path or URL of dist-manifest.json>, or set `manifest` under [app]").code(EXIT_USAGE)
    })?;
    let location = location.replace("{version}", version);
    let base = config_dir(record);
    let fail = |e: app::AppError| CliError::new(e.to_string());
    let manifest = app::load_manifest(&location, &base).await.map_err(fail)?;
    manifest.check_version(version, &location).map_err(fail)?;
    let key = app::public_key(
        spec.public_key.as_deref(),
        spec.public_key_file.as_deref(),
        &base,
    )
    .map_err(fail)?;
    let cache = s.store.root().join("cache");
    let mut archives = BTreeMap::new();
    for host in record.hosts.iter().filter(|h| h.in_scope(&spec.roles)) {
        let artifact = manifest
            .pick(&host.name, &host.facts, &spec.variant)
            .map_err(fail)?;
        if archives.contains_key(&artifact.target) {
            continue;
        }
        s.out
            .progress(format!("fetching {} for {} ...", artifact.name, host.name));
        let bytes = manifest.fetch(artifact, &cache, &key).await.map_err(fail)?;
        s.out
            .detail(format!("{}: SHA-256 and signature verified", artifact.name));
        archives.insert(artifact.target.clone(), (Arc::new(bytes), artifact.nested));
    }
    Ok(app_entry_for(
        spec,
        Goal::Install {
            version: version.to_owned(),
            archives,
        },
    ))
}

fn app_entry_for(spec: &AppSpec, goal: Goal) -> Entry {
    Entry {
        roles: spec.roles.clone(),
        notify: spec.notify.clone(),
        resource: Arc::new(App {
            root: spec.root.clone(),
            keep: spec.keep,
            shared: spec.shared.clone(),
            goal,
        }),
    }
}

/// Switches the hosts where the failed release went through back to their previous release.
pub async fn auto_rollback(
    s: &Session,
    ctx: &RunContext,
    record: &Record,
    file: &EnvironmentFile,
    report: &RolloutReport,
) -> Result<Vec<String>, CliError> {
    let spec = app_of(file, &record.name)?;
    let switched: Vec<&str> = report
        .hosts
        .iter()
        .filter(|h| {
            h.changes
                .iter()
                .any(|c| c.change.resource.starts_with("app:") && c.outcome == Some(Outcome::Ok))
        })
        .map(|h| h.host.as_str())
        .collect();
    let hosts: Vec<_> = record
        .hosts
        .iter()
        .filter(|h| switched.contains(&h.name.as_str()))
        .cloned()
        .collect();
    if hosts.is_empty() {
        return Ok(Vec::new());
    }
    s.out.progress(format!(
        "--auto-rollback: switching {} back",
        switched.join(", ")
    ));
    let entries = [app_entry_for(spec, Goal::Rollback { to: None })];
    let back = rollout::run(ctx, &hosts, &entries, Mode::Apply, &Rollout::default(), &[]).await;
    Ok(back
        .hosts
        .iter()
        .filter(|h| h.succeeded())
        .map(|h| h.host.clone())
        .collect())
}

pub async fn rollback(s: &Session, args: &RollbackArgs) -> Result<(), CliError> {
    let _lock = s.lock(&args.env, Step::Release)?;
    let (mut record, file) = s.open(&args.env)?;
    let spec = app_of(&file, &args.env)?;
    let phase = record.state.phase();
    if phase < Phase::Provisioned || phase == Phase::Destroyed {
        return Err(CliError::new(format!(
            "cannot roll back environment `{}`: it is {}",
            args.env,
            record.state.name()
        ))
        .help(format!(
            "run `ferry release {} --version X` first",
            args.env
        ))
        .code(EXIT_USAGE));
    }
    let ctx = run_context(s, &record, &file)?;
    let started = Instant::now();
    let mode = if args.dry_run {
        Mode::Plan
    } else {
        Mode::Apply
    };
    let target = args
        .to
        .clone()
        .unwrap_or_else(|| "the previous release".into());
    s.out.progress(format!(
        "rolling `{}` back to {target}{} ...",
        args.env,
        if args.dry_run { " (dry run)" } else { "" }
    ));
    let entries = [app_entry_for(
        spec,
        Goal::Rollback {
            to: args.to.clone(),
        },
    )];
    let report = rollout::run(
        &ctx,
        &record.hosts,
        &entries,
        mode,
        &rollout_of(&args.rollout),
        &file.test,
    )
    .await;
    let mut outcome = rollout_outcome(&report);
    let check_reports = if args.dry_run || outcome.is_err() {
        Vec::new()
    } else {
        checks::check_all(&ctx, &record.hosts, &file.test).await
    };
    let checks_passed = check_reports.iter().all(|c| c.passed());
    if outcome.is_ok() && !checks_passed {
        outcome = Err("the rollback went through, but checks failed afterwards".into());
    }
    if !args.dry_run {
        for h in &report.hosts {
            if let Some(host) = record.hosts.iter_mut().find(|x| x.name == h.host) {
                if !h.facts.is_empty() {
                    host.facts = h.facts.clone();
                }
                if !h.not_started {
                    host.last_run = Some(LastRun::of("rollback", h));
                }
            }
        }
        record.updated_at = now();
        s.store.save(&record)?;
        s.store.append_history(
            &args.env,
            &HistoryEntry {
                command: format!("rollback --to {target}"),
                from: record.state.name(),
                to: record.state.name(),
                at: now(),
                outcome: if outcome.is_ok() { "ok" } else { "failed" }.into(),
                duration_ms: started.elapsed().as_millis() as u64,
                error: outcome.clone().err(),
            },
        )?;
    }
    s.out.result(
        &json!({"environment": args.env, "dry_run": args.dry_run, "to": args.to, "hosts": report.hosts, "batches": report.batches, "stopped": report.stopped, "checks": check_reports, "error": outcome.clone().err()}),
        || {
            let mut t = render_reports(&report.hosts);
            for c in &check_reports {
                for r in &c.checks {
                    t.push_str(&format!("{} {}: {}\n", if r.passed { "pass" } else { "FAIL" }, c.host, r.name));
                }
            }
            t.push_str(match (&outcome, args.dry_run) {
                (_, true) => "dry run: nothing was switched",
                (Ok(()), false) => "rolled back",
                (Err(_), false) => "rollback incomplete",
            });
            t
        },
    );
    match outcome {
        Ok(()) => Ok(()),
        Err(e) => {
            let code = if checks_passed { 1 } else { EXIT_CHECKS };
            let err = CliError::new(format!("rollback: {e}")).code(code);
            Err(if s.out.json { err.reported() } else { err })
        }
    }
}
