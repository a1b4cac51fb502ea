//! `ferry plan`: explore and diff, per host, without changing anything.

use serde_json::json;

use super::step::section;
use super::{entries, render_reports, run_context, Session};
use crate::cli::args::{PlanArgs, PlanStep};
use crate::cli::error::CliError;
use crate::engine::rollout::{self, Rollout};
use crate::engine::Mode;
use crate::state::Step;

pub async fn run(s: &Session, args: &PlanArgs) -> Result<(), CliError> {
    let (record, file) = s.open(&args.env)?;
    super::require_hosts(&record)?;
    let steps: Vec<Step> = match args.step {
        Some(PlanStep::Configure) => vec![Step::Configure],
        Some(PlanStep::Release) => vec![Step::Release],
        Some(PlanStep::Run) => vec![Step::Run],
        None => vec![Step::Configure, Step::Release, Step::Run],
    };
    // All steps' resources are explored together: one round trip per host in total.
    let mut all = Vec::new();
    for st in &steps {
        all.extend(entries(section(&file, *st), &record)?);
    }
    let ctx = run_context(s, &record, &file)?;
    let rollout = Rollout {
        parallel: args.parallel,
        ..Rollout::default()
    };
    let reports = rollout::run(&ctx, &record.hosts, &all, Mode::Plan, &rollout, &[])
        .await
        .hosts;
    let failed = reports.iter().any(|r| r.error.is_some());
    let steps: Vec<_> = steps.iter().map(|s| s.name()).collect();
    s.out.result(
        &json!({"environment": args.env, "steps": steps, "hosts": reports}),
        || {
            let n: usize = reports.iter().map(|r| r.changes.len()).sum();
            format!(
                "{}{n} change{} planned ({}); nothing was changed",
                render_reports(&reports),
                if n == 1 { "" } else { "s" },
                steps.join(", ")
            )
        },
    );
    if failed {
        return Err(CliError::new(
            "the plan could not be computed on every host; see the errors above",
        ));
    }
    Ok(())
}
