//! `ferry test`: run the environment's checks on its hosts. Changes no state; the
//! outcome is recorded in the history.

use std::time::Instant;

use serde_json::json;

use super::{run_context, Session};
use crate::cli::args::EnvArg;
use crate::cli::error::{CliError, EXIT_CHECKS};
use crate::engine;
use crate::state::store::{now, HistoryEntry};

pub async fn run(s: &Session, args: &EnvArg) -> Result<(), CliError> {
    let (record, file) = s.open(&args.env)?;
    super::require_hosts(&record)?;
    if file.test.is_empty() {
        s.out
            .progress("no checks declared: add `[[test]]` tables to the environment file");
    }
    let started = Instant::now();
    let reports =
        engine::checks::check_all(&run_context(s, &record, &file)?, &record.hosts, &file.test)
            .await;
    let passed = reports.iter().all(|r| r.passed());
    let failed: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            let errs = r.error.iter().map(move |e| format!("{}: {e}", r.host));
            let checks = r
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(move |c| format!("{}: {}", r.host, c.name));
            errs.chain(checks)
        })
        .collect();
    {
        // History is best-effort for `test`: it changes no state, so it takes the lock only briefly.
        let _lock = s.lock(&args.env, crate::state::Step::Run)?;
        s.store.append_history(
            &args.env,
            &HistoryEntry {
                command: "test".into(),
                from: record.state.name(),
                to: record.state.name(),
                at: now(),
                outcome: if passed { "ok" } else { "failed" }.into(),
                duration_ms: started.elapsed().as_millis() as u64,
                error: (!passed).then(|| failed.join("; ")),
            },
        )?;
    }
    s.out.result(
        &json!({"environment": args.env, "passed": passed, "hosts": reports}),
        || {
            let mut text = String::new();
            for r in &reports {
                for c in &r.checks {
                    text.push_str(&format!(
                        "{} {}: {}\n",
                        if c.passed { "pass" } else { "FAIL" },
                        r.host,
                        c.name
                    ));
                    if !c.passed {
                        for line in c.output.lines() {
                            text.push_str(&format!("      | {line}\n"));
                        }
                    }
                }
                if let Some(e) = &r.error {
                    text.push_str(&format!("FAIL {}: {e}\n", r.host));
                }
            }
            let total: usize = reports.iter().map(|r| r.checks.len()).sum();
            text.push_str(&format!(
                "{} of {total} checks passed",
                reports
                    .iter()
                    .flat_map(|r| &r.checks)
                    .filter(|c| c.passed)
                    .count()
            ));
            text
        },
    );
    if passed {
        Ok(())
    } else {
        let err = CliError::new(format!("checks failed: {}", failed.join(", "))).code(EXIT_CHECKS);
        Err(if s.out.json { err.reported() } else { err })
    }
}
