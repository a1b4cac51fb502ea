//! Running a step on many hosts: in parallel (bounded), in batches, with a canary batch
//! whose checks must pass before the rest, and optionally stopping at the first failure.
//! Each host is independent: one failing host does not stop the others unless asked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;

use super::checks::{self, CheckReport};
use super::{connect, converge, Entry, HostReport, Mode, RunContext};
use crate::config::CheckSpec;
use crate::inventory::Host;

/// How many hosts go first before the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canary {
    Count(usize),
    Percent(u8),
}

impl std::str::FromStr for Canary {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("`{s}` is not a canary size: write a number of hosts (2) or a percentage (10%)")
        };
        match s.strip_suffix('%') {
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| (1..=100).contains(p))
                .map(Canary::Percent)
                .ok_or_else(bad),
            None => s
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .map(Canary::Count)
                .ok_or_else(bad),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Rollout {
    /// Hosts worked on at once (0: all of a batch).
    pub parallel: usize,
    /// Stop starting hosts after the first failure.
    pub fail_fast: bool,
    pub canary: Option<Canary>,
    /// Hosts per batch after the canary (all remaining at once when unset).
    pub batch: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    pub hosts: Vec<String>,
    /// The checks run after this batch, when the rollout ran any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RolloutReport {
    pub hosts: Vec<HostReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<BatchReport>,
    /// Why the rollout stopped before every host, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Splits `n` hosts into batch sizes.
pub fn batch_sizes(n: usize, rollout: &Rollout) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = n;
    if let Some(c) = rollout.canary {
        let first = match c {
            Canary::Count(k) => k,
            Canary::Percent(p) => (n * p as usize).div_ceil(100),
        }
        .clamp(1, n.max(1));
        sizes.push(first.min(left));
        left -= first.min(left);
    }
    let step = rollout.batch.filter(|b| *b > 0).unwrap_or(left.max(1));
    while left > 0 {
        let take = step.min(left);
        sizes.push(take);
        left -= take;
    }
    sizes
}

/// Runs the step on every host, batch by batch.
pub async fn run(
    ctx: &RunContext,
    hosts: &[Host],
    entries: &[Entry],
    mode: Mode,
    rollout: &Rollout,
    checks: &[CheckSpec],
) -> RolloutReport {
    let sizes = batch_sizes(hosts.len(), rollout);
    let staged = rollout.canary.is_some() || rollout.batch.is_some();
    let stop = Arc::new(AtomicBool::new(false));
    let mut reports: Vec<Option<HostReport>> = (0..hosts.len()).map(|_| None).collect();
    let mut batches = Vec::new();
    let mut stopped = None;
    let mut start = 0;
    for (b, size) in sizes.iter().enumerate() {
        let batch: Vec<usize> = (start..start + size).collect();
        start += size;
        if stopped.is_some() {
            break;
        }
        let done = run_batch(ctx, hosts, &batch, entries, mode, rollout, stop.clone()).await;
        let failed: Vec<String> = done
            .iter()
            .filter(|(_, r)| !r.succeeded() && !r.not_started)
            .map(|(_, r)| r.host.clone())
            .collect();
        for (i, r) in done {
            reports[i] = Some(r);
        }
        let mut batch_report = BatchReport {
            hosts: batch.iter().map(|&i| hosts[i].name.clone()).collect(),
            checks: Vec::new(),
        };
        let last = b + 1 == sizes.len();
        if rollout.fail_fast && !failed.is_empty() {
            stopped = Some(format!(
                "--fail-fast: stopped after {} failed",
                failed.join(", ")
            ));
        } else if staged && !last && mode == Mode::Apply {
            if !failed.is_empty() {
                stopped = Some(format!(
                    "batch {} failed on {}; the remaining hosts were not touched",
                    b + 1,
                    failed.join(", ")
                ));
            } else if !checks.is_empty() {
                let batch_hosts: Vec<Host> = batch.iter().map(|&i| hosts[i].clone()).collect();
                batch_report.checks = checks::check_all(ctx, &batch_hosts, checks).await;
                let failing: Vec<String> = batch_report
                    .checks
                    .iter()
                    .filter(|c| !c.passed())
                    .map(|c| c.host.clone())
                    .collect();
                if !failing.is_empty() {
                    let what = if b == 0 && rollout.canary.is_some() {
                        "canary"
                    } else {
                        "batch"
                    };
                    stopped = Some(format!(
                        "{what} checks failed on {}; the remaining hosts were not touched",
                        failing.join(", ")
                    ));
                }
            }
        }
        batches.push(batch_report);
    }
    let hosts_out = reports
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                let mut r = HostReport::new(&hosts[i].name);
                r.not_started = true;
                r
            })
        })
        .collect();
    RolloutReport {
        hosts: hosts_out,
        batches: if staged { batches } else { Vec::new() },
        stopped,
    }
}

async fn run_batch(
    ctx: &RunContext,
    hosts: &[Host],
    batch: &[usize],
    entries: &[Entry],
    mode: Mode,
    rollout: &Rollout,
    stop: Arc<AtomicBool>,
) -> Vec<(usize, HostReport)> {
    let permits = if rollout.parallel == 0 {
        batch.len().max(1)
    } else {
        rollout.parallel
    };
    let semaphore = Arc::new(Semaphore::new(permits));
    let mut set = tokio::task::JoinSet::new();
    for &i in batch {
        let host = hosts[i].clone();
        let scoped: Vec<Entry> = entries
            .iter()
            .filter(|e| host.in_scope(&e.roles))
            .cloned()
            .collect();
        let (ctx, semaphore, stop, fail_fast) = (
            ctx.clone(),
            semaphore.clone(),
            stop.clone(),
            rollout.fail_fast,
        );
        set.spawn(async move {
            let _permit = semaphore
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            if stop.load(Ordering::SeqCst) {
                let mut r = HostReport::new(&host.name);
                r.not_started = true;
                return (i, r);
            }
            let report = match connect(&host, &ctx).await {
                Ok(transport) => converge(&ctx, &host, &transport, &scoped, mode).await,
                Err(e) => {
                    let mut r = HostReport::new(&host.name);
                    r.error = Some(ctx.redactor().redact(&e));
                    r
                }
            };
            if fail_fast && !report.succeeded() {
                stop.store(true, Ordering::SeqCst);
            }
            (i, report)
        });
    }
    let mut out = Vec::with_capacity(batch.len());
    while let Some(joined) = set.join_next().await {
        out.push(joined.expect("a host task panicked; this is a bug"));
    }
    out.sort_by_key(|(i, _)| *i);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_follow_canary_and_batch_size() {
        let r = |canary: Option<&str>, batch: Option<usize>| Rollout {
            canary: canary.map(|c| c.parse().unwrap()),
            batch,
            ..Rollout::default()
        };
        assert_eq!(batch_sizes(8, &r(None, None)), [8]);
        assert_eq!(batch_sizes(8, &r(Some("1"), None)), [1, 7]);
        assert_eq!(batch_sizes(8, &r(Some("25%"), Some(3))), [2, 3, 3]);
        assert_eq!(batch_sizes(8, &r(None, Some(3))), [3, 3, 2]);
        assert_eq!(batch_sizes(3, &r(Some("10%"), None)), [1, 2]);
        assert_eq!(batch_sizes(2, &r(Some("5"), None)), [2]);
        assert!(
            "0".parse::<Canary>().is_err()
                && "150%".parse::<Canary>().is_err()
                && "x".parse::<Canary>().is_err()
        );
    }
}
